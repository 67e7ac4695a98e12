//! Consumer positions against scripted stub nodes: what the client sends to
//! commit one (with and without a compare-and-set), and how it reads them.

mod stub;

use ordo_api::Consistency;
use ordo_client::Client;
use ordo_core::{Offset, TopicName};
use serde_json::json;

use stub::{Reply, Stub};

const POSITION: &str = "/v1/consumers/billing/offsets/orders";

fn committed(offset: u64) -> Reply {
    Reply::json(200, json!({"offset": offset, "log_index": 9}))
}

#[tokio::test]
async fn a_commit_sends_its_expectation_absent_null_or_an_offset() {
    let node = Stub::start(|_, _, n| committed(n as u64)).await;
    let client = Client::new(vec![node.url()]).unwrap();

    for expected in [None, Some(None), Some(Some(Offset(1)))] {
        client
            .commit_offset("billing", "orders", Offset(2), expected)
            .await
            .unwrap();
    }
    assert_eq!(
        node.bodies("PUT", POSITION),
        vec![
            json!({"offset": 2}),
            json!({"offset": 2, "expected": null}),
            json!({"offset": 2, "expected": 1}),
        ]
    );
}

#[tokio::test]
async fn a_conflicting_commit_reports_the_current_position() {
    let node = Stub::start(|_, _, _| {
        Reply::json(
            409,
            json!({"error": {"code": "position_conflict", "message": "the group's position is 4",
                             "current": {"offset": 4}}}),
        )
    })
    .await;
    let client = Client::new(vec![node.url()]).unwrap();

    let error = client
        .commit_offset("billing", "orders", Offset(6), Some(Some(Offset(3))))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(409));
    assert_eq!(error.current(), Some(&json!({"offset": 4})));
    assert_eq!(
        node.seen().len(),
        1,
        "a refused compare-and-set is not resent"
    );
}

#[tokio::test]
async fn positions_are_read_with_the_asked_consistency_and_none_is_not_an_error() {
    let node = Stub::start(|_, path, _| {
        if path.starts_with(POSITION) {
            Reply::json(200, json!({"offset": 3}))
        } else if path.starts_with("/v1/consumers/billing?") {
            Reply::json(
                200,
                json!({"group": "billing", "topics": {
                    "orders": {"offset": 3, "end_offset": 10, "lag_records": 7}}}),
            )
        } else {
            Reply::error(404, "position_not_found")
        }
    })
    .await;
    let client = Client::new(vec![node.url()]).unwrap();

    let offset = client
        .consumer_offset("billing", "orders", Consistency::Local)
        .await
        .unwrap();
    assert_eq!(offset, Some(Offset(3)));
    let none = client
        .consumer_offset("new-group", "orders", Consistency::Linearizable)
        .await
        .unwrap();
    assert_eq!(none, None);
    let group = client
        .consumer_group("billing", Consistency::Linearizable)
        .await
        .unwrap();
    let orders = &group.topics[&TopicName::new("orders").unwrap()];
    assert_eq!((orders.offset, orders.lag_records), (Offset(3), 7));
    assert_eq!(
        node.seen()
            .into_iter()
            .map(|(_, path)| path)
            .collect::<Vec<_>>(),
        vec![
            format!("{POSITION}?consistency=local"),
            "/v1/consumers/new-group/offsets/orders?consistency=linearizable".to_string(),
            "/v1/consumers/billing?consistency=linearizable".to_string(),
        ]
    );
}
