//! The body of every error answer: a stable code, a message for a person,
//! and what a refused compare found instead.

use serde::{Deserialize, Serialize};

use ordo_core::NodeId;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `invalid_topic`.
    pub code: String,
    /// What was wrong, for a person.
    pub message: String,
    /// The leader this node knows of, when the error is about leadership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub leader: Option<NodeId>,
    /// What a failed compare found instead, when the error is a conflict:
    /// `condition_failed` carries `{"next_offset": N}` or
    /// `{"key_last_offset": N | null}`; `position_conflict` carries
    /// `{"offset": N | null}`; `sequence_out_of_order` carries
    /// `{"expected_seq": N}` or `{"last_seq": N}` (and the `topic` that seq
    /// went to, if another one); `offset_gone` (410) carries
    /// `{"start_offset": N}`, the first offset still readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<serde_json::Value>,
}
