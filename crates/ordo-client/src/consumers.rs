//! Consumer groups: commit a position (at once or compare-and-set), read
//! one position, and read a group's positions and lag in every topic.

use ordo_api::{
    CommitOffsetRequest, CommitOffsetResponse, Consistency, ConsumerGroup, ConsumerOffset,
};
use ordo_core::Offset;

use crate::addr::encode_path_segment;
use crate::call::Safety;
use crate::client::Client;
use crate::error::ClientError;
use crate::exchange::{consistency_query, Call};

impl Client {
    /// Sets `group`'s position in `topic` (the next offset it will read).
    /// `expected`: `None` sets it whatever it was; `Some(None)` only if the
    /// group has no position there yet; `Some(Some(o))` only if it is `o`,
    /// else [`ClientError::Api`] 409 `position_conflict` with the current
    /// position in [`ClientError::current`]. An unconditional commit is
    /// retried like a read; a compare-and-set like an append.
    pub async fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        offset: Offset,
        expected: Option<Option<Offset>>,
    ) -> Result<CommitOffsetResponse, ClientError> {
        let safety = match expected {
            None => Safety::Idempotent,
            Some(_) => Safety::AppendOnce,
        };
        let path = position_path(group, topic);
        let request = CommitOffsetRequest { offset, expected };
        self.send(Call::put(&path, &request, safety)).await?.json()
    }

    /// `group`'s position in `topic`; `None` if it never committed one.
    pub async fn consumer_offset(
        &self,
        group: &str,
        topic: &str,
        consistency: Consistency,
    ) -> Result<Option<Offset>, ClientError> {
        let path = format!(
            "{}?{}",
            position_path(group, topic),
            consistency_query(consistency)
        );
        match self
            .send(Call::get(&path))
            .await
            .and_then(|a| a.json::<ConsumerOffset>())
        {
            Ok(position) => Ok(Some(position.offset)),
            Err(e) if e.code() == Some("position_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every position `group` committed, with each topic's end offset and
    /// the group's lag in it.
    pub async fn consumer_group(
        &self,
        group: &str,
        consistency: Consistency,
    ) -> Result<ConsumerGroup, ClientError> {
        let group_path = format!("/v1/consumers/{}", encode_path_segment(group));
        let path = format!("{group_path}?{}", consistency_query(consistency));
        self.send(Call::get(&path)).await?.json()
    }
}

fn position_path(group: &str, topic: &str) -> String {
    format!(
        "/v1/consumers/{}/offsets/{}",
        encode_path_segment(group),
        encode_path_segment(topic)
    )
}
