//! After the heal and the workers: the final client drains every queue,
//! claiming and acking whatever is left (recorded like a worker's requests,
//! as client 0) until the queue shows nothing pending or in flight, then
//! reads each queue as every live node shows it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::queue_requests::{view, WorkQueue, QUEUES};
use super::requests::{client_of, perform};
use crate::history::{ClaimedJob, NodeId, OpKind, Outcome, QueueName, QueueRequest, QueueView};
use crate::recorder::{now, SharedRecorder};

/// How long the drain of all queues may take. Leases and nack delays are
/// well under a second, so what is left comes due long before.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The drain's claims: as many jobs as a claim may take, a lease longer
/// than an ack takes, no long-poll (a claim that finds nothing is followed
/// by a look at the queue, and another claim a little later if jobs are
/// still in flight or waiting out a delay).
const DRAIN_CLAIM: QueueRequest = QueueRequest::Claim {
    max: 1000,
    lease_ms: 1000,
    wait_ms: 0,
};
/// Attempts at reading one node's view of one queue.
const VIEW_ATTEMPTS: usize = 5;

/// Claims and acks every job left in every queue, against the live nodes
/// in turn, until each queue is done (bounded by `DRAIN_TIMEOUT`).
pub(super) async fn drain(recorder: &SharedRecorder, live: &[NodeId]) {
    let deadline = now() + DRAIN_TIMEOUT;
    let mut turn = 0usize;
    for queue in &QUEUES {
        while now() < deadline && !live.is_empty() {
            let node = live[turn % live.len()];
            turn += 1;
            let claim = queue_op(queue, DRAIN_CLAIM);
            let op = perform(recorder, 0, node, claim).await;
            match op.outcome {
                Outcome::Claimed { jobs, .. } if !jobs.is_empty() => {
                    let jobs = jobs.iter().map(ClaimedJob::held).collect();
                    let ack = queue_op(queue, QueueRequest::Ack { jobs });
                    perform(recorder, 0, node, ack).await;
                }
                Outcome::Claimed { .. } if done(node, queue).await => break,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// Every queue as each of `live` shows it (a node or queue that could not
/// be read is left out).
pub(super) async fn final_views(
    live: &[NodeId],
) -> BTreeMap<NodeId, BTreeMap<QueueName, QueueView>> {
    let mut views = BTreeMap::new();
    for node in live {
        let mut queues = BTreeMap::new();
        for queue in &QUEUES {
            if let Some(seen) = read_view(*node, queue).await {
                queues.insert(queue.name(), seen);
            }
        }
        views.insert(*node, queues);
    }
    views
}

/// Nothing is left in `queue`, as `node` sees it.
async fn done(node: NodeId, queue: &WorkQueue) -> bool {
    read_view(node, queue)
        .await
        .is_some_and(|seen| seen.in_flight == 0 && seen.pending == 0 && seen.floor == seen.end)
}

async fn read_view(node: NodeId, queue: &WorkQueue) -> Option<QueueView> {
    for _ in 0..VIEW_ATTEMPTS {
        match view(&client_of(node), queue).await {
            Ok(seen) => return seen,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    None
}

fn queue_op(queue: &WorkQueue, request: QueueRequest) -> OpKind {
    OpKind::Queue {
        queue: queue.name(),
        request,
    }
}
