//! Bad input (DESIGN §3, limits.rs): every malformed request is refused with
//! a clear 4xx, the JSON error body `{"error":{"code","message"}}` and the
//! `ordo-leader` header, and appends nothing.
//!
//! Raw `reqwest` here, not the ordo client: the client refuses some of these
//! requests itself, and these tests are about what the server does.

use ordo_api::limits::{
    MAX_HEADERS_PER_RECORD, MAX_KEY_BYTES, MAX_PRODUCER_ID_BYTES, MAX_RECORDS_PER_APPEND,
    MAX_REQUEST_BODY_BYTES, MAX_TOPIC_NAME_BYTES,
};
use ordo_api::{Consistency, ErrorBody};
use ordo_core::NodeId;
use reqwest::Method;
use serde_json::json;

use crate::support::{http, leader_header, read_all, record, TestCluster};

/// The topic the bad requests aim at; it holds one record throughout.
const TOPIC: &str = "bad-input";
const RECORDS_PATH: &str = "/v1/topics/bad-input/records";

/// One malformed request and the refusal it must get.
pub struct Case {
    what: String,
    method: Method,
    path: String,
    /// Content type and body, if any.
    body: Option<(&'static str, Vec<u8>)>,
    status: u16,
    code: &'static str,
}

impl Case {
    fn get(
        what: impl Into<String>,
        path: impl Into<String>,
        status: u16,
        code: &'static str,
    ) -> Case {
        Case::new(what, Method::GET, path, None, status, code)
    }

    /// A JSON append to `bad-input`.
    fn append(
        what: impl Into<String>,
        body: impl Into<Vec<u8>>,
        status: u16,
        code: &'static str,
    ) -> Case {
        let body = Some(("application/json", body.into()));
        Case::new(what, Method::POST, RECORDS_PATH, body, status, code)
    }

    pub fn new(
        what: impl Into<String>,
        method: Method,
        path: impl Into<String>,
        body: Option<(&'static str, Vec<u8>)>,
        status: u16,
        code: &'static str,
    ) -> Case {
        Case {
            what: what.into(),
            method,
            path: path.into(),
            body,
            status,
            code,
        }
    }
}

/// Sends `case` to node `id` and checks the refusal: its status, a leader
/// named in `ordo-leader`, and a JSON error body with its code and a message.
pub async fn assert_refused(
    cluster: &TestCluster,
    http: &reqwest::Client,
    id: NodeId,
    case: &Case,
) {
    let url = format!("{}{}", cluster.base_url(id), case.path);
    let mut request = http.request(case.method.clone(), url);
    if let Some((content_type, body)) = &case.body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, *content_type)
            .body(body.clone());
    }
    let what = format!(
        "{} (node {id}, {} {:.80})",
        case.what, case.method, case.path
    );
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    let status = response.status().as_u16();
    let leader = leader_header(&response);
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, case.status, "{what}: status; body {text:.300}");
    assert!(
        leader.is_some_and(|l| cluster.ids().contains(&l)),
        "{what}: the response names a leader of the cluster in ordo-leader, not {leader:?}"
    );
    let body: ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: the body is not a JSON error ({e}): {text:.300}"));
    assert_eq!(
        body.error.code, case.code,
        "{what}: error code; body {text:.300}"
    );
    assert!(
        !body.error.message.trim().is_empty(),
        "{what}: an empty message"
    );
}

/// Starts a cluster with one record in `bad-input`.
async fn cluster_with_one_record() -> TestCluster {
    let cluster = TestCluster::start().await;
    let ack = cluster
        .client()
        .append(TOPIC, vec![record(json!("the only record"))])
        .await
        .expect("the seed append");
    assert_eq!(ack.offsets[0].0, 0);
    cluster
}

/// Checks `bad-input` still holds exactly its one record, on every node.
async fn assert_nothing_appended(cluster: &TestCluster) {
    for id in cluster.ids() {
        let log = read_all(&cluster.client_for(id), TOPIC, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("reading {TOPIC} from node {id}: {e}"));
        assert_eq!(
            log.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
            [json!("the only record")],
            "node {id}: no refused request appended anything"
        );
    }
}

fn records_body(records: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "records": records })).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_appends_are_refused_with_a_clear_error_and_append_nothing() {
    let cluster = cluster_with_one_record().await;
    let one = r#"{"records":[{"value":1}]}"#;
    let topic_path = |name: &str| format!("/v1/topics/{name}/records");
    let long_name = "x".repeat(MAX_TOPIC_NAME_BYTES + 1);
    let many_headers: serde_json::Map<_, _> = (0..=MAX_HEADERS_PER_RECORD)
        .map(|i| (format!("h{i}"), json!("v")))
        .collect();
    let over_limit_value = "x".repeat(MAX_REQUEST_BODY_BYTES);
    let json_case = |what, path: String| {
        let body = Some(("application/json", one.as_bytes().to_vec()));
        Case::new(what, Method::POST, path, body, 400, "invalid_topic")
    };
    let cases = vec![
        json_case("a topic name with a space", topic_path("a%20b")),
        json_case("a topic name with an encoded slash", topic_path("a%2Fb")),
        json_case("a topic name of 250 characters", topic_path(&long_name)),
        json_case(
            "a topic name with a non-ASCII letter",
            topic_path("caf%C3%A9"),
        ),
        Case::append("malformed JSON", r#"{"records":"#, 400, "invalid_body"),
        Case::append("a body that is not JSON", "hello", 400, "invalid_body"),
        Case::append("an empty body", "", 400, "invalid_body"),
        Case::append(
            "records as a string",
            r#"{"records":"x"}"#,
            400,
            "invalid_body",
        ),
        Case::append(
            "a record without a value",
            r#"{"records":[{"key":"k"}]}"#,
            400,
            "invalid_body",
        ),
        Case::append(
            "a record that is a number",
            r#"{"records":[1]}"#,
            400,
            "invalid_body",
        ),
        Case::append(
            "a numeric key",
            r#"{"records":[{"key":5,"value":1}]}"#,
            400,
            "invalid_body",
        ),
        Case::append(
            "a numeric header value",
            r#"{"records":[{"value":1,"headers":{"h":1}}]}"#,
            400,
            "invalid_body",
        ),
        Case::append("no records field", r#"{}"#, 400, "invalid_body"),
        Case::append(
            "an unknown top-level field",
            r#"{"records":[{"value":1}],"extra":1}"#,
            400,
            "invalid_body",
        ),
        // Values are kept as the text sent: one a JSON parser would refuse
        // is refused here, naming the record, and none is stored.
        Case::append(
            "a number out of range",
            r#"{"records":[{"value":1},{"value":1e999999}]}"#,
            400,
            "invalid_record",
        ),
        Case::append(
            "a lone surrogate",
            r#"{"records":[{"value":{"s":"\ud800"}}]}"#,
            400,
            "invalid_record",
        ),
        Case::append(
            "a value nested 128 deep",
            format!(
                r#"{{"records":[{{"value":{}{}}}]}}"#,
                "[".repeat(128),
                "]".repeat(128)
            ),
            400,
            "invalid_record",
        ),
        Case::append(
            "an unknown record field",
            r#"{"records":[{"value":1,"extra":1}]}"#,
            400,
            "invalid_body",
        ),
        Case::append("empty records", r#"{"records":[]}"#, 400, "empty_records"),
        Case::append(
            "a key over the limit",
            records_body(vec![
                json!({"key": "k".repeat(MAX_KEY_BYTES + 1), "value": 1}),
            ]),
            400,
            "invalid_record",
        ),
        Case::append(
            "too many headers",
            records_body(vec![json!({"value": 1, "headers": many_headers})]),
            400,
            "invalid_record",
        ),
        Case::append(
            "a body over the size limit",
            records_body(vec![json!({ "value": over_limit_value })]),
            413,
            "body_too_large",
        ),
        Case::append(
            "more records than the limit",
            records_body(vec![json!({"value": 0}); MAX_RECORDS_PER_APPEND + 1]),
            413,
            "too_many_records",
        ),
        Case::new(
            "a body that is not declared JSON",
            Method::POST,
            RECORDS_PATH,
            Some(("text/plain", one.as_bytes().to_vec())),
            415,
            "unsupported_media_type",
        ),
    ];
    let http = http();
    let ids = cluster.ids();
    for (i, case) in cases.iter().enumerate() {
        assert_refused(&cluster, &http, ids[i % ids.len()], case).await;
    }
    assert_nothing_appended(&cluster).await;

    // The limits are inclusive: exactly at each one, an append goes through.
    let at_limits = cluster.client();
    let longest_name = "x".repeat(MAX_TOPIC_NAME_BYTES);
    at_limits
        .append(&longest_name, vec![record(1)])
        .await
        .expect("a topic name of exactly the limit");
    let mut at_key_limit = record(1);
    at_key_limit.key = Some("k".repeat(MAX_KEY_BYTES));
    at_key_limit.headers = (0..MAX_HEADERS_PER_RECORD)
        .map(|i| (format!("h{i}"), "v".to_string()))
        .collect();
    at_limits
        .append("at-limits", vec![at_key_limit])
        .await
        .expect("a key and headers of exactly the limits");
    let ack = at_limits
        .append("at-limits", vec![record(0); MAX_RECORDS_PER_APPEND])
        .await
        .expect("exactly the most records in one append");
    assert_eq!(ack.offsets.len(), MAX_RECORDS_PER_APPEND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_reads_unknown_routes_and_wrong_methods_are_refused_with_a_clear_error() {
    let cluster = cluster_with_one_record().await;
    let read = |query: &str| format!("{RECORDS_PATH}?{query}");
    let no_body =
        |what, method, path: &str, status, code| Case::new(what, method, path, None, status, code);
    let cases = vec![
        Case::get(
            "from past the end",
            read("from=2"),
            400,
            "offset_out_of_range",
        ),
        Case::get(
            "an unknown topic",
            "/v1/topics/never-written/records",
            404,
            "topic_not_found",
        ),
        Case::get("limit=0", read("limit=0"), 400, "invalid_limit"),
        Case::get(
            "a limit over the most one read returns",
            read("limit=1001"),
            400,
            "invalid_limit",
        ),
        Case::get("a non-numeric from", read("from=abc"), 400, "invalid_query"),
        Case::get("a negative from", read("from=-1"), 400, "invalid_query"),
        Case::get(
            "an unknown consistency",
            read("consistency=eventual"),
            400,
            "invalid_query",
        ),
        Case::get(
            "an unknown query parameter",
            read("from=0&colour=red"),
            400,
            "invalid_query",
        ),
        Case::get(
            "an invalid topic name",
            "/v1/topics/a%20b/records",
            400,
            "invalid_topic",
        ),
        Case::get("an unknown route", "/no/such/route", 404, "not_found"),
        no_body(
            "an unknown API version",
            Method::POST,
            "/v2/topics/bad-input/records",
            404,
            "not_found",
        ),
        no_body(
            "PUT on records",
            Method::PUT,
            RECORDS_PATH,
            405,
            "method_not_allowed",
        ),
        no_body(
            "DELETE on records",
            Method::DELETE,
            RECORDS_PATH,
            405,
            "method_not_allowed",
        ),
        no_body(
            "POST on /healthz",
            Method::POST,
            "/healthz",
            405,
            "method_not_allowed",
        ),
        no_body(
            "GET on a Raft endpoint",
            Method::GET,
            "/raft/vote",
            405,
            "method_not_allowed",
        ),
    ];
    let http = http();
    let ids = cluster.ids();
    for (i, case) in cases.iter().enumerate() {
        assert_refused(&cluster, &http, ids[i % ids.len()], case).await;
    }
    assert_nothing_appended(&cluster).await;

    // Reading exactly at the end is not an error: an empty page.
    let page = cluster
        .client()
        .read(
            TOPIC,
            &ordo_api::ReadParams {
                from: ordo_core::Offset(1),
                ..Default::default()
            },
        )
        .await
        .expect("a read at the end offset");
    assert!(page.records.is_empty());
    assert_eq!(page.end_offset.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_name_that_is_not_utf8_is_refused_with_a_json_error() {
    let cluster = cluster_with_one_record().await;
    let http = http();
    let path = "/v1/topics/%FF%FE/records";
    for (id, method) in cluster
        .ids()
        .into_iter()
        .zip([Method::GET, Method::POST, Method::GET])
    {
        let mut request = http.request(method.clone(), format!("{}{path}", cluster.base_url(id)));
        if method == Method::POST {
            request = request.json(&json!({"records": [{"value": 1}]}));
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let leader = leader_header(&response);
        let text = response.text().await.unwrap_or_default();
        let what = format!("{method} {path} on node {id}");
        assert_eq!(status, 400, "{what}: {text:.300}");
        assert!(leader.is_some(), "{what}: no ordo-leader header");
        let body: ErrorBody = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: the body is not a JSON error ({e}): {text:.300}"));
        assert!(!body.error.code.is_empty(), "{what}: an empty code");
    }
    assert_nothing_appended(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_producers_conditions_and_positions_are_refused_and_change_nothing() {
    let cluster = cluster_with_one_record().await;
    let append = |what: &str, fields: serde_json::Value, status, code| {
        let mut body = json!({"records": [{"key": "k", "value": 1}]});
        body.as_object_mut()
            .expect("an object")
            .extend(fields.as_object().expect("an object").clone());
        Case::append(what, body.to_string(), status, code)
    };
    let position = |group: &str, topic: &str| format!("/v1/consumers/{group}/offsets/{topic}");
    let commit = |what, path: String, body: &str, status, code| {
        let body = Some(("application/json", body.as_bytes().to_vec()));
        Case::new(what, Method::PUT, path, body, status, code)
    };
    let producer_case = |what, producer: serde_json::Value| {
        append(what, json!({ "producer": producer }), 400, "invalid_body")
    };
    let cases = vec![
        producer_case("a producer id with a space", json!({"id": "a b", "seq": 0})),
        producer_case("an empty producer id", json!({"id": "", "seq": 0})),
        producer_case(
            "a producer id over the limit",
            json!({"id": "p".repeat(MAX_PRODUCER_ID_BYTES + 1), "seq": 0}),
        ),
        producer_case("a negative seq", json!({"id": "p", "seq": -1})),
        producer_case(
            "a seq past u64",
            serde_json::from_str(r#"{"id": "p", "seq": 18446744073709551616}"#).expect("JSON"),
        ),
        producer_case("a fractional seq", json!({"id": "p", "seq": 1.5})),
        producer_case("a producer without a seq", json!({"id": "p"})),
        producer_case(
            "an unknown producer field",
            json!({"id": "p", "seq": 0, "epoch": 1}),
        ),
        append(
            "two conditions at once",
            json!({"condition": {"key_absent": true, "expected_offset": 1}}),
            400,
            "invalid_body",
        ),
        append(
            "key_absent false",
            json!({"condition": {"key_absent": false}}),
            400,
            "invalid_body",
        ),
        append(
            "a negative expected offset",
            json!({"condition": {"expected_offset": -1}}),
            400,
            "invalid_body",
        ),
        append(
            "an unknown condition",
            json!({"condition": {"key_present": true}}),
            400,
            "invalid_body",
        ),
        Case::append(
            "key_absent without a key",
            r#"{"records":[{"value":1}],"condition":{"key_absent":true}}"#,
            400,
            "invalid_condition",
        ),
        Case::append(
            "key_last_offset over two keys",
            r#"{"records":[{"key":"a","value":1},{"key":"b","value":2}],
                "condition":{"key_last_offset":0}}"#,
            400,
            "invalid_condition",
        ),
        commit(
            "a position past the topic's end",
            position("g", TOPIC),
            r#"{"offset": 2}"#,
            400,
            "offset_out_of_range",
        ),
        commit(
            "a position in a topic that does not exist",
            position("g", "never-written"),
            r#"{"offset": 0}"#,
            404,
            "topic_not_found",
        ),
        commit(
            "a negative position",
            position("g", TOPIC),
            r#"{"offset": -1}"#,
            400,
            "invalid_body",
        ),
        commit(
            "a position without an offset",
            position("g", TOPIC),
            r#"{"expected": null}"#,
            400,
            "invalid_body",
        ),
        commit(
            "an unknown position field",
            position("g", TOPIC),
            r#"{"offset": 0, "force": true}"#,
            400,
            "invalid_body",
        ),
        commit(
            "an invalid group name",
            position("a%20b", TOPIC),
            r#"{"offset": 0}"#,
            400,
            "invalid_group",
        ),
        commit(
            "an invalid topic name in a position",
            position("g", "a%20b"),
            r#"{"offset": 0}"#,
            400,
            "invalid_topic",
        ),
        Case::get(
            "a position never committed",
            position("g", TOPIC),
            404,
            "position_not_found",
        ),
        Case::get(
            "a group with no positions",
            "/v1/consumers/g",
            404,
            "group_not_found",
        ),
        Case::get(
            "an unknown consistency for a position",
            format!("{}?consistency=eventual", position("g", TOPIC)),
            400,
            "invalid_query",
        ),
    ];
    let http = http();
    let ids = cluster.ids();
    for (i, case) in cases.iter().enumerate() {
        assert_refused(&cluster, &http, ids[i % ids.len()], case).await;
    }
    assert_nothing_appended(&cluster).await;
    for id in ids {
        let position = cluster
            .client_for(id)
            .consumer_offset("g", TOPIC, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("reading g's position from node {id}: {e}"));
        assert_eq!(
            position, None,
            "node {id}: no refused commit set a position"
        );
    }
    // No refused append used up producer p's first seq.
    let ack = cluster
        .client()
        .append_with(
            "producer-after-refusals",
            &ordo_api::AppendRequest {
                records: vec![record(1)],
                producer: Some(ordo_core::Producer::new(
                    ordo_core::ProducerId::new("p").expect("valid"),
                    0,
                )),
                condition: None,
            },
        )
        .await
        .expect("producer p's first append");
    assert!(!ack.duplicate);
}

/// A body sent without a content type is taken as JSON (what a client that
/// sends none means); one declared as something else is refused with 415,
/// a JSON error saying what to send, and appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_a_content_type_is_json_and_one_of_another_type_is_refused() {
    let cluster = cluster_with_one_record().await;
    let http = http();
    let id = cluster.leader;
    let url = |topic: &str| format!("{}/v1/topics/{topic}/records", cluster.base_url(id));
    let undeclared = http
        .post(url("undeclared"))
        .body(r#"{"records":[{"value":"no content type"}]}"#)
        .send()
        .await
        .expect("an append without a content type");
    assert!(
        undeclared
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some(),
        "the answer declares its own type"
    );
    assert_eq!(undeclared.status(), 200, "{:?}", undeclared.text().await);
    let log = read_all(&cluster.client(), "undeclared", Consistency::Linearizable)
        .await
        .expect("reading the undeclared topic");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].value, json!("no content type"));

    let plain = Case::new(
        "a JSON body declared as text/plain",
        Method::POST,
        RECORDS_PATH,
        Some(("text/plain", br#"{"records":[{"value":1}]}"#.to_vec())),
        415,
        "unsupported_media_type",
    );
    assert_refused(&cluster, &http, id, &plain).await;
    let refusal: ErrorBody = http
        .post(url(TOPIC))
        .header(reqwest::header::CONTENT_TYPE, "text/plain")
        .body(r#"{"records":[{"value":1}]}"#)
        .send()
        .await
        .expect("a text/plain append")
        .json()
        .await
        .expect("a JSON error");
    assert!(
        refusal
            .error
            .message
            .contains("send content-type: application/json"),
        "the refusal says what to send: {refusal:?}"
    );
    assert_nothing_appended(&cluster).await;
}
