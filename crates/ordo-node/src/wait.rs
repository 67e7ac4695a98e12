//! Reads that wait: a long-poll for the first record at or after an
//! offset, and read-your-writes (wait until this node has applied a given
//! log index). Both wait on the state machine's applied watch, which moves
//! after every applied batch and snapshot install, never on a sleep loop.
//!
//! Only waits and reads; proposes nothing.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::NodeError;
use crate::node::Node;
use ordo_api::limits::{MAX_READ_WAIT_MS, MIN_LOG_INDEX_WAIT_MS};
use ordo_api::{ReadParams, ReadQuery, ReadResponse};
use ordo_core::TopicName;

impl Node {
    /// A read with its waits: first `min_log_index` (read-your-writes, at
    /// most `MIN_LOG_INDEX_WAIT_MS`, else `Unavailable`), then the
    /// consistency barrier, then up to `wait_ms` (capped at
    /// `MAX_READ_WAIT_MS`) for a record at or after `from`. A topic that
    /// does not exist yet is waited for too; at the deadline the answer is
    /// an empty page, or `TopicNotFound` if the topic still does not exist.
    pub async fn read_waiting(
        &self,
        topic: &TopicName,
        query: &ReadQuery,
    ) -> Result<ReadResponse, NodeError> {
        if let Some(index) = query.min_log_index {
            self.wait_applied(index, Duration::from_millis(MIN_LOG_INDEX_WAIT_MS))
                .await?;
        }
        let params = query.params();
        self.read_barrier(params.consistency).await?;
        let wait_ms = query.wait_ms.unwrap_or(0).min(MAX_READ_WAIT_MS);
        self.wait_page(topic, &params, Duration::from_millis(wait_ms))
            .await
    }

    /// A page of `topic` from this node's applied state (no barrier: the
    /// caller decides how fresh), waiting up to `wait` until it holds at
    /// least one record. At the deadline: the empty page, or
    /// `TopicNotFound` if the topic still does not exist. Streams use this
    /// with their keep-alive interval as `wait`.
    pub async fn wait_page(
        &self,
        topic: &TopicName,
        params: &ReadParams,
        wait: Duration,
    ) -> Result<ReadResponse, NodeError> {
        let deadline = Instant::now() + wait;
        let mut applied = self.state_machine().applied_watch();
        loop {
            // Marked seen before the read: an apply that lands after the
            // read still wakes the wait below.
            applied.borrow_and_update();
            let page = match self.read_page(topic, params) {
                Ok(page) if page.records.is_empty() => Ok(page),
                Err(NodeError::TopicNotFound { topic }) => Err(NodeError::TopicNotFound { topic }),
                done => return done,
            };
            match tokio::time::timeout_at(deadline, applied.changed()).await {
                Ok(Ok(())) => continue,
                // The state machine is gone: the node is shutting down.
                Ok(Err(_)) => {
                    return Err(NodeError::Unavailable {
                        reason: "this node is shutting down".into(),
                    })
                }
                Err(_) => return page,
            }
        }
    }
}
