//! The store on a memory disk, across crashes: what it reported persisted is
//! back after a crash and reopen; what it applied without a flush comes back
//! as a consistent prefix of its applies, never records without their
//! metadata or metadata without its records (nor a key index, producer or
//! position entry without the apply that made it); and a store from before a
//! crash cannot write into the next one.

use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::type_config::alias::VoteOf;
use openraft::{LogState, RaftLogReader};
use ordo_core::Offset;
use serde_json::json;

use super::support::{
    append, apply_via_openraft, blank, commit, decided, from_producer, keyed, log_id, membership,
    normal, open_on, Entry, TestConfig,
};
use crate::{MemDisk, StateMachineStore, StoreError};

const ALL: usize = usize::MAX;

#[tokio::test]
async fn appended_entries_and_the_vote_survive_a_crash_that_loses_everything_unflushed() {
    let disk = MemDisk::new();
    let (mut log, _sm) = open_on(&disk);
    let entries = vec![
        blank(1, 1),
        membership(1, 2, &[1, 2, 3]),
        normal(1, 3, append("orders", [json!({"id": 1})])),
    ];
    let vote = VoteOf::<TestConfig>::new(2, 1);
    log.blocking_append(entries.clone()).await.expect("append");
    log.save_vote(&vote).await.expect("save vote");

    disk.crash(0);

    let (mut log, _sm) = open_on(&disk);
    assert_eq!(
        log.get_log_state().await.expect("log state"),
        LogState {
            last_purged_log_id: None,
            last_log_id: Some(log_id(1, 3)),
        }
    );
    let mut reader = log.get_log_reader().await;
    assert_eq!(reader.try_get_log_entries(..).await.expect("read"), entries);
    assert_eq!(reader.read_vote().await.expect("read vote"), Some(vote));
}

/// Three applies, each one batch, none flushed, each changing records,
/// topics, the key index, the producer table and positions.
fn three_applies() -> Vec<Vec<Entry>> {
    vec![
        vec![
            membership(1, 1, &[1]),
            normal(1, 2, append("a", [json!(0), json!(1)])),
            normal(1, 3, from_producer(keyed("k", "x", json!(1)), "p", 0)),
        ],
        vec![
            normal(1, 4, append("b", [json!("b0")])),
            normal(1, 5, commit("g", "a", 2, None)),
        ],
        vec![
            normal(1, 6, append("a", [json!(2)])),
            normal(1, 7, append("b", [json!("b1"), json!("b2")])),
            normal(1, 8, from_producer(keyed("k", "x", json!(null)), "p", 1)),
            normal(1, 9, commit("g", "a", 3, Some(Some(2)))),
        ],
    ]
}

/// A power loss: the tree keeps some unflushed batches, the record files
/// none of their unsynced bytes, so the tree is ahead of the files. The
/// state machine is then wiped whole (openraft rebuilds it from the
/// snapshot and the log), never served half.
#[tokio::test]
async fn a_tree_ahead_of_the_record_files_wipes_the_state_machine() {
    let applies = three_applies();
    let disk = MemDisk::new();
    let (_log, mut sm) = open_on(&disk);
    for entries in applies.clone() {
        apply_via_openraft(&mut sm, entries).await;
    }
    disk.crash(applies.len());

    let (_log, mut recovered) = open_on(&disk);
    assert!(recovered.topics().is_empty());
    assert_eq!(decided(&recovered), ordo_core::State::default());
    assert_eq!(
        recovered.applied_state().await.expect("applied state").0,
        None
    );
    assert_eq!(records_on_disk(&recovered), 0);
}

/// Every record the record log holds, counted on disk: with metadata
/// consistent, exactly the records inside every topic's offsets.
fn records_on_disk(sm: &StateMachineStore<TestConfig>) -> usize {
    let held = sm.shared.records.held().expect("list the records held");
    held.values().map(Vec::len).sum()
}

/// A process crash: the tree keeps the first `keep` unflushed batches (as
/// sled may), the files every byte written (the OS keeps them).
#[tokio::test]
async fn unflushed_applies_come_back_as_a_consistent_prefix() {
    let applies = three_applies();
    for keep in 0..=applies.len() {
        let disk = MemDisk::new();
        let (_log, mut sm) = open_on(&disk);
        for entries in applies.clone() {
            apply_via_openraft(&mut sm, entries).await;
        }
        assert_eq!(disk.unflushed_batches(), applies.len());

        disk.crash_with(keep, |_, unsynced_bytes| unsynced_bytes);

        // What a node that applied only the first `keep` batches holds.
        let reference_disk = MemDisk::new();
        let (_log, mut reference) = open_on(&reference_disk);
        for entries in applies.iter().take(keep).cloned() {
            apply_via_openraft(&mut reference, entries).await;
        }
        let (_log, mut recovered) = open_on(&disk);
        assert_eq!(recovered.topics(), reference.topics(), "keep {keep}");
        assert_eq!(decided(&recovered), decided(&reference), "keep {keep}");
        assert_eq!(
            recovered.applied_state().await.expect("applied state"),
            reference.applied_state().await.expect("applied state"),
            "keep {keep}"
        );
        let mut records_in_bounds = 0;
        for (name, state) in recovered.topics() {
            let page = recovered
                .read_records(&name, Offset(0), ALL, ALL)
                .expect("read")
                .expect("topic exists");
            assert_eq!(
                page,
                reference
                    .read_records(&name, Offset(0), ALL, ALL)
                    .expect("read")
                    .expect("topic exists"),
                "keep {keep}, topic {name}"
            );
            records_in_bounds += usize::try_from(state.end_offset.0 - state.start_offset.0)
                .expect("test topics are small");
        }
        assert_eq!(
            records_on_disk(&recovered),
            records_in_bounds,
            "keep {keep}"
        );
    }
}

#[tokio::test]
async fn a_store_from_before_a_crash_cannot_write_into_the_next_one() {
    let disk = MemDisk::new();
    let (mut old_log, old_sm) = open_on(&disk);
    old_log
        .blocking_append([blank(1, 1)])
        .await
        .expect("append");

    disk.crash(0);
    let (mut log, sm) = open_on(&disk);

    // The dead incarnation's leftover work fails and leaves no trace.
    assert!(old_log.blocking_append([blank(1, 2)]).await.is_err());
    assert!(old_log
        .save_vote(&VoteOf::<TestConfig>::new(9, 9))
        .await
        .is_err());
    assert!(matches!(
        old_sm.apply_entries(vec![normal(1, 2, append("leak", [json!(1)]))]),
        Err(StoreError::Fenced)
    ));
    assert_eq!(disk.unflushed_batches(), 0);

    assert_eq!(
        log.get_log_state().await.expect("log state").last_log_id,
        Some(log_id(1, 1))
    );
    assert_eq!(log.read_vote().await.expect("read vote"), None);
    assert!(sm.topics().is_empty());
    assert_eq!(records_on_disk(&sm), 0);
}
