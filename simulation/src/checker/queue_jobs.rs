//! What a history says about each work queue's jobs, gathered once for C14,
//! C15 and C16: every lease an answered claim handed out, and every ack,
//! nack and extend that named a job, with what its outcome proves.
//!
//! Queue commands go through the Raft log, and every answered claim, ack,
//! nack and extend carries the log index it was applied at, so answered
//! requests are totally ordered by it; a request with an unknown outcome
//! may or may not have been applied, anywhere between its invocation and
//! the end. Pure.

use std::collections::BTreeMap;

use crate::history::{ClaimedJob, History, JobLease, Op, Outcome, QueueRequest, QueueSpec};

/// One job handed out by an answered claim.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lease<'h> {
    /// The claim.
    pub op: &'h Op,
    pub job: &'h ClaimedJob,
    pub log_index: u64,
    /// The lease the claim asked for: the lease began `lease_ms` before
    /// the job's `lease_expires_ms`, at the queue's clock.
    pub lease_ms: u64,
}

impl Lease<'_> {
    /// When the lease began, at the queue's clock.
    pub fn start_ms(&self) -> u64 {
        self.job.lease_expires_ms.saturating_sub(self.lease_ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SettleKind {
    Ack,
    Nack,
    Extend,
}

impl SettleKind {
    pub fn name(self) -> &'static str {
        match self {
            SettleKind::Ack => "ack",
            SettleKind::Nack => "nack",
            SettleKind::Extend => "extend",
        }
    }
}

/// What a request's outcome proves about whether it took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Answered: it took effect at this log index.
    Applied(u64),
    /// Unknown: it may have taken effect, after its invocation.
    Maybe,
    /// Failed or refused: it took no effect.
    None,
}

/// An ack, nack or extend, as it concerns one job it named.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settle<'h> {
    pub op: &'h Op,
    pub kind: SettleKind,
    pub lease: &'h str,
    pub effect: Effect,
    /// An answered extend: the job's new expiry.
    pub expires_ms: Option<u64>,
    /// An answered nack: the job went to the dead-letter topic.
    pub dead_lettered: bool,
}

impl Settle<'_> {
    pub fn applied_at(&self) -> Option<u64> {
        match self.effect {
            Effect::Applied(index) => Some(index),
            _ => None,
        }
    }
}

/// One queue's jobs, as the history saw them.
#[derive(Debug)]
pub(super) struct QueueJobs<'h> {
    pub spec: &'h QueueSpec,
    /// offset → the leases answered claims handed out on the job, in log
    /// order.
    pub leases: BTreeMap<u64, Vec<Lease<'h>>>,
    /// offset → every ack, nack and extend that named the job, in history
    /// order.
    pub settles: BTreeMap<u64, Vec<Settle<'h>>>,
}

impl<'h> QueueJobs<'h> {
    pub fn leases_of(&self, offset: u64) -> &[Lease<'h>] {
        self.leases
            .get(&offset)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn settles_of(&self, offset: u64) -> &[Settle<'h>] {
        self.settles
            .get(&offset)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The lease on `offset` handed out as `lease`, if an answered claim did.
    pub fn lease(&self, offset: u64, lease: &str) -> Option<&Lease<'h>> {
        self.leases_of(offset).iter().find(|l| l.job.lease == lease)
    }
}

/// Every queue of the history's workload, with its jobs.
pub(super) fn queue_jobs(history: &History) -> Vec<QueueJobs<'_>> {
    history
        .queues
        .iter()
        .map(|spec| {
            let mut jobs = QueueJobs {
                spec,
                leases: BTreeMap::new(),
                settles: BTreeMap::new(),
            };
            for (op, _, request) in history
                .queue_ops()
                .filter(|(_, queue, _)| **queue == spec.name)
            {
                gather(&mut jobs, op, request);
            }
            for leases in jobs.leases.values_mut() {
                leases.sort_by_key(|lease| lease.log_index);
            }
            jobs
        })
        .collect()
}

fn gather<'h>(jobs: &mut QueueJobs<'h>, op: &'h Op, request: &'h QueueRequest) {
    let kind = match request {
        QueueRequest::Claim { lease_ms, .. } => {
            // A claim that handed out jobs proposed, so it names its entry.
            if let Outcome::Claimed {
                jobs: claimed,
                log_index: Some(log_index),
            } = &op.outcome
            {
                for job in claimed {
                    jobs.leases.entry(job.offset).or_default().push(Lease {
                        op,
                        job,
                        log_index: *log_index,
                        lease_ms: *lease_ms,
                    });
                }
            }
            return;
        }
        QueueRequest::Ack { .. } => SettleKind::Ack,
        QueueRequest::Nack { .. } => SettleKind::Nack,
        QueueRequest::Extend { .. } => SettleKind::Extend,
    };
    let effect = match (&op.outcome, op.outcome.log_index()) {
        (_, Some(index)) => Effect::Applied(index),
        (Outcome::Unknown { .. }, _) => Effect::Maybe,
        _ => Effect::None,
    };
    for JobLease { offset, lease } in request.named() {
        let (expires_ms, dead_lettered) = match &op.outcome {
            Outcome::Extended { expires, .. } => (
                expires.iter().find(|(o, _)| o == offset).map(|(_, e)| *e),
                false,
            ),
            Outcome::Settled { dead_lettered, .. } => (None, dead_lettered.contains(offset)),
            _ => (None, false),
        };
        jobs.settles.entry(*offset).or_default().push(Settle {
            op,
            kind,
            lease,
            effect,
            expires_ms,
            dead_lettered,
        });
    }
}
