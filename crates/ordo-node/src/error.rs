//! `NodeError`: everything a client request can fail with at the node layer.
//! The HTTP layer maps each variant to one status and error code.

use ordo_core::{NodeId, Offset, Rejection};
use serde::{Deserialize, Serialize};

use crate::membership_rules::MembershipError;

/// Serializable because a leader's answer to a forwarded request carries it
/// back to the follower that forwarded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum NodeError {
    #[error("topic {topic} does not exist")]
    TopicNotFound { topic: String },
    #[error("offset {from} is past the end of topic {topic} (end offset {end_offset})")]
    OffsetOutOfRange {
        topic: String,
        from: Offset,
        end_offset: Offset,
    },
    /// Retention removed the records below `start_offset`.
    #[error("offset {from} of topic {topic} was removed by retention; the topic starts at {start_offset}")]
    OffsetGone {
        topic: String,
        from: Offset,
        start_offset: Offset,
    },
    /// The state machine refused the command (a failed condition, a
    /// producer sequence out of order, a position conflict). It used up a
    /// log index and changed nothing.
    #[error("{rejection}")]
    Rejected { rejection: Rejection },
    #[error("group {group} has no position in topic {topic}")]
    PositionNotFound { group: String, topic: String },
    #[error("group {group} has no positions")]
    GroupNotFound { group: String },
    /// No leader is known, or the leader is unreachable. Nothing was appended.
    #[error("no leader is available: {reason}")]
    NoLeader {
        leader: Option<NodeId>,
        reason: String,
    },
    /// The request may or may not have been applied (timeout, leader change
    /// after the entry was proposed). Retrying may duplicate it.
    #[error("outcome unknown: {reason}")]
    OutcomeUnknown { reason: String },
    /// The cluster could not serve the request now (e.g. no quorum for a
    /// linearizable read); nothing was changed.
    #[error("unavailable: {reason}")]
    Unavailable { reason: String },
    #[error("cluster is already initialized")]
    AlreadyInitialized,
    /// A membership change or leadership transfer was refused (see
    /// `MembershipError` for what each refusal left changed).
    #[error(transparent)]
    Membership(#[from] MembershipError),
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl NodeError {
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        NodeError::Internal {
            reason: e.to_string(),
        }
    }
}
