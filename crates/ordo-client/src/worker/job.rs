//! One claimed job's life in a worker: the handler runs in a task of its
//! own while this one extends the lease on schedule; then the job is acked
//! (the handler succeeded) or nacked (it failed, or the worker gave up on
//! it at shutdown), resent as [`super::rules`] says.

use std::sync::Arc;
use std::time::Duration;

use ordo_api::{Job, JobLease};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::rules::{extend_interval, SettleAttempts, Settlement, Step, SETTLE_RETRY_PAUSE};
use super::{Action, Handler, JobRef, WorkerEvent, WorkerReport};
use crate::client::Client;
use crate::queues::lost_offsets;

/// Where the worker as a whole stands; every job task watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Running,
    /// No more claims; running handlers may finish. A handler that fails
    /// now was most likely stopped by the shutdown, so its job is nacked
    /// to go again at once.
    Stopping,
    /// The grace period is over: handlers still running are dropped and
    /// their jobs nacked to go again at once.
    Abandon,
}

/// What every job task of one worker shares.
pub(super) struct Shared {
    pub client: Client,
    pub group: String,
    pub topic: String,
    /// The lease each claim asked for (or the queue's), which extends renew.
    pub lease: Duration,
    pub nack_delay: Duration,
    pub phase: watch::Receiver<Phase>,
    pub report: std::sync::Mutex<WorkerReport>,
    pub listener: Option<super::Listener>,
}

impl Shared {
    pub fn emit(&self, event: WorkerEvent) {
        tracing::debug!(?event, group = %self.group, topic = %self.topic, "worker");
        self.report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .count(&event);
        if let Some(listener) = &self.listener {
            listener(&event);
        }
    }

    fn stopping(&self) -> bool {
        *self.phase.borrow() != Phase::Running
    }
}

/// How the handler ended.
enum Handled {
    Ok,
    Failed(String),
    /// Still running when the grace period ran out.
    Abandoned,
}

/// Runs `job` through `handler` under its lease and settles it.
pub(super) async fn run<H: Handler>(shared: Arc<Shared>, handler: Arc<H>, job: Job) {
    let id = JobRef {
        offset: job.offset,
        delivery: job.delivery,
    };
    let lease = JobLease {
        offset: job.offset,
        lease: job.lease,
    };
    shared.emit(WorkerEvent::Claimed { job: id });
    let action = match handle_under_lease(&shared, handler, job, id, &lease).await {
        Handled::Ok => Action::Ack,
        Handled::Failed(error) => {
            shared.emit(WorkerEvent::Failed { job: id, error });
            let delay = if shared.stopping() {
                Duration::ZERO
            } else {
                shared.nack_delay
            };
            Action::Nack {
                delay_ms: millis(delay),
            }
        }
        Handled::Abandoned => {
            shared.emit(WorkerEvent::Abandoned { job: id });
            Action::Nack { delay_ms: 0 }
        }
    };
    let settlement = settle(&shared, action, &lease).await;
    shared.emit(WorkerEvent::Settled {
        job: id,
        action,
        settlement,
    });
}

/// Aborts the handler's task when the job lets go of it, whichever way.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn handle_under_lease<H: Handler>(
    shared: &Shared,
    handler: Arc<H>,
    job: Job,
    id: JobRef,
    lease: &JobLease,
) -> Handled {
    // Its own task, so that an extend in progress never holds the handler
    // up, and a panic in it fails this job only.
    let mut handling = AbortOnDrop(tokio::spawn(async move {
        handler.handle(job).await.map_err(|e| e.to_string())
    }));
    let interval = extend_interval(shared.lease);
    let mut next_extend = Instant::now() + interval;
    let mut extending = true;
    let mut phase = shared.phase.clone();
    loop {
        tokio::select! {
            joined = &mut handling.0 => return match joined {
                Ok(Ok(())) => Handled::Ok,
                Ok(Err(error)) => Handled::Failed(error),
                Err(e) if e.is_panic() => Handled::Failed("the handler panicked".into()),
                Err(_) => Handled::Failed("the handler was cancelled".into()),
            },
            () = tokio::time::sleep_until(next_extend), if extending => {
                extending = extend(shared, id, lease).await;
                next_extend = Instant::now() + interval;
            }
            () = abandoned(&mut phase) => return Handled::Abandoned,
        }
    }
}

/// Resolves once the worker abandons running handlers (or is gone).
async fn abandoned(phase: &mut watch::Receiver<Phase>) {
    let _ = phase.wait_for(|phase| *phase == Phase::Abandon).await;
}

/// Extends the job's lease once; false once the lease is lost (extending
/// it further is pointless, and the ack will say so too).
async fn extend(shared: &Shared, id: JobRef, lease: &JobLease) -> bool {
    let renewed = shared
        .client
        .extend(
            &shared.group,
            &shared.topic,
            std::slice::from_ref(lease),
            Some(millis(shared.lease)),
        )
        .await;
    match renewed {
        Ok(_) => true,
        Err(e) if lost_offsets(&e).is_some() => {
            shared.emit(WorkerEvent::LeaseLost { job: id });
            false
        }
        // The next tick tries again; the lease has two more before it ends.
        Err(e) => {
            shared.emit(WorkerEvent::ExtendFailed {
                job: id,
                error: e.to_string(),
            });
            true
        }
    }
}

/// Sends the ack or nack until its fate is known, or the attempts run out.
async fn settle(shared: &Shared, action: Action, lease: &JobLease) -> Settlement {
    let (client, group, topic) = (&shared.client, &shared.group, &shared.topic);
    let jobs = std::slice::from_ref(lease);
    let mut attempts = SettleAttempts::default();
    loop {
        let result = match action {
            Action::Ack => client.ack(group, topic, jobs).await,
            Action::Nack { delay_ms } => client.nack(group, topic, jobs, delay_ms).await,
        };
        match attempts.after(result) {
            Step::Finish(settlement) => return settlement,
            Step::Retry => tokio::time::sleep(SETTLE_RETRY_PAUSE).await,
        }
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
