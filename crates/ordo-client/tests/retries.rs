//! The client's promises against scripted stub nodes: it follows the
//! leader, retries what is safe, and never resends an append whose outcome
//! it cannot know.

mod stub;

use std::time::Duration;

use ordo_api::{Consistency, ReadParams};
use ordo_client::{Client, ClientError, RetryPolicy};
use ordo_core::{NewRecord, Offset};
use serde_json::json;

use stub::{dead_addr, Reply, Stub};

const APPEND: &str = "/v1/topics/orders/records";

fn record(value: &str) -> Vec<NewRecord> {
    vec![NewRecord {
        key: None,
        value: json!(value).into(),
        headers: Default::default(),
    }]
}

fn appended(offset: u64) -> Reply {
    Reply::json(200, json!({"offsets": [offset], "log_index": 7}))
}

fn page() -> Reply {
    Reply::json(
        200,
        json!({"records": [], "next_offset": 0, "end_offset": 0}),
    )
}

/// Retries fast so tests do not wait on production backoffs.
fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        total_budget: Duration::from_secs(5),
        unreachable_budget: Duration::from_secs(5),
    }
}

fn client(urls: &[String]) -> Client {
    Client::builder(urls.to_vec())
        .retry(quick_retry())
        .build()
        .unwrap()
}

/// Node 1's view: node 3 leads. Lists members 2 and 3 only; node 1's own
/// address does not matter to these tests.
fn status_naming_leader_3(node_2: &str, node_3: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "node_id": 1, "role": "follower", "leader": 3, "term": 2,
            "members": [
                {"id": 2, "addr": node_2, "voter": true},
                {"id": 3, "addr": node_3, "voter": true},
            ],
            "last_log_index": 7, "commit_index": 7, "last_applied_index": 7,
            "snapshot_index": null, "followers": [],
        }),
    )
}

#[tokio::test]
async fn follows_the_leader_hint_of_a_node_that_cannot_serve() {
    // Node 3 leads. Node 1 refuses with 503 naming node 3; node 2 must never
    // be bothered, since the client learns node 3's address and goes there.
    let node_2 = Stub::start(|_, _, _| Reply::error(503, "no_leader").retry_after(1)).await;
    let node_3 = Stub::start(|_, _, n| appended(n as u64).leader(3)).await;
    let (url_2, url_3) = (node_2.url(), node_3.url());
    let node_1 = Stub::start(move |method, path, _| {
        if method == "GET" && path == "/v1/cluster" {
            status_naming_leader_3(&url_2, &url_3)
        } else {
            Reply::error(503, "not_leader").leader(3)
        }
    })
    .await;
    let client = client(&[node_1.url(), node_2.url(), node_3.url()]);

    let first = client.append("orders", record("a")).await.unwrap();
    assert_eq!(first.offsets, vec![Offset(0)]);
    assert_eq!(node_1.count("POST", APPEND), 1);
    assert_eq!(node_2.seen(), vec![], "node 2 was not the leader");
    assert_eq!(node_3.count("POST", APPEND), 1);
    assert_eq!(client.leader_hint(), Some(3));

    // The next append goes straight to the leader.
    client.append("orders", record("b")).await.unwrap();
    assert_eq!(node_1.count("POST", APPEND), 1);
    assert_eq!(node_3.count("POST", APPEND), 2);
}

#[tokio::test]
async fn leader_named_in_status_is_used_from_the_next_call() {
    let node_2 = Stub::start(|_, _, _| page().leader(3)).await;
    let node_3 = Stub::start(|_, _, _| page().leader(3)).await;
    let (url_2, url_3) = (node_2.url(), node_3.url());
    let node_1 = Stub::start(move |_, _, _| status_naming_leader_3(&url_2, &url_3)).await;
    let client = client(&[node_1.url(), node_2.url(), node_3.url()]);

    let status = client.cluster_status().await.unwrap();
    assert_eq!(status.leader, Some(3));
    client.read("orders", &ReadParams::default()).await.unwrap();
    assert_eq!(node_3.count("GET", APPEND), 1);
    assert_eq!(node_2.seen(), vec![]);
}

#[tokio::test]
async fn reads_and_appends_are_retried_after_503() {
    let node = Stub::start(|method, _, n| match (method, n) {
        (_, 0 | 1) => Reply::error(503, "no_quorum").retry_after(0),
        ("POST", _) => appended(4),
        _ => page(),
    })
    .await;
    let client = client(&[node.url()]);

    client.read("orders", &ReadParams::default()).await.unwrap();
    assert_eq!(node.count("GET", APPEND), 3);

    let response = client.append("orders", record("x")).await.unwrap();
    assert_eq!(response.offsets, vec![Offset(4)]);
    assert_eq!(
        node.count("POST", APPEND),
        3,
        "503 means nothing was appended"
    );
}

#[tokio::test]
async fn client_errors_are_returned_without_a_retry() {
    let node = Stub::start(|method, _, _| match method {
        "POST" => Reply::error(409, "condition_failed"),
        _ => Reply::error(404, "unknown_topic"),
    })
    .await;
    let client = client(&[node.url()]);

    let read = client.read("orders", &ReadParams::default()).await;
    assert!(
        matches!(&read, Err(ClientError::Api { status: 404, code, .. }) if code == "unknown_topic"),
        "{read:?}"
    );
    let append = client.append("orders", record("x")).await;
    assert_eq!(append.unwrap_err().status(), Some(409));
    assert_eq!(node.seen().len(), 2, "one request each, no retries");
}

#[tokio::test]
async fn an_append_that_times_out_is_reported_unknown_and_sent_once() {
    let node = Stub::start(|_, _, _| appended(0).delay(Duration::from_secs(2))).await;
    let other = Stub::start(|_, _, _| appended(0)).await;
    let client = Client::builder(vec![node.url(), other.url()])
        .timeout(Duration::from_millis(200))
        .retry(quick_retry())
        .build()
        .unwrap();

    let result = client.append("orders", record("x")).await;
    assert!(
        matches!(result, Err(ClientError::OutcomeUnknown { .. })),
        "{result:?}"
    );
    // Give a (wrong) retry time to arrive before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(node.count("POST", APPEND), 1);
    assert_eq!(
        other.seen(),
        vec![],
        "an unknown outcome is never retried elsewhere"
    );
}

#[tokio::test]
async fn a_read_that_times_out_is_retried_on_another_node() {
    let slow = Stub::start(|_, _, _| page().delay(Duration::from_secs(2))).await;
    let fast = Stub::start(|_, _, _| page()).await;
    let client = Client::builder(vec![slow.url(), fast.url()])
        .timeout(Duration::from_millis(200))
        .retry(quick_retry())
        .build()
        .unwrap();

    client.read("orders", &ReadParams::default()).await.unwrap();
    assert_eq!(slow.seen().len(), 1);
    assert_eq!(fast.seen().len(), 1);
}

#[tokio::test]
async fn an_append_that_never_connected_is_retried_on_another_node() {
    let live = Stub::start(|_, _, _| appended(9)).await;
    let client = client(&[dead_addr(), live.url()]);

    let response = client.append("orders", record("x")).await.unwrap();
    assert_eq!(response.offsets, vec![Offset(9)]);
    assert_eq!(live.count("POST", APPEND), 1);
}

#[tokio::test]
async fn a_dead_cluster_is_reported_unavailable_within_the_budget() {
    let client = Client::builder(vec![dead_addr(), dead_addr()])
        .retry(RetryPolicy {
            max_attempts: 6,
            ..quick_retry()
        })
        .build()
        .unwrap();

    let started = std::time::Instant::now();
    let result = client.read("orders", &ReadParams::default()).await;
    assert!(
        matches!(result, Err(ClientError::Unavailable { attempts: 6, .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!client.healthz().await);
}

#[tokio::test]
async fn read_parameters_travel_in_the_query_string() {
    let node = Stub::start(|_, _, _| page()).await;
    let client = client(&[node.url()]);
    let params = ReadParams {
        from: Offset(12),
        limit: Some(5),
        consistency: Consistency::Local,
    };

    client.read("orders", &params).await.unwrap();
    assert_eq!(
        node.seen(),
        vec![(
            "GET".to_string(),
            format!("{APPEND}?from=12&limit=5&consistency=local")
        )]
    );
}

#[tokio::test]
async fn an_undecodable_success_is_a_decode_error() {
    let node = Stub::start(|_, _, _| Reply::json(200, json!({"unexpected": true}))).await;
    let client = client(&[node.url()]);
    let result = client.append("orders", record("x")).await;
    assert!(
        matches!(result, Err(ClientError::Decode { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_pinned_client_talks_to_its_node_only() {
    let node_1 = Stub::start(|_, _, _| Reply::error(503, "no_leader")).await;
    let node_2 = Stub::start(|_, _, _| page()).await;
    let client = client(&[node_1.url(), node_2.url()]);
    let pinned = client.for_node(&node_1.url()).unwrap();

    let result = pinned.read("orders", &ReadParams::default()).await;
    assert!(
        matches!(result, Err(ClientError::Unavailable { .. })),
        "{result:?}"
    );
    assert_eq!(node_2.seen(), vec![]);
    assert!(!pinned.healthz().await);
    assert!(client.healthz().await);
}

#[tokio::test]
async fn an_interactive_call_to_addresses_where_nothing_listens_fails_after_one_sweep() {
    let client = Client::builder(vec![dead_addr(), dead_addr()])
        .retry(RetryPolicy::interactive(Duration::from_secs(10)))
        .build()
        .unwrap();

    let started = std::time::Instant::now();
    let result = client.read("orders", &ReadParams::default()).await;
    assert!(started.elapsed() < Duration::from_secs(1), "{result:?}");
    let Err(error @ ClientError::Unavailable { attempts: 2, .. }) = result else {
        panic!("expected unavailable after one sweep: {result:?}");
    };
    let text = error.to_string();
    assert!(
        text.contains("could not reach any of") && text.contains("connection refused"),
        "{text}"
    );
}

#[tokio::test]
async fn a_node_s_own_reason_for_refusing_wins_over_an_unreachable_node() {
    let no_leader = Stub::start(|_, _, _| Reply::error(503, "no_leader").retry_after(0)).await;
    let client = Client::builder(vec![no_leader.url(), dead_addr()])
        .retry(RetryPolicy {
            max_attempts: 6,
            ..quick_retry()
        })
        .build()
        .unwrap();

    let error = client
        .read("orders", &ReadParams::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("answered 503 no_leader: stub says no_leader"),
        "{text}"
    );
    assert!(!text.contains("connection refused"), "{text}");
}
