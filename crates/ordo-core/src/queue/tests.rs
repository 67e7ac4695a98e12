//! Every rule on hand-made sequences of operations, and replicas that
//! apply the same ones agree.

use super::*;

/// A topic of jobs with these keys, at offsets 0, 1, …; `None` in the
/// outer option is a record compaction removed.
struct Topic(Vec<Option<Option<&'static str>>>);

impl JobSource for &Topic {
    type Error = std::convert::Infallible;

    fn end_offset(&self) -> Offset {
        Offset(self.0.len() as u64)
    }

    fn job_key(&mut self, offset: Offset) -> Result<Option<Option<String>>, Self::Error> {
        Ok(self
            .0
            .get(offset.0 as usize)
            .copied()
            .flatten()
            .map(|key| key.map(str::to_string)))
    }
}

/// `queue.claim` from `topic`, which never fails to read.
fn claim(
    queue: &mut QueueState,
    config: &QueueConfig,
    mut topic: &Topic,
    max: usize,
    lease_ms: u64,
    now_ms: u64,
) -> Vec<Claimed> {
    match queue.claim(config, &mut topic, max, lease_ms, now_ms) {
        Ok(claimed) => claimed,
        Err(never) => match never {},
    }
}

fn unkeyed(jobs: usize) -> Topic {
    Topic(vec![Some(None); jobs])
}

fn config() -> QueueConfig {
    QueueConfig {
        lease_ms: 1_000,
        max_deliveries: 3,
        dead_letter_topic: TopicName::new("jobs.dlq").unwrap(),
        ordered_by_key: false,
    }
}

fn offsets(claimed: &[Claimed]) -> Vec<u64> {
    claimed.iter().map(|c| c.offset.0).collect()
}

#[test]
fn claims_hand_out_jobs_in_offset_order_once_each() {
    let (config, topic) = (config(), unkeyed(5));
    let mut queue = QueueState::default();
    let first = claim(&mut queue, &config, &topic, 2, 1_000, 0);
    assert_eq!(offsets(&first), [0, 1]);
    assert!(first
        .iter()
        .all(|c| c.delivery == 1 && c.expires_ms == 1_000));
    let second = claim(&mut queue, &config, &topic, 10, 1_000, 0);
    assert_eq!(offsets(&second), [2, 3, 4]);
    assert!(claim(&mut queue, &config, &topic, 10, 1_000, 0).is_empty());
    assert_eq!(queue.in_flight(), 5);
    let leases: BTreeSet<_> = first.iter().chain(&second).map(|c| c.lease).collect();
    assert_eq!(leases.len(), 5, "every delivery has a lease of its own");
}

#[test]
fn acks_move_the_floor_past_every_done_job_and_only_those() {
    let (config, topic) = (config(), unkeyed(3));
    let mut queue = QueueState::default();
    let jobs = claim(&mut queue, &config, &topic, 3, 1_000, 0);
    queue.ack(jobs[1].offset, jobs[1].lease).unwrap();
    assert_eq!(queue.floor(), Offset(0), "job 0 is not done yet");
    queue.ack(jobs[0].offset, jobs[0].lease).unwrap();
    assert_eq!(queue.floor(), Offset(2));
    queue.ack(jobs[2].offset, jobs[2].lease).unwrap();
    assert_eq!(queue.floor(), Offset(3));
    let expected = QueueState {
        floor: Offset(3),
        next_lease: 3,
        acked: 3,
        ..QueueState::default()
    };
    assert_eq!(queue, expected, "nothing is kept below the floor");
}

#[test]
fn an_expired_lease_hands_the_job_out_again_and_its_old_holder_loses_it() {
    let (config, topic) = (config(), unkeyed(1));
    let mut queue = QueueState::default();
    let old = claim(&mut queue, &config, &topic, 1, 1_000, 0).remove(0);
    assert!(queue.expire(&config, 999).is_empty());
    assert!(
        claim(&mut queue, &config, &topic, 1, 1_000, 999).is_empty(),
        "still leased"
    );
    assert!(queue.expire(&config, 1_000).is_empty());
    let new = claim(&mut queue, &config, &topic, 1, 1_000, 1_000).remove(0);
    assert_eq!((new.offset, new.delivery), (Offset(0), 2));
    assert_eq!(
        queue.ack(old.offset, old.lease),
        Err(LeaseLost { offset: Offset(0) })
    );
    assert!(queue.extend(old.offset, old.lease, 5_000, 1_000).is_err());
    queue.ack(new.offset, new.lease).unwrap();
    assert_eq!(
        queue.ack(new.offset, new.lease),
        Err(LeaseLost { offset: Offset(0) }),
        "once"
    );
}

#[test]
fn an_ack_after_the_lease_time_but_before_any_expiry_applied_is_taken() {
    let (config, topic) = (config(), unkeyed(1));
    let mut queue = QueueState::default();
    let job = claim(&mut queue, &config, &topic, 1, 1_000, 0).remove(0);
    // No command expired it: nobody else was handed the job.
    queue.ack(job.offset, job.lease).unwrap();
    assert_eq!(queue.floor(), Offset(1));
}

#[test]
fn extend_keeps_a_job_past_its_first_lease() {
    let (config, topic) = (config(), unkeyed(1));
    let mut queue = QueueState::default();
    let job = claim(&mut queue, &config, &topic, 1, 1_000, 0).remove(0);
    assert_eq!(queue.extend(job.offset, job.lease, 5_000, 900), Ok(5_900));
    assert!(queue.expire(&config, 5_899).is_empty());
    assert!(claim(&mut queue, &config, &topic, 1, 1_000, 5_899).is_empty());
    queue.ack(job.offset, job.lease).unwrap();
}

#[test]
fn a_nack_gives_the_job_back_after_its_delay() {
    let (config, topic) = (config(), unkeyed(1));
    let mut queue = QueueState::default();
    let job = claim(&mut queue, &config, &topic, 1, 1_000, 0).remove(0);
    assert_eq!(
        queue.nack(&config, job.offset, job.lease, 500, 100),
        Ok(None)
    );
    assert!(claim(&mut queue, &config, &topic, 1, 1_000, 599).is_empty());
    let again = claim(&mut queue, &config, &topic, 1, 1_000, 600).remove(0);
    assert_eq!(again.delivery, 2);
    assert!(
        queue.nack(&config, job.offset, job.lease, 0, 600).is_err(),
        "the old lease"
    );
}

#[test]
fn after_max_deliveries_a_job_is_dead_lettered_once_by_nack_or_by_expiry() {
    let (config, topic) = (config(), unkeyed(2));
    let mut queue = QueueState::default();
    let mut now = 0;
    for delivery in 1..=3 {
        let jobs = claim(&mut queue, &config, &topic, 2, 1_000, now);
        assert_eq!(offsets(&jobs), [0, 1]);
        assert!(jobs.iter().all(|job| job.delivery == delivery));
        // Job 0 is given back each time; job 1 lets its lease run out.
        let dead = queue
            .nack(&config, jobs[0].offset, jobs[0].lease, 0, now)
            .unwrap();
        now += 1_000;
        let expired = queue.expire(&config, now);
        if delivery < 3 {
            assert_eq!((dead, expired), (None, vec![]));
        } else {
            let dead0 = DeadLettered {
                offset: Offset(0),
                deliveries: 3,
            };
            let dead1 = DeadLettered {
                offset: Offset(1),
                deliveries: 3,
            };
            assert_eq!((dead, expired), (Some(dead0), vec![dead1]));
        }
    }
    assert_eq!(queue.floor(), Offset(2), "dead letters are done");
    assert!(claim(&mut queue, &config, &topic, 2, 1_000, now).is_empty());
    assert!(
        queue.expire(&config, now + 10_000).is_empty(),
        "never twice"
    );
}

#[test]
fn ordered_by_key_holds_a_job_while_an_earlier_one_of_its_key_is_not_done() {
    let config = QueueConfig {
        ordered_by_key: true,
        ..config()
    };
    let topic = Topic(vec![
        Some(Some("a")),
        Some(Some("b")),
        Some(Some("a")),
        Some(None),
        Some(Some("b")),
    ]);
    let mut queue = QueueState::default();
    let first = claim(&mut queue, &config, &topic, 10, 1_000, 0);
    assert_eq!(
        offsets(&first),
        [0, 1, 3],
        "one job per key, unkeyed ones free"
    );
    // a's first job given back: it goes again before a's second one.
    queue
        .nack(&config, first[0].offset, first[0].lease, 0, 0)
        .unwrap();
    let second = claim(&mut queue, &config, &topic, 10, 1_000, 0);
    assert_eq!(offsets(&second), [0]);
    queue.ack(second[0].offset, second[0].lease).unwrap();
    queue.ack(first[1].offset, first[1].lease).unwrap();
    assert_eq!(
        offsets(&claim(&mut queue, &config, &topic, 10, 1_000, 0)),
        [2, 4]
    );
}

#[test]
fn removed_records_are_no_jobs_and_the_floor_passes_them() {
    let (config, topic) = (config(), Topic(vec![None, Some(None), None, Some(None)]));
    let mut queue = QueueState::default();
    let jobs = claim(&mut queue, &config, &topic, 10, 1_000, 0);
    assert_eq!(offsets(&jobs), [1, 3]);
    assert_eq!(queue.floor(), Offset(1));
    queue.ack(jobs[0].offset, jobs[0].lease).unwrap();
    assert_eq!(queue.floor(), Offset(3));
    queue.skip_to(Offset(10));
    assert_eq!((queue.floor(), queue.in_flight()), (Offset(10), 0));
}

/// One operation of a replica's command stream.
#[derive(Clone, Copy)]
enum Op {
    Claim { max: usize, at: u64 },
    Ack { nth: usize },
    Nack { nth: usize, delay: u64, at: u64 },
    Expire { at: u64 },
}

fn run(ops: &[Op]) -> (QueueState, Vec<Claimed>, Vec<DeadLettered>) {
    let (config, topic) = (config(), unkeyed(20));
    let mut queue = QueueState::default();
    let (mut claimed, mut dead) = (Vec::new(), Vec::new());
    for op in ops {
        match *op {
            Op::Claim { max, at } => {
                claimed.extend(claim(&mut queue, &config, &topic, max, 1_000, at))
            }
            Op::Ack { nth } => {
                if let Some(job) = claimed.get(nth) {
                    let _ = queue.ack(job.offset, job.lease);
                }
            }
            Op::Nack { nth, delay, at } => {
                if let Some(job) = claimed.get(nth) {
                    dead.extend(
                        queue
                            .nack(&config, job.offset, job.lease, delay, at)
                            .ok()
                            .flatten(),
                    );
                }
            }
            Op::Expire { at } => dead.extend(queue.expire(&config, at)),
        }
    }
    (queue, claimed, dead)
}

#[test]
fn replicas_applying_the_same_operations_agree() {
    let ops = [
        Op::Claim { max: 5, at: 0 },
        Op::Ack { nth: 1 },
        Op::Nack {
            nth: 2,
            delay: 100,
            at: 10,
        },
        Op::Expire { at: 1_000 },
        Op::Claim { max: 8, at: 1_000 },
        Op::Ack { nth: 0 },
        Op::Ack { nth: 6 },
        Op::Expire { at: 2_000 },
        Op::Claim { max: 20, at: 2_500 },
        Op::Expire { at: 9_000 },
        Op::Claim { max: 20, at: 9_000 },
    ];
    let (one, claimed, dead) = run(&ops);
    let (two, _, _) = run(&ops);
    assert_eq!(one, two);
    // Each job's deliveries count 1, 2, 3 in the order they were handed out.
    let mut deliveries: BTreeMap<Offset, u32> = BTreeMap::new();
    for job in &claimed {
        let last = deliveries.insert(job.offset, job.delivery).unwrap_or(0);
        assert_eq!(
            job.delivery,
            last + 1,
            "job {} delivered out of turn",
            job.offset.0
        );
    }
    assert!(
        deliveries.values().any(|d| *d > 1),
        "the run redelivers something"
    );
    assert!(dead.iter().all(|d| d.deliveries == config().max_deliveries));
}
