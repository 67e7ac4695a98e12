//! Queue commands through the state machine: claims read jobs from the
//! store, dead letters land in the same command that retires them, and
//! replicas applying the same commands agree.

use super::*;
use crate::command::Command;
use crate::queue::{Claimed, LeaseId};
use crate::testing::{append, group, keyed, record, topic, Replica};
use serde_json::json;

fn config() -> QueueConfig {
    QueueConfig {
        lease_ms: 1_000,
        max_deliveries: 2,
        dead_letter_topic: topic("jobs.dlq"),
        ordered_by_key: false,
    }
}

fn queue_command(op: QueueOp, now_ms: u64) -> Command {
    Command::Queue(QueueCommand {
        group: group("workers"),
        topic: topic("jobs"),
        timestamp_ms: now_ms,
        op,
    })
}

fn put(config: QueueConfig) -> Command {
    queue_command(QueueOp::Put { config }, 0)
}

fn claim(max: u32, now_ms: u64) -> Command {
    queue_command(
        QueueOp::Claim {
            max,
            lease_ms: None,
        },
        now_ms,
    )
}

fn held(job: &Claimed) -> HeldJob {
    HeldJob {
        offset: job.offset,
        lease: job.lease,
    }
}

/// The jobs a claim result handed out, and those it dead-lettered.
fn claimed(result: CommandResult) -> (Vec<Claimed>, Vec<DeadLettered>) {
    match result {
        CommandResult::Queue {
            answer:
                QueueAnswer::Claimed {
                    jobs,
                    dead_lettered,
                },
            ..
        } => (jobs, dead_lettered),
        other => panic!("not a claim's answer: {other:?}"),
    }
}

fn rejection(result: CommandResult) -> Rejection {
    result.rejection().cloned().expect("a rejection")
}

fn with_jobs(n: usize) -> Replica {
    let mut replica = Replica::default();
    replica.run(put(config()));
    replica.run(append(
        "jobs",
        (0..n).map(|i| record(None, json!({"job": i}))).collect(),
    ));
    replica
}

#[test]
fn a_claim_hands_out_the_stored_jobs_in_order_under_the_leaders_clock() {
    let mut replica = with_jobs(3);
    let (jobs, dead) = claimed(replica.run(claim(2, 5_000)));
    assert!(dead.is_empty());
    assert_eq!(
        jobs.iter().map(|job| job.offset.0).collect::<Vec<_>>(),
        [0, 1]
    );
    assert!(jobs.iter().all(|job| job.expires_ms == 6_000));
    let (rest, _) = claimed(replica.run(claim(10, 5_000)));
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].offset, Offset(2));
}

#[test]
fn a_clock_that_goes_back_does_not_shorten_or_lengthen_a_lease() {
    let mut replica = with_jobs(1);
    let (jobs, _) = claimed(replica.run(claim(1, 10_000)));
    assert_eq!(jobs[0].expires_ms, 11_000);
    // A new leader whose clock is behind: the queue's time stays at 10 s.
    let (again, _) = claimed(replica.run(claim(1, 2_000)));
    assert!(again.is_empty(), "the lease is live until 11 s");
}

#[test]
fn acking_a_lease_that_moved_on_is_lease_lost_and_changes_nothing() {
    let mut replica = with_jobs(2);
    let (mut old, _) = claimed(replica.run(claim(1, 0)));
    old.extend(claimed(replica.run(claim(1, 800))).0);
    // Job 0's lease expired at 1 s and it was handed out again; job 1's
    // holds until 1.8 s.
    let (new, _) = claimed(replica.run(claim(1, 1_500)));
    assert_eq!(new[0].offset, Offset(0));
    let before = replica.state.clone();
    let ack = queue_command(
        QueueOp::Ack {
            jobs: vec![held(&old[1]), held(&old[0])],
        },
        1_600,
    );
    assert_eq!(
        rejection(replica.run(ack)),
        Rejection::LeaseLost {
            offsets: vec![Offset(0)]
        }
    );
    assert_eq!(
        replica.state.queues, before.queues,
        "the lost lease refused the whole ack, job 1's too"
    );
    let twice = queue_command(
        QueueOp::Ack {
            jobs: vec![held(&new[0]), held(&new[0])],
        },
        1_600,
    );
    assert_eq!(
        rejection(replica.run(twice)),
        Rejection::JobNamedTwice { offset: Offset(0) }
    );
}

#[test]
fn the_last_delivery_goes_to_the_dead_letter_topic_in_the_same_command() {
    let mut replica = Replica::default();
    replica.run(put(config()));
    let mut job = keyed("jobs", "mail-7", json!({"to": "jane"}));
    if let Command::Append { records, .. } = &mut job {
        let mut with_header = records[0].clone();
        with_header.headers.insert("trace".into(), "abc".into());
        *records = vec![with_header].into();
    }
    replica.run(job);
    let (first, _) = claimed(replica.run(claim(1, 0)));
    let nack = queue_command(
        QueueOp::Nack {
            jobs: vec![held(&first[0])],
            delay_ms: 0,
        },
        10,
    );
    replica.run(nack);
    assert!(replica.offsets("jobs.dlq").is_empty(), "one delivery left");
    let (second, _) = claimed(replica.run(claim(1, 20)));
    assert_eq!(second[0].delivery, 2);
    // Its lease expires: the claim that notices dead-letters it.
    let (none, dead) = claimed(replica.run(claim(1, 5_000)));
    assert!(none.is_empty());
    assert_eq!(
        dead,
        [DeadLettered {
            offset: Offset(0),
            deliveries: 2
        }]
    );
    let letter = &replica.store.records[&(topic("jobs.dlq"), Offset(0))];
    assert_eq!(letter.key.as_deref(), Some("mail-7"));
    assert_eq!(letter.value.json_text(), Some(r#"{"to":"jane"}"#));
    let header = |name: &str| letter.headers.get(name).map(String::as_str);
    assert_eq!(header("trace"), Some("abc"));
    assert_eq!(header(DEAD_LETTER_TOPIC_HEADER), Some("jobs"));
    assert_eq!(header(DEAD_LETTER_OFFSET_HEADER), Some("0"));
    assert_eq!(header(DEAD_LETTER_GROUP_HEADER), Some("workers"));
    assert_eq!(header(DEAD_LETTER_DELIVERIES_HEADER), Some("2"));
    let queue = replica
        .state
        .queue_of(&group("workers"), &topic("jobs"))
        .unwrap();
    assert_eq!(queue.jobs.floor(), Offset(1), "done, never to go again");
    assert_eq!(queue.jobs.dead_lettered(), 1);
    assert!(claimed(replica.run(claim(1, 9_000))).0.is_empty());
}

#[test]
fn ordered_by_key_reads_the_keys_from_the_store() {
    let mut replica = Replica::default();
    replica.run(put(QueueConfig {
        ordered_by_key: true,
        ..config()
    }));
    for key in ["a", "a", "b"] {
        replica.run(keyed("jobs", key, json!(key)));
    }
    let (jobs, _) = claimed(replica.run(claim(10, 0)));
    assert_eq!(
        jobs.iter().map(|job| job.offset.0).collect::<Vec<_>>(),
        [0, 2],
        "the second job of key a waits for the first"
    );
    let ack = queue_command(
        QueueOp::Ack {
            jobs: vec![held(&jobs[0])],
        },
        1,
    );
    replica.run(ack);
    let (next, _) = claimed(replica.run(claim(10, 2)));
    assert_eq!(next[0].offset, Offset(1));
}

#[test]
fn queue_commands_are_refused_for_unknown_queues_and_bad_configs() {
    let mut replica = Replica::default();
    assert!(matches!(
        rejection(replica.run(claim(1, 0))),
        Rejection::QueueNotFound { .. }
    ));
    let onto_itself = QueueConfig {
        dead_letter_topic: topic("jobs"),
        ..config()
    };
    assert!(matches!(
        rejection(replica.run(put(onto_itself))),
        Rejection::DeadLetterIsSource { .. }
    ));
    assert!(replica.state.queues.is_empty());
    replica.run(put(config()));
    assert!(
        replica.state.topics.contains_key(&topic("jobs.dlq")),
        "the dead-letter topic is made with the queue"
    );
    replica.run(queue_command(QueueOp::Delete, 0));
    assert!(replica.state.queues.is_empty());
    assert!(matches!(
        rejection(replica.run(queue_command(QueueOp::Delete, 0))),
        Rejection::QueueNotFound { .. }
    ));
}

#[test]
fn deleting_the_topic_deletes_its_queues() {
    let mut replica = with_jobs(2);
    replica.run(Command::DeleteTopic {
        topic: topic("jobs"),
    });
    assert!(replica.state.queues.is_empty());
}

#[test]
fn replicas_applying_the_same_queue_commands_agree() {
    let mut commands = vec![
        put(config()),
        append("jobs", vec![record(None, json!(1)); 6]),
    ];
    let mut leader = Replica::default();
    for command in commands.clone() {
        leader.run(command);
    }
    // A mix of claims, acks, nacks and expiries, decided on the leader.
    for step in 0..12u64 {
        let now = step * 400;
        let command = claim(2, now);
        let (jobs, _) = claimed(leader.run(command.clone()));
        commands.push(command);
        if let Some(job) = jobs.first() {
            let op = if step % 3 == 0 {
                QueueOp::Nack {
                    jobs: vec![held(job)],
                    delay_ms: 100,
                }
            } else {
                QueueOp::Ack {
                    jobs: vec![held(job)],
                }
            };
            let command = queue_command(op, now + 10);
            leader.run(command.clone());
            commands.push(command);
        }
    }
    let mut follower = Replica::default();
    for command in commands {
        follower.run(command);
    }
    assert_eq!(follower.state, leader.state);
    assert_eq!(follower.store, leader.store);
    let _ = LeaseId(0);
}

#[test]
fn a_lease_from_before_the_queue_was_made_again_is_lost() {
    let mut replica = with_jobs(1);
    let (old, _) = claimed(replica.run(claim(1, 0)));
    replica.run(queue_command(QueueOp::Delete, 10));
    replica.run(put(config()));
    let (new, _) = claimed(replica.run(claim(1, 20)));
    assert_eq!(new[0].offset, old[0].offset);
    assert_ne!(
        new[0].lease, old[0].lease,
        "leases are never handed out twice"
    );
    let stale = queue_command(
        QueueOp::Ack {
            jobs: vec![held(&old[0])],
        },
        30,
    );
    assert!(matches!(
        rejection(replica.run(stale)),
        Rejection::LeaseLost { .. }
    ));
}
