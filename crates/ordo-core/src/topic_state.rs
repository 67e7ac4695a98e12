//! `TopicState`: what the state machine knows about one topic (its offsets,
//! clock, config and what it holds). Read by the rules `apply` consults, so
//! it sits apart from `state`, which owns the changes.

use serde::{Deserialize, Serialize};

use crate::ids::Offset;
use crate::topic_config::TopicConfig;

/// What the state machine knows about one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicState {
    /// The first offset still readable (0 until retention removes records).
    pub start_offset: Offset,
    /// The offset the next appended record will get.
    pub end_offset: Offset,
    /// Cleanup and retention (the default for a topic made by an append).
    #[serde(default)]
    pub config: TopicConfig,
    /// The timestamp of the topic's latest record. A record is stamped with
    /// the larger of this and its leader's clock, so timestamps never go
    /// back within a topic, even when a new leader's clock is behind the
    /// old one's, and a search by time can bisect offsets.
    #[serde(default)]
    pub max_timestamp_ms: u64,
    /// How many records the topic holds (between its start and end offsets,
    /// less what compaction removed).
    #[serde(default)]
    pub stored_records: u64,
    /// Their total `record_size`: what `retention_bytes` bounds.
    #[serde(default)]
    pub stored_bytes: u64,
    /// Where the next compaction pass starts (see `cleanup`).
    #[serde(default)]
    pub compacted_to: Offset,
}
