//! Topics' wire types: a topic's info and config, the list, a cleanup
//! pass's result and the search by time.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use crate::openapi::schema;
use crate::records::Consistency;
use ordo_core::{LogIndex, Offset, TopicConfig, TopicName};

/// One topic as `GET|PUT /v1/topics/{topic}` and `GET /v1/topics` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicInfo {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::TopicName))]
    pub topic: TopicName,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::TopicConfig))]
    pub config: TopicConfig,
    /// The first offset still readable.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub start_offset: Offset,
    /// The offset the next appended record will get.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub end_offset: Offset,
    /// How many records the topic holds (fewer than `end_offset -
    /// start_offset` once compaction removed some).
    #[serde(default)]
    pub records: u64,
    /// Their total size (key, value as JSON and headers): what
    /// `retention_bytes` bounds.
    #[serde(default)]
    pub bytes: u64,
}

/// `POST /v1/topics/{topic}/compact`: what one cleanup pass removed, and
/// the topic after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CleanupResponse {
    pub topic: TopicInfo,
    pub removed_records: u64,
    pub removed_bytes: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::LogIndex))]
    pub log_index: LogIndex,
}

/// `GET /v1/topics`: every topic, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicList {
    pub topics: Vec<TopicInfo>,
}

/// `GET /v1/topics/{topic}/offsets` query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct OffsetForTimeParams {
    pub timestamp_ms: u64,
    #[serde(default)]
    pub consistency: Consistency,
}

/// The answer to a search by time: the first offset whose record's
/// `timestamp_ms` is at or after the one asked for (the end offset if none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OffsetForTime {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub offset: Offset,
}
