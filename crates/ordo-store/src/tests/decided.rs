//! The decided state beyond offsets (producer table, key index, consumer
//! positions) is durable and travels in snapshots: after a reopen, a crash
//! or a snapshot install, a node decides the next retry, conditional append
//! and compare-and-set exactly as a node that never stopped.

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use ordo_core::{
    Command, CommandResult, Condition, Current, KeyState, LogIndex, Offset, ProducerId,
    ProducerState, Rejection,
};
use serde_json::json;

use super::support::{
    append, apply_via_openraft, commit, decided, from_kafka_producer, from_producer, group, keyed,
    membership, normal, only_if, open_on, open_temp, reopen, topic, Entry, TestConfig,
};
use crate::{MemDisk, StateMachineStore};

/// Everything the new state holds, and a rejection of each kind: entries at
/// log indexes 1..=12.
fn history() -> Vec<Entry> {
    vec![
        membership(1, 1, &[1, 2, 3]),
        normal(
            1,
            2,
            from_producer(append("orders", [json!(0), json!(1)]), "checkout-7", 0),
        ),
        normal(
            1,
            3,
            from_producer(append("orders", [json!(2)]), "checkout-7", 1),
        ),
        normal(
            1,
            4,
            only_if(
                keyed("users", "jane", json!({"n": 1})),
                Condition::KeyAbsent,
            ),
        ),
        normal(1, 5, keyed("users", "joe", json!({"n": 2}))),
        normal(1, 6, keyed("users", "joe", json!(null))),
        normal(1, 7, commit("billing", "orders", 2, Some(None))),
        normal(1, 8, commit("billing", "users", 1, None)),
        normal(2, 9, commit("audit", "orders", 3, None)),
        // Rejected: a duplicate, a failed claim, a conflicting CAS.
        normal(
            2,
            10,
            from_producer(append("orders", [json!(2)]), "checkout-7", 1),
        ),
        normal(
            2,
            11,
            only_if(
                keyed("users", "jane", json!({"n": 3})),
                Condition::KeyAbsent,
            ),
        ),
        normal(2, 12, commit("billing", "orders", 3, Some(Some(0)))),
    ]
}

/// Commands whose answers depend on all of the decided state, applied at
/// log indexes 13.. to two nodes that must answer alike.
fn next_entries() -> Vec<Entry> {
    vec![
        // A retry of the last append of checkout-7: its original offsets.
        normal(
            3,
            13,
            from_producer(append("orders", [json!(2)]), "checkout-7", 1),
        ),
        normal(
            3,
            14,
            from_producer(append("orders", [json!(9)]), "checkout-7", 0),
        ),
        // jane is taken; joe was deleted (tombstone), so joe is free.
        normal(
            3,
            15,
            only_if(keyed("users", "jane", json!(4)), Condition::KeyAbsent),
        ),
        normal(
            3,
            16,
            only_if(keyed("users", "joe", json!(5)), Condition::KeyAbsent),
        ),
        normal(
            3,
            17,
            only_if(
                keyed("users", "jane", json!(6)),
                Condition::KeyLastOffset(Offset(0)),
            ),
        ),
        normal(3, 18, commit("billing", "orders", 3, Some(Some(2)))),
        normal(3, 19, commit("audit", "orders", 1, Some(None))),
    ]
}

/// What `next_entries` must answer after `history`.
fn expected_answers() -> Vec<CommandResult> {
    vec![
        CommandResult::Appended {
            first_offset: Offset(2),
            count: 1,
            log_index: LogIndex(3),
            duplicate: true,
        },
        CommandResult::Rejected {
            log_index: LogIndex(14),
            rejection: Rejection::SequenceWentBack { last_seq: 1 },
        },
        CommandResult::Rejected {
            log_index: LogIndex(15),
            rejection: Rejection::ConditionFailed {
                condition: Condition::KeyAbsent,
                current: Current::KeyLastOffset(Some(Offset(0))),
            },
        },
        CommandResult::Appended {
            first_offset: Offset(3),
            count: 1,
            log_index: LogIndex(16),
            duplicate: false,
        },
        CommandResult::Appended {
            first_offset: Offset(4),
            count: 1,
            log_index: LogIndex(17),
            duplicate: false,
        },
        CommandResult::OffsetCommitted {
            log_index: LogIndex(18),
        },
        CommandResult::Rejected {
            log_index: LogIndex(19),
            rejection: Rejection::PositionConflict {
                current: Some(Offset(3)),
            },
        },
    ]
}

/// The read API's view of `history`.
fn assert_reads_after_history(sm: &StateMachineStore<TestConfig>) {
    assert_eq!(
        sm.producer(&ProducerId::new("checkout-7").expect("valid")),
        Some(ProducerState {
            last_seq: 1,
            topic: topic("orders"),
            first_offset: Offset(2),
            count: 1,
            log_index: LogIndex(3),
            earlier: Vec::new(),
        })
    );
    assert_eq!(
        sm.producer(&ProducerId::new("nobody").expect("valid")),
        None
    );
    assert_eq!(
        sm.key_state(&topic("users"), "joe"),
        Some(KeyState {
            last_offset: Offset(2),
            live: false,
            timestamp_ms: 1_700_000_000_000,
        })
    );
    assert_eq!(
        sm.consumer_offset(&group("billing"), &topic("orders")),
        Some(Offset(2))
    );
    let lag = sm.group_lag(&group("billing"));
    let shown: Vec<_> = lag
        .iter()
        .map(|(t, p)| (t.as_str(), p.offset, p.end_offset, p.lag_records))
        .collect();
    let end = |name: &str| sm.topic(&topic(name)).expect("exists").end_offset;
    assert_eq!(
        shown,
        vec![
            ("orders", Offset(2), end("orders"), end("orders").0 - 2),
            ("users", Offset(1), end("users"), end("users").0 - 1),
        ]
    );
    assert!(sm.group_lag(&group("nobody")).is_empty());
    assert_eq!(sm.consumer_lag().len(), 2);
    assert_eq!(sm.consumer_lag()[&group("billing")], lag);
}

#[tokio::test]
async fn producers_keys_and_positions_survive_reopen_and_decide_alike() {
    let (dir, log, mut sm) = open_temp();
    apply_via_openraft(&mut sm, history()).await;
    assert_reads_after_history(&sm);
    let before = decided(&sm);
    drop((log, sm));

    let (_log, sm) = reopen(&dir);
    assert_eq!(decided(&sm), before);
    assert_reads_after_history(&sm);
    assert_eq!(
        sm.apply_entries(next_entries()).expect("apply"),
        expected_answers()
    );
}

#[tokio::test]
async fn producers_keys_and_positions_survive_a_crash_after_a_flush() {
    let disk = MemDisk::new();
    let (_log, mut sm) = open_on(&disk);
    apply_via_openraft(&mut sm, history()).await;
    let before = decided(&sm);
    sm.shared.flush().await.expect("flush");

    disk.crash(0);

    let (_log, sm) = open_on(&disk);
    assert_eq!(decided(&sm), before);
    assert_eq!(
        sm.apply_entries(next_entries()).expect("apply"),
        expected_answers()
    );
}

#[tokio::test]
async fn a_node_that_installed_a_snapshot_decides_like_its_source() {
    let (_source_dir, _source_log, mut source) = open_temp();
    apply_via_openraft(&mut source, history()).await;
    let snapshot = source.build_snapshot().await.expect("build snapshot");

    let (target_dir, target_log, mut target) = open_temp();
    // State the snapshot does not hold, which installing must remove.
    apply_via_openraft(
        &mut target,
        vec![
            normal(
                1,
                1,
                from_producer(keyed("stale", "k", json!(1)), "stale-producer", 0),
            ),
            normal(1, 2, commit("stale-group", "stale", 1, None)),
        ],
    )
    .await;
    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .expect("install snapshot");
    assert_eq!(decided(&target), decided(&source));
    assert_reads_after_history(&target);

    // The installed state is what the target's disk holds, too.
    drop((target_log, target));
    let (_log, target) = reopen(&target_dir);
    assert_eq!(decided(&target), decided(&source));

    let answers = target.apply_entries(next_entries()).expect("apply");
    assert_eq!(answers, expected_answers());
    assert_eq!(
        answers,
        source.apply_entries(next_entries()).expect("apply")
    );
    assert_eq!(decided(&target), decided(&source));
}

#[tokio::test]
async fn a_rejected_or_duplicate_command_writes_nothing_but_the_applied_index() {
    let (_dir, _log, sm) = open_temp();
    sm.apply_entries(history()).expect("apply");
    let before = decided(&sm);
    let results = sm
        .apply_entries(next_entries()[..3].to_vec())
        .expect("apply");
    assert!(results.iter().all(|r| matches!(
        r,
        CommandResult::Rejected { .. }
            | CommandResult::Appended {
                duplicate: true,
                ..
            }
    )));
    let mut after = decided(&sm);
    assert_eq!(after.last_applied, Some(LogIndex(15)));
    after.last_applied = before.last_applied;
    assert_eq!(after, before);
    assert_eq!(
        sm.topic(&topic("orders")).map(|t| t.end_offset),
        Some(Offset(3))
    );
}

/// A Kafka producer's batches of 2, 1 and 3 records (seqs 0, 2, 3) with a
/// new producer id between them: entries at log indexes 1..=4.
fn kafka_history() -> Vec<Entry> {
    vec![
        normal(
            1,
            1,
            from_kafka_producer(append("k", [json!(0), json!(1)]), "kafka-1", 0),
        ),
        normal(1, 2, Command::NewProducerId),
        normal(
            1,
            3,
            from_kafka_producer(append("k", [json!(2)]), "kafka-1", 2),
        ),
        normal(
            1,
            4,
            from_kafka_producer(append("k", [json!(3), json!(4), json!(5)]), "kafka-1", 3),
        ),
    ]
}

/// A resend of each batch, then the next one: at log indexes 5..=8.
fn kafka_resends() -> Vec<Entry> {
    vec![
        normal(
            2,
            5,
            from_kafka_producer(append("k", [json!(0), json!(1)]), "kafka-1", 0),
        ),
        normal(
            2,
            6,
            from_kafka_producer(append("k", [json!(2)]), "kafka-1", 2),
        ),
        normal(
            2,
            7,
            from_kafka_producer(append("k", [json!(3), json!(4), json!(5)]), "kafka-1", 3),
        ),
        normal(
            2,
            8,
            from_kafka_producer(append("k", [json!(6)]), "kafka-1", 6),
        ),
    ]
}

fn kafka_answers() -> Vec<CommandResult> {
    let appended = |first: u64, count: u64, index: u64, duplicate: bool| CommandResult::Appended {
        first_offset: Offset(first),
        count,
        log_index: LogIndex(index),
        duplicate,
    };
    vec![
        appended(0, 2, 1, true),
        appended(2, 1, 3, true),
        appended(3, 3, 4, true),
        appended(6, 1, 8, false),
    ]
}

#[tokio::test]
async fn a_kafka_producers_last_batches_survive_reopen_and_snapshots_and_answer_resends_alike() {
    let (dir, log, mut sm) = open_temp();
    let answers = sm.apply_entries(kafka_history()).expect("apply");
    assert_eq!(
        answers[1],
        CommandResult::Noop {
            log_index: LogIndex(2)
        },
        "a new producer id is its entry's index"
    );
    let before = decided(&sm);
    let snapshot = sm.build_snapshot().await.expect("build snapshot");
    drop((log, sm));

    let (_log, reopened) = reopen(&dir);
    assert_eq!(decided(&reopened), before);
    assert_eq!(
        reopened.apply_entries(kafka_resends()).expect("apply"),
        kafka_answers()
    );

    let (_target_dir, _target_log, mut target) = open_temp();
    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .expect("install snapshot");
    assert_eq!(decided(&target), before);
    assert_eq!(
        target.apply_entries(kafka_resends()).expect("apply"),
        kafka_answers()
    );
}

#[test]
fn a_new_producer_id_and_a_kafka_producer_survive_the_log_entry_encoding() {
    let kafka = from_kafka_producer(append("k", [json!(1)]), "kafka-1", 7);
    for command in [Command::NewProducerId, kafka] {
        let mut bytes = Vec::new();
        crate::command_codec::encode(&command, &mut bytes).expect("encodes");
        assert!(bytes.len() <= crate::command_codec::encoded_len_hint(&command));
        assert_eq!(
            crate::command_codec::decode(1, &bytes).expect("decodes"),
            command
        );
    }
}
