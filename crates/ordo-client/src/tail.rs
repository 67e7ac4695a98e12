//! [`Tail`]: follows one topic from an offset, page by page, the way
//! `tail -f` follows a file. Each page is a long-polled linearizable read, so
//! a tail moves between nodes on failover without skipping or repeating a
//! record. With a consumer group it starts from the group's committed
//! position and commits its own when asked: at-least-once, since records
//! delivered after the last commit are delivered again after a restart.

use std::time::Duration;

use ordo_api::{Consistency, ReadQuery};
use ordo_core::{Offset, Record};

use crate::client::Client;
use crate::error::ClientError;

/// How long each long-poll of a tail waits for a new record (below the
/// server's `MAX_READ_WAIT_MS`).
pub const TAIL_WAIT: Duration = Duration::from_secs(10);

/// A follower of one topic; see the module docs.
pub struct Tail {
    client: Client,
    topic: String,
    next: Offset,
    group: Option<String>,
    /// The group's position as last committed (or found) by this tail.
    committed: Option<Offset>,
}

impl Tail {
    /// Follows `topic` from offset `from`.
    pub fn new(client: Client, topic: &str, from: Offset) -> Tail {
        Tail {
            client,
            topic: topic.to_string(),
            next: from,
            group: None,
            committed: None,
        }
    }

    /// Follows `topic` for consumer group `group`: from the group's
    /// committed position, or from `from` if it has none yet.
    pub async fn for_group(
        client: Client,
        topic: &str,
        group: &str,
        from: Offset,
    ) -> Result<Tail, ClientError> {
        let committed = client
            .consumer_offset(group, topic, Consistency::Linearizable)
            .await?;
        Ok(Tail {
            client,
            topic: topic.to_string(),
            next: committed.unwrap_or(from),
            group: Some(group.to_string()),
            committed,
        })
    }

    /// The offset of the next record this tail will return.
    pub fn position(&self) -> Offset {
        self.next
    }

    /// The group's position as this tail last committed or found it.
    pub fn committed(&self) -> Option<Offset> {
        self.committed
    }

    /// The next records, in offset order: waits up to [`TAIL_WAIT`] for one
    /// and returns an empty page if none arrived (a topic that does not
    /// exist yet is waited for the same way).
    pub async fn next_page(&mut self) -> Result<Vec<Record>, ClientError> {
        let query = ReadQuery {
            from: self.next,
            wait_ms: Some(u64::try_from(TAIL_WAIT.as_millis()).unwrap_or(u64::MAX)),
            ..ReadQuery::default()
        };
        match self.client.read_wait(&self.topic, &query).await {
            Ok(page) => {
                self.next = page.next_offset;
                Ok(page.records)
            }
            Err(e) if e.code() == Some("topic_not_found") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Commits `position` (normally [`Self::position`] once the records
    /// before it are handled) as the group's position, if this tail has a
    /// group and that is not already its committed position.
    pub async fn commit(&mut self, position: Offset) -> Result<(), ClientError> {
        let Some(group) = &self.group else {
            return Ok(());
        };
        if self.committed == Some(position) {
            return Ok(());
        }
        self.client
            .commit_offset(group, &self.topic, position, None)
            .await?;
        self.committed = Some(position);
        Ok(())
    }
}
