//! Consumer positions (DESIGN §3): a group's position in a topic is
//! committed through the log, compare-and-set refuses a stale commit and
//! says what it found, positions survive a leader crash and read the same on
//! every node, and the group's lag follows the topic's end.

use ordo_api::Consistency;
use ordo_core::{GroupName, Offset, TopicName};
use serde_json::json;

use crate::support::{eventually, record, TestCluster, CATCH_UP_TIMEOUT};

const GROUP: &str = "billing";
const TOPIC: &str = "orders";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_compared_and_set_and_survive_a_leader_crash_on_every_node() {
    let mut cluster = TestCluster::start().await;
    let client = cluster.client();
    client
        .append(TOPIC, (0..10).map(|i| record(json!(i))).collect())
        .await
        .expect("ten records");
    let followers = cluster.followers();

    assert_eq!(
        cluster
            .client_for(followers[0])
            .consumer_offset(GROUP, TOPIC, Consistency::Linearizable)
            .await
            .expect("reading a position never committed"),
        None
    );
    // "No position yet" holds once.
    let first = cluster
        .client_for(followers[0])
        .commit_offset(GROUP, TOPIC, Offset(3), Some(None))
        .await
        .expect("the group's first position");
    assert_eq!(first.offset, Offset(3));
    let again = cluster
        .client_for(followers[1])
        .commit_offset(GROUP, TOPIC, Offset(4), Some(None))
        .await
        .expect_err("a second first position");
    assert_eq!(again.code(), Some("position_conflict"), "{again}");
    assert_eq!(again.current(), Some(&json!({"offset": 3})));
    // A stale expectation is refused with the position found.
    let stale = cluster
        .client_for(cluster.leader)
        .commit_offset(GROUP, TOPIC, Offset(5), Some(Some(Offset(1))))
        .await
        .expect_err("a commit over a position that moved on");
    assert_eq!(stale.status(), Some(409));
    assert_eq!(stale.current(), Some(&json!({"offset": 3})));
    cluster
        .client_for(followers[1])
        .commit_offset(GROUP, TOPIC, Offset(5), Some(Some(Offset(3))))
        .await
        .expect("a commit over the expected position");

    let group = client
        .consumer_group(GROUP, Consistency::Linearizable)
        .await
        .expect("the group's positions");
    let orders = &group.topics[&TopicName::new(TOPIC).expect("a valid name")];
    assert_eq!(
        (orders.offset, orders.end_offset, orders.lag_records),
        (Offset(5), Offset(10), 5)
    );
    // Cluster status shows every group's lag, from each node's own state
    // (a follower may be a moment behind, so it is waited for).
    let group_name = GroupName::new(GROUP).expect("a valid name");
    let topic_name = TopicName::new(TOPIC).expect("a valid name");
    for id in cluster.ids() {
        eventually(
            &format!("node {id}'s status shows the group's lag"),
            CATCH_UP_TIMEOUT,
            || async {
                let status = cluster
                    .client_for(id)
                    .cluster_status()
                    .await
                    .map_err(|e| e.to_string())?;
                match status
                    .consumers
                    .get(&group_name)
                    .and_then(|t| t.get(&topic_name))
                {
                    Some(shown) if shown == orders => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
    }

    let old_leader = cluster.leader;
    cluster.kill(old_leader);
    for id in &followers {
        let position = cluster
            .client_for(*id)
            .consumer_offset(GROUP, TOPIC, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("node {id} after the crash: {e}"));
        assert_eq!(position, Some(Offset(5)), "node {id} after the crash");
    }
    cluster
        .client_for(followers[0])
        .commit_offset(GROUP, TOPIC, Offset(6), Some(Some(Offset(5))))
        .await
        .expect("a commit under the new leader");
    client
        .append(TOPIC, vec![record(json!(10))])
        .await
        .expect("an append under the new leader");

    // The old leader comes back and serves the same position, and lag.
    cluster
        .nodes
        .start_node(old_leader)
        .expect("restarting the old leader");
    cluster.wait_for_leader().await;
    let old = cluster.client_for(old_leader);
    eventually(
        &format!("node {old_leader} serves the group's position locally"),
        CATCH_UP_TIMEOUT,
        || async {
            match old.consumer_group(GROUP, Consistency::Local).await {
                Ok(group) => {
                    let orders = &group.topics[&TopicName::new(TOPIC).expect("a valid name")];
                    match (orders.offset, orders.lag_records) {
                        (Offset(6), 5) => Ok(()),
                        other => Err(format!("position and lag {other:?}")),
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await;
    for id in cluster.ids() {
        let position = cluster
            .client_for(id)
            .consumer_offset(GROUP, TOPIC, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("node {id}: {e}"));
        assert_eq!(position, Some(Offset(6)), "node {id}");
    }
}
