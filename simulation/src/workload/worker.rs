//! A simulated worker: appends jobs to the queues' topics and takes jobs
//! from the queues, one request at a time against random nodes, until the
//! heal. What it does with the jobs of one claim is drawn: ack them in one
//! request or one at a time, give them back (nack, with a delay), extend
//! their leases halfway through the work and then ack, or crash: drop them
//! without a word, so their leases run out. Its work sometimes outlasts the
//! lease. An ack or nack that certainly did not happen, or whose outcome is
//! unknown, is sent once more to a random node, as a real worker would
//! (a second one that finds the job settled is `409 lease_lost`). Every
//! attempt is one operation of the history.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::final_client::{admin, Admin};
use super::queue_requests::{WorkQueue, QUEUES};
use super::requests::perform;
use super::{append_kind, CLIENTS};
use crate::cluster::mix;
use crate::history::{ClaimedJob, JobLease, NodeId, Op, OpKind, Outcome, QueueRequest};
use crate::recorder::{now, SharedRecorder};

/// Worker `client`'s draws come from `mix(run seed, WORKER_SALT + client)`,
/// apart from the other clients'.
const WORKER_SALT: u64 = 20_000;
/// Of a worker's turns, this share (in %) appends jobs; the rest claim.
const APPEND_PERCENT: u32 = 25;
/// A claim asks for up to this many jobs.
const MAX_CLAIM: u32 = 3;
/// A claim's lease, in ms: drawn from this range (the server's minimum is 100).
const LEASE_MS: std::ops::RangeInclusive<u64> = 150..=450;
/// A claim long-polls for one of these, in ms.
const WAITS_MS: [u64; 3] = [0, 50, 200];
/// A worker's rest between turns, in ms: drawn from this range. Longer
/// than the other clients' (0-30 ms), so that the workers' requests add
/// about a sixth to a run's operations, not more.
const REST_MS: std::ops::Range<u64> = 40..160;
/// A nack's delay, in ms: drawn from this range.
const NACK_DELAY_MS: std::ops::RangeInclusive<u64> = 0..=150;

/// What a worker does with the jobs of one claim.
#[derive(Debug, Clone, Copy)]
enum Fate {
    AckTogether,
    AckEach,
    Nack,
    ExtendThenAck,
    Crash,
}

impl Fate {
    fn draw(rng: &mut SmallRng) -> Fate {
        match rng.random_range(0..100) {
            0..=44 => Fate::AckTogether,
            45..=59 => Fate::AckEach,
            60..=74 => Fate::Nack,
            75..=86 => Fate::ExtendThenAck,
            _ => Fate::Crash,
        }
    }
}

/// Worker number `client` (numbered after the other clients): appends jobs
/// and works on them until `until`. The first worker makes the queues.
pub async fn worker(
    recorder: SharedRecorder,
    run_seed: u64,
    client: u32,
    nodes: Vec<NodeId>,
    until: Duration,
) -> turmoil::Result {
    let mut worker = Worker {
        rng: SmallRng::seed_from_u64(mix(run_seed, WORKER_SALT + u64::from(client))),
        recorder,
        client,
        nodes,
        until,
        appended: 0,
    };
    if client == CLIENTS + 1 {
        admin(&worker.nodes, Admin::PutQueues).await;
    }
    while now() < until {
        let queue = &QUEUES[worker.rng.random_range(0..QUEUES.len())];
        if worker.rng.random_range(0..100) < APPEND_PERCENT {
            worker.append_jobs(queue).await;
        } else {
            worker.take_jobs(queue).await;
        }
        worker.pause(REST_MS).await;
    }
    worker.recorder.borrow_mut().active_clients -= 1;
    Ok(())
}

struct Worker {
    rng: SmallRng,
    recorder: SharedRecorder,
    client: u32,
    nodes: Vec<NodeId>,
    /// When the worker stops: its work on the last jobs it holds is cut
    /// short there, so the final client need not wait for it.
    until: Duration,
    /// Appends sent so far: job values are `job-w<client>-<appends>-<i>`,
    /// unique across the run.
    appended: u64,
}

impl Worker {
    /// 1-3 jobs; on a queue with keys, all with one drawn key.
    async fn append_jobs(&mut self, queue: &WorkQueue) {
        let values = (0..self.rng.random_range(1..=3))
            .map(|i| format!("job-w{}-{}-{i}", self.client, self.appended))
            .collect();
        self.appended += 1;
        let key = (queue.keys > 0).then(|| format!("k{}", self.rng.random_range(0..queue.keys)));
        let kind = append_kind(queue.topic.to_string(), values, key, None, false);
        let node = self.node();
        perform(&self.recorder, self.client, node, kind).await;
    }

    /// One claim, then the drawn fate of whatever it handed out.
    async fn take_jobs(&mut self, queue: &WorkQueue) {
        let lease_ms = self.rng.random_range(LEASE_MS);
        let wait = Duration::from_millis(WAITS_MS[self.rng.random_range(0..WAITS_MS.len())]);
        let claim = QueueRequest::Claim {
            max: self.rng.random_range(1..=MAX_CLAIM),
            lease_ms,
            // Not past the worker's end.
            wait_ms: wait.min(self.until.saturating_sub(now())).as_millis() as u64,
        };
        let Some(Outcome::Claimed { jobs, .. }) =
            self.send(queue, claim).await.map(|op| op.outcome)
        else {
            return;
        };
        if jobs.is_empty() {
            return;
        }
        let held: Vec<JobLease> = jobs.iter().map(ClaimedJob::held).collect();
        // Sometimes longer than the lease.
        let work_ms = self.rng.random_range(0..=lease_ms * 6 / 5);
        match Fate::draw(&mut self.rng) {
            Fate::AckTogether => {
                self.pause(0..work_ms + 1).await;
                self.settle(queue, QueueRequest::Ack { jobs: held }).await;
            }
            Fate::AckEach => {
                for job in held {
                    self.pause(0..work_ms / 2 + 1).await;
                    self.settle(queue, QueueRequest::Ack { jobs: vec![job] })
                        .await;
                }
            }
            Fate::Nack => {
                self.pause(0..work_ms + 1).await;
                let delay_ms = self.rng.random_range(NACK_DELAY_MS);
                let nack = QueueRequest::Nack {
                    jobs: held,
                    delay_ms,
                };
                self.settle(queue, nack).await;
            }
            Fate::ExtendThenAck => {
                self.pause(0..work_ms / 2 + 1).await;
                let extend = QueueRequest::Extend {
                    jobs: held.clone(),
                    lease_ms,
                };
                self.send(queue, extend).await;
                self.pause(0..work_ms / 2 + 1).await;
                self.settle(queue, QueueRequest::Ack { jobs: held }).await;
            }
            // The worker dies with the jobs: nothing is sent, and their
            // leases run out.
            Fate::Crash => self.pause(0..work_ms + 1).await,
        }
    }

    /// An ack or nack, sent once more if it did not certainly happen.
    async fn settle(&mut self, queue: &WorkQueue, request: QueueRequest) {
        let op = self.send(queue, request.clone()).await;
        if op.is_some_and(|op| {
            matches!(op.outcome, Outcome::Failed { .. } | Outcome::Unknown { .. })
        }) {
            self.pause(20..60).await;
            self.send(queue, request).await;
        }
    }

    /// Sends `request` to a random node, unless the worker has stopped:
    /// then it sends nothing more, and the jobs it still holds are dropped
    /// as in a crash (the final client's drain takes them).
    async fn send(&mut self, queue: &WorkQueue, request: QueueRequest) -> Option<Op> {
        if now() >= self.until {
            return None;
        }
        let node = self.node();
        let kind = OpKind::Queue {
            queue: queue.name(),
            request,
        };
        Some(perform(&self.recorder, self.client, node, kind).await)
    }

    fn node(&mut self) -> NodeId {
        self.nodes[self.rng.random_range(0..self.nodes.len())]
    }

    /// Sleeps a drawn number of ms from `range`, at most until the worker
    /// stops.
    async fn pause(&mut self, range: std::ops::Range<u64>) {
        let ms = Duration::from_millis(self.rng.random_range(range));
        tokio::time::sleep(ms.min(self.until.saturating_sub(now()))).await;
    }
}
