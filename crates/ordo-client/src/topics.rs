//! Topics: list, show, configure, delete, run a cleanup pass, and find the
//! first offset at or after a time.

use ordo_api::{CleanupResponse, Consistency, OffsetForTime, TopicInfo, TopicList};
use ordo_core::{Offset, TopicConfig};
use ordo_transport::Method;

use crate::call::Safety;
use crate::client::Client;
use crate::error::ClientError;
use crate::exchange::{consistency_query, topic_path, Call};

impl Client {
    /// Every topic with its config and offsets.
    pub async fn topics(&self, consistency: Consistency) -> Result<TopicList, ClientError> {
        let path = format!("/v1/topics?{}", consistency_query(consistency));
        self.send(Call::get(&path)).await?.json()
    }

    /// One topic; `None` if it does not exist.
    pub async fn topic(
        &self,
        topic: &str,
        consistency: Consistency,
    ) -> Result<Option<TopicInfo>, ClientError> {
        let path = format!("{}?{}", topic_path(topic), consistency_query(consistency));
        match self.send(Call::get(&path)).await.and_then(|a| a.json()) {
            Ok(info) => Ok(Some(info)),
            Err(e) if e.code() == Some("topic_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `topic` with `config`, or sets an existing topic's config.
    /// Setting the same config twice does the same as once, so it is retried.
    pub async fn put_topic(
        &self,
        topic: &str,
        config: &TopicConfig,
    ) -> Result<TopicInfo, ClientError> {
        let path = topic_path(topic);
        let call = Call::put(&path, config, Safety::Idempotent);
        self.send(call).await?.json()
    }

    /// Deletes `topic`, its records and every group's position in it. Not
    /// resent after an unknown outcome: a second delete would be a 404, or
    /// delete a topic made again in between.
    pub async fn delete_topic(&self, topic: &str) -> Result<(), ClientError> {
        let path = topic_path(topic);
        let call = Call::bare(Method::Delete, &path, Safety::AppendOnce);
        self.send(call).await?;
        Ok(())
    }

    /// Compacts or expires `topic` now (see `POST /v1/topics/{topic}/compact`)
    /// and answers with what was removed. Resent after an unknown outcome:
    /// a second pass removes only what the first left.
    pub async fn compact_topic(&self, topic: &str) -> Result<CleanupResponse, ClientError> {
        let path = format!("{}/compact", topic_path(topic));
        let call = Call::bare(Method::Post, &path, Safety::Idempotent);
        self.send(call).await?.json()
    }

    /// The first offset of `topic` whose record is stamped at or after
    /// `timestamp_ms` (the topic's end offset if none is).
    pub async fn offset_for_timestamp(
        &self,
        topic: &str,
        timestamp_ms: u64,
        consistency: Consistency,
    ) -> Result<Offset, ClientError> {
        let path = format!(
            "{}/offsets?timestamp_ms={timestamp_ms}&{}",
            topic_path(topic),
            consistency_query(consistency)
        );
        let found: OffsetForTime = self.send(Call::get(&path)).await?.json()?;
        Ok(found.offset)
    }
}
