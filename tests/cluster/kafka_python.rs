//! confluent-kafka and kafka-python, unmodified, against the nodes' Kafka
//! listeners: the same steps through each (their scripts in `tests/kafka/`).
//! An idempotent producer whose leader is `kill -9`ed mid-run has every
//! acknowledged record in the log exactly once and in order; a consumer
//! group whose partition holder is killed is taken over by another member
//! that skips no record, its committed offset (an ordo consumer position)
//! ending at the end; `offsets_for_times` finds the first record at or after
//! a time.

use std::collections::BTreeSet;
use std::time::Duration;

use ordo_core::Offset;
use serde_json::{json, Value};

use super::kafka_support::{
    events_of, field_u64, http_append, http_records, now_ms, start_kafka_cluster, Members,
    PyClient, CLIENT_TIMEOUT,
};
use super::support::wait_for_position;

/// Records the idempotent producer sends.
const PRODUCED: u64 = 20_000;
/// Acknowledged records before the leader is killed, and before it is
/// started again.
const ACKED_BEFORE_KILL: usize = 5_000;
const ACKED_BEFORE_RESTART: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_idempotent_producer_loses_and_repeats_nothing_across_a_leader_kill() {
    idempotent_producer_across_a_leader_kill(PyClient::Confluent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_idempotent_producer_loses_and_repeats_nothing_across_a_leader_kill() {
    idempotent_producer_across_a_leader_kill(PyClient::KafkaPython).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_group_member_takes_over_from_a_killed_one_and_skips_nothing() {
    group_takes_over_from_a_killed_member(PyClient::Confluent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_group_member_takes_over_from_a_killed_one_and_skips_nothing() {
    group_takes_over_from_a_killed_member(PyClient::KafkaPython).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_offsets_for_times_finds_the_first_record_at_or_after_a_time() {
    offsets_for_times(PyClient::Confluent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_offsets_for_times_finds_the_first_record_at_or_after_a_time() {
    offsets_for_times(PyClient::KafkaPython).await;
}

async fn idempotent_producer_across_a_leader_kill(client: PyClient) {
    client.require();
    let mut cluster = start_kafka_cluster().await;
    let bootstrap = cluster.nodes.kafka_bootstrap().expect("Kafka listeners");
    let count = PRODUCED.to_string();
    let mut producer = client.start(&[
        "produce",
        "--bootstrap",
        &bootstrap,
        "--topic",
        "idempotent",
        "--count",
        &count,
        "--idempotent",
    ]);
    let acked_at_least = |wanted: usize| {
        let mut acked = 0;
        move |event: &Value| {
            acked += usize::from(event["event"] == "acked");
            acked >= wanted || event["event"] == "done"
        }
    };
    let mut events = producer
        .read_until(CLIENT_TIMEOUT, acked_at_least(ACKED_BEFORE_KILL))
        .await;
    assert!(
        events_of(&events, "done").is_empty(),
        "{client:?} finished before the leader could be killed mid-run"
    );
    let old_leader = cluster.leader;
    cluster.kill(old_leader);
    let new_leader = cluster.wait_for_leader().await;
    eprintln!("killed leader {old_leader}; node {new_leader} leads");
    events.extend(
        producer
            .read_until(
                CLIENT_TIMEOUT,
                acked_at_least(ACKED_BEFORE_RESTART - ACKED_BEFORE_KILL),
            )
            .await,
    );
    cluster
        .nodes
        .start_node(old_leader)
        .unwrap_or_else(|e| panic!("restarting node {old_leader}: {e}"));
    events.extend(producer.finish(CLIENT_TIMEOUT).await);

    let failed = events_of(&events, "failed");
    assert!(
        failed.is_empty(),
        "{client:?}: {} of {PRODUCED} records failed, first {:?}",
        failed.len(),
        failed.first()
    );
    // Delivery report offsets: seq -> offset, every record acknowledged once.
    let mut acked = vec![None; PRODUCED as usize];
    for event in events_of(&events, "acked") {
        let seq = field_u64(event, "seq") as usize;
        assert!(acked[seq].is_none(), "seq {seq} acknowledged twice");
        acked[seq] = Some(field_u64(event, "offset"));
    }
    assert!(
        acked.iter().all(Option::is_some),
        "every record acknowledged"
    );

    // The log: each seq once, in the order sent, at its acknowledged offset.
    let records = http_records(&cluster, new_leader, "idempotent").await;
    let mut last_seq = None;
    for record in &records {
        let seq = record["value"]["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("not a record of the producer: {record}"));
        assert!(
            last_seq.is_none_or(|last| seq > last),
            "seq {seq} at offset {} after seq {last_seq:?}: a duplicate or out of order",
            record["offset"]
        );
        last_seq = Some(seq);
        assert_eq!(
            record["offset"].as_u64(),
            acked[seq as usize],
            "seq {seq} sits where its delivery report said"
        );
    }
    assert_eq!(records.len() as u64, PRODUCED, "every record, exactly once");
}

/// Records in the topic before the group starts, and appended after its
/// partition holder is killed.
const BEFORE_KILL: u64 = 2_000;
const AFTER_KILL: u64 = 500;
/// The holder is killed once it has committed this far, with more read.
const KILL_AT_COMMITTED: u64 = 500;
/// Members of the group.
const MEMBERS: usize = 3;
/// A group's rebalance after a member dies: its session timeout (6 s in
/// the scripts), the rejoin, and reading on.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(60);

async fn group_takes_over_from_a_killed_member(client: PyClient) {
    client.require();
    let cluster = start_kafka_cluster().await;
    let bootstrap = cluster.nodes.kafka_bootstrap().expect("Kafka listeners");
    let (topic, group) = ("orders", "billing");
    append_numbered(&cluster, topic, 0..BEFORE_KILL).await;

    let args = [
        "group-consume",
        "--bootstrap",
        &bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        // Slow enough that the holder is killed with records read but
        // not committed.
        "--delay-ms",
        "2",
    ];
    let mut members = Members::new((0..MEMBERS).map(|_| client.start(&args)).collect());
    let mut seen = members
        .read_until(TAKEOVER_TIMEOUT, |_, event| {
            event["event"] == "committed" && field_u64(event, "offset") >= KILL_AT_COMMITTED
        })
        .await;
    let holder = seen.last().expect("the awaited event").0;
    members.kill(holder).await;
    eprintln!("killed member {holder}, which held the partition");
    let end = BEFORE_KILL + AFTER_KILL;
    append_numbered(&cluster, topic, BEFORE_KILL..end).await;

    seen.extend(
        members
            .read_until(TAKEOVER_TIMEOUT, |member, event| {
                member != holder
                    && event["event"] == "committed"
                    && field_u64(event, "offset") == end
            })
            .await,
    );
    let consumed: BTreeSet<u64> = seen
        .iter()
        .filter(|(_, event)| event["event"] == "record")
        .map(|(_, event)| field_u64(event, "offset"))
        .collect();
    let skipped: Vec<u64> = (0..end).filter(|o| !consumed.contains(o)).collect();
    assert!(
        skipped.is_empty(),
        "{client:?}: the group skipped {} records, first {:?}",
        skipped.len(),
        skipped.first()
    );
    assert!(
        seen.iter()
            .any(|(member, event)| *member != holder && event["event"] == "assigned"),
        "another member was assigned the partition"
    );
    // Committed offsets are ordo consumer positions.
    wait_for_position(&cluster.client(), group, topic, Offset(end)).await;
}

/// Appends records `{"n": n}` for each `n` of `numbers` over HTTP, in
/// batches.
async fn append_numbered(
    cluster: &super::support::TestCluster,
    topic: &str,
    numbers: std::ops::Range<u64>,
) {
    let numbers: Vec<u64> = numbers.collect();
    for batch in numbers.chunks(500) {
        let records: Vec<Value> = batch.iter().map(|n| json!({"value": {"n": n}})).collect();
        let offsets = http_append(cluster, cluster.leader, topic, Value::Array(records)).await;
        assert_eq!(offsets, batch, "numbers sit at their own offsets");
    }
}

async fn offsets_for_times(client: PyClient) {
    client.require();
    let cluster = start_kafka_cluster().await;
    let bootstrap = cluster.nodes.kafka_bootstrap().expect("Kafka listeners");
    let topic = "timed";
    let pause = Duration::from_millis(50);
    append_numbered(&cluster, topic, 0..5).await;
    tokio::time::sleep(pause).await;
    let between = now_ms();
    tokio::time::sleep(pause).await;
    append_numbered(&cluster, topic, 5..10).await;

    let records = http_records(&cluster, cluster.leader, topic).await;
    let stamp = |offset: usize| records[offset]["timestamp_ms"].as_u64().expect("a time");
    assert!(
        stamp(4) < between && between <= stamp(5),
        "the time {between} falls between the appends' {} and {}",
        stamp(4),
        stamp(5)
    );
    let found = |timestamp: u64| {
        let timestamp = timestamp.to_string();
        let bootstrap = bootstrap.clone();
        async move {
            let events = client
                .run(&[
                    "offsets-for-times",
                    "--bootstrap",
                    &bootstrap,
                    "--topic",
                    topic,
                    "--timestamp-ms",
                    &timestamp,
                ])
                .await;
            events_of(&events, "offset")
                .first()
                .map(|event| event["offset"].clone())
                .expect("an offset event")
        }
    };
    assert_eq!(
        found(between).await,
        json!(5),
        "{client:?}: the first record after"
    );
    assert_eq!(
        found(stamp(0)).await,
        json!(0),
        "{client:?}: at the first record's time"
    );
    // After the last record: none (Kafka's -1; kafka-python's None).
    let after = found(stamp(9) + 60_000).await;
    assert!(after == json!(-1) || after.is_null(), "{client:?}: {after}");
}
