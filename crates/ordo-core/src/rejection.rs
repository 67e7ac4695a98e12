//! `Rejection`: why `apply` refused a command, with what the client needs
//! to recover. Part of what applying answers (`CommandResult::Rejected`), so
//! it must be deterministic data too.

use serde::{Deserialize, Serialize};

use crate::condition::{Condition, Current};
use crate::consumer::GroupName;
use crate::ids::Offset;
use crate::topic::TopicName;

/// Why `apply` refused a command. Each carries what the client needs to
/// recover: the sequence to use, or the value it should have expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The producer's `seq` is below its last applied one.
    #[error("producer seq went back: its last applied seq is {last_seq}")]
    SequenceWentBack { last_seq: u64 },
    /// The producer's `seq` leaves a gap (a new producer starts at 0).
    #[error("producer seq skipped ahead: the next seq must be {expected}")]
    SequenceSkipped { expected: u64 },
    /// The producer's `seq` repeats its last append, but names another topic.
    #[error("producer seq {seq} was already used for an append to {topic}")]
    SequenceReused { seq: u64, topic: TopicName },
    /// The append's condition did not hold.
    #[error("condition {condition} failed: {current}")]
    ConditionFailed {
        condition: Condition,
        current: Current,
    },
    /// A position was committed in a topic that does not exist.
    #[error("topic {topic} does not exist")]
    TopicNotFound { topic: TopicName },
    /// A position past the topic's end (the next offset to be appended).
    #[error("offset is past the topic's end offset {end_offset}")]
    OffsetBeyondEnd { end_offset: Offset },
    /// A cleanup pass over a topic whose cleanup is `none`.
    #[error("topic {topic} has cleanup \"none\": set it to \"compact\" or \"delete\" first")]
    NothingToClean { topic: TopicName },
    /// A record without a key appended to a `compact` topic, where only
    /// each key's latest record is kept.
    #[error("topic {topic} is compacted: every record needs a key")]
    KeyRequired { topic: TopicName },
    /// The compare-and-set of a position found another position.
    #[error("{}", position_conflict(.current))]
    PositionConflict { current: Option<Offset> },
    /// The command would create a topic, and the cluster already holds
    /// `limit` topics (`limits::MAX_TOPICS`).
    #[error("the cluster already holds {limit} topics, the most it may; delete one to make room for {topic}")]
    TooManyTopics { topic: TopicName, limit: u64 },
    /// A queue command for a queue nobody made.
    #[error("group {group} has no queue over topic {topic}")]
    QueueNotFound { group: GroupName, topic: TopicName },
    /// An ack, nack or extend named a delivery that no longer holds its
    /// job (its lease expired and moved on, or the job is done).
    #[error("{}", lease_lost(.offsets))]
    LeaseLost { offsets: Vec<Offset> },
    /// One ack, nack or extend named the same job twice.
    #[error("the job at offset {offset} is named twice")]
    JobNamedTwice { offset: Offset },
    /// A queue whose dead-letter topic is its own topic.
    #[error("the dead-letter topic must not be the queue's own topic {topic}")]
    DeadLetterIsSource { topic: TopicName },
    /// The command would make a queue, and the cluster already holds
    /// `limit` (`limits::MAX_QUEUES`).
    #[error("the cluster already holds {limit} queues, the most it may; delete one first")]
    TooManyQueues { limit: u64 },
}

fn lease_lost(offsets: &[Offset]) -> String {
    let offsets: Vec<String> = offsets.iter().map(Offset::to_string).collect();
    format!(
        "the lease on the job at offset {} is no longer held: it expired and the job moved on, \
         or the job is done; nothing was changed",
        offsets.join(", ")
    )
}

fn position_conflict(current: &Option<Offset>) -> String {
    match current {
        Some(offset) => format!("the group's position is {offset}, not the expected one"),
        None => "the group has no position yet".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_say_what_was_found() {
        let failed = Rejection::ConditionFailed {
            condition: Condition::KeyAbsent,
            current: Current::KeyLastOffset(Some(Offset(3))),
        };
        assert_eq!(
            failed.to_string(),
            "condition key_absent failed: the key's latest record is at offset 3"
        );
        assert_eq!(
            Rejection::PositionConflict { current: None }.to_string(),
            "the group has no position yet"
        );
    }
}
