//! Conditional appends and idempotent producers (DESIGN §4.5, §4.6), end to
//! end: of concurrent `key_absent` claims of one key exactly one wins,
//! whichever nodes they go through; and a producer's retry across a leader
//! crash is answered with the original offsets and appends nothing.

use ordo_api::{AppendRequest, AppendResponse, Consistency};
use ordo_client::{Client, ClientError};
use ordo_core::{Condition, NewRecord, Producer, ProducerId};
use serde_json::{json, Value};

use crate::support::{read_all, record, wait_for_local_log, TestCluster};

/// Concurrent claims of one username.
const CLAIMS: usize = 8;

fn keyed(key: &str, value: Value) -> NewRecord {
    NewRecord {
        key: Some(key.into()),
        ..record(value)
    }
}

fn from_producer(records: Vec<NewRecord>, id: &str, seq: u64) -> AppendRequest {
    AppendRequest {
        records,
        producer: Some(Producer::new(
            ProducerId::new(id).expect("a valid producer id"),
            seq,
        )),
        condition: None,
    }
}

/// Node `id`'s whole log of `topic` as values, read linearizably.
async fn values_on(cluster: &TestCluster, id: u64, topic: &str) -> Vec<Value> {
    read_all(&cluster.client_for(id), topic, Consistency::Linearizable)
        .await
        .unwrap_or_else(|e| panic!("reading {topic} from node {id}: {e}"))
        .into_iter()
        .map(|r| r.value.to_json())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_claims_of_one_username_exactly_one_wins_on_every_node() {
    let cluster = TestCluster::start().await;
    let ids = cluster.ids();
    let claims: Vec<_> = (0..CLAIMS)
        .map(|i| {
            let client = cluster.client_for(ids[i % ids.len()]);
            tokio::spawn(async move {
                let request = AppendRequest {
                    records: vec![keyed("jane", json!({ "owner": i }))],
                    producer: None,
                    condition: Some(Condition::KeyAbsent),
                };
                client.append_with("usernames", &request).await
            })
        })
        .collect();
    let mut won: Vec<AppendResponse> = Vec::new();
    let mut lost: Vec<ClientError> = Vec::new();
    for claim in claims {
        match claim.await.expect("a claim task panicked") {
            Ok(ack) => won.push(ack),
            Err(e) => lost.push(e),
        }
    }

    assert_eq!(won.len(), 1, "exactly one claim wins: {won:?} {lost:?}");
    let winner = won[0].offsets[0];
    assert_eq!(lost.len(), CLAIMS - 1);
    for refusal in &lost {
        assert_eq!(refusal.status(), Some(409), "{refusal}");
        assert_eq!(refusal.code(), Some("condition_failed"), "{refusal}");
        assert_eq!(
            refusal.current(),
            Some(&json!({ "key_last_offset": winner.0 })),
            "a refusal names the winner's offset: {refusal}"
        );
    }
    for id in ids {
        let log = read_all(
            &cluster.client_for(id),
            "usernames",
            Consistency::Linearizable,
        )
        .await
        .unwrap_or_else(|e| panic!("reading usernames from node {id}: {e}"));
        assert_eq!(log.len(), 1, "node {id} holds one claim of jane: {log:?}");
        assert_eq!(log[0].key.as_deref(), Some("jane"));
        assert_eq!(log[0].offset, winner);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producers_retry_across_a_leader_crash_returns_the_original_offsets_and_appends_nothing()
{
    let mut cluster = TestCluster::start().await;
    let topic = "payments";
    let followers = cluster.followers();
    cluster
        .client()
        .append(topic, vec![record("before")])
        .await
        .expect("an append before the producer's");

    let request = from_producer(vec![record("charge-41")], "checkout-7", 0);
    let first = cluster
        .client_for(followers[0])
        .append_with(topic, &request)
        .await
        .expect("the producer's first append");
    assert!(!first.duplicate);

    let old_leader = cluster.leader;
    cluster.kill(old_leader);
    // The producer never saw the answer (say), and retries elsewhere.
    let retry = cluster
        .client_for(followers[1])
        .append_with(topic, &request)
        .await
        .expect("the retry after the crash");
    assert_eq!(retry.offsets, first.offsets, "the original offsets");
    assert_eq!(retry.log_index, first.log_index, "the original log index");
    assert!(retry.duplicate, "the retry is reported as a duplicate");

    // A seq that skips ahead would hide a lost append: refused.
    let skipped = cluster
        .client_for(followers[0])
        .append_with(topic, &from_producer(vec![record("x")], "checkout-7", 2))
        .await
        .expect_err("seq 2 after seq 0");
    assert_eq!(skipped.status(), Some(409), "{skipped}");
    assert_eq!(skipped.code(), Some("sequence_out_of_order"));
    assert_eq!(skipped.current(), Some(&json!({ "expected_seq": 1 })));
    let next = cluster
        .client()
        .append_with(
            topic,
            &from_producer(vec![record("charge-42")], "checkout-7", 1),
        )
        .await
        .expect("the producer's next seq");
    assert!(!next.duplicate);

    let expected = vec![json!("before"), json!("charge-41"), json!("charge-42")];
    for id in followers {
        assert_eq!(values_on(&cluster, id, topic).await, expected, "node {id}");
    }
    cluster
        .nodes
        .start_node(old_leader)
        .expect("restarting the old leader");
    let leader = cluster.wait_for_leader().await;
    let log = read_all(&cluster.client_for(leader), topic, Consistency::Local)
        .await
        .expect("the leader's log");
    wait_for_local_log(&cluster, old_leader, topic, &log).await;
    assert_eq!(
        log.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_producer_appends_exactly_once_through_a_leader_crash() {
    let mut cluster = TestCluster::start().await;
    let topic = "ledger";
    let id = ProducerId::new("ledger-writer").expect("a valid producer id");
    let client: Client = cluster.client();
    let mut producer = ordo_client::Producer::new(client, id);
    for i in 0..5 {
        producer
            .append(topic, vec![record(format!("entry-{i}"))])
            .await
            .unwrap_or_else(|e| panic!("entry-{i}: {e}"));
    }
    cluster.kill(cluster.leader);
    for i in 5..10 {
        producer
            .append(topic, vec![record(format!("entry-{i}"))])
            .await
            .unwrap_or_else(|e| panic!("entry-{i} after the crash: {e}"));
    }
    assert_eq!(producer.next_seq(), 10);
    let leader = cluster.wait_for_leader().await;
    let values = values_on(&cluster, leader, topic).await;
    let expected: Vec<Value> = (0..10).map(|i| json!(format!("entry-{i}"))).collect();
    assert_eq!(values, expected, "every entry once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_keys_and_positions_survive_every_node_crashing_and_restarting() {
    // Snapshots every few entries, so the restarted nodes rebuild part of
    // what was decided from a snapshot and part from the log.
    let mut cluster = TestCluster::start_with_env(&[("ORDO_SNAPSHOT_EVERY_ENTRIES", "10")]).await;
    let client = cluster.client();
    let mut acks = Vec::new();
    for seq in 0..4 {
        let request = from_producer(vec![record(format!("p-{seq}"))], "p", seq);
        acks.push(client.append_with("t", &request).await.expect("an append"));
    }
    let claim = AppendRequest {
        records: vec![keyed("jane", json!("alice"))],
        producer: None,
        condition: Some(Condition::KeyAbsent),
    };
    let claimed = client.append_with("t", &claim).await.expect("the claim");
    client
        .commit_offset("g", "t", ordo_core::Offset(2), None)
        .await
        .expect("a position");
    for i in 0..25 {
        client
            .append("filler", vec![record(i)])
            .await
            .expect("a filler append");
    }

    let status = client.cluster_status().await.expect("the cluster's status");
    assert!(
        status.snapshot_index.is_some(),
        "a snapshot was taken: {status:?}"
    );
    for id in cluster.ids() {
        cluster.kill(id);
    }
    for id in cluster.ids() {
        cluster.nodes.start_node(id).expect("restarting a node");
    }
    cluster.wait_for_leader().await;

    let retry = client
        .append_with("t", &from_producer(vec![record("p-3")], "p", 3))
        .await
        .expect("the retry after the restart");
    assert_eq!(
        (retry.offsets.clone(), retry.log_index, retry.duplicate),
        (acks[3].offsets.clone(), acks[3].log_index, true),
        "the producer table survived"
    );
    let skipped = client
        .append_with("t", &from_producer(vec![record("x")], "p", 5))
        .await
        .expect_err("a skipped seq");
    assert_eq!(skipped.current(), Some(&json!({ "expected_seq": 4 })));
    let again = client
        .append_with("t", &claim)
        .await
        .expect_err("a second claim of jane");
    assert_eq!(
        again.current(),
        Some(&json!({ "key_last_offset": claimed.offsets[0].0 })),
        "the key index survived"
    );
    for id in cluster.ids() {
        let position = cluster
            .client_for(id)
            .consumer_offset("g", "t", Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("node {id}: {e}"));
        assert_eq!(position, Some(ordo_core::Offset(2)), "node {id}");
        let values = values_on(&cluster, id, "t").await;
        assert_eq!(values.len(), 5, "node {id}: nothing appended twice");
    }
}
