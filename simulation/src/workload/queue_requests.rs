//! The work queues the workload runs, and one request to a queue as the
//! workload sends it through `ordo_client` and records what its answer
//! proves (see `requests::classify`).

use ordo_api::{ClaimRequest, JobLease as WireLease, PutQueueRequest, QueueInfo};
use ordo_client::{Client, ClientError};
use ordo_core::{Offset, TopicName};

use super::requests::classify;
use crate::history::{
    ClaimedJob, JobLease, Outcome, QueueName, QueueRequest, QueueSpec, QueueView,
};

/// A queue of the workload: short leases and few deliveries, so that
/// leases expire, jobs go round again and some end in the dead-letter
/// topic while the faults run.
pub struct WorkQueue {
    pub group: &'static str,
    pub topic: &'static str,
    pub dead_letter_topic: &'static str,
    pub lease_ms: u64,
    pub max_deliveries: u32,
    pub ordered_by_key: bool,
    /// The jobs' keys are `k0` .. `k{keys - 1}`; none if 0.
    pub keys: u32,
}

/// One queue whose jobs have no key, one that keeps each key's jobs in
/// order (few keys, so jobs of one key queue up behind each other).
pub const QUEUES: [WorkQueue; 2] = [
    WorkQueue {
        group: "workers",
        topic: "jobs",
        dead_letter_topic: "jobs.dlq",
        lease_ms: 300,
        max_deliveries: 2,
        ordered_by_key: false,
        keys: 0,
    },
    WorkQueue {
        group: "workers",
        topic: "ordered",
        dead_letter_topic: "ordered.dlq",
        lease_ms: 300,
        max_deliveries: 3,
        ordered_by_key: true,
        keys: 3,
    },
];

impl WorkQueue {
    pub fn name(&self) -> QueueName {
        QueueName {
            group: self.group.to_string(),
            topic: self.topic.to_string(),
        }
    }

    /// What the checker needs to know of it.
    pub fn spec(&self) -> QueueSpec {
        QueueSpec {
            name: self.name(),
            dead_letter_topic: self.dead_letter_topic.to_string(),
            max_deliveries: self.max_deliveries,
            ordered_by_key: self.ordered_by_key,
        }
    }

    /// Its config, as `PUT` sets it.
    pub fn config(&self) -> PutQueueRequest {
        PutQueueRequest {
            lease_ms: Some(self.lease_ms),
            max_deliveries: Some(self.max_deliveries),
            dead_letter_topic: Some(
                TopicName::new(self.dead_letter_topic).expect("a valid dead-letter topic name"),
            ),
            ordered_by_key: self.ordered_by_key,
        }
    }
}

/// Sends one queue request through `client` and classifies the answer.
pub(super) async fn send(client: &Client, queue: &QueueName, request: &QueueRequest) -> Outcome {
    let (group, topic) = (queue.group.as_str(), queue.topic.as_str());
    match request {
        QueueRequest::Claim {
            max,
            lease_ms,
            wait_ms,
        } => {
            let request = ClaimRequest {
                max: *max,
                lease_ms: Some(*lease_ms),
                wait_ms: *wait_ms,
            };
            let answer = client.claim(group, topic, &request).await;
            classify(answer, |claimed| Outcome::Claimed {
                jobs: claimed.jobs.into_iter().map(claimed_job).collect(),
                log_index: claimed.log_index.map(|index| index.0),
            })
        }
        QueueRequest::Ack { jobs } => {
            let answer = client.ack(group, topic, &wire(jobs)).await;
            classify(answer, settled)
        }
        QueueRequest::Nack { jobs, delay_ms } => {
            let answer = client.nack(group, topic, &wire(jobs), *delay_ms).await;
            classify(answer, settled)
        }
        QueueRequest::Extend { jobs, lease_ms } => {
            let answer = client
                .extend(group, topic, &wire(jobs), Some(*lease_ms))
                .await;
            classify(answer, |extended| Outcome::Extended {
                log_index: extended.log_index.0,
                expires: extended
                    .jobs
                    .iter()
                    .map(|job| (job.offset.0, job.lease_expires_ms))
                    .collect(),
            })
        }
    }
}

/// The queue as `client`'s node shows it now (`None`: no such queue).
pub(super) async fn view(
    client: &Client,
    queue: &WorkQueue,
) -> Result<Option<QueueView>, ClientError> {
    let info: Option<QueueInfo> = client.queue(queue.group, queue.topic).await?;
    Ok(info.map(|info| QueueView {
        floor: info.floor_offset.0,
        end: info.end_offset.0,
        pending: info.pending,
        in_flight: info.in_flight,
        acked: info.acked,
        dead_lettered: info.dead_lettered,
    }))
}

fn claimed_job(job: ordo_api::Job) -> ClaimedJob {
    ClaimedJob {
        offset: job.offset.0,
        delivery: job.delivery,
        lease: job.lease.to_string(),
        lease_expires_ms: job.lease_expires_ms,
        key: job.key,
        value: job.value.parse::<String>().unwrap_or_default(),
    }
}

fn settled(done: ordo_api::JobsDone) -> Outcome {
    Outcome::Settled {
        log_index: done.log_index.0,
        dead_lettered: done.dead_lettered.iter().map(|offset| offset.0).collect(),
    }
}

/// The jobs as the wire names them.
fn wire(jobs: &[JobLease]) -> Vec<WireLease> {
    jobs.iter()
        .map(|job| WireLease {
            offset: Offset(job.offset),
            lease: job
                .lease
                .parse()
                .expect("a lease the server wrote reads back"),
        })
        .collect()
}
