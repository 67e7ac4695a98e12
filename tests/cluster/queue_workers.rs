//! Workers of a work queue for the black-box tests in `queues`, and the
//! journal of what they saw. Each worker claims jobs through its own node,
//! "processes" them, acks them (or nacks the ones its plan calls poison),
//! resends an ack or nack whose outcome is unknown, and records every
//! delivery and how each ended. The pure checks over a journal are in
//! `queue_checks`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ordo_api::{ClaimRequest, Job, JobLease, LeaseToken};
use ordo_client::queues::lost_offsets;
use ordo_client::{Client, ClientError, RetryPolicy};
use ordo_core::{LogIndex, NodeId, Offset};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::queue_support::QUEUE_DONE_TIMEOUT;
use crate::support::{eventually, TestCluster};

/// Tries of one ack or nack before a worker gives up on it (its lease
/// then runs out and the job goes again).
const MAX_SETTLE_TRIES: usize = 10;
/// Pause after a failed claim, ack or nack.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Workers in the tests that run several.
const WORKERS: usize = 4;
/// How long a stopped worker may take to return: a claim's wait, then an
/// ack's tries against a node that may be dead.
const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(45);
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
    pub fn maybe_took_effect(&self) -> bool {
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

/// Starts `WORKERS` workers with `plan`, each through a node of its own
/// (the first node twice).
pub fn start_workers(
    cluster: &TestCluster,
    plan: WorkerPlan,
) -> (Journal, Arc<AtomicBool>, Vec<JoinHandle<()>>) {
    let journal = Journal::default();
    let stop = Arc::new(AtomicBool::new(false));
    let ids = cluster.ids();
    let workers = (0..WORKERS)
        .map(|w| {
            let client = worker_client(cluster, ids[w % ids.len()]);
            spawn_worker(w, client, plan, journal.clone(), stop.clone())
        })
        .collect();
    (journal, stop, workers)
}

pub async fn stop_workers(stop: &AtomicBool, workers: Vec<JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        tokio::time::timeout(WORKER_STOP_TIMEOUT, worker)
            .await
            .expect("a worker stops within a claim's wait and an ack's tries")
            .expect("a worker task failed");
    }
}

/// Waits until the workers' acks number at least `count`.
pub async fn wait_for_acks(journal: &Journal, count: usize, what: &str) {
    eventually(what, QUEUE_DONE_TIMEOUT, || async {
        let acked = journal.acked();
        if acked >= count {
            Ok(())
        } else {
            Err(format!("{acked} acked"))
        }
    })
    .await
}
