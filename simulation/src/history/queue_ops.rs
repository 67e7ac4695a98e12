//! A history's work-queue part, as plain data: the queues the workload runs,
//! a worker's claim, ack, nack or extend of their jobs, and each queue as
//! every node showed it at the end.
//!
//! Pure, like the rest of `history`.

use std::fmt;

/// A queue: the consumer group that takes a topic's records as jobs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueueName {
    pub group: String,
    pub topic: String,
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.group, self.topic)
    }
}

/// A queue the workload runs, with what the checker needs of its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: QueueName,
    /// Written only by this queue: every record in it is a dead letter of
    /// one of its jobs (the value is the job's own).
    pub dead_letter_topic: String,
    pub max_deliveries: u32,
    pub ordered_by_key: bool,
}

/// One request to a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueRequest {
    /// Up to `max` jobs, each under a lease of `lease_ms`, long-polling up
    /// to `wait_ms` when none is ready.
    Claim {
        max: u32,
        lease_ms: u64,
        wait_ms: u64,
    },
    Ack {
        jobs: Vec<JobLease>,
    },
    Nack {
        jobs: Vec<JobLease>,
        delay_ms: u64,
    },
    Extend {
        jobs: Vec<JobLease>,
        lease_ms: u64,
    },
}

impl QueueRequest {
    /// The jobs an ack, nack or extend names (none for a claim).
    pub fn named(&self) -> &[JobLease] {
        match self {
            QueueRequest::Claim { .. } => &[],
            QueueRequest::Ack { jobs }
            | QueueRequest::Nack { jobs, .. }
            | QueueRequest::Extend { jobs, .. } => jobs,
        }
    }
}

/// A job as an ack, nack or extend names it: its offset and the lease it was
/// handed out under (opaque, as the server wrote it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct JobLease {
    pub offset: u64,
    pub lease: String,
}

/// One job a claim handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub offset: u64,
    /// 1 for the job's first delivery.
    pub delivery: u32,
    pub lease: String,
    /// When the lease ends unless extended, by the queue's clock (the
    /// leader's stamp, ms since the epoch): it began `lease_ms` before.
    pub lease_expires_ms: u64,
    pub key: Option<String>,
    pub value: String,
}

impl ClaimedJob {
    pub fn held(&self) -> JobLease {
        JobLease {
            offset: self.offset,
            lease: self.lease.clone(),
        }
    }
}

/// A queue as one node's `GET` (local) showed it after the final drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueView {
    pub floor: u64,
    pub end: u64,
    pub pending: u64,
    pub in_flight: u64,
    pub acked: u64,
    pub dead_lettered: u64,
}

impl fmt::Display for QueueView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "floor {} end {} pending {} in flight {} acked {} dead-lettered {}",
            self.floor, self.end, self.pending, self.in_flight, self.acked, self.dead_lettered
        )
    }
}

impl fmt::Display for QueueRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let jobs = |jobs: &[JobLease]| {
            jobs.iter()
                .map(|job| format!("{} ({})", job.offset, job.lease))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            QueueRequest::Claim {
                max,
                lease_ms,
                wait_ms,
            } => write!(f, "claim max {max} lease {lease_ms} ms wait {wait_ms} ms"),
            QueueRequest::Ack { jobs: named } => write!(f, "ack [{}]", jobs(named)),
            QueueRequest::Nack {
                jobs: named,
                delay_ms,
            } => write!(f, "nack [{}] delay {delay_ms} ms", jobs(named)),
            QueueRequest::Extend {
                jobs: named,
                lease_ms,
            } => write!(f, "extend [{}] lease {lease_ms} ms", jobs(named)),
        }
    }
}

impl fmt::Display for ClaimedJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} (delivery {}, {}, until {}",
            self.offset, self.value, self.delivery, self.lease, self.lease_expires_ms
        )?;
        if let Some(key) = &self.key {
            write!(f, ", key {key:?}")?;
        }
        f.write_str(")")
    }
}
