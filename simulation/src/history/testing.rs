//! Hand-made histories for the checker's tests (compiled only for tests):
//! [`HistoryBuilder`] adds one event at a time, and `Outcome`'s shorthands
//! say what the server answered.

use std::ops::Range;
use std::time::Duration;

use super::{
    Consistency, Current, FaultEvent, FaultKind, History, LivenessCheck, NodeId, Op, OpKind,
    Outcome, StorageFailure, StorageStage,
};

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
