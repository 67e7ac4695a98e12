//! `Command`: what travels in the Raft log; `CommandResult`: what applying it
//! answers. Both must be deterministic data: every replica applies the same
//! commands to the same state and gets the same results.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::sync::Arc;

use crate::condition::Condition;
use crate::consumer::GroupName;
use crate::ids::{LogIndex, Offset};
use crate::producer::Producer;
use crate::queue::{Claimed, DeadLettered, LeaseId, QueueConfig};
use crate::record::NewRecord;
use crate::rejection::Rejection;
use crate::topic::TopicName;
use crate::topic_config::TopicConfig;

/// A change to the replicated state. The leader stamps the time, so replicas
/// never consult their own clocks while applying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Append `records` to `topic`, atomically and contiguously, in order,
    /// unless the producer's sequence or the condition says otherwise.
    Append {
        topic: TopicName,
        /// Shared, because the log copies an entry several times (to
        /// replicate it, to apply it, to retry a proposal): each copy then
        /// costs one reference count, not one per record.
        records: Arc<[NewRecord]>,
        timestamp_ms: u64,
        /// Makes the append idempotent: see `producer`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        producer: Option<Producer>,
        /// Makes the append conditional: see `condition`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        condition: Option<Condition>,
    },
    /// Set `group`'s position in `topic` (the next offset it will read).
    CommitOffset {
        group: GroupName,
        topic: TopicName,
        offset: Offset,
        /// Compare-and-set: `None` sets unconditionally; `Some(None)` only if
        /// the group has no position in the topic yet; `Some(Some(o))` only if
        /// its position is `o`. In JSON: field absent, `null`, or `o`.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present_field"
        )]
        expected: Option<Option<Offset>>,
    },
    /// Create `topic` with `config`, or change an existing topic's config.
    PutTopic {
        topic: TopicName,
        config: TopicConfig,
    },
    /// Delete `topic`: its records, key index and consumer positions.
    DeleteTopic { topic: TopicName },
    /// One compaction or retention pass over `topic` (see `cleanup`), as of
    /// the leader's clock `timestamp_ms`.
    CleanTopic { topic: TopicName, timestamp_ms: u64 },
    /// A work queue's change (see `queue`): made, configured, deleted, or
    /// its jobs claimed, acked, nacked or extended, as of the leader's
    /// clock `timestamp_ms`.
    Queue(QueueCommand),
    /// Changes nothing: its log index, which is never reused, is a number
    /// unique for the cluster's life (a Kafka producer id).
    NewProducerId,
}

/// One queue command: what `op` does to the queue `group` keeps over
/// `topic`, at `timestamp_ms` (the leader's clock, the only one leases are
/// measured by).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCommand {
    pub group: GroupName,
    pub topic: TopicName,
    pub timestamp_ms: u64,
    pub op: QueueOp,
}

/// What a queue command does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOp {
    /// Make the queue, or set an existing one's config (its jobs stay).
    Put { config: QueueConfig },
    /// Forget the queue and where its jobs stand.
    Delete,
    /// Expire the leases that are due, then hand out up to `max` jobs,
    /// each for `lease_ms` (the queue's own if `None`).
    Claim { max: u32, lease_ms: Option<u64> },
    /// The jobs are done. All or nothing.
    Ack { jobs: Vec<HeldJob> },
    /// The jobs go back, to go again after `delay_ms`. All or nothing.
    Nack { jobs: Vec<HeldJob>, delay_ms: u64 },
    /// The jobs stay held, `lease_ms` from now (the queue's own if
    /// `None`). All or nothing.
    Extend {
        jobs: Vec<HeldJob>,
        lease_ms: Option<u64>,
    },
}

/// A job named by the delivery that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldJob {
    pub offset: Offset,
    pub lease: LeaseId,
}

/// A present field, even `null`, is `Some`; `default` makes an absent one `None`.
pub fn present_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Offset>>, D::Error> {
    Option::<Offset>::deserialize(d).map(Some)
}

/// The outcome of applying one `Command` at one log index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// The records are at offsets `first_offset ..= first_offset + count - 1`.
    /// With `duplicate`, the command was a producer's retry: nothing was
    /// appended, and `log_index` is that of the original append.
    Appended {
        first_offset: Offset,
        count: u64,
        log_index: LogIndex,
        duplicate: bool,
    },
    /// The group's position was set.
    OffsetCommitted { log_index: LogIndex },
    /// The topic was created or its config set.
    TopicPut { log_index: LogIndex },
    /// The topic is gone; its records were at `start_offset..end_offset`.
    TopicDeleted {
        log_index: LogIndex,
        start_offset: Offset,
        end_offset: Offset,
    },
    /// A cleanup pass removed `removed_records` records (`removed_bytes` by
    /// `record_size`); the topic's records now start at `start_offset`.
    TopicCleaned {
        log_index: LogIndex,
        start_offset: Offset,
        removed_records: u64,
        removed_bytes: u64,
    },
    /// A queue command was applied: what it decided.
    Queue {
        log_index: LogIndex,
        answer: QueueAnswer,
    },
    /// The command was refused and changed nothing (but used up its index).
    Rejected {
        log_index: LogIndex,
        rejection: Rejection,
    },
    /// Applied something that carries no result (membership, blank entries).
    Noop { log_index: LogIndex },
}

impl CommandResult {
    pub fn log_index(&self) -> LogIndex {
        match self {
            CommandResult::Appended { log_index, .. }
            | CommandResult::OffsetCommitted { log_index }
            | CommandResult::TopicPut { log_index }
            | CommandResult::TopicDeleted { log_index, .. }
            | CommandResult::TopicCleaned { log_index, .. }
            | CommandResult::Queue { log_index, .. }
            | CommandResult::Rejected { log_index, .. }
            | CommandResult::Noop { log_index } => *log_index,
        }
    }

    /// The offsets an `Appended` result names, in order; none otherwise.
    pub fn offsets(&self) -> Vec<Offset> {
        match self {
            CommandResult::Appended {
                first_offset,
                count,
                ..
            } => (first_offset.0..first_offset.0 + count)
                .map(Offset)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Why the command was refused, if it was.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            CommandResult::Rejected { rejection, .. } => Some(rejection),
            _ => None,
        }
    }
}

/// What a queue command decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueAnswer {
    /// Made or configured.
    Put,
    Deleted,
    /// The jobs handed out, and those whose expired lease was their last
    /// delivery (dead-lettered by this command).
    Claimed {
        jobs: Vec<Claimed>,
        dead_lettered: Vec<DeadLettered>,
    },
    Acked,
    /// Given back; those on their last delivery were dead-lettered.
    Nacked {
        dead_lettered: Vec<DeadLettered>,
    },
    /// Each job's new expiry, in the order the command named them.
    Extended {
        expires_ms: Vec<u64>,
    },
}

impl QueueAnswer {
    fn name(&self) -> &'static str {
        match self {
            QueueAnswer::Put => "put",
            QueueAnswer::Deleted => "deleted",
            QueueAnswer::Claimed { .. } => "claimed",
            QueueAnswer::Acked => "acked",
            QueueAnswer::Nacked { .. } => "nacked",
            QueueAnswer::Extended { .. } => "extended",
        }
    }
}

// openraft logs entries with `Display`; keep it short (no record payloads).
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Append {
                topic,
                records,
                producer,
                condition,
                ..
            } => {
                write!(f, "append({topic}, {} records", records.len())?;
                if let Some(producer) = producer {
                    write!(f, ", producer {} seq {}", producer.id, producer.seq)?;
                }
                if let Some(condition) = condition {
                    write!(f, ", if {condition}")?;
                }
                f.write_str(")")
            }
            Command::CommitOffset {
                group,
                topic,
                offset,
                ..
            } => write!(f, "commit_offset({group}, {topic}, {offset})"),
            Command::PutTopic { topic, config } => {
                write!(f, "put_topic({topic}, cleanup {})", config.cleanup())
            }
            Command::DeleteTopic { topic } => write!(f, "delete_topic({topic})"),
            Command::CleanTopic { topic, .. } => write!(f, "clean_topic({topic})"),
            Command::Queue(QueueCommand {
                group, topic, op, ..
            }) => {
                let op = match op {
                    QueueOp::Put { .. } => "put",
                    QueueOp::Delete => "delete",
                    QueueOp::Claim { .. } => "claim",
                    QueueOp::Ack { .. } => "ack",
                    QueueOp::Nack { .. } => "nack",
                    QueueOp::Extend { .. } => "extend",
                };
                write!(f, "queue_{op}({group}, {topic})")
            }
            Command::NewProducerId => f.write_str("new_producer_id"),
        }
    }
}

impl fmt::Display for CommandResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandResult::Appended {
                first_offset,
                count,
                log_index,
                duplicate: false,
            } => write!(f, "appended {count} at {first_offset} (log {log_index})"),
            CommandResult::Appended {
                first_offset,
                count,
                log_index,
                duplicate: true,
            } => write!(
                f,
                "duplicate of {count} at {first_offset} (log {log_index})"
            ),
            CommandResult::OffsetCommitted { log_index } => {
                write!(f, "offset committed (log {log_index})")
            }
            CommandResult::TopicPut { log_index } => write!(f, "topic put (log {log_index})"),
            CommandResult::TopicCleaned {
                log_index,
                removed_records,
                start_offset,
                ..
            } => write!(
                f,
                "cleaned {removed_records} records, start {start_offset} (log {log_index})"
            ),
            CommandResult::TopicDeleted {
                log_index,
                end_offset,
                ..
            } => write!(f, "topic of {end_offset} deleted (log {log_index})"),
            CommandResult::Queue { log_index, answer } => {
                write!(f, "queue {} (log {log_index})", answer.name())
            }
            CommandResult::Rejected {
                log_index,
                rejection,
            } => write!(f, "rejected (log {log_index}): {rejection}"),
            CommandResult::Noop { log_index } => write!(f, "noop (log {log_index})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn commit(expected: Option<Option<Offset>>) -> Command {
        Command::CommitOffset {
            group: GroupName::new("g").unwrap(),
            topic: TopicName::new("t").unwrap(),
            offset: Offset(5),
            expected,
        }
    }

    #[test]
    fn every_compare_and_set_expectation_survives_the_raft_log_encoding() {
        for expected in [None, Some(None), Some(Some(Offset(3)))] {
            let command = commit(expected);
            let bytes = serde_json::to_vec(&command).unwrap();
            let back: Command = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back, command, "{}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn an_append_logged_before_producers_and_conditions_still_decodes() {
        let old = json!({"Append": {"topic": "t", "records": [], "timestamp_ms": 1}});
        let command: Command = serde_json::from_value(old).unwrap();
        assert!(matches!(
            command,
            Command::Append {
                producer: None,
                condition: None,
                ..
            }
        ));
    }

    #[test]
    fn a_new_producer_id_survives_the_raft_log_encoding() {
        let bytes = serde_json::to_vec(&Command::NewProducerId).unwrap();
        let back: Command = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, Command::NewProducerId);
    }

    #[test]
    fn conditions_read_and_write_the_api_form() {
        for (text, condition) in [
            (
                r#"{"expected_offset":12}"#,
                Condition::ExpectedOffset(Offset(12)),
            ),
            (r#"{"key_absent":true}"#, Condition::KeyAbsent),
            (
                r#"{"key_last_offset":10}"#,
                Condition::KeyLastOffset(Offset(10)),
            ),
        ] {
            assert_eq!(serde_json::from_str::<Condition>(text).unwrap(), condition);
            assert_eq!(serde_json::to_string(&condition).unwrap(), text);
        }
        for bad in [
            r#"{"key_absent":false}"#,
            r#"{"expected_offset":1,"key_absent":true}"#,
            r#"{"expected_offset":-1}"#,
            r#"{"key_present":true}"#,
            r#""key_absent""#,
        ] {
            assert!(serde_json::from_str::<Condition>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn results_report_their_index_and_offsets_whatever_their_kind() {
        let rejected = CommandResult::Rejected {
            log_index: LogIndex(4),
            rejection: Rejection::SequenceSkipped { expected: 0 },
        };
        assert_eq!(rejected.log_index(), LogIndex(4));
        assert!(rejected.offsets().is_empty());
        assert_eq!(
            rejected.rejection(),
            Some(&Rejection::SequenceSkipped { expected: 0 })
        );
        let duplicate = CommandResult::Appended {
            first_offset: Offset(7),
            count: 2,
            log_index: LogIndex(3),
            duplicate: true,
        };
        assert_eq!(duplicate.offsets(), vec![Offset(7), Offset(8)]);
        assert_eq!(duplicate.rejection(), None);
    }
}
