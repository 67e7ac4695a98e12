//! The Kafka listener (DESIGN.md §3d): every node is also a Kafka broker,
//! so unmodified Kafka clients (librdkafka and kcat, confluent-kafka,
//! kafka-python, the Java client) produce to and consume from ordo's
//! topics, which stay readable over HTTP and `ordo tail`.
//!
//! The mapping, one line a concept:
//!
//! - A topic is a Kafka topic with one partition, 0, led by the Raft
//!   leader; Kafka offsets are ordo offsets; the broker id is the node id.
//! - A Produce appends each record batch as one ordo append (durable on a
//!   majority before the answer, whatever `acks` says); an idempotent
//!   producer's batches are an ordo idempotent producer's appends, numbered
//!   by records as Kafka numbers them.
//! - A Fetch reads the leader's applied state, long-polling like
//!   `wait_ms`; a committed group offset is the group's ordo position.
//! - Groups are coordinated by the leader, in memory (members come back
//!   by rejoining after a leader change); their offsets are in the log.
//!
//! The rooms:
//!
//! - [`versions`]: the API keys served and their version ranges;
//!   [`frame`]: request bytes to a request, a response to bytes (pure).
//! - `connection`: one client's connection: frames in, answers out, in
//!   order, within the limits; `session`: who the client is (SASL/PLAIN
//!   with an ordo token, or its certificate) and what it may do.
//! - `dispatch`: each request to the room that answers it.
//! - `metadata`, `produce`, `fetch`, `list_offsets`, `commits`, `admin`,
//!   `producer_ids`, `groups`: the answers, over [`ordo_node::Node`].
//! - [`coordinator`]: pure: the group membership protocol's state machine.
//! - [`records`]: pure: record batches and ordo records, both ways;
//!   [`decompress`]: pure: their codecs, with a bound.
//! - [`errors`]: pure: ordo's refusals as Kafka error codes.
//! - [`metrics`]: requests by API and outcome, connections open.

mod admin;
mod broker;
mod commits;
mod connection;
pub mod coordinator;
pub mod decompress;
mod dispatch;
pub mod errors;
mod fetch;
pub mod frame;
mod groups;
mod list_offsets;
mod metadata;
pub mod metrics;
mod produce;
mod producer_ids;
pub mod records;
mod session;
pub mod versions;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ordo_api::limits::{
    DEFAULT_HEADER_READ_TIMEOUT_MS, DEFAULT_MAX_INFLIGHT_REQUESTS, DEFAULT_MAX_STREAMS,
    DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_BODY_BYTES,
};
use ordo_node::Node;

pub use broker::Broker;

/// How a node's Kafka listener serves.
#[derive(Clone)]
pub struct KafkaConfig {
    /// `HOST:PORT` clients are told to connect to (Metadata,
    /// FindCoordinator): this node's `--kafka-advertise`.
    pub advertise: String,
    pub limits: KafkaLimits,
    /// The node's TLS: with it, the listener speaks only TLS (Kafka's
    /// `SSL` or `SASL_SSL` security protocol).
    pub tls: Option<ordo_tls::NodeTls>,
    /// The node's principals: with them, a client must authenticate
    /// (SASL/PLAIN, the password an ordo token; or a client certificate)
    /// and holds the rights the ACL gives it, as over HTTP.
    pub principals: Option<ordo_http::Principals>,
    /// A verified client certificate's common name names a principal.
    pub certificate_principals: bool,
}

/// The listener's limits: the HTTP server's, by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaLimits {
    /// The largest request frame; a larger one closes the connection (as
    /// Kafka's `socket.request.max.bytes` does).
    pub max_request_bytes: usize,
    /// Requests handled at once, over every connection.
    pub max_inflight_requests: usize,
    /// Fetches waiting for records at once; past it, a fetch answers at
    /// once with what there is.
    pub max_streams: usize,
    /// How long a request's frame may take to arrive once begun, and an
    /// answer to be taken by a client that stopped reading.
    pub request_timeout: Duration,
    /// How long a connection may stay without a request.
    pub idle_timeout: Duration,
}

impl Default for KafkaLimits {
    fn default() -> Self {
        KafkaLimits {
            max_request_bytes: MAX_REQUEST_BODY_BYTES,
            max_inflight_requests: DEFAULT_MAX_INFLIGHT_REQUESTS,
            max_streams: DEFAULT_MAX_STREAMS,
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            // Kafka's `connections.max.idle.ms` is 10 minutes; clients keep
            // connections to every broker they know open and idle.
            idle_timeout: Duration::from_millis(60 * DEFAULT_HEADER_READ_TIMEOUT_MS),
        }
    }
}

/// Serves Kafka clients on `listener` until `shutdown` completes; then
/// stops accepting and ends every connection.
pub async fn serve(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    config: KafkaConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    metrics::describe();
    let broker = Arc::new(Broker::new(node, config));
    connection::accept_loop(broker, listener, shutdown).await
}
