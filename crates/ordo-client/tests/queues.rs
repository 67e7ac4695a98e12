//! Work-queue calls against scripted stub nodes: the paths and bodies the
//! client sends, a long-polled claim's deadline, and which calls are resent.

mod stub;

use std::time::Duration;

use ordo_api::{ClaimRequest, JobLease, LeaseToken, PutQueueRequest};
use ordo_client::queues::lost_offsets;
use ordo_client::{Client, ClientError};
use ordo_core::queue::LeaseId;
use ordo_core::Offset;
use serde_json::json;

use stub::{Reply, Stub};

const QUEUE: &str = "/v1/queues/mailers/emails";

fn queue_info() -> serde_json::Value {
    json!({"group": "mailers", "topic": "emails",
           "config": {"lease_ms": 2000, "max_deliveries": 3,
                      "dead_letter_topic": "emails.dlq", "ordered_by_key": false},
           "floor_offset": 0, "end_offset": 4, "pending": 4, "in_flight": 0,
           "acked": 0, "dead_lettered": 0, "oldest_pending_age_ms": 12})
}

fn job(offset: u64) -> serde_json::Value {
    json!({"offset": offset, "delivery": 1, "lease": "l2a", "lease_expires_ms": 99,
           "value": {"to": "jane"}, "timestamp_ms": 5})
}

fn lease(offset: u64) -> JobLease {
    JobLease {
        offset: Offset(offset),
        lease: LeaseToken(LeaseId(0x2a)),
    }
}

fn client_of(node: &Stub, timeout: Duration) -> Client {
    Client::builder(vec![node.url()])
        .timeout(timeout)
        .build()
        .unwrap()
}

#[tokio::test]
async fn queue_calls_go_to_their_paths_with_their_bodies() {
    let node = Stub::start(|method, path, _| match (method, path) {
        ("PUT" | "GET", QUEUE) => Reply::json(200, queue_info()),
        ("GET", "/v1/queues") => Reply::json(200, json!({"queues": [queue_info()]})),
        ("DELETE", _) => Reply::json(200, json!({"log_index": 7})),
        (_, p) if p.ends_with("/claim") => Reply::json(200, json!({"jobs": [job(3)]})),
        (_, p) if p.ends_with("/extend") => Reply::json(
            200,
            json!({"jobs": [{"offset": 3, "lease_expires_ms": 200}], "log_index": 8}),
        ),
        _ => Reply::json(200, json!({"log_index": 9, "dead_lettered": [3]})),
    })
    .await;
    let client = client_of(&node, Duration::from_secs(5));
    let config = PutQueueRequest {
        lease_ms: Some(2000),
        max_deliveries: Some(3),
        ..PutQueueRequest::default()
    };

    let made = client
        .put_queue("mailers", "emails", &config)
        .await
        .unwrap();
    assert_eq!(made.config.lease_ms, 2000);
    assert!(client.queue("mailers", "emails").await.unwrap().is_some());
    assert_eq!(client.queues().await.unwrap().queues.len(), 1);
    let claimed = client
        .claim("mailers", "emails", &ClaimRequest::default())
        .await
        .unwrap();
    assert_eq!(claimed.jobs[0].offset, Offset(3));
    client.ack("mailers", "emails", &[lease(3)]).await.unwrap();
    let nacked = client
        .nack("mailers", "emails", &[lease(3)], 500)
        .await
        .unwrap();
    assert_eq!(nacked.dead_lettered, vec![Offset(3)]);
    let extended = client
        .extend("mailers", "emails", &[lease(3)], Some(1000))
        .await
        .unwrap();
    assert_eq!(extended.jobs[0].lease_expires_ms, 200);
    assert!(client.delete_queue("mailers", "emails").await.unwrap());

    assert_eq!(
        node.bodies("PUT", QUEUE),
        vec![json!({"lease_ms": 2000, "max_deliveries": 3, "ordered_by_key": false})]
    );
    let sent = |action: &str| node.bodies("POST", &format!("{QUEUE}/{action}"));
    assert_eq!(sent("claim"), vec![json!({"max": 1, "wait_ms": 0})]);
    let jobs = json!([{"offset": 3, "lease": "l2a"}]);
    assert_eq!(sent("ack"), vec![json!({"jobs": jobs})]);
    assert_eq!(sent("nack"), vec![json!({"jobs": jobs, "delay_ms": 500})]);
    assert_eq!(
        sent("extend"),
        vec![json!({"jobs": jobs, "lease_ms": 1000})]
    );
}

#[tokio::test]
async fn a_missing_queue_is_none_and_deleting_it_says_so() {
    let node = Stub::start(|_, _, _| Reply::error(404, "queue_not_found")).await;
    let client = client_of(&node, Duration::from_secs(5));

    assert_eq!(client.queue("mailers", "emails").await.unwrap(), None);
    assert!(!client.delete_queue("mailers", "emails").await.unwrap());
    let claim = client
        .claim("mailers", "emails", &ClaimRequest::default())
        .await
        .unwrap_err();
    assert_eq!(claim.code(), Some("queue_not_found"));
}

#[tokio::test]
async fn a_long_polled_claim_may_take_its_wait_beyond_the_timeout() {
    let node = Stub::start(|_, _, _| {
        Reply::json(200, json!({"jobs": []})).delay(Duration::from_millis(600))
    })
    .await;
    let client = client_of(&node, Duration::from_millis(300));
    let waiting = ClaimRequest {
        wait_ms: 1_000,
        ..ClaimRequest::default()
    };

    let claimed = client.claim("mailers", "emails", &waiting).await.unwrap();
    assert!(claimed.jobs.is_empty());
    // Without the wait, the same answer comes too late: the claim may have
    // happened, so it is reported unknown and not sent again.
    let error = client
        .claim("mailers", "emails", &ClaimRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::OutcomeUnknown { .. }),
        "{error}"
    );
    assert_eq!(node.count("POST", &format!("{QUEUE}/claim")), 2);
}

#[tokio::test]
async fn an_ack_is_never_resent_after_an_unknown_outcome_or_a_lost_lease() {
    let node = Stub::start(|_, path, _| {
        if path.ends_with("/ack") {
            Reply::json(200, json!({"log_index": 1})).delay(Duration::from_secs(2))
        } else {
            Reply::json(
                409,
                json!({"error": {"code": "lease_lost", "message": "moved on",
                                 "current": {"offsets": [3]}}}),
            )
        }
    })
    .await;
    let client = client_of(&node, Duration::from_millis(200));

    let unknown = client
        .ack("mailers", "emails", &[lease(3)])
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, ClientError::OutcomeUnknown { .. }),
        "{unknown}"
    );
    let lost = client
        .nack("mailers", "emails", &[lease(3)], 0)
        .await
        .unwrap_err();
    assert_eq!(lost_offsets(&lost), Some(vec![Offset(3)]));
    assert_eq!(node.count("POST", &format!("{QUEUE}/ack")), 1);
    assert_eq!(node.count("POST", &format!("{QUEUE}/nack")), 1);
}

#[tokio::test]
async fn claims_and_acks_go_again_after_a_503() {
    let node = Stub::start(|_, path, n| match n {
        0 => Reply::error(503, "no_leader"),
        _ if path.ends_with("/claim") => Reply::json(200, json!({"jobs": [job(1)]})),
        _ => Reply::json(200, json!({"log_index": 2})),
    })
    .await;
    let client = client_of(&node, Duration::from_secs(5));

    let claimed = client
        .claim("mailers", "emails", &ClaimRequest::default())
        .await
        .unwrap();
    client
        .ack("mailers", "emails", &[lease(claimed.jobs[0].offset.0)])
        .await
        .unwrap();
    assert_eq!(node.count("POST", &format!("{QUEUE}/claim")), 2);
    assert_eq!(node.count("POST", &format!("{QUEUE}/ack")), 2);
}
