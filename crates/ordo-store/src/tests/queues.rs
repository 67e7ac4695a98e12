//! Work queues in the store: a claim sees every job applied before it,
//! even in the same run of entries (it starts a batch of its own); dead
//! letters are written with the command that retires them; and a queue's
//! state survives a reopen, a crash after a flush and a snapshot install,
//! so a restarted or new node hands out exactly what the others would.

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use ordo_core::queue::Claimed;
use ordo_core::{
    Command, CommandResult, HeldJob, LogIndex, Offset, QueueAnswer, QueueCommand, QueueConfig,
    QueueOp,
};
use serde_json::json;

use super::support::{
    append, apply_via_openraft, decided, group, keyed, membership, normal, open_on, open_temp,
    reopen, topic, Entry,
};
use crate::MemDisk;

fn queue(op: QueueOp, now_ms: u64) -> Command {
    Command::Queue(QueueCommand {
        group: group("mailers"),
        topic: topic("mail"),
        timestamp_ms: now_ms,
        op,
    })
}

fn claim(max: u32, now_ms: u64) -> Command {
    queue(
        QueueOp::Claim {
            max,
            lease_ms: None,
        },
        now_ms,
    )
}

fn claimed(result: &CommandResult) -> Vec<Claimed> {
    match result {
        CommandResult::Queue {
            answer: QueueAnswer::Claimed { jobs, .. },
            ..
        } => jobs.clone(),
        other => panic!("not a claim's answer: {other:?}"),
    }
}

/// A queue with a job in flight, one given back, one acked and one
/// dead-lettered, all at log indexes 1..=9, applied in one run.
fn history() -> Vec<Entry> {
    let config = QueueConfig {
        lease_ms: 1_000,
        max_deliveries: 1,
        dead_letter_topic: topic("mail.dlq"),
        ordered_by_key: true,
    };
    vec![
        membership(1, 1, &[1, 2, 3]),
        normal(1, 2, queue(QueueOp::Put { config }, 0)),
        normal(1, 3, keyed("mail", "jane", json!({"to": "jane"}))),
        normal(1, 4, keyed("mail", "jane", json!({"to": "jane", "n": 2}))),
        normal(1, 5, append("mail", [json!("joe"), json!("ann")])),
        // Applied in the same run as the appends before it: it must see them.
        normal(1, 6, claim(10, 100)),
    ]
}

#[tokio::test]
async fn a_claim_sees_the_jobs_appended_just_before_it_in_the_same_run() {
    let (_dir, _log, sm) = open_temp();
    let results = sm.apply_entries(history()).expect("apply");
    let offsets: Vec<u64> = claimed(&results[5]).iter().map(|c| c.offset.0).collect();
    assert_eq!(offsets, [0, 2, 3], "jane's second job waits for her first");
}

#[tokio::test]
async fn a_dead_letter_is_written_with_the_command_that_retires_it() {
    let (dir, log, sm) = open_temp();
    let results = sm.apply_entries(history()).expect("apply");
    let jobs = claimed(&results[5]);
    let nack = queue(
        QueueOp::Nack {
            jobs: vec![HeldJob {
                offset: jobs[0].offset,
                lease: jobs[0].lease,
            }],
            delay_ms: 0,
        },
        200,
    );
    sm.apply_entries(vec![normal(1, 7, nack)]).expect("apply");
    let page = sm
        .read_records(&topic("mail.dlq"), Offset(0), 10, usize::MAX)
        .expect("read")
        .expect("the dead-letter topic exists");
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].key.as_deref(), Some("jane"));
    assert_eq!(
        page.records[0].headers["ordo-dead-letter-offset"],
        "0".to_string()
    );
    let before = decided(&sm);
    drop((log, sm));
    let (_log, sm) = reopen(&dir);
    assert_eq!(
        decided(&sm),
        before,
        "the queue and its dead letter are on disk"
    );
}

/// After `history`, what a node hands out next must not depend on whether
/// it restarted or installed a snapshot.
async fn next_claims(sm: &crate::StateMachineStore<super::support::TestConfig>) -> Vec<u64> {
    // Jobs 2 and 3 expire at 1.1 s, job 0 too (one delivery: dead-lettered).
    let results = sm
        .apply_entries(vec![normal(2, 20, claim(10, 5_000))])
        .expect("apply");
    claimed(&results[0]).iter().map(|c| c.offset.0).collect()
}

#[tokio::test]
async fn queues_survive_a_reopen_a_crash_and_a_snapshot_install() {
    let disk = MemDisk::new();
    let (_log, mut sm) = open_on(&disk);
    apply_via_openraft(&mut sm, history()).await;
    let before = decided(&sm);
    assert_eq!(before.queues.len(), 1);
    sm.shared.flush().await.expect("flush");
    let snapshot = sm.build_snapshot().await.expect("build snapshot");
    disk.crash(0);
    let (_log, recovered) = open_on(&disk);
    assert_eq!(decided(&recovered), before);

    let (_target_dir, _target_log, mut target) = open_temp();
    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .expect("install snapshot");
    assert_eq!(decided(&target), before);

    let expected = next_claims(&recovered).await;
    assert_eq!(
        expected,
        [1],
        "jane's second job, now that her first is done"
    );
    assert_eq!(next_claims(&target).await, expected);
    assert_eq!(decided(&target), decided(&recovered));
    assert_eq!(
        decided(&target).last_applied,
        Some(LogIndex(20)),
        "both applied the same entries"
    );
}
