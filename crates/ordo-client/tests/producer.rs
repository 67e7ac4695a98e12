//! The idempotent producer and conditional appends against scripted stub
//! nodes: every resend of an append carries the same producer id and seq, a
//! refusal uses up no seq, and an append whose fate stayed unknown is
//! settled before the producer sends anything else.

mod stub;

use std::time::Duration;

use ordo_api::AppendRequest;
use ordo_client::producer::MAX_PRODUCER_ATTEMPTS;
use ordo_client::{Client, ClientError, Producer, RetryPolicy};
use ordo_core::{Condition, NewRecord, Offset, ProducerId};
use serde_json::{json, Value};

use stub::{Reply, Stub};

const APPEND: &str = "/v1/topics/orders/records";

fn record(value: &str) -> Vec<NewRecord> {
    vec![NewRecord {
        key: Some("jane".into()),
        value: json!(value).into(),
        headers: Default::default(),
    }]
}

fn appended(offset: u64, duplicate: bool) -> Reply {
    Reply::json(
        200,
        json!({"offsets": [offset], "log_index": 7, "duplicate": duplicate}),
    )
}

/// A client whose appends time out quickly, so unknown outcomes come fast.
fn client(url: String) -> Client {
    Client::builder(vec![url])
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            total_budget: Duration::from_secs(5),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

fn producer(url: String) -> Producer {
    Producer::new(client(url), ProducerId::new("checkout-7").unwrap())
}

/// `(seq, first record's value)` of every append the stub received.
fn sent(stub: &Stub) -> Vec<(u64, Value)> {
    stub.bodies("POST", APPEND)
        .iter()
        .map(|body| {
            assert_eq!(body["producer"]["id"], "checkout-7", "{body}");
            let seq = body["producer"]["seq"].as_u64().expect("a seq");
            (seq, body["records"][0]["value"].clone())
        })
        .collect()
}

#[tokio::test]
async fn a_timed_out_append_is_resent_with_the_same_seq_and_answers_the_original_offsets() {
    // The first send is applied but its answer never arrives in time; the
    // resend is the cluster's duplicate of it.
    let node = Stub::start(|_, _, n| match n {
        0 => appended(5, false).delay(Duration::from_secs(2)),
        _ => appended(5, true),
    })
    .await;
    let mut producer = producer(node.url());

    let ack = producer.append("orders", record("a")).await.unwrap();
    assert_eq!(ack.offsets, vec![Offset(5)]);
    assert!(ack.duplicate, "the resend found the first send applied");
    assert_eq!(sent(&node), vec![(0, json!("a")), (0, json!("a"))]);

    producer.append("orders", record("b")).await.unwrap();
    assert_eq!(sent(&node)[2], (1, json!("b")));
    assert_eq!(producer.next_seq(), 2);
}

#[tokio::test]
async fn a_refused_append_uses_up_no_seq() {
    let node = Stub::start(|_, _, n| match n {
        1 => Reply::json(
            409,
            json!({"error": {"code": "condition_failed",
                             "message": "condition key_absent failed",
                             "current": {"key_last_offset": 0}}}),
        ),
        n => appended(n as u64, false),
    })
    .await;
    let mut producer = producer(node.url());

    producer.append("orders", record("a")).await.unwrap();
    let refused = producer
        .append_if("orders", record("b"), Some(Condition::KeyAbsent))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("condition_failed"));
    assert_eq!(refused.current(), Some(&json!({"key_last_offset": 0})));
    producer.append("orders", record("c")).await.unwrap();

    assert_eq!(
        sent(&node),
        vec![(0, json!("a")), (1, json!("b")), (1, json!("c"))]
    );
    let bodies = node.bodies("POST", APPEND);
    assert_eq!(bodies[1]["condition"], json!({"key_absent": true}));
    assert!(bodies[0].get("condition").is_none());
}

#[tokio::test]
async fn an_append_whose_fate_stays_unknown_is_settled_before_the_next_one() {
    let slow_sends = MAX_PRODUCER_ATTEMPTS as usize;
    let node = Stub::start(move |_, _, n| {
        if n < slow_sends {
            appended(0, false).delay(Duration::from_secs(2))
        } else {
            appended(n as u64, false)
        }
    })
    .await;
    let mut producer = producer(node.url());

    let unknown = producer.append("orders", record("a")).await.unwrap_err();
    assert!(
        matches!(unknown, ClientError::OutcomeUnknown { .. }),
        "{unknown:?}"
    );
    assert_eq!(producer.next_seq(), 0, "seq 0 still belongs to \"a\"");
    assert_eq!(sent(&node), vec![(0, json!("a")); slow_sends]);

    // "a" goes again, with its own seq, before "b" gets the next one.
    producer.append("orders", record("b")).await.unwrap();
    let after: Vec<_> = sent(&node).split_off(slow_sends);
    assert_eq!(after, vec![(0, json!("a")), (1, json!("b"))]);
    assert_eq!(producer.next_seq(), 2);
}

#[tokio::test]
async fn a_plain_append_with_a_condition_carries_it_and_no_producer() {
    let node = Stub::start(|_, _, _| appended(3, false)).await;
    let request = AppendRequest {
        records: record("x"),
        producer: None,
        condition: Some(Condition::ExpectedOffset(Offset(3))),
    };
    let ack = client(node.url())
        .append_with("orders", &request)
        .await
        .unwrap();
    assert!(!ack.duplicate);
    let bodies = node.bodies("POST", APPEND);
    assert_eq!(bodies[0]["condition"], json!({"expected_offset": 3}));
    assert!(bodies[0].get("producer").is_none());
}
