//! The history of one simulation run, as plain data: every client operation
//! with its invocation and completion time and what the server answered, the
//! faults that were injected, and each node's final log.
//!
//! Pure: no I/O, no runtime, no randomness. Everything is ordered (`Vec`,
//! `BTreeMap`) so the same run always prints the same history. The harness
//! records into these types; the checker (`crate::checker`) only reads them.
//! The checker's tests write hand-made histories with `testing`'s
//! `HistoryBuilder`, which only tests compile.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

pub use ordo_core::NodeId;

mod queue_ops;
#[cfg(test)]
mod testing;
pub use queue_ops::{ClaimedJob, JobLease, QueueName, QueueRequest, QueueSpec, QueueView};
#[cfg(test)]
pub(crate) use testing::HistoryBuilder;

/// A topic's records as one node holds them at the end of the run:
/// `(offset, value)` in the order the node returned them.
pub type TopicLog = Vec<(u64, String)>;

/// Everything observed in one run. Times are simulated time since its start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub ops: Vec<Op>,
    pub faults: Vec<FaultEvent>,
    /// node → topic → records, read from each node after the run settled.
    /// Empty when the harness could not read them (then C3 and C9 check nothing).
    pub final_logs: BTreeMap<NodeId, BTreeMap<String, TopicLog>>,
    pub liveness: Option<LivenessCheck>,
    /// Topics with cleanup `compact`: compaction removes superseded records
    /// from them, so their logs have gaps (C5) and may lack an acknowledged
    /// record whose key was written again (C3); C12 checks them instead.
    pub compacted_topics: BTreeSet<String>,
    /// A compaction pass of every compacted topic was acknowledged after the
    /// last workload append, before the final logs were read: then each
    /// key has exactly one record left in them.
    pub compacted_at_end: bool,
    /// Every time a node's storage failed, in the order the harness saw it.
    pub storage_failures: Vec<StorageFailure>,
    /// The work queues the workload runs.
    pub queues: Vec<QueueSpec>,
    /// node → queue → the queue as the node showed it after the final
    /// drain (a node or queue the harness could not read is absent).
    pub final_queues: BTreeMap<NodeId, BTreeMap<QueueName, QueueView>>,
}

/// One client request, from the moment it was sent to the moment the client
/// stopped waiting for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// Unique within a history; violations name operations by it.
    pub id: u64,
    pub client: u32,
    /// The node the request was sent to (it may have forwarded it).
    pub node: NodeId,
    pub invoked_at: Duration,
    pub completed_at: Duration,
    pub kind: OpKind,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// Values are unique per logical record across the run; a retry of the same
    /// records (same producer id and seq) is a new op carrying the same values.
    Append {
        topic: String,
        values: Vec<String>,
        /// The key every record of the append carries, if any.
        key: Option<String>,
        /// An idempotent producer's `(id, seq)`: every attempt of one seq
        /// carries the same topic and values.
        producer: Option<(String, u64)>,
        /// Sent with `"condition": {"key_absent": true}` (a claim of `key`).
        key_absent: bool,
    },
    Read {
        topic: String,
        from: u64,
        consistency: Consistency,
    },
    /// A claim, ack, nack or extend of a queue's jobs.
    Queue {
        queue: QueueName,
        request: QueueRequest,
    },
}

/// How fresh a read must be: the API's own levels.
pub use ordo_api::Consistency;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The append was acknowledged: `offsets[i]` holds `values[i]`.
    /// `duplicate`: a producer's retry, answered with the original's offsets
    /// and log index (nothing was appended by this attempt).
    AppendOk {
        offsets: Vec<u64>,
        log_index: u64,
        duplicate: bool,
    },
    ReadOk {
        records: Vec<(u64, String)>,
        end_offset: u64,
    },
    /// The server promised nothing happened (a 4xx, or a 503).
    Failed { reason: String },
    /// A 409 refusal of an append or a queue request (nothing happened, like
    /// `Failed`), with the error's `code` and what its `current` says.
    Rejected { code: String, current: Current },
    /// It may or may not have happened (timeout, 504, connection lost).
    Unknown { reason: String },
    /// A claim answered with the jobs it handed out (none if nothing was
    /// ready by its wait), and the log index of its command (`None` when
    /// the long-poll ended with nothing proposed since the last empty claim).
    Claimed {
        jobs: Vec<ClaimedJob>,
        log_index: Option<u64>,
    },
    /// An ack or nack applied at `log_index`; `dead_lettered`: the nacked
    /// jobs that were on their last delivery.
    Settled {
        log_index: u64,
        dead_lettered: Vec<u64>,
    },
    /// An extend applied at `log_index`: each job's new expiry.
    Extended {
        log_index: u64,
        expires: Vec<(u64, u64)>,
    },
}

/// The `current` of a 409 refusal (a queue's `lease_lost` is `Other`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// `condition_failed`: the key's latest record is at this offset (`None`: it has none).
    KeyLastOffset(Option<u64>),
    /// `sequence_out_of_order`: the producer's next seq must be this one.
    ExpectedSeq(u64),
    /// `sequence_out_of_order`: the producer's last applied seq (and, when that
    /// seq went to another topic, the topic).
    LastSeq { seq: u64, topic: Option<String> },
    /// Anything else, as the server sent it.
    Other(String),
}

impl Outcome {
    /// Did the server promise that nothing was appended?
    pub fn nothing_appended(&self) -> bool {
        matches!(self, Outcome::Failed { .. } | Outcome::Rejected { .. })
    }

    /// The log index a queue request was applied at, if its answer says.
    pub fn log_index(&self) -> Option<u64> {
        match self {
            Outcome::Claimed { log_index, .. } => *log_index,
            Outcome::Settled { log_index, .. } | Outcome::Extended { log_index, .. } => {
                Some(*log_index)
            }
            _ => None,
        }
    }

    /// The body of an internal-error answer (HTTP 500), which ordo gives
    /// only when it fails itself (its store reports corrupt data, its Raft
    /// core stopped), never for a fault it was built to survive (those are
    /// 503 or 504). The workload records the answer's status first in the
    /// reason: a 500 to a read is `Failed`, to an append `Unknown`.
    pub fn internal_error(&self) -> Option<&str> {
        match self {
            Outcome::Failed { reason } | Outcome::Unknown { reason } => reason.strip_prefix("500 "),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultEvent {
    pub at: Duration,
    pub kind: FaultKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The node's process stopped; unflushed state is gone.
    Crash(NodeId),
    /// The node's process started again from its data directory.
    Restart(NodeId),
    /// Every link between a node in `a` and a node in `b` is cut.
    Partition { a: Vec<NodeId>, b: Vec<NodeId> },
    /// Every cut link is restored.
    Heal,
    /// Any other fault the harness injects, described for the report.
    Other { description: String },
}

/// A node's storage failing, as the harness saw it. The simulated disk fails
/// an I/O only where the schedule injects an error, and a crash loses only
/// what was not yet synced, so a correct store fails only after an injected
/// error (C13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFailure {
    pub at: Duration,
    pub node: NodeId,
    pub stage: StorageStage,
    /// The error, as the node reported it.
    pub error: String,
    /// The injected I/O errors its disk returned to this life of the node
    /// (since its store was opened) before the failure, described.
    pub injected: Vec<String>,
}

/// What the node was doing when its storage failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageStage {
    /// Opening its store on its disk, at a start or restart.
    Open,
    /// Starting Raft on the store it opened (which reads the log and the
    /// state machine back, and applies committed entries).
    Start,
    /// Running: its Raft core stopped on a storage error.
    Running,
}

impl fmt::Display for StorageStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageStage::Open => "its store failed to open",
            StorageStage::Start => "it failed to start on its store",
            StorageStage::Running => "its Raft core stopped on a storage error",
        })
    }
}

/// The liveness probe: after the last fault healed, how soon did an append succeed?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivenessCheck {
    pub healed_at: Duration,
    pub first_success_at: Option<Duration>,
    pub bound: Duration,
}

/// An acknowledged append, unpacked.
#[derive(Debug, Clone, Copy)]
pub struct AckedAppend<'h> {
    pub op: &'h Op,
    pub topic: &'h str,
    pub values: &'h [String],
    pub offsets: &'h [u64],
}

/// A successful read, unpacked.
#[derive(Debug, Clone, Copy)]
pub struct SuccessfulRead<'h> {
    pub op: &'h Op,
    pub topic: &'h str,
    pub from: u64,
    pub consistency: Consistency,
    pub records: &'h [(u64, String)],
    pub end_offset: u64,
}

impl History {
    /// Appends the server acknowledged, in history order.
    pub fn acked_appends(&self) -> impl Iterator<Item = AckedAppend<'_>> {
        self.ops
            .iter()
            .filter_map(|op| match (&op.kind, &op.outcome) {
                (OpKind::Append { topic, values, .. }, Outcome::AppendOk { offsets, .. }) => {
                    Some(AckedAppend {
                        op,
                        topic,
                        values,
                        offsets,
                    })
                }
                _ => None,
            })
    }

    /// Reads that returned records, in history order. Failed and unknown reads
    /// promise nothing, so no check looks at them.
    pub fn successful_reads(&self) -> impl Iterator<Item = SuccessfulRead<'_>> {
        self.ops
            .iter()
            .filter_map(|op| match (&op.kind, &op.outcome) {
                (
                    OpKind::Read {
                        topic,
                        from,
                        consistency,
                    },
                    Outcome::ReadOk {
                        records,
                        end_offset,
                    },
                ) => Some(SuccessfulRead {
                    op,
                    topic,
                    from: *from,
                    consistency: *consistency,
                    records,
                    end_offset: *end_offset,
                }),
                _ => None,
            })
    }

    /// The key each value was sent with, over every append sent (whatever
    /// its outcome: an unknown one may be in the log).
    pub fn keys_of_values(&self) -> BTreeMap<&str, &str> {
        self.ops
            .iter()
            .filter_map(|op| match &op.kind {
                OpKind::Append {
                    values,
                    key: Some(key),
                    ..
                } => Some(values.iter().map(move |v| (v.as_str(), key.as_str()))),
                _ => None,
            })
            .flatten()
            .collect()
    }

    pub fn is_compacted(&self, topic: &str) -> bool {
        self.compacted_topics.contains(topic)
    }

    /// The topic whose jobs `topic` holds the dead letters of, if it is a
    /// queue's dead-letter topic.
    pub fn dead_letters_of(&self, topic: &str) -> Option<&str> {
        self.queues
            .iter()
            .find(|queue| queue.dead_letter_topic == topic)
            .map(|queue| queue.name.topic.as_str())
    }

    /// Every queue request with its queue, in history order.
    pub fn queue_ops(&self) -> impl Iterator<Item = (&Op, &QueueName, &QueueRequest)> {
        self.ops.iter().filter_map(|op| match &op.kind {
            OpKind::Queue { queue, request } => Some((op, queue, request)),
            _ => None,
        })
    }

    /// Did `node` crash or restart at any time in `from..=to`? Either may have
    /// thrown away applied state that was not yet flushed.
    pub fn crashed_or_restarted_between(&self, node: NodeId, from: Duration, to: Duration) -> bool {
        self.faults.iter().any(|fault| {
            (from..=to).contains(&fault.at)
                && matches!(fault.kind, FaultKind::Crash(n) | FaultKind::Restart(n) if n == node)
        })
    }
}

/// One line per op, e.g.
/// `op 7: client 2 → node 3, 1.200s..1.350s, append "t" ["a", "b"] → ok offsets [4, 5] log_index 17`.
impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "op {}: client {} → node {}, {:.3}s..{:.3}s, ",
            self.id,
            self.client,
            self.node,
            self.invoked_at.as_secs_f64(),
            self.completed_at.as_secs_f64()
        )?;
        match &self.kind {
            OpKind::Append {
                topic,
                values,
                key,
                producer,
                key_absent,
            } => {
                write!(f, "append {topic:?} {values:?}")?;
                if let Some(key) = key {
                    write!(f, " key {key:?}")?;
                }
                if let Some((id, seq)) = producer {
                    write!(f, " producer {id:?} seq {seq}")?;
                }
                if *key_absent {
                    write!(f, " if key absent")?;
                }
            }
            OpKind::Read {
                topic,
                from,
                consistency,
            } => write!(f, "read {consistency:?} {topic:?} from {from}")?,
            OpKind::Queue { queue, request } => write!(f, "{queue} {request}")?,
        }
        match &self.outcome {
            Outcome::AppendOk {
                offsets,
                log_index,
                duplicate,
            } => {
                write!(f, " → ok offsets {offsets:?} log_index {log_index}")?;
                if *duplicate {
                    write!(f, " (duplicate)")?;
                }
                Ok(())
            }
            Outcome::ReadOk {
                records,
                end_offset,
            } => write!(f, " → ok records {records:?} end_offset {end_offset}"),
            Outcome::Failed { reason } => write!(f, " → failed ({reason})"),
            Outcome::Rejected { code, current } => {
                write!(f, " → rejected ({code}, current {current:?})")
            }
            Outcome::Unknown { reason } => write!(f, " → unknown ({reason})"),
            Outcome::Claimed { jobs, log_index } => {
                let jobs: Vec<String> = jobs.iter().map(ToString::to_string).collect();
                write!(f, " → ok jobs [{}]", jobs.join(", "))?;
                match log_index {
                    Some(index) => write!(f, " log_index {index}"),
                    None => Ok(()),
                }
            }
            Outcome::Settled {
                log_index,
                dead_lettered,
            } => {
                write!(f, " → ok log_index {log_index}")?;
                if !dead_lettered.is_empty() {
                    write!(f, " dead-lettered {dead_lettered:?}")?;
                }
                Ok(())
            }
            Outcome::Extended { log_index, expires } => {
                write!(f, " → ok until {expires:?} log_index {log_index}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn restart_inside_the_window_is_seen_and_outside_is_not() {
        let mut h = HistoryBuilder::new();
        h.crash(ms(100), 2).restart(ms(200), 2);
        let history = h.build();
        assert!(history.crashed_or_restarted_between(2, ms(50), ms(150)));
        assert!(history.crashed_or_restarted_between(2, ms(200), ms(300)));
        assert!(!history.crashed_or_restarted_between(2, ms(201), ms(300)));
        assert!(!history.crashed_or_restarted_between(1, ms(0), ms(300)));
    }

    #[test]
    fn builder_numbers_ops_in_order_and_display_names_them_in_full() {
        let mut h = HistoryBuilder::new();
        let a = h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 3));
        let r = h.read_local(2, 3, ms(20)..ms(30), "t", 0, Outcome::unknown("timeout"));
        let history = h.build();
        assert_eq!((a, r), (1, 2));
        assert_eq!(history.acked_appends().count(), 1);
        assert_eq!(history.successful_reads().count(), 0);
        assert_eq!(
            history.ops[0].to_string(),
            "op 1: client 1 → node 1, 0.000s..0.010s, append \"t\" [\"a\"] → ok offsets [0] log_index 3"
        );
        assert_eq!(
            history.ops[1].to_string(),
            "op 2: client 2 → node 3, 0.020s..0.030s, read Local \"t\" from 0 → unknown (timeout)"
        );
    }
}
