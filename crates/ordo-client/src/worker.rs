//! [`Worker`]: takes jobs from a work queue (DESIGN.md §3c) and runs each
//! through a [`Handler`]: claims by long-polling, up to `concurrency` jobs
//! at once; extends a running job's lease three times per lease; acks a job
//! whose handler succeeded and nacks (with a delay) one whose handler
//! failed or panicked.
//!
//! Acks and nacks follow the rule appends do: one whose outcome is unknown
//! is sent again (up to [`MAX_SETTLE_ATTEMPTS`]), and a `lease_lost` on a
//! resend is reported as [`Settlement::SettledOrLost`], since the first
//! send may have done it. Delivery is at least once: a job whose lease runs
//! out while its handler runs (a worker cut off from the cluster) goes to
//! another worker, and its ack here is [`Settlement::Lost`].
//!
//! Shutdown (the future given to [`Worker::run`]): no more claims; running
//! handlers get [`Worker::shutdown_grace`] to finish and their jobs are
//! acked or nacked as usual, except that a failure then is nacked without
//! delay (the shutdown likely caused it); handlers still running after
//! that are dropped and their jobs nacked to go again at once. A claim in
//! flight at shutdown is dropped; a job it may have taken goes again when
//! its lease runs out. A handler that should wind down at shutdown (stop a
//! child process) watches [`Worker::stopping`], which turns before any
//! handler could see the shutdown otherwise, so its failure then is surely
//! nacked without delay.
//!
//! - `rules`: the extend schedule and the resend decision. Pure.
//! - `job`: one job's life: handler, extends, ack or nack.

mod job;
mod rules;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ordo_api::{ClaimRequest, Job};
use ordo_core::queue::MAX_CLAIM_JOBS;
use ordo_core::Offset;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::client::Client;
use crate::error::ClientError;
use job::{millis, Phase, Shared};
pub use rules::{
    claim_failure_is_fatal, extend_interval, Settlement, MAX_SETTLE_ATTEMPTS, SETTLE_RETRY_PAUSE,
};

/// How long each claim long-polls for a job (below the server's
/// `MAX_CLAIM_WAIT_MS`).
pub const DEFAULT_CLAIM_WAIT: Duration = Duration::from_secs(10);
/// How long a failed job waits before it goes again, unless set.
pub const DEFAULT_NACK_DELAY: Duration = Duration::from_secs(1);
/// How long running handlers may take to finish after shutdown, unless set.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after a claim failed in a way worth waiting out.
pub const CLAIM_RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Pause after an empty claim that did not wait (a claim wait of zero).
const IDLE_PAUSE: Duration = Duration::from_millis(100);

/// What runs a job. Any `Fn(Job) -> impl Future<Output = Result<(), E>>`
/// with a displayable `E` is one.
pub trait Handler: Send + Sync + 'static {
    type Error: std::fmt::Display + Send + 'static;

    /// Runs the job: `Ok` acks it, `Err` nacks it to go again later.
    fn handle(&self, job: Job) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

impl<F, Fut, E> Handler for F
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    type Error = E;

    fn handle(&self, job: Job) -> impl Future<Output = Result<(), E>> + Send {
        self(job)
    }
}

/// One delivery of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRef {
    pub offset: Offset,
    /// 1 for the job's first delivery.
    pub delivery: u32,
}

/// How a worker settles a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ack,
    Nack { delay_ms: u64 },
}

/// What a worker did, as it happens (see [`Worker::on_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerEvent {
    /// A job was handed to this worker; its handler starts.
    Claimed { job: JobRef },
    /// The handler returned an error or panicked; the job is nacked.
    Failed { job: JobRef, error: String },
    /// The handler was still running when the shutdown's grace ran out; it
    /// was dropped and the job is nacked to go again at once.
    Abandoned { job: JobRef },
    /// An extend found the lease no longer held: the job went back to the
    /// queue (this worker was cut off longer than the lease).
    LeaseLost { job: JobRef },
    /// An extend failed otherwise; the next one tries again.
    ExtendFailed { job: JobRef, error: String },
    /// The job's ack or nack ended (see [`Settlement`]).
    Settled {
        job: JobRef,
        action: Action,
        settlement: Settlement,
    },
    /// A claim failed in a way worth waiting out (no leader, a node down).
    ClaimFailed { error: String },
}

/// Counts of what a worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerReport {
    pub claimed: u64,
    pub acked: u64,
    /// Nacks that took effect, including those that dead-lettered.
    pub nacked: u64,
    /// Nacked jobs that went to the dead-letter topic.
    pub dead_lettered: u64,
    /// Handlers that failed (or panicked).
    pub failed: u64,
    /// Handlers dropped at the end of the shutdown's grace.
    pub abandoned: u64,
    /// Acks and nacks that were [`Settlement::SettledOrLost`].
    pub settled_or_lost: u64,
    /// Acks and nacks that were [`Settlement::Lost`].
    pub lost: u64,
    /// Acks and nacks that were [`Settlement::Failed`].
    pub unsettled: u64,
}

impl WorkerReport {
    /// Counts `event` in.
    pub fn count(&mut self, event: &WorkerEvent) {
        match event {
            WorkerEvent::Claimed { .. } => self.claimed += 1,
            WorkerEvent::Failed { .. } => self.failed += 1,
            WorkerEvent::Abandoned { .. } => self.abandoned += 1,
            WorkerEvent::Settled {
                job,
                action,
                settlement,
            } => match (action, settlement) {
                (Action::Ack, Settlement::Done(_)) => self.acked += 1,
                (Action::Nack { .. }, Settlement::Done(done)) => {
                    self.nacked += 1;
                    if done.dead_lettered.contains(&job.offset) {
                        self.dead_lettered += 1;
                    }
                }
                (_, Settlement::SettledOrLost) => self.settled_or_lost += 1,
                (_, Settlement::Lost) => self.lost += 1,
                (_, Settlement::Failed(_)) => self.unsettled += 1,
            },
            WorkerEvent::LeaseLost { .. }
            | WorkerEvent::ExtendFailed { .. }
            | WorkerEvent::ClaimFailed { .. } => {}
        }
    }
}

/// Why a worker stopped before it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    #[error("group {group} has no queue over topic {topic} (make it with PUT /v1/queues/{group}/{topic})")]
    QueueNotFound { group: String, topic: String },
    /// A claim was refused in a way asking again would not change.
    #[error("claiming jobs: {0}")]
    Claim(ClientError),
    /// Looking the queue up failed.
    #[error("looking up the queue: {0}")]
    Lookup(ClientError),
}

type Listener = Arc<dyn Fn(&WorkerEvent) + Send + Sync>;

/// A worker of one queue; see the module docs.
pub struct Worker {
    client: Client,
    group: String,
    topic: String,
    concurrency: usize,
    max_claim: usize,
    lease: Option<Duration>,
    nack_delay: Duration,
    claim_wait: Duration,
    shutdown_grace: Duration,
    listener: Option<Listener>,
    phase: watch::Sender<Phase>,
}

/// Tells a handler that its worker has begun to shut down: it claims no
/// more, and running handlers have the grace period to finish.
#[derive(Debug, Clone)]
pub struct Stopping(watch::Receiver<Phase>);

impl Stopping {
    /// Whether the worker has begun to shut down.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow() != Phase::Running
    }

    /// Resolves once the worker has begun to shut down (at once if it
    /// has, or if the worker is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|phase| *phase != Phase::Running).await;
    }
}

impl Worker {
    /// A worker of `group`'s queue over `topic`, one job at a time.
    pub fn new(client: Client, group: &str, topic: &str) -> Worker {
        Worker {
            client,
            group: group.to_owned(),
            topic: topic.to_owned(),
            concurrency: 1,
            max_claim: MAX_CLAIM_JOBS,
            lease: None,
            nack_delay: DEFAULT_NACK_DELAY,
            claim_wait: DEFAULT_CLAIM_WAIT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            listener: None,
            phase: watch::channel(Phase::Running).0,
        }
    }

    /// A signal for handlers: see [`Stopping`].
    pub fn stopping(&self) -> Stopping {
        Stopping(self.phase.subscribe())
    }

    /// Jobs handled at once (at least 1).
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.concurrency = jobs.max(1);
        self
    }

    /// Most jobs one claim asks for (default: as many as there are free
    /// slots, up to the server's 1,000).
    pub fn max_claim(mut self, jobs: usize) -> Self {
        self.max_claim = jobs.clamp(1, MAX_CLAIM_JOBS);
        self
    }

    /// The lease each claim asks for and each extend renews (default: the
    /// queue's `lease_ms`).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// How long a job whose handler failed waits before it goes again.
    pub fn nack_delay(mut self, delay: Duration) -> Self {
        self.nack_delay = delay;
        self
    }

    /// How long each claim long-polls for a job (at most 30 s).
    pub fn claim_wait(mut self, wait: Duration) -> Self {
        self.claim_wait = wait;
        self
    }

    /// How long running handlers may take to finish after shutdown.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Calls `listener` with every [`WorkerEvent`], from the worker's tasks
    /// (so it should be quick: print, count, send to a channel).
    pub fn on_event(mut self, listener: impl Fn(&WorkerEvent) + Send + Sync + 'static) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Works until `shutdown` resolves (then as the module docs say) or a
    /// claim is refused for good, and reports what it did. The queue must
    /// exist.
    pub async fn run<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> Result<WorkerReport, WorkerError> {
        let lease = match self.lease {
            Some(lease) => lease,
            None => self.queue_lease().await?,
        };
        let phase_tx = &self.phase;
        let phase = phase_tx.subscribe();
        let shared = Arc::new(Shared {
            client: self.client.clone(),
            group: self.group.clone(),
            topic: self.topic.clone(),
            lease,
            nack_delay: self.nack_delay,
            phase,
            report: Default::default(),
            listener: self.listener.clone(),
        });
        let handler = Arc::new(handler);
        let mut jobs = JoinSet::new();
        let stopped = tokio::select! {
            () = shutdown => Ok(()),
            refused = self.claim_loop(&shared, &handler, &mut jobs) => Err(refused),
        };

        phase_tx.send_replace(Phase::Stopping);
        let drained = tokio::time::timeout(self.shutdown_grace, drain(&mut jobs)).await;
        if drained.is_err() {
            phase_tx.send_replace(Phase::Abandon);
            // Each remaining job now only settles, bounded by its attempts.
            drain(&mut jobs).await;
        }
        let report = shared
            .report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        stopped.map(|()| report)
    }

    async fn queue_lease(&self) -> Result<Duration, WorkerError> {
        match self.client.queue(&self.group, &self.topic).await {
            Ok(Some(queue)) => Ok(Duration::from_millis(queue.config.lease_ms)),
            Ok(None) => Err(WorkerError::QueueNotFound {
                group: self.group.clone(),
                topic: self.topic.clone(),
            }),
            Err(e) => Err(WorkerError::Lookup(e)),
        }
    }

    /// Claims jobs into free slots until a claim is refused for good; each
    /// job runs in a task of `jobs` that holds its slot.
    async fn claim_loop<H: Handler>(
        &self,
        shared: &Arc<Shared>,
        handler: &Arc<H>,
        jobs: &mut JoinSet<()>,
    ) -> WorkerError {
        let slots = Arc::new(Semaphore::new(self.concurrency));
        loop {
            while jobs.try_join_next().is_some() {}
            let mut free = free_slots(&slots, self.max_claim).await;
            let request = ClaimRequest {
                max: u32::try_from(free.len()).unwrap_or(1),
                lease_ms: self.lease.map(millis),
                wait_ms: millis(self.claim_wait),
            };
            match self.client.claim(&self.group, &self.topic, &request).await {
                Ok(claimed) => {
                    let idle = claimed.jobs.is_empty() && self.claim_wait.is_zero();
                    for (job, slot) in claimed.jobs.into_iter().zip(free.drain(..)) {
                        let (shared, handler) = (Arc::clone(shared), Arc::clone(handler));
                        jobs.spawn(async move {
                            job::run(shared, handler, job).await;
                            drop(slot);
                        });
                    }
                    if idle {
                        tokio::time::sleep(IDLE_PAUSE).await;
                    }
                }
                Err(e) if claim_failure_is_fatal(&e) => {
                    return match e.code() {
                        Some(crate::queues::QUEUE_NOT_FOUND) => WorkerError::QueueNotFound {
                            group: self.group.clone(),
                            topic: self.topic.clone(),
                        },
                        _ => WorkerError::Claim(e),
                    };
                }
                Err(e) => {
                    shared.emit(WorkerEvent::ClaimFailed {
                        error: e.to_string(),
                    });
                    tokio::time::sleep(CLAIM_RETRY_PAUSE).await;
                }
            }
        }
    }
}

/// Waits for one free slot, then takes every other free one, up to `most`.
async fn free_slots(slots: &Arc<Semaphore>, most: usize) -> Vec<OwnedSemaphorePermit> {
    let first = Arc::clone(slots)
        .acquire_owned()
        .await
        .expect("the worker never closes its slots");
    let mut free = vec![first];
    while free.len() < most {
        match Arc::clone(slots).try_acquire_owned() {
            Ok(slot) => free.push(slot),
            Err(_) => break,
        }
    }
    free
}

/// Waits for every job task to end.
async fn drain(jobs: &mut JoinSet<()>) {
    while let Some(ended) = jobs.join_next().await {
        if let Err(e) = ended {
            tracing::warn!(error = %e, "a worker's job task ended abnormally");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_api::JobsDone;
    use ordo_core::LogIndex;

    #[test]
    fn a_report_counts_each_settlement_once() {
        let job = JobRef {
            offset: Offset(4),
            delivery: 2,
        };
        let done = |dead: Vec<u64>| {
            Settlement::Done(JobsDone {
                log_index: LogIndex(1),
                dead_lettered: dead.into_iter().map(Offset).collect(),
            })
        };
        let settled = |action, settlement| WorkerEvent::Settled {
            job,
            action,
            settlement,
        };
        let mut report = WorkerReport::default();
        for event in [
            WorkerEvent::Claimed { job },
            settled(Action::Ack, done(vec![])),
            settled(Action::Nack { delay_ms: 0 }, done(vec![4])),
            settled(Action::Nack { delay_ms: 0 }, done(vec![9])),
            settled(Action::Ack, Settlement::SettledOrLost),
            settled(Action::Ack, Settlement::Lost),
            WorkerEvent::LeaseLost { job },
        ] {
            report.count(&event);
        }
        assert_eq!(
            report,
            WorkerReport {
                claimed: 1,
                acked: 1,
                nacked: 2,
                dead_lettered: 1,
                settled_or_lost: 1,
                lost: 1,
                ..WorkerReport::default()
            }
        );
    }
}
