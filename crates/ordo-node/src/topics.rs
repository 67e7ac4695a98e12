//! Topic administration on the `Node`: list, show, put (create or
//! configure), delete and clean now (a pass that removed something is an
//! event), and the search for an offset by time. Changes go
//! through the Raft log like appends; reads take the node's read barrier.

use std::collections::BTreeMap;

use ordo_api::{Consistency, EventDetail, EventKind};
use ordo_core::cleanup::MAX_REMOVED_PER_PASS;
use ordo_core::{
    Cleanup, Command, CommandResult, LogIndex, Offset, TopicConfig, TopicName, TopicState,
};

use crate::error::NodeError;
use crate::node::Node;

/// Most passes one `clean_topic` call runs: `MAX_REMOVED_PER_PASS` times
/// this many records (a million) before it answers; the background
/// cleaner's next tick goes on with the rest.
const MAX_PASSES_ON_DEMAND: usize = 100;

/// What an on-demand cleanup removed, and the topic after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub topic: TopicState,
    pub removed_records: u64,
    pub removed_bytes: u64,
    /// The log index of the last pass.
    pub log_index: LogIndex,
}

impl Node {
    /// Every topic by name, as fresh as `consistency` asks.
    pub async fn topics(
        &self,
        consistency: Consistency,
    ) -> Result<BTreeMap<TopicName, TopicState>, NodeError> {
        self.read_barrier(consistency).await?;
        Ok(self.state_machine().topics())
    }

    /// One topic, as fresh as `consistency` asks.
    pub async fn topic(
        &self,
        topic: &TopicName,
        consistency: Consistency,
    ) -> Result<TopicState, NodeError> {
        self.read_barrier(consistency).await?;
        self.local_topic(topic)
    }

    /// Creates `topic` with `config`, or sets an existing topic's config,
    /// and answers with the topic as this node sees it once it has applied
    /// the change.
    pub async fn put_topic(
        &self,
        topic: TopicName,
        config: TopicConfig,
    ) -> Result<TopicState, NodeError> {
        let command = Command::PutTopic {
            topic: topic.clone(),
            config,
        };
        match self.propose(command).await? {
            CommandResult::TopicPut { log_index } => {
                self.wait_applied(log_index, self.config().write_timeout)
                    .await?;
                self.local_topic(&topic)
            }
            other => Err(NodeError::unexpected_answer("a topic put", &other)),
        }
    }

    /// Deletes `topic` with its records, key index and consumer positions.
    pub async fn delete_topic(&self, topic: TopicName) -> Result<(), NodeError> {
        match self.propose(Command::DeleteTopic { topic }).await? {
            CommandResult::TopicDeleted { .. } => Ok(()),
            other => Err(NodeError::unexpected_answer("a topic delete", &other)),
        }
    }

    /// Cleans `topic` now, through the Raft log like the background
    /// cleaner: one pass, and more while a pass stopped at
    /// `MAX_REMOVED_PER_PASS` (each its own log entry, so appends go on in
    /// between), up to `MAX_PASSES_ON_DEMAND`. Answers once this node has
    /// applied the last one, with what they removed and the topic after.
    pub async fn clean_topic(&self, topic: TopicName) -> Result<Cleaned, NodeError> {
        let (mut removed_records_total, mut removed_bytes_total) = (0, 0);
        let mut last_index = LogIndex(0);
        for _ in 0..MAX_PASSES_ON_DEMAND {
            let command = Command::CleanTopic {
                topic: topic.clone(),
                timestamp_ms: 0, // the leader stamps it
            };
            let (removed_records, removed_bytes, log_index) = match self.propose(command).await? {
                CommandResult::TopicCleaned {
                    removed_records,
                    removed_bytes,
                    log_index,
                    ..
                } => (removed_records, removed_bytes, log_index),
                other => return Err(NodeError::unexpected_answer("a cleanup", &other)),
            };
            removed_records_total += removed_records;
            removed_bytes_total += removed_bytes;
            last_index = log_index;
            if removed_records < MAX_REMOVED_PER_PASS {
                break;
            }
        }
        self.wait_applied(last_index, self.config().write_timeout)
            .await?;
        let cleaned = Cleaned {
            topic: self.local_topic(&topic)?,
            removed_records: removed_records_total,
            removed_bytes: removed_bytes_total,
            log_index: last_index,
        };
        if cleaned.removed_records > 0 {
            self.record_cleaned(&topic, &cleaned);
        }
        Ok(cleaned)
    }

    /// Records (and logs) passes that removed something, as a compaction
    /// or retention event by the topic's cleanup.
    fn record_cleaned(&self, topic: &TopicName, cleaned: &Cleaned) {
        let (kind, pass) = match cleaned.topic.config.cleanup() {
            Cleanup::Compact => (EventKind::Compaction, "compaction"),
            _ => (EventKind::Retention, "retention"),
        };
        let message = format!(
            "{pass} removed {} records ({} bytes) from topic {topic}; it starts at offset {}",
            cleaned.removed_records, cleaned.removed_bytes, cleaned.topic.start_offset
        );
        tracing::info!(node = self.id(), %topic, "{message}");
        let detail = EventDetail {
            topic: Some(topic.clone()),
            removed_records: Some(cleaned.removed_records),
            removed_bytes: Some(cleaned.removed_bytes),
            log_index: Some(cleaned.log_index.0),
            ..EventDetail::default()
        };
        self.record_event(kind, message, detail);
    }

    /// The first offset of `topic` whose record is stamped at or after
    /// `timestamp_ms` (the end offset if none), as fresh as `consistency` asks.
    pub async fn offset_for_timestamp(
        &self,
        topic: &TopicName,
        timestamp_ms: u64,
        consistency: Consistency,
    ) -> Result<Offset, NodeError> {
        self.read_barrier(consistency).await?;
        self.state_machine()
            .offset_for_timestamp(topic, timestamp_ms)
            .map_err(NodeError::internal)?
            .ok_or_else(|| not_found(topic))
    }

    fn local_topic(&self, topic: &TopicName) -> Result<TopicState, NodeError> {
        self.state_machine()
            .topic(topic)
            .ok_or_else(|| not_found(topic))
    }
}

fn not_found(topic: &TopicName) -> NodeError {
    NodeError::TopicNotFound {
        topic: topic.to_string(),
    }
}
