//! `NodeError`: everything a client request can fail with at the node layer.
//! The HTTP layer maps each variant to one status and error code.

use std::fmt;

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
    #[error("{reason}")]
    Unavailable { reason: String },
    /// The leader's free disk space is below its reserve: it takes no new
    /// data until space returns (see `disk_space`). Nothing was appended.
    #[error("node {node} refuses new data: {reason}")]
    InsufficientStorage {
        node: NodeId,
        free_bytes: u64,
        reserve_bytes: u64,
        reason: String,
    },
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
    /// A failure whose own message is written for people (a storage
    /// error, a bad configuration).
    pub(crate) fn internal(e: impl fmt::Display) -> Self {
        NodeError::Internal {
            reason: e.to_string(),
        }
    }

    /// `request` got an answer of another kind than it asks for: a bug in
    /// ordo. The answer goes to the log, not to the client.
    pub(crate) fn unexpected_answer(request: &str, answer: &impl fmt::Debug) -> Self {
        tracing::error!(?answer, "{request} got an answer of the wrong kind");
        NodeError::Internal {
            reason: format!(
                "{request} got an answer of the wrong kind (a bug in ordo: the node's log has it)"
            ),
        }
    }
}

/// The reason to give when Raft on this node has stopped under a request:
/// it is shutting down, or its storage failed. openraft's own error names
/// its internal types, so it goes to the log.
pub(crate) fn raft_stopped(error: &impl fmt::Display) -> String {
    tracing::warn!(%error, "Raft has stopped under a request");
    "Raft on this node has stopped: it is shutting down, or its storage failed (see its log)"
        .to_string()
}
