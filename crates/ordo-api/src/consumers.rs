//! Consumer groups' wire types: a committed position, a commit, a group's
//! positions in its topics, and the query every position read takes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[cfg(feature = "openapi")]
use crate::openapi::schema;
use crate::records::Consistency;
use ordo_core::{GroupName, LogIndex, Offset, TopicName};

/// `GET /v1/consumers/{group}/offsets/{topic}`, `GET /v1/consumers/{group}`,
/// `GET /v1/topics` and `GET /v1/topics/{topic}` query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct PositionParams {
    #[serde(default)]
    pub consistency: Consistency,
}

/// A consumer group's position in one topic: the next offset it will read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsumerOffset {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub offset: Offset,
}

/// `PUT /v1/consumers/{group}/offsets/{topic}`. `expected` absent sets the
/// position unconditionally; `null` sets it only if the group has none yet;
/// an offset sets it only if that is the group's position now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommitOffsetRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub offset: Offset,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "ordo_core::command::present_field"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Option<schema::Offset>>))]
    pub expected: Option<Option<Offset>>,
}

/// The answer to a committed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitOffsetResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub offset: Offset,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::LogIndex))]
    pub log_index: LogIndex,
}

/// `GET /v1/consumers/{group}`: the group's position in every topic it
/// committed one for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsumerGroup {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::GroupName))]
    pub group: GroupName,
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<schema::TopicName, TopicPosition>))]
    pub topics: BTreeMap<TopicName, TopicPosition>,
}

/// One topic's position, end and lag for a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicPosition {
    /// The next offset the group will read.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub offset: Offset,
    /// The offset the next appended record will get.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub end_offset: Offset,
    /// Records appended that the group has not read: `end_offset - offset`.
    pub lag_records: u64,
}
