//! Hand-made histories for the checker's tests (compiled only for tests):
//! [`HistoryBuilder`] adds one event at a time, and `Outcome`'s shorthands
//! say what the server answered.

use std::ops::Range;
use std::time::Duration;

use super::{
    ClaimedJob, Consistency, Current, FaultEvent, FaultKind, History, JobLease, LivenessCheck,
    NodeId, Op, OpKind, Outcome, QueueName, QueueRequest, QueueSpec, QueueView, StorageFailure,
    StorageStage,
};

/// The group of every queue a test makes.
pub const TEST_GROUP: &str = "g";

impl Outcome {
    pub fn ack(offsets: &[u64], log_index: u64) -> Outcome {
        Outcome::AppendOk {
            offsets: offsets.to_vec(),
            log_index,
            duplicate: false,
        }
    }

    /// A producer retry's acknowledgement: the original's offsets and log index.
    pub fn duplicate(offsets: &[u64], log_index: u64) -> Outcome {
        Outcome::AppendOk {
            offsets: offsets.to_vec(),
            log_index,
            duplicate: true,
        }
    }

    pub fn rejected(code: &str, current: Current) -> Outcome {
        Outcome::Rejected {
            code: code.to_string(),
            current,
        }
    }

    pub fn read_ok(records: &[(u64, &str)], end_offset: u64) -> Outcome {
        Outcome::ReadOk {
            records: records.iter().map(|(o, v)| (*o, v.to_string())).collect(),
            end_offset,
        }
    }

    pub fn failed(reason: &str) -> Outcome {
        Outcome::Failed {
            reason: reason.to_string(),
        }
    }

    pub fn unknown(reason: &str) -> Outcome {
        Outcome::Unknown {
            reason: reason.to_string(),
        }
    }

    /// A claim's answer, handing out `jobs` at `log_index`.
    pub fn claimed(jobs: &[ClaimedJob], log_index: u64) -> Outcome {
        Outcome::Claimed {
            jobs: jobs.to_vec(),
            log_index: Some(log_index),
        }
    }

    /// An ack's or nack's answer; `dead_lettered`: the nacked jobs that
    /// went to the dead-letter topic.
    pub fn settled(log_index: u64, dead_lettered: &[u64]) -> Outcome {
        Outcome::Settled {
            log_index,
            dead_lettered: dead_lettered.to_vec(),
        }
    }

    /// An extend's answer: each job's new expiry.
    pub fn extended(log_index: u64, expires: &[(u64, u64)]) -> Outcome {
        Outcome::Extended {
            log_index,
            expires: expires.to_vec(),
        }
    }

    /// A `409 lease_lost` naming `offsets`.
    pub fn lease_lost(offsets: &[u64]) -> Outcome {
        Outcome::rejected(
            "lease_lost",
            Current::Other(format!("{{\"offsets\":{offsets:?}}}")),
        )
    }
}

impl ClaimedJob {
    /// A job handed out under `lease` until `expires_ms`, without a key.
    pub fn new(offset: u64, delivery: u32, lease: &str, expires_ms: u64, value: &str) -> Self {
        ClaimedJob {
            offset,
            delivery,
            lease: lease.to_string(),
            lease_expires_ms: expires_ms,
            key: None,
            value: value.to_string(),
        }
    }

    pub fn keyed(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }
}

impl QueueRequest {
    pub fn claim(lease_ms: u64) -> QueueRequest {
        QueueRequest::Claim {
            max: 10,
            lease_ms,
            wait_ms: 0,
        }
    }

    /// `jobs`: (offset, lease).
    pub fn ack(jobs: &[(u64, &str)]) -> QueueRequest {
        QueueRequest::Ack { jobs: leases(jobs) }
    }

    pub fn nack(jobs: &[(u64, &str)]) -> QueueRequest {
        QueueRequest::Nack {
            jobs: leases(jobs),
            delay_ms: 0,
        }
    }

    pub fn extend(jobs: &[(u64, &str)], lease_ms: u64) -> QueueRequest {
        QueueRequest::Extend {
            jobs: leases(jobs),
            lease_ms,
        }
    }
}

fn leases(jobs: &[(u64, &str)]) -> Vec<JobLease> {
    jobs.iter()
        .map(|(offset, lease)| JobLease {
            offset: *offset,
            lease: lease.to_string(),
        })
        .collect()
}

/// The queue of `TEST_GROUP` over `topic`.
pub fn queue_name(topic: &str) -> QueueName {
    QueueName {
        group: TEST_GROUP.to_string(),
        topic: topic.to_string(),
    }
}

/// Builds a history one event at a time; op ids are assigned 1, 2, 3, … in
/// the order ops are added, and each adder returns the id it assigned.
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    history: History,
}

impl HistoryBuilder {
    pub fn new() -> HistoryBuilder {
        HistoryBuilder::default()
    }

    pub fn append(
        &mut self,
        client: u32,
        node: NodeId,
        span: Range<Duration>,
        topic: &str,
        values: &[&str],
        outcome: Outcome,
    ) -> u64 {
        let kind = OpKind::Append {
            topic: topic.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
            key: None,
            producer: None,
            key_absent: false,
        };
        self.op(client, node, span, kind, outcome)
    }

    /// A claim: one record `value` with `key`, sent with `key_absent`.
    #[allow(clippy::too_many_arguments)]
    pub fn claim(
        &mut self,
        client: u32,
        node: NodeId,
        span: Range<Duration>,
        topic: &str,
        key: &str,
        value: &str,
        outcome: Outcome,
    ) -> u64 {
        let kind = one_keyed(topic, key, value, true);
        self.op(client, node, span, kind, outcome)
    }

    /// One record `value` with `key`, unconditional (a write to a
    /// compacted topic).
    #[allow(clippy::too_many_arguments)]
    pub fn keyed(
        &mut self,
        client: u32,
        node: NodeId,
        span: Range<Duration>,
        topic: &str,
        key: &str,
        value: &str,
        outcome: Outcome,
    ) -> u64 {
        let kind = one_keyed(topic, key, value, false);
        self.op(client, node, span, kind, outcome)
    }

    /// Marks `topic` as compacted; `at_end`: a final pass was acknowledged.
    pub fn compacted(&mut self, topic: &str, at_end: bool) -> &mut Self {
        self.history.compacted_topics.insert(topic.to_string());
        self.history.compacted_at_end = at_end;
        self
    }

    /// One attempt of producer `id`'s append number `seq`.
    #[allow(clippy::too_many_arguments)]
    pub fn produce(
        &mut self,
        client: u32,
        node: NodeId,
        span: Range<Duration>,
        topic: &str,
        (id, seq): (&str, u64),
        values: &[&str],
        outcome: Outcome,
    ) -> u64 {
        let kind = OpKind::Append {
            topic: topic.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
            key: None,
            producer: Some((id.to_string(), seq)),
            key_absent: false,
        };
        self.op(client, node, span, kind, outcome)
    }

    pub fn read_linearizable(
        &mut self,
        client: u32,
        node: NodeId,
        span: Range<Duration>,
        topic: &str,
        from: u64,
        outcome: Outcome,
    ) -> u64 {
        let kind = read(topic, from, Consistency::Linearizable);
        self.op(client, node, span, kind, outcome)
    }

    pub fn read_local(
        &mut self,
        client: u32,
        node: NodeId,
        span: Range<Duration>,
        topic: &str,
        from: u64,
        outcome: Outcome,
    ) -> u64 {
        let kind = read(topic, from, Consistency::Local);
        self.op(client, node, span, kind, outcome)
    }

    pub fn op(
        &mut self,
        client: u32,
        node: NodeId,
        span: Range<Duration>,
        kind: OpKind,
        outcome: Outcome,
    ) -> u64 {
        let id = self.history.ops.len() as u64 + 1;
        self.history.ops.push(Op {
            id,
            client,
            node,
            invoked_at: span.start,
            completed_at: span.end,
            kind,
            outcome,
        });
        id
    }

    /// Declares the queue of `TEST_GROUP` over `topic`, dead-lettering to
    /// `<topic>.dlq`.
    pub fn queue(&mut self, topic: &str, max_deliveries: u32, ordered_by_key: bool) -> &mut Self {
        self.history.queues.push(QueueSpec {
            name: queue_name(topic),
            dead_letter_topic: format!("{topic}.dlq"),
            max_deliveries,
            ordered_by_key,
        });
        self
    }

    /// A request to the queue over `topic`.
    pub fn job_request(
        &mut self,
        client: u32,
        span: Range<Duration>,
        topic: &str,
        request: QueueRequest,
        outcome: Outcome,
    ) -> u64 {
        let kind = OpKind::Queue {
            queue: queue_name(topic),
            request,
        };
        self.op(client, 1, span, kind, outcome)
    }

    /// How `node` showed the queue over `topic` at the end.
    pub fn final_queue(&mut self, node: NodeId, topic: &str, view: QueueView) -> &mut Self {
        self.history
            .final_queues
            .entry(node)
            .or_default()
            .insert(queue_name(topic), view);
        self
    }

    pub fn fault(&mut self, at: Duration, kind: FaultKind) -> &mut Self {
        self.history.faults.push(FaultEvent { at, kind });
        self
    }

    pub fn crash(&mut self, at: Duration, node: NodeId) -> &mut Self {
        self.fault(at, FaultKind::Crash(node))
    }

    pub fn restart(&mut self, at: Duration, node: NodeId) -> &mut Self {
        self.fault(at, FaultKind::Restart(node))
    }

    /// Sets `node`'s final log of `topic`.
    pub fn final_log(&mut self, node: NodeId, topic: &str, records: &[(u64, &str)]) -> &mut Self {
        let records = records.iter().map(|(o, v)| (*o, v.to_string())).collect();
        self.history
            .final_logs
            .entry(node)
            .or_default()
            .insert(topic.to_string(), records);
        self
    }

    /// Records that `node`'s storage failed at `at`.
    pub fn storage_failure(
        &mut self,
        at: Duration,
        node: NodeId,
        stage: StorageStage,
        error: &str,
    ) -> &mut Self {
        self.history.storage_failures.push(StorageFailure {
            at,
            node,
            stage,
            error: error.to_string(),
            injected: Vec::new(),
        });
        self
    }

    /// Notes that `injected` was one of the I/O errors injected into the
    /// disk of the last storage failure's node before it.
    pub fn after_injected(&mut self, injected: &str) -> &mut Self {
        if let Some(failure) = self.history.storage_failures.last_mut() {
            failure.injected.push(injected.to_string());
        }
        self
    }

    pub fn liveness(
        &mut self,
        healed_at: Duration,
        first_success_at: Option<Duration>,
        bound: Duration,
    ) -> &mut Self {
        self.history.liveness = Some(LivenessCheck {
            healed_at,
            first_success_at,
            bound,
        });
        self
    }

    pub fn build(self) -> History {
        self.history
    }
}

/// An append of one record `value` with `key`.
fn one_keyed(topic: &str, key: &str, value: &str, key_absent: bool) -> OpKind {
    OpKind::Append {
        topic: topic.to_string(),
        values: vec![value.to_string()],
        key: Some(key.to_string()),
        producer: None,
        key_absent,
    }
}

fn read(topic: &str, from: u64, consistency: Consistency) -> OpKind {
    OpKind::Read {
        topic: topic.to_string(),
        from,
        consistency,
    }
}
