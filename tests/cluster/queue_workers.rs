//! Workers of a work queue for the black-box tests in `queues`, and the
//! journal of what they saw. Each worker claims jobs through its own node,
//! "processes" them, acks them (or nacks the ones its plan calls poison),
//! resends an ack or nack whose outcome is unknown, and records every
//! delivery and how each ended. The checks over a journal are pure
//! functions here; what a test expects of the queue's own counts is in
//! `queues`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ordo_api::{ClaimRequest, Job, JobLease, LeaseToken};
use ordo_client::queues::lost_offsets;
use ordo_client::{Client, ClientError, RetryPolicy};
use ordo_core::{LogIndex, NodeId, Offset};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::support::TestCluster;

/// Tries of one ack or nack before a worker gives up on it (its lease
/// then runs out and the job goes again).
const MAX_SETTLE_TRIES: usize = 10;
/// Pause after a failed claim, ack or nack.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How long one call of a worker's client keeps trying a dead node: short,
/// so that a worker whose node was killed gives its jobs up and retries.
const WORKER_CALL_BUDGET: Duration = Duration::from_secs(3);

/// What a worker does, and for how long at most.
#[derive(Clone, Copy)]
pub struct WorkerPlan {
    pub group: &'static str,
    pub topic: &'static str,
    /// Jobs per claim.
    pub max: u32,
    /// The lease each claim asks for.
    pub lease_ms: u64,
    /// How long a claim waits for a job when none is ready.
    pub wait_ms: u64,
    /// Jobs this says are poison are nacked (at once, no delay), never acked.
    pub poison: fn(&Job) -> bool,
    /// The "work": each job takes `offset % (work_ms + 1)` ms.
    pub work_ms: u64,
    /// How much longer than its work the worker holds a job (and the rest
    /// of its claim) before settling it: a worker that stalls.
    pub stall: fn(&Job) -> Duration,
    /// Bounds each worker even if the test never stops it.
    pub max_claims: usize,
    pub deadline: Duration,
}

/// One delivery a worker was handed.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub worker: usize,
    pub offset: Offset,
    pub delivery: u32,
    pub lease: LeaseToken,
    /// When the lease began, by the leader's clock: its expiry less the
    /// lease the claim asked for.
    pub lease_start_ms: u64,
    pub lease_expires_ms: u64,
    pub key: Option<String>,
    /// The log index of the claim that handed it out.
    pub claim_index: Option<LogIndex>,
}

/// How a worker's ack or nack of one delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Acked(LogIndex),
    Nacked {
        log_index: LogIndex,
        dead_lettered: bool,
    },
    /// `409 lease_lost`, and no earlier try could have done it: the job was
    /// not settled by this delivery.
    Lost,
    /// `409 lease_lost` after a try whose outcome was unknown: that try
    /// settled it, or the lease was lost.
    SettledOrLost,
    /// No definite answer; `maybe_done` if some try's outcome was unknown.
    GaveUp {
        maybe_done: bool,
    },
}

impl Ending {
    /// The ack or nack may have taken effect.
    fn maybe_took_effect(&self) -> bool {
        matches!(
            self,
            Ending::SettledOrLost | Ending::GaveUp { maybe_done: true }
        )
    }
}

/// Something the journal records, in the order the test process saw it.
#[derive(Debug, Clone)]
pub enum Event {
    Delivered(Delivery),
    /// The worker is done with the job and is about to ack or nack it.
    Finishing {
        lease: LeaseToken,
    },
    Settled {
        offset: Offset,
        lease: LeaseToken,
        acking: bool,
        ending: Ending,
    },
    /// An error no fault explains (a 4xx other than `lease_lost`, a body
    /// that did not decode): the checks fail on any.
    Unexpected(String),
}

/// Every worker's events, in one order.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<Event>>>);

impl Journal {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().expect("a worker panicked").clone()
    }

    fn push(&self, event: Event) {
        self.0.lock().expect("a worker panicked").push(event);
    }

    /// Every delivery handed out, in the order workers saw them.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                Event::Delivered(delivery) => Some(delivery),
                _ => None,
            })
            .collect()
    }

    /// How many acks the server answered with success.
    pub fn acked(&self) -> usize {
        self.events()
            .iter()
            .filter(|event| {
                matches!(
                    event,
                    Event::Settled {
                        ending: Ending::Acked(_),
                        ..
                    }
                )
            })
            .count()
    }
}

/// A client of node `id` only (which forwards to the leader) whose calls
/// give up on a dead node after [`WORKER_CALL_BUDGET`].
pub fn worker_client(cluster: &TestCluster, id: NodeId) -> Client {
    let url = cluster.base_url(id);
    let retry = RetryPolicy {
        total_budget: WORKER_CALL_BUDGET,
        unreachable_budget: WORKER_CALL_BUDGET,
        ..RetryPolicy::default()
    };
    Client::builder(vec![url.clone()])
        .retry(retry)
        .build()
        .and_then(|client| client.for_node(&url))
        .unwrap_or_else(|e| panic!("a worker's client for node {id}: {e}"))
}

/// Runs worker `worker` through `client` until `stop` (or its bounds):
/// claim, work, record, then ack the good jobs and nack the poison ones.
pub fn spawn_worker(
    worker: usize,
    client: Client,
    plan: WorkerPlan,
    journal: Journal,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let request = ClaimRequest {
            max: plan.max,
            lease_ms: Some(plan.lease_ms),
            wait_ms: plan.wait_ms,
        };
        for _ in 0..plan.max_claims {
            if stop.load(Ordering::Relaxed) || started.elapsed() > plan.deadline {
                return;
            }
            let claimed = match client.claim(plan.group, plan.topic, &request).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    // An unknown claim costs its jobs one lease; anything
                    // but an unknown outcome or an unavailable cluster is
                    // a finding.
                    if !is_fault(&e) {
                        journal.push(Event::Unexpected(format!("worker {worker} claim: {e}")));
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            };
            for job in &claimed.jobs {
                journal.push(Event::Delivered(Delivery {
                    worker,
                    offset: job.offset,
                    delivery: job.delivery,
                    lease: job.lease,
                    lease_start_ms: job.lease_expires_ms.saturating_sub(plan.lease_ms),
                    lease_expires_ms: job.lease_expires_ms,
                    key: job.key.clone(),
                    claim_index: claimed.log_index,
                }));
            }
            let work_ms: u64 = claimed
                .jobs
                .iter()
                .map(|job| job.offset.0 % (plan.work_ms + 1))
                .sum();
            let stall = claimed
                .jobs
                .iter()
                .map(plan.stall)
                .max()
                .unwrap_or_default();
            tokio::time::sleep(Duration::from_millis(work_ms) + stall).await;
            let (poison, good): (Vec<&Job>, Vec<&Job>) =
                claimed.jobs.iter().partition(|job| (plan.poison)(job));
            for (jobs, acking) in [(good, true), (poison, false)] {
                let leases: Vec<JobLease> = jobs
                    .iter()
                    .map(|job| JobLease {
                        offset: job.offset,
                        lease: job.lease,
                    })
                    .collect();
                settle(worker, &client, &plan, &journal, leases, acking).await;
            }
        }
    })
}

/// An error a fault explains: the outcome is unknown, or the cluster was
/// unavailable (nothing happened).
fn is_fault(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::OutcomeUnknown { .. } | ClientError::Unavailable { .. }
    )
}

/// Acks (or nacks) `jobs` together, all or nothing, resending after an
/// unknown outcome; the jobs a `lease_lost` names are dropped and the rest
/// sent again. Records how each job's delivery ended.
async fn settle(
    worker: usize,
    client: &Client,
    plan: &WorkerPlan,
    journal: &Journal,
    mut jobs: Vec<JobLease>,
    acking: bool,
) {
    let ended = |job: &JobLease, ending: Ending| Event::Settled {
        offset: job.offset,
        lease: job.lease,
        acking,
        ending,
    };
    for job in &jobs {
        journal.push(Event::Finishing { lease: job.lease });
    }
    // Some earlier try of exactly `jobs` may have taken effect.
    let mut uncertain = false;
    for _ in 0..MAX_SETTLE_TRIES {
        if jobs.is_empty() {
            return;
        }
        let answer = if acking {
            client.ack(plan.group, plan.topic, &jobs).await
        } else {
            client.nack(plan.group, plan.topic, &jobs, 0).await
        };
        match answer {
            Ok(done) => {
                for job in &jobs {
                    let ending = if acking {
                        Ending::Acked(done.log_index)
                    } else {
                        Ending::Nacked {
                            log_index: done.log_index,
                            dead_lettered: done.dead_lettered.contains(&job.offset),
                        }
                    };
                    journal.push(ended(job, ending));
                }
                return;
            }
            Err(e) => match lost_offsets(&e) {
                Some(lost) => {
                    let named: BTreeSet<Offset> = lost.into_iter().collect();
                    let held: BTreeSet<Offset> = jobs.iter().map(|job| job.offset).collect();
                    if named.is_empty() || !named.is_subset(&held) {
                        journal.push(Event::Unexpected(format!(
                            "worker {worker}: lease_lost names {named:?} of {held:?}"
                        )));
                        return;
                    }
                    // An earlier try, all or nothing, would have settled
                    // every job: only if every lease is lost may it have.
                    let ending = if uncertain && named == held {
                        Ending::SettledOrLost
                    } else {
                        Ending::Lost
                    };
                    uncertain = false;
                    for job in jobs.iter().filter(|job| named.contains(&job.offset)) {
                        journal.push(ended(job, ending.clone()));
                    }
                    jobs.retain(|job| !named.contains(&job.offset));
                    continue;
                }
                None if matches!(e, ClientError::OutcomeUnknown { .. }) => uncertain = true,
                None if is_fault(&e) => {}
                None => {
                    journal.push(Event::Unexpected(format!(
                        "worker {worker} {}: {e}",
                        if acking { "ack" } else { "nack" }
                    )));
                    break;
                }
            },
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    for job in &jobs {
        journal.push(ended(
            job,
            Ending::GaveUp {
                maybe_done: uncertain,
            },
        ));
    }
}

/// What the journal says became of each offset's jobs.
#[derive(Debug, Clone, Default)]
pub struct JobFate {
    /// Acks the server answered with success.
    pub acked: usize,
    /// Acks that may have taken effect.
    pub maybe_acked: usize,
    /// Nacks answered with the job named dead-lettered.
    pub dead_lettered_by_nack: usize,
}

/// Each offset's fate by the journal.
pub fn fates(events: &[Event]) -> BTreeMap<Offset, JobFate> {
    let mut fates: BTreeMap<Offset, JobFate> = BTreeMap::new();
    for event in events {
        if let Event::Settled {
            offset,
            acking,
            ending,
            ..
        } = event
        {
            let fate = fates.entry(*offset).or_default();
            match ending {
                Ending::Acked(_) => fate.acked += 1,
                Ending::Nacked {
                    dead_lettered: true,
                    ..
                } => fate.dead_lettered_by_nack += 1,
                ending if *acking && ending.maybe_took_effect() => fate.maybe_acked += 1,
                _ => {}
            }
        }
    }
    fates
}

/// No worker hit an error that no fault explains.
pub fn assert_nothing_unexpected(events: &[Event]) {
    let unexpected: Vec<&String> = events
        .iter()
        .filter_map(|event| match event {
            Event::Unexpected(what) => Some(what),
            _ => None,
        })
        .collect();
    assert!(unexpected.is_empty(), "unexpected errors: {unexpected:#?}");
}

/// No job was held by two workers at once, and a job acked was never
/// handed out again: for each offset, in the order of its deliveries, each
/// lease begins (by the leader's clock) no sooner than the one before it
/// ends, unless that one was given back by a nack the log applied before
/// the claim that handed the job out again (a nack whose outcome is unknown
/// may have given it back at any time, so it proves nothing either way).
pub fn assert_leases_never_overlap(events: &[Event]) {
    let mut endings: BTreeMap<LeaseToken, (bool, Ending)> = BTreeMap::new();
    let mut by_offset: BTreeMap<Offset, Vec<&Delivery>> = BTreeMap::new();
    for event in events {
        match event {
            Event::Delivered(delivery) => {
                by_offset.entry(delivery.offset).or_default().push(delivery)
            }
            Event::Settled {
                lease,
                acking,
                ending,
                ..
            } => {
                endings.insert(*lease, (*acking, ending.clone()));
            }
            _ => {}
        }
    }
    let mut leases = BTreeSet::new();
    for (offset, mut deliveries) in by_offset {
        deliveries.sort_by_key(|d| d.delivery);
        for d in &deliveries {
            assert!(leases.insert(d.lease), "lease {} handed out twice", d.lease);
        }
        for pair in deliveries.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            let what = format!("offset {offset}: delivery {before:?} then {after:?}");
            assert!(
                after.delivery > before.delivery,
                "{what}: one delivery number twice"
            );
            let handed_back = match endings.get(&before.lease) {
                Some((_, Ending::Acked(at))) => panic!(
                    "{what}: the first was acked (at {at:?}), so no later delivery may exist: \
                     an ack under a lease that had moved on, or a job handed out after its ack"
                ),
                Some((_, Ending::Nacked { log_index, .. })) => {
                    after.claim_index.is_some_and(|claim| claim > *log_index)
                }
                Some((false, ending)) => ending.maybe_took_effect(),
                _ => false,
            };
            assert!(
                handed_back || after.lease_start_ms >= before.lease_expires_ms,
                "{what}: two live leases at once (the second began {} ms before the first \
                 ended, and the first was not given back before it)",
                before.lease_expires_ms.saturating_sub(after.lease_start_ms)
            );
        }
    }
}

/// A key's jobs ran one at a time and in offset order: none was handed out
/// while the worker holding the key's previous job had not finished it,
/// and the claim that handed it out came after that job's ack in the log.
/// Answers the most keys that were in flight at once.
pub fn assert_one_job_per_key_at_a_time_in_offset_order(events: &[Event]) -> usize {
    let acked_at: BTreeMap<LeaseToken, LogIndex> = events
        .iter()
        .filter_map(|event| match event {
            Event::Settled {
                lease,
                ending: Ending::Acked(at),
                ..
            } => Some((*lease, *at)),
            _ => None,
        })
        .collect();
    let mut key_of: BTreeMap<LeaseToken, String> = BTreeMap::new();
    let mut in_flight: BTreeMap<String, Offset> = BTreeMap::new();
    let mut last_started: BTreeMap<String, &Delivery> = BTreeMap::new();
    let mut most_keys = 0;
    for event in events {
        match event {
            Event::Delivered(d) => {
                let Some(key) = &d.key else { continue };
                key_of.insert(d.lease, key.clone());
                if let Some(held) = in_flight.insert(key.clone(), d.offset) {
                    panic!(
                        "key {key}: offset {} handed out to worker {} while offset {held} was \
                         in flight",
                        d.offset, d.worker
                    );
                }
                if let Some(before) = last_started.insert(key.clone(), d) {
                    assert!(
                        d.offset > before.offset,
                        "key {key}: offset {} ran after offset {}",
                        d.offset,
                        before.offset
                    );
                    let acked = acked_at.get(&before.lease);
                    assert!(
                        d.claim_index
                            .zip(acked)
                            .is_some_and(|(claimed, acked)| claimed > *acked),
                        "key {key}: offset {} claimed at {:?}, not after the ack of offset {} \
                         at {acked:?}",
                        d.offset,
                        d.claim_index,
                        before.offset
                    );
                }
                most_keys = most_keys.max(in_flight.len());
            }
            Event::Finishing { lease } => {
                if let Some(key) = key_of.get(lease) {
                    in_flight.remove(key);
                }
            }
            _ => {}
        }
    }
    most_keys
}

/// The checks catch the histories they exist for, and pass the ones a
/// correct queue may produce.
mod checks {
    use super::*;
    use ordo_core::LeaseId;

    /// Delivery `delivery` of `offset` under lease `lease`, claimed at log
    /// index `claimed_at`, held over `[start_ms, start_ms + 1000)`.
    fn delivered(offset: u64, delivery: u32, lease: u64, claimed_at: u64, start_ms: u64) -> Event {
        Event::Delivered(Delivery {
            worker: 0,
            offset: Offset(offset),
            delivery,
            lease: LeaseToken(LeaseId(lease)),
            lease_start_ms: start_ms,
            lease_expires_ms: start_ms + 1_000,
            key: Some(format!("k{}", offset % 2)),
            claim_index: Some(LogIndex(claimed_at)),
        })
    }

    fn settled(offset: u64, lease: u64, acking: bool, ending: Ending) -> Event {
        Event::Settled {
            offset: Offset(offset),
            lease: LeaseToken(LeaseId(lease)),
            acking,
            ending,
        }
    }

    fn finishing(lease: u64) -> Event {
        Event::Finishing {
            lease: LeaseToken(LeaseId(lease)),
        }
    }

    #[test]
    fn a_redelivery_after_the_lease_or_after_a_nack_is_no_overlap() {
        let nacked = Ending::Nacked {
            log_index: LogIndex(5),
            dead_lettered: false,
        };
        assert_leases_never_overlap(&[
            delivered(0, 1, 1, 1, 0),
            settled(0, 1, true, Ending::Lost),
            delivered(0, 2, 2, 3, 1_000),
            settled(0, 2, false, nacked),
            delivered(0, 3, 3, 6, 1_200),
        ]);
    }

    #[test]
    #[should_panic(expected = "two live leases at once")]
    fn two_live_leases_on_one_job_are_caught() {
        assert_leases_never_overlap(&[delivered(0, 1, 1, 1, 0), delivered(0, 2, 2, 3, 999)]);
    }

    #[test]
    #[should_panic(expected = "two live leases at once")]
    fn a_claim_the_log_applied_before_the_nack_is_caught() {
        let nacked = Ending::Nacked {
            log_index: LogIndex(5),
            dead_lettered: false,
        };
        assert_leases_never_overlap(&[
            delivered(0, 1, 1, 1, 0),
            delivered(0, 2, 2, 4, 500),
            settled(0, 1, false, nacked),
        ]);
    }

    #[test]
    #[should_panic(expected = "so no later delivery may exist")]
    fn a_job_handed_out_again_after_its_ack_is_caught() {
        assert_leases_never_overlap(&[
            delivered(0, 1, 1, 1, 0),
            settled(0, 1, true, Ending::Acked(LogIndex(2))),
            delivered(0, 2, 2, 3, 5_000),
        ]);
    }

    #[test]
    fn one_job_per_key_at_a_time_in_offset_order_passes() {
        let most_keys = assert_one_job_per_key_at_a_time_in_offset_order(&[
            delivered(0, 1, 1, 1, 0),
            delivered(1, 1, 2, 1, 0),
            finishing(1),
            settled(0, 1, true, Ending::Acked(LogIndex(2))),
            delivered(2, 1, 3, 3, 0),
        ]);
        assert_eq!(most_keys, 2);
    }

    #[test]
    #[should_panic(expected = "while offset 0 was in flight")]
    fn a_second_job_of_a_key_in_flight_is_caught() {
        assert_one_job_per_key_at_a_time_in_offset_order(&[
            delivered(0, 1, 1, 1, 0),
            delivered(2, 1, 2, 2, 0),
        ]);
    }

    #[test]
    #[should_panic(expected = "not after the ack")]
    fn a_key_claimed_before_its_previous_ack_applied_is_caught() {
        assert_one_job_per_key_at_a_time_in_offset_order(&[
            delivered(0, 1, 1, 1, 0),
            finishing(1),
            delivered(2, 1, 2, 2, 0),
            settled(0, 1, true, Ending::Acked(LogIndex(3))),
        ]);
    }

    #[test]
    #[should_panic(expected = "ran after offset 2")]
    fn a_key_run_out_of_offset_order_is_caught() {
        assert_one_job_per_key_at_a_time_in_offset_order(&[
            delivered(2, 1, 1, 1, 0),
            finishing(1),
            settled(2, 1, true, Ending::Acked(LogIndex(2))),
            delivered(0, 1, 2, 3, 0),
        ]);
    }
}
