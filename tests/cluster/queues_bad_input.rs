//! Bad queue requests (DESIGN §3c): claims, acks, nacks, extends and
//! configs out of their bounds, malformed leases and queues nobody made
//! are refused with a 4xx and a JSON error code, and change nothing.

use ordo_api::JobLease;
use ordo_client::queues::lost_offsets;
use ordo_core::Offset;
use reqwest::Method;
use serde_json::json;

use crate::bad_input::{assert_refused, Case};
use crate::queue_support::{
    append_values, claim, put_queue, queue_info, settle_ok, standing, topic_names, Settle, GROUP,
};
use crate::support::TestCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queue_requests_are_refused_with_a_clear_error_and_change_nothing() {
    let cluster = TestCluster::start().await;
    let topic = "tasks";
    let client = cluster.client();
    put_queue(&client, topic, 30_000, 5, false).await;
    append_values(&client, topic, 0..3).await;
    let held = claim(&client, topic, 1, 0).await;
    let lease = held[0].lease.to_string();
    let before = standing(&queue_info(&client, topic).await);
    let queues_before = client.queues().await.expect("listing the queues");
    let topics_before = topic_names(&client).await;

    let queue = format!("/v1/queues/{GROUP}/{topic}");
    let job = |lease: &str| json!({"offset": 0, "lease": lease});
    // Every bad body is 400 invalid_body.
    let post = |what: &str, action: &str, body: serde_json::Value| {
        let body = Some(("application/json", serde_json::to_vec(&body).expect("JSON")));
        let path = format!("{queue}/{action}");
        Case::new(what, Method::POST, path, body, 400, "invalid_body")
    };
    let put = |what: &str, path: &str, body: serde_json::Value| {
        let body = serde_json::to_vec(&body).expect("JSON");
        let body = Some(("application/json", body));
        Case::new(what, Method::PUT, path, body, 400, "invalid_body")
    };
    let claim_of = |what, body| post(what, "claim", body);
    let many: Vec<_> = (0..1_001)
        .map(|i| json!({"offset": i, "lease": lease}))
        .collect();
    let cases = [
        claim_of("a claim of no jobs", json!({"max": 0})),
        claim_of("a claim of 1001 jobs", json!({"max": 1_001})),
        claim_of("a 5 ms lease", json!({"lease_ms": 5})),
        claim_of("a lease over 12 h", json!({"lease_ms": 43_200_001})),
        claim_of("a 60 s wait", json!({"wait_ms": 60_000})),
        claim_of("an unknown field", json!({"maxx": 1})),
        post("an ack of no jobs", "ack", json!({"jobs": []})),
        post(
            "a lease not in the server's form",
            "ack",
            json!({"jobs": [job("zz")]}),
        ),
        post("a lease of no digits", "ack", json!({"jobs": [job("l")]})),
        post(
            "a lease as a number",
            "ack",
            json!({"jobs": [{"offset": 0, "lease": 7}]}),
        ),
        post(
            "a job named twice",
            "ack",
            json!({"jobs": [job(&lease), job(&lease)]}),
        ),
        post("an ack of 1001 jobs", "ack", json!({"jobs": many})),
        post("a nack of no jobs", "nack", json!({"jobs": []})),
        post(
            "a nack delay over 12 h",
            "nack",
            json!({"jobs": [job(&lease)], "delay_ms": 43_200_001u64}),
        ),
        post(
            "an extend by 5 ms",
            "extend",
            json!({"jobs": [job(&lease)], "lease_ms": 5}),
        ),
        put(
            "the queue's topic as its dead-letter topic",
            &queue,
            json!({"dead_letter_topic": topic}),
        ),
        put(
            "a new queue dead-lettering into its topic",
            "/v1/queues/other/tasks",
            json!({"dead_letter_topic": topic}),
        ),
        put("a 5 ms lease", &queue, json!({"lease_ms": 5})),
        put("no deliveries", &queue, json!({"max_deliveries": 0})),
        put("1001 deliveries", &queue, json!({"max_deliveries": 1_001})),
        put(
            "a dead-letter topic that is no topic name",
            &queue,
            json!({"dead_letter_topic": "no/such name"}),
        ),
        Case::new(
            "an unknown queue",
            Method::GET,
            "/v1/queues/nobody/tasks",
            None,
            404,
            "queue_not_found",
        ),
        Case::new(
            "a queue over no topic",
            Method::GET,
            "/v1/queues/nobody/nothing",
            None,
            404,
            "queue_not_found",
        ),
        Case::new(
            "deleting an unknown queue",
            Method::DELETE,
            "/v1/queues/nobody/tasks",
            None,
            404,
            "queue_not_found",
        ),
        unknown_queue("claim", json!({"max": 1, "wait_ms": 1_000})),
        unknown_queue("ack", json!({"jobs": [job(&lease)]})),
        unknown_queue("nack", json!({"jobs": [job(&lease)]})),
        unknown_queue("extend", json!({"jobs": [job(&lease)]})),
    ];
    let http = cluster.http();
    let ids = cluster.ids();
    for (i, case) in cases.iter().enumerate() {
        assert_refused(&cluster, &http, ids[i % ids.len()], case).await;
    }
    // A lease in the right form that this job is not under: 409, naming it.
    let stranger = [JobLease {
        offset: Offset(0),
        lease: "lfffff".parse().expect("a well-formed lease"),
    }];
    let error = client
        .ack(GROUP, topic, &stranger)
        .await
        .expect_err("an ack under a lease never handed out");
    assert_eq!(lost_offsets(&error), Some(vec![Offset(0)]), "{error}");

    assert_eq!(standing(&queue_info(&client, topic).await), before);
    assert_eq!(
        client
            .queues()
            .await
            .expect("listing the queues")
            .queues
            .len(),
        queues_before.queues.len()
    );
    assert_eq!(
        topic_names(&client).await,
        topics_before,
        "no topic was made"
    );
    // The job's lease was never touched: it still acks.
    settle_ok(&client, topic, &held, Settle::Ack).await;
}

/// A request about a queue nobody made: 404 `queue_not_found`.
fn unknown_queue(action: &str, body: serde_json::Value) -> Case {
    let body = serde_json::to_vec(&body).expect("JSON");
    Case::new(
        format!("a {action} of an unknown queue"),
        Method::POST,
        format!("/v1/queues/nobody/tasks/{action}"),
        Some(("application/json", body)),
        404,
        "queue_not_found",
    )
}
