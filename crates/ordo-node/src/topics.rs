//! Topic administration on the `Node`: list, show, put (create or
//! configure), delete and clean now, and the search for an offset by time. Changes go
//! through the Raft log like appends; reads take the node's read barrier.

use ordo_core::api::{CleanupResponse, Consistency, OffsetForTime, TopicInfo, TopicList};
use ordo_core::{Command, CommandResult, TopicConfig, TopicName, TopicState};

use crate::error::NodeError;
use crate::node::Node;

impl Node {
    /// Every topic, as fresh as `consistency` asks.
    pub async fn topics(&self, consistency: Consistency) -> Result<TopicList, NodeError> {
        self.read_barrier(consistency).await?;
        let topics = self.state_machine().topics();
        Ok(TopicList {
            topics: topics.into_iter().map(|(t, s)| info(t, &s)).collect(),
        })
    }

    /// One topic, as fresh as `consistency` asks.
    pub async fn topic(
        &self,
        topic: &TopicName,
        consistency: Consistency,
    ) -> Result<TopicInfo, NodeError> {
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
    ) -> Result<TopicInfo, NodeError> {
        let command = Command::PutTopic {
            topic: topic.clone(),
            config,
        };
        match self.propose(command).await? {
            CommandResult::TopicPut { log_index } => {
                self.wait_applied(log_index, self.config.write_timeout)
                    .await?;
                self.local_topic(&topic)
            }
            other => Err(NodeError::internal(format!(
                "topic put answered as {other:?}"
            ))),
        }
    }

    /// Deletes `topic` with its records, key index and consumer positions.
    pub async fn delete_topic(&self, topic: TopicName) -> Result<(), NodeError> {
        match self.propose(Command::DeleteTopic { topic }).await? {
            CommandResult::TopicDeleted { .. } => Ok(()),
            other => Err(NodeError::internal(format!(
                "topic delete answered as {other:?}"
            ))),
        }
    }

    /// Runs one compaction or retention pass over `topic` now, through the
    /// Raft log like the background ones, and answers once this node has
    /// applied it, with what it removed and the topic as it is after.
    pub async fn clean_topic(&self, topic: TopicName) -> Result<CleanupResponse, NodeError> {
        let command = Command::CleanTopic {
            topic: topic.clone(),
            timestamp_ms: 0, // the leader stamps it
        };
        match self.propose(command).await? {
            CommandResult::TopicCleaned {
                log_index,
                removed_records,
                removed_bytes,
                ..
            } => {
                self.wait_applied(log_index, self.config.write_timeout)
                    .await?;
                Ok(CleanupResponse {
                    topic: self.local_topic(&topic)?,
                    removed_records,
                    removed_bytes,
                    log_index,
                })
            }
            other => Err(NodeError::internal(format!(
                "a cleanup answered as {other:?}"
            ))),
        }
    }

    /// The first offset of `topic` whose record is stamped at or after
    /// `timestamp_ms` (the end offset if none), as fresh as `consistency` asks.
    pub async fn offset_for_timestamp(
        &self,
        topic: &TopicName,
        timestamp_ms: u64,
        consistency: Consistency,
    ) -> Result<OffsetForTime, NodeError> {
        self.read_barrier(consistency).await?;
        let offset = self
            .state_machine()
            .offset_for_timestamp(topic, timestamp_ms)
            .map_err(NodeError::internal)?
            .ok_or_else(|| not_found(topic))?;
        Ok(OffsetForTime { offset })
    }

    fn local_topic(&self, topic: &TopicName) -> Result<TopicInfo, NodeError> {
        let state = self
            .state_machine()
            .topic(topic)
            .ok_or_else(|| not_found(topic))?;
        Ok(info(topic.clone(), &state))
    }
}

fn info(topic: TopicName, state: &TopicState) -> TopicInfo {
    TopicInfo {
        topic,
        config: state.config,
        start_offset: state.start_offset,
        end_offset: state.end_offset,
        records: state.stored_records,
        bytes: state.stored_bytes,
    }
}

fn not_found(topic: &TopicName) -> NodeError {
    NodeError::TopicNotFound {
        topic: topic.to_string(),
    }
}
