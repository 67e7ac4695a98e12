//! The listener's Prometheus metrics: requests by API and outcome, and
//! connections open, beside the HTTP server's on `/metrics`.

use kafka_protocol::messages::ApiKey;

pub const REQUESTS: &str = "ordo_kafka_requests_total";
pub const CONNECTIONS: &str = "ordo_kafka_connections";

/// Describes the metrics to the installed recorder.
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "Kafka requests answered by this node, by API (api) and whether the connection went on (outcome: answered, unsupported, closed)"
    );
    metrics::describe_gauge!(CONNECTIONS, "Kafka client connections open on this node");
}

/// One request, answered or not.
pub(crate) fn request(api: Option<ApiKey>, outcome: &'static str) {
    let api = api.map_or_else(|| "unknown".to_owned(), |key| format!("{key:?}"));
    metrics::counter!(REQUESTS, "api" => api, "outcome" => outcome).increment(1);
}

/// A connection opened (+1) or ended (-1).
pub(crate) fn connections(delta: f64) {
    metrics::gauge!(CONNECTIONS).increment(delta);
}
