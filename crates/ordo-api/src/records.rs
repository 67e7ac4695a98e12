//! The records routes' wire types: an append and its acknowledgement,
//! a read's query and page, a stream's query, and how fresh a read must be.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use crate::openapi::schema;
use ordo_core::{Condition, LogIndex, NewRecord, Offset, Producer, Record};

/// `POST /v1/topics/{topic}/records`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// Appended atomically, at contiguous offsets, in this order.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<schema::NewRecord>, min_items = 1, max_items = 10_000))]
    pub records: Vec<NewRecord>,
    /// Makes the append idempotent: a retry with the same id and seq is
    /// answered with the original offsets and appends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Producer>))]
    pub producer: Option<Producer>,
    /// Makes the append conditional: if it does not hold, 409 and nothing
    /// is appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Condition>))]
    pub condition: Option<Condition>,
}

/// The answer to an acknowledged append: one offset per record, in order, and
/// the Raft log index of the entry that holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppendResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<schema::Offset>))]
    pub offsets: Vec<Offset>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::LogIndex))]
    pub log_index: LogIndex,
    /// True when this was a producer's retry of an append already applied:
    /// the offsets and log index are the original's, and nothing was appended.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Sees every append acknowledged before the read began (read index).
    #[default]
    Linearizable,
    /// Served from this node's applied state: may lag, never uncommitted.
    Local,
}

/// `GET /v1/topics/{topic}/records` query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    #[serde(default)]
    pub from: Offset,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub consistency: Consistency,
}

/// `GET /v1/topics/{topic}/records` query as the server parses it: a
/// [`ReadParams`] plus how long the read may wait. A separate type so that
/// `ReadParams` literals stay valid; [`ReadQuery::params`] gives the read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = schema::Offset))]
    pub from: Offset,
    /// Most records to return (default and most: 1000; fewer if their
    /// values pass 4 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = u64, minimum = 1, maximum = 1000))]
    pub limit: Option<usize>,
    #[serde(default)]
    pub consistency: Consistency,
    /// Long-poll: if no record at or after `from` exists yet, wait up to
    /// this long (at most `limits::MAX_READ_WAIT_MS`) for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = u64, maximum = 30_000))]
    pub wait_ms: Option<u64>,
    /// Read-your-writes: first wait (at most `limits::MIN_LOG_INDEX_WAIT_MS`)
    /// until this node has applied this log index (an append's `log_index`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<schema::LogIndex>))]
    pub min_log_index: Option<LogIndex>,
}

impl ReadQuery {
    /// The read itself, without the waits.
    pub fn params(&self) -> ReadParams {
        ReadParams {
            from: self.from,
            limit: self.limit,
            consistency: self.consistency,
        }
    }
}

impl From<ReadParams> for ReadQuery {
    fn from(params: ReadParams) -> Self {
        ReadQuery {
            from: params.from,
            limit: params.limit,
            consistency: params.consistency,
            wait_ms: None,
            min_log_index: None,
        }
    }
}

/// `GET /v1/topics/{topic}/stream` query parameters. A `Last-Event-ID`
/// header (SSE reconnect) wins over `from`: the stream resumes after it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = schema::Offset))]
    pub from: Offset,
}

/// A page of records and where the next page starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<schema::Record>))]
    pub records: Vec<Record>,
    /// The offset to read from next (after the last record returned).
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub next_offset: Offset,
    /// The topic's end: the offset the next appended record will get.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub end_offset: Offset,
}
