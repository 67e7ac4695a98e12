use super::*;
use crate::testing::{append, keyed, record, rejected, topic, Replica};
use crate::{Command, CommandResult, LogIndex, State};
use serde_json::{json, Value};

fn at(mut command: Command, now_ms: u64) -> Command {
    if let Command::Append { timestamp_ms, .. } = &mut command {
        *timestamp_ms = now_ms;
    }
    command
}

fn clean(topic_name: &str, now_ms: u64) -> Command {
    Command::CleanTopic {
        topic: topic(topic_name),
        timestamp_ms: now_ms,
    }
}

fn configure(topic_name: &str, config: TopicConfig) -> Command {
    Command::PutTopic {
        topic: topic(topic_name),
        config,
    }
}

fn compacted(tombstone_retention_ms: u64) -> TopicConfig {
    TopicConfig::new(Cleanup::Compact, None, None)
        .and_then(|config| config.with_tombstone_retention_ms(tombstone_retention_ms))
        .expect("valid config")
}

fn retained(retention_ms: Option<u64>, retention_bytes: Option<u64>) -> TopicConfig {
    TopicConfig::new(Cleanup::Delete, retention_ms, retention_bytes).expect("valid config")
}

fn cleaned(result: &CommandResult) -> (u64, u64) {
    match result {
        CommandResult::TopicCleaned {
            start_offset,
            removed_records,
            ..
        } => (start_offset.0, *removed_records),
        other => panic!("not a cleanup: {other:?}"),
    }
}

#[test]
fn compaction_keeps_exactly_the_latest_record_of_each_key_and_moves_no_offset() {
    let mut replica = Replica::default();
    replica.run(configure("t", compacted(1_000)));
    for (key, value) in [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 2), ("a", 3)] {
        replica.run(keyed("t", key, json!(value)));
    }
    let result = replica.run(clean("t", 10));
    assert_eq!(cleaned(&result), (0, 3), "start stays; 3 superseded go");
    assert_eq!(replica.offsets("t"), vec![3, 4, 5]);
    let state = replica.topic("t");
    assert_eq!((state.stored_records, state.end_offset), (3, Offset(6)));
    assert_eq!(state.stored_bytes, 3 * (1 + 1), "one-byte keys and values");
    // A second pass finds nothing more to do.
    assert_eq!(cleaned(&replica.run(clean("t", 11))), (0, 0));
    // The next append still gets the next offset.
    assert_eq!(
        replica.run(keyed("t", "d", json!(1))).offsets(),
        vec![Offset(6)]
    );
}

#[test]
fn a_large_compaction_goes_in_bounded_passes_that_each_resume_where_the_last_stopped() {
    let mut replica = Replica::default();
    replica.run(configure("t", compacted(1_000)));
    let (keys, total) = (10, 2 * MAX_REMOVED_PER_PASS + 5_000);
    for i in 0..total {
        let key = format!("k{}", i % keys);
        let batch = append("t", vec![record(Some(&key), json!(i))]);
        replica.run(batch);
    }
    let passes: Vec<_> = (0..4)
        .map(|_| cleaned(&replica.run(clean("t", 1))))
        .collect();
    let superseded = total - keys;
    assert_eq!(
        passes,
        vec![
            (0, MAX_REMOVED_PER_PASS),
            (0, MAX_REMOVED_PER_PASS),
            (0, superseded - 2 * MAX_REMOVED_PER_PASS),
            (0, 0),
        ]
    );
    assert_eq!(replica.offsets("t").len() as u64, keys);
    // Each record was looked at about once, not once per pass.
    assert!(
        replica.store.visited as u64 <= total + 4 * keys,
        "{} records visited",
        replica.store.visited
    );
}

#[test]
fn a_tombstone_stays_for_its_grace_then_goes_with_its_key() {
    let mut replica = Replica::default();
    replica.run(configure("t", compacted(1_000)));
    replica.run(at(keyed("t", "gone", json!(1)), 100));
    replica.run(at(keyed("t", "gone", Value::Null), 200));
    replica.run(at(keyed("t", "kept", json!(1)), 300));

    assert_eq!(cleaned(&replica.run(clean("t", 1_199))), (0, 1));
    assert_eq!(
        replica.offsets("t"),
        vec![1, 2],
        "the tombstone is in grace"
    );
    assert!(replica.state.keys[&topic("t")].contains_key("gone"));

    assert_eq!(cleaned(&replica.run(clean("t", 1_200))), (0, 1));
    assert_eq!(replica.offsets("t"), vec![2]);
    assert!(!replica.state.keys[&topic("t")].contains_key("gone"));
    assert_eq!(
        replica.store.forgotten,
        vec![(topic("t"), "gone".to_owned())]
    );
}

#[test]
fn a_compact_topic_refuses_records_without_a_key_and_appends_none_of_them() {
    let mut replica = Replica::default();
    replica.run(configure("t", compacted(1)));
    let mixed = append(
        "t",
        vec![record(Some("k"), json!(1)), record(None, json!(2))],
    );
    assert_eq!(
        replica.run(mixed),
        rejected(2, Rejection::KeyRequired { topic: topic("t") })
    );
    assert_eq!(replica.topic("t").end_offset, Offset(0));
    assert!(replica.offsets("t").is_empty());
}

#[test]
fn retention_by_age_drops_old_records_from_the_start_and_moves_the_start() {
    let mut replica = Replica::default();
    replica.run(configure("t", retained(Some(1_000), None)));
    for timestamp_ms in [100, 200, 300, 400] {
        replica.run(at(
            keyed("t", &format!("k{timestamp_ms}"), json!(1)),
            timestamp_ms,
        ));
    }
    // At 1_250 the records stamped before 250 are older than 1 s.
    assert_eq!(cleaned(&replica.run(clean("t", 1_250))), (2, 2));
    assert_eq!(replica.offsets("t"), vec![2, 3]);
    assert_eq!(replica.topic("t").start_offset, Offset(2));
    let keys: Vec<_> = replica.state.keys[&topic("t")].keys().cloned().collect();
    assert_eq!(
        keys,
        vec!["k300", "k400"],
        "keys whose record went are forgotten"
    );
    // Everything old: the topic is empty and starts at its end.
    assert_eq!(cleaned(&replica.run(clean("t", 10_000))), (4, 2));
    assert!(!replica.state.keys.contains_key(&topic("t")));
    let state = replica.topic("t");
    assert_eq!((state.stored_records, state.stored_bytes), (0, 0));
}

#[test]
fn retention_by_bytes_keeps_the_newest_records_that_fit() {
    let mut replica = Replica::default();
    replica.run(configure("t", retained(None, Some(25))));
    for i in 0..5 {
        // Each record is 10 bytes: a 10-character JSON string.
        replica.run(append("t", vec![record(None, json!(format!("{i:08}")))]));
    }
    assert_eq!(replica.topic("t").stored_bytes, 50);
    assert_eq!(cleaned(&replica.run(clean("t", 1))), (3, 3));
    assert_eq!(replica.offsets("t"), vec![3, 4]);
    assert_eq!(replica.topic("t").stored_bytes, 20);
}

#[test]
fn cleaning_a_topic_without_cleanup_or_an_unknown_one_is_refused() {
    let mut replica = Replica::default();
    replica.run(append("plain", vec![record(None, json!(1))]));
    assert_eq!(
        replica.run(clean("plain", 1)),
        rejected(
            2,
            Rejection::NothingToClean {
                topic: topic("plain")
            }
        )
    );
    assert_eq!(
        replica.run(clean("nope", 1)),
        rejected(
            3,
            Rejection::TopicNotFound {
                topic: topic("nope")
            }
        )
    );
    assert_eq!(replica.offsets("plain"), vec![0]);
}

#[test]
fn replicas_that_apply_the_same_commands_remove_the_same_records() {
    let commands: Vec<Command> = std::iter::once(configure("t", compacted(50)))
        .chain((0..200u64).map(|i| match i % 10 {
            9 => clean("t", i * 10),
            8 => at(keyed("t", &format!("k{}", i % 7), Value::Null), i * 10),
            _ => at(keyed("t", &format!("k{}", i % 7), json!(i)), i * 10),
        }))
        .collect();
    let run = || {
        let mut replica = Replica::default();
        let results: Vec<_> = commands.iter().cloned().map(|c| replica.run(c)).collect();
        (replica.state, replica.store, results)
    };
    let first = run();
    assert_eq!(first, run());
    assert!(
        first.1.records.len() <= 7,
        "at most one record per key stays"
    );
}

#[test]
fn cleanup_is_due_once_half_is_superseded_or_a_tombstone_expired_or_bytes_overflow() {
    let mut replica = Replica::default();
    replica.run(configure("t", compacted(100)));
    let due = |replica: &Replica, now_ms| {
        let t = topic("t");
        cleanup_due(
            &replica.state.topics[&t],
            replica.state.keys.get(&t),
            now_ms,
        )
    };
    replica.run(at(keyed("t", "a", json!(1)), 10));
    replica.run(at(keyed("t", "b", json!(1)), 10));
    replica.run(at(keyed("t", "c", json!(1)), 10));
    assert!(!due(&replica, 10));
    replica.run(at(keyed("t", "a", json!(2)), 10));
    assert!(!due(&replica, 10), "1 of 4 superseded");
    replica.run(at(keyed("t", "b", Value::Null), 10));
    assert!(!due(&replica, 10), "2 of 5 superseded");
    replica.run(at(keyed("t", "c", json!(2)), 10));
    assert!(due(&replica, 10), "3 of 6 superseded");
    replica.run(clean("t", 10));
    assert!(!due(&replica, 109), "the tombstone is in grace");
    assert!(due(&replica, 110), "the tombstone expired");

    replica.run(configure("d", retained(None, Some(5))));
    replica.run(append("d", vec![record(None, json!("abc"))]));
    let d = topic("d");
    assert!(!cleanup_due(&replica.state.topics[&d], None, 0));
    replica.run(append("d", vec![record(None, json!("abc"))]));
    assert!(cleanup_due(&replica.state.topics[&d], None, 0));
    assert!(expired_by_age(&retained(Some(10), None), 5, 15));
    assert!(!expired_by_age(&retained(Some(10), None), 5, 14));
}

#[test]
fn a_store_that_shows_no_records_leaves_the_start_where_it_was() {
    let mut state = State::default();
    crate::apply(
        &mut state,
        LogIndex(1),
        &configure("t", retained(Some(1), None)),
    );
    crate::apply(
        &mut state,
        LogIndex(2),
        &append("t", vec![record(None, json!(1))]),
    );
    crate::apply(&mut state, LogIndex(3), &clean("t", 1_000));
    assert_eq!(state.topics[&topic("t")].start_offset, Offset(0));
}
