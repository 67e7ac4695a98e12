//! What each of ordo's refusals is called in Kafka's error codes, chosen
//! so that a client does what it would do against Kafka: retry what may
//! succeed later (no leader, a timeout, no quorum), refresh its metadata
//! when the leader moved, and give up on what never will. Pure.

use kafka_protocol::ResponseError;
use ordo_core::Rejection;
use ordo_node::NodeError;

/// An outcome's error code: 0 for none.
pub fn code(outcome: Result<(), ResponseError>) -> i16 {
    outcome.err().map_or(0, |error| error.code())
}

/// The Kafka error a node's refusal stands for.
pub fn node_error(error: &NodeError) -> ResponseError {
    match error {
        NodeError::TopicNotFound { .. } => ResponseError::UnknownTopicOrPartition,
        NodeError::OffsetOutOfRange { .. } | NodeError::OffsetGone { .. } => {
            ResponseError::OffsetOutOfRange
        }
        NodeError::Rejected { rejection } => rejected(rejection),
        NodeError::PositionNotFound { .. } | NodeError::GroupNotFound { .. } => {
            ResponseError::GroupIdNotFound
        }
        // Retriable: the client refreshes its metadata and tries again.
        NodeError::NoLeader { .. } => ResponseError::NotLeaderOrFollower,
        // Retriable: an idempotent producer's retry is then answered with
        // the original offsets if the first try was applied after all.
        NodeError::OutcomeUnknown { .. } => ResponseError::RequestTimedOut,
        NodeError::Unavailable { .. } => ResponseError::NotEnoughReplicas,
        NodeError::InsufficientStorage { .. } => ResponseError::KafkaStorageError,
        NodeError::InvalidRequest { .. } => ResponseError::InvalidRequest,
        NodeError::AlreadyInitialized | NodeError::Membership(_) | NodeError::Internal { .. } => {
            ResponseError::UnknownServerError
        }
    }
}

/// The Kafka error a state machine's rejection stands for.
pub fn rejected(rejection: &Rejection) -> ResponseError {
    match rejection {
        // A batch the idempotent producer numbered out of order (or a
        // number reused for another topic): what Kafka answers to a gap.
        Rejection::SequenceWentBack { .. }
        | Rejection::SequenceSkipped { .. }
        | Rejection::SequenceReused { .. } => ResponseError::OutOfOrderSequenceNumber,
        Rejection::TopicNotFound { .. } => ResponseError::UnknownTopicOrPartition,
        Rejection::OffsetBeyondEnd { .. } => ResponseError::OffsetOutOfRange,
        Rejection::KeyRequired { .. } => ResponseError::InvalidRecord,
        Rejection::TooManyTopics { .. } => ResponseError::PolicyViolation,
        _ => ResponseError::InvalidRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_succeed_later_is_retriable_and_what_never_will_is_not() {
        let retriable = [
            NodeError::NoLeader {
                leader: None,
                reason: "election".into(),
            },
            NodeError::OutcomeUnknown {
                reason: "timeout".into(),
            },
            NodeError::Unavailable {
                reason: "no quorum".into(),
            },
        ];
        for error in &retriable {
            assert!(node_error(error).is_retriable(), "{error}");
        }
        let sequence = NodeError::Rejected {
            rejection: Rejection::SequenceSkipped { expected: 4 },
        };
        assert_eq!(
            node_error(&sequence),
            ResponseError::OutOfOrderSequenceNumber
        );
        assert!(!node_error(&NodeError::InvalidRequest {
            reason: "bad".into()
        })
        .is_retriable());
    }
}
