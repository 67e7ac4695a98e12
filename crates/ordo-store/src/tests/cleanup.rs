//! Compaction and retention on the store: a cleanup applied in the same
//! batch as the appends before it still sees them, removes exactly what the
//! core's rules say from the disk, survives a reopen, travels in snapshots,
//! and reads and the search by time skip the gaps it leaves.

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use ordo_core::{Cleanup, Command, CommandResult, Offset, TopicConfig};
use serde_json::{json, Value};

use super::support::{
    apply_via_openraft, at, clean, decided, entries, keyed, normal, open_temp, put, reopen, topic,
    TestConfig,
};
use crate::StateMachineStore;

const ALL: usize = usize::MAX;

/// `(offset, key, value)` of every readable record of `name` from `from`.
fn read(sm: &StateMachineStore<TestConfig>, name: &str, from: u64) -> Vec<(u64, String, Value)> {
    let page = sm
        .read_records(&topic(name), Offset(from), ALL, ALL)
        .expect("read")
        .expect("topic exists");
    page.records
        .into_iter()
        .map(|r| (r.offset.0, r.key.unwrap_or_default(), r.value.to_json()))
        .collect()
}

fn compacted() -> TopicConfig {
    TopicConfig::new(Cleanup::Compact, None, None)
        .and_then(|config| config.with_tombstone_retention_ms(1_000))
        .expect("valid config")
}

/// Keys a..c written twice each, b's latest a tombstone, then a cleanup,
/// all at timestamp `t`; the cleanup is at `now_ms`.
fn compaction_log(t: u64, now_ms: u64) -> Vec<Command> {
    let mut commands = vec![put("t", compacted())];
    for (key, value) in [
        ("a", json!(1)),
        ("b", json!(1)),
        ("c", json!(1)),
        ("a", json!(2)),
        ("b", Value::Null),
        ("c", json!(2)),
    ] {
        commands.push(at(keyed("t", key, value), t));
    }
    commands.push(clean("t", now_ms));
    commands
}

#[tokio::test]
async fn a_cleanup_in_the_same_batch_as_the_appends_sees_and_compacts_them() {
    let (dir, _log, mut sm) = open_temp();
    // One apply call: the cleanup must still find the six records.
    let results = sm
        .apply_entries(entries(compaction_log(100, 500)))
        .expect("apply");
    assert_eq!(
        results.last(),
        Some(&CommandResult::TopicCleaned {
            log_index: ordo_core::LogIndex(8),
            start_offset: Offset(0),
            removed_records: 3,
            removed_bytes: 3 * 2,
        })
    );
    let kept = vec![
        (3, "a".to_owned(), json!(2)),
        (4, "b".to_owned(), Value::Null),
        (5, "c".to_owned(), json!(2)),
    ];
    assert_eq!(read(&sm, "t", 0), kept, "reads skip the gaps");
    assert_eq!(read(&sm, "t", 1), kept);
    assert_eq!(read(&sm, "t", 4), kept[1..].to_vec());

    // The tombstone outlives its grace; a later pass removes it and its key.
    let later = vec![normal(1, 9, clean("t", 1_100))];
    apply_via_openraft(&mut sm, later).await;
    assert_eq!(read(&sm, "t", 0), vec![kept[0].clone(), kept[2].clone()]);
    let state = decided(&sm);
    assert!(!state.keys[&topic("t")].contains_key("b"));
    assert_eq!(state.topics[&topic("t")].stored_records, 2);

    // All of it is on the disk, decided state included.
    drop((_log, sm));
    let (_log, sm) = reopen(&dir);
    assert_eq!(decided(&sm), state);
    assert_eq!(read(&sm, "t", 0).len(), 2);
}

#[tokio::test]
async fn a_compacted_topic_travels_in_a_snapshot_with_its_gaps() {
    let (_dir, _log, mut sm) = open_temp();
    sm.apply_entries(entries(compaction_log(100, 500)))
        .expect("apply");
    let snapshot = sm.build_snapshot().await.expect("build");

    let (_dir2, _log2, mut fresh) = open_temp();
    fresh
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .expect("install");
    assert_eq!(decided(&fresh), decided(&sm));
    assert_eq!(read(&fresh, "t", 0), read(&sm, "t", 0));
}

#[tokio::test]
async fn retention_moves_the_start_and_the_search_by_time_skips_gaps() {
    let (_dir, _log, sm) = open_temp();
    let config = TopicConfig::new(Cleanup::Delete, Some(1_000), None).expect("valid");
    let mut commands = vec![put("d", config)];
    for t in [100, 200, 300, 400] {
        commands.push(at(keyed("d", &format!("k{t}"), json!(t)), t));
    }
    commands.push(clean("d", 1_250));
    sm.apply_entries(entries(commands)).expect("apply");

    let page = sm
        .read_records(&topic("d"), Offset(0), ALL, ALL)
        .expect("read")
        .expect("exists");
    assert_eq!((page.start_offset, page.end_offset), (Offset(2), Offset(4)));
    assert_eq!(page.records.len(), 2);
    let search = |t| sm.offset_for_timestamp(&topic("d"), t).expect("search");
    assert_eq!(search(0), Some(Offset(2)), "nothing below the start");
    assert_eq!(search(301), Some(Offset(3)));
    assert_eq!(search(401), Some(Offset(4)));
    assert_eq!(
        sm.topics_due_for_cleanup(1_250).expect("due"),
        Vec::<ordo_core::TopicName>::new()
    );
    assert_eq!(
        sm.topics_due_for_cleanup(1_301).expect("due"),
        vec![topic("d")]
    );
}

#[tokio::test]
async fn the_search_by_time_finds_records_between_compacted_gaps() {
    let (_dir, _log, sm) = open_temp();
    // Offsets 0..6 stamped 10, 20, ..., 60; keys repeat so 0..3 go.
    let mut commands = vec![put("t", compacted())];
    for (i, key) in ["a", "b", "c", "a", "b", "c"].into_iter().enumerate() {
        let t = 10 * (i as u64 + 1);
        commands.push(at(keyed("t", key, json!(i)), t));
    }
    commands.push(clean("t", 100));
    sm.apply_entries(entries(commands)).expect("apply");
    let search = |t| sm.offset_for_timestamp(&topic("t"), t).expect("search");
    let first_read = |t| read(&sm, "t", search(t).expect("exists").0)[0].0;
    assert_eq!(first_read(0), 3, "the first kept record");
    assert_eq!(first_read(45), 4);
    assert_eq!(first_read(60), 5);
    assert_eq!(search(61), Some(Offset(6)));
}
