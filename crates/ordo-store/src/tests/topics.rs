//! Topic configs and deletes: persisted in the apply's batch, carried by
//! snapshots, and a deleted topic leaves nothing behind on disk; the search
//! by time over the records' clamped timestamps.

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use ordo_core::{Cleanup, Command, Offset, TopicConfig};
use serde_json::json;

use super::support::{
    append, at, commit, decided, entries, group, keyed, normal, open_temp, put, reopen, topic,
    TestConfig,
};
use crate::StateMachineStore;

const ALL: usize = usize::MAX;

fn compact() -> TopicConfig {
    TopicConfig::new(Cleanup::Compact, None, None).expect("valid config")
}

fn delete(name: &str) -> Command {
    Command::DeleteTopic { topic: topic(name) }
}

fn stamped(name: &str, timestamp_ms: u64, values: usize) -> Command {
    at(append(name, (0..values).map(|i| json!(i))), timestamp_ms)
}

fn values(sm: &StateMachineStore<TestConfig>, name: &str) -> Option<Vec<serde_json::Value>> {
    let page = sm
        .read_records(&topic(name), Offset(0), ALL, ALL)
        .expect("read")?;
    Some(
        page.records
            .into_iter()
            .map(|r| r.value.to_json())
            .collect(),
    )
}

/// How many records of `name` the record log holds, published or not.
fn stored_records(sm: &StateMachineStore<TestConfig>, name: &str) -> usize {
    let held = sm.shared.records.held().expect("list the records held");
    held.get(&topic(name)).map_or(0, Vec::len)
}

#[tokio::test]
async fn a_topic_config_survives_a_reopen_and_a_snapshot_install() {
    let (dir, log, mut sm) = open_temp();
    sm.apply_entries(entries(vec![
        put("made", compact()),
        append("t", [json!(1)]),
        put("t", compact()),
    ]))
    .expect("apply");
    let snapshot = sm.build_snapshot().await.expect("build snapshot");
    let before = decided(&sm);
    assert_eq!(before.topics[&topic("made")].config, compact());
    assert_eq!(before.topics[&topic("t")].end_offset, Offset(1));

    drop((log, sm));
    let (_log, sm) = reopen(&dir);
    assert_eq!(decided(&sm), before);

    let (_dir, _log, mut target) = open_temp();
    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .expect("install");
    assert_eq!(decided(&target), before);
}

#[tokio::test]
async fn a_deleted_topic_leaves_no_records_keys_or_positions_and_starts_again_at_zero() {
    let (dir, log, sm) = open_temp();
    sm.apply_entries(entries(vec![
        keyed("t", "jane", json!(1)),
        append("t", [json!(2), json!(3)]),
        append("other", [json!("o")]),
        commit("g", "t", 2, None),
        commit("g", "other", 1, None),
    ]))
    .expect("apply");
    // Delete in a later batch (what is on disk), then, in one batch: append,
    // delete (what is only in the batch), and make it again.
    sm.apply_entries(vec![normal(1, 6, delete("t"))])
        .expect("apply");
    assert_eq!(stored_records(&sm, "t"), 0);
    sm.apply_entries(vec![
        normal(1, 7, append("t", [json!("gone")])),
        normal(1, 8, delete("t")),
        normal(1, 9, keyed("t", "new", json!("again"))),
    ])
    .expect("apply");

    assert_eq!(values(&sm, "t"), Some(vec![json!("again")]));
    assert_eq!(stored_records(&sm, "t"), 1);
    assert_eq!(sm.key_state(&topic("t"), "jane"), None);
    assert_eq!(sm.consumer_offset(&group("g"), &topic("t")), None);
    assert_eq!(
        sm.consumer_offset(&group("g"), &topic("other")),
        Some(Offset(1))
    );
    let before = decided(&sm);

    drop((log, sm));
    let (_log, sm) = reopen(&dir);
    assert_eq!(decided(&sm), before, "the disk holds what memory held");
    assert_eq!(values(&sm, "other"), Some(vec![json!("o")]));
}

#[tokio::test]
async fn the_search_by_time_finds_the_first_record_at_or_after_the_time() {
    let (_dir, _log, sm) = open_temp();
    sm.apply_entries(entries(vec![
        stamped("t", 100, 2), // offsets 0, 1
        stamped("t", 200, 3), // 2, 3, 4
        stamped("t", 150, 1), // 5: a leader whose clock is behind; stamped 200
        stamped("t", 300, 1), // 6
    ]))
    .expect("apply");
    let stamps: Vec<_> = sm
        .read_records(&topic("t"), Offset(0), ALL, ALL)
        .expect("read")
        .expect("exists")
        .records
        .iter()
        .map(|r| r.timestamp_ms)
        .collect();
    assert_eq!(stamps, vec![100, 100, 200, 200, 200, 200, 300]);
    for (time, offset) in [
        (0, 0),
        (100, 0),
        (101, 2),
        (200, 2),
        (201, 6),
        (300, 6),
        (301, 7),
    ] {
        assert_eq!(
            sm.offset_for_timestamp(&topic("t"), time).expect("search"),
            Some(Offset(offset)),
            "time {time}"
        );
    }
    assert_eq!(
        sm.offset_for_timestamp(&topic("nope"), 0).expect("search"),
        None
    );
}
