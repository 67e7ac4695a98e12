//! Reads, top-down: a read waits for what it must see, then reads this
//! node's applied state.
//!
//! [`Node::read_waiting`] first waits for `min_log_index` (read-your-writes,
//! [`Node::wait_applied`]), then takes the read barrier
//! ([`Node::read_barrier`]: for a linearizable read, the leader's read
//! index, asked through `routing` and answered by
//! [`Node::local_read_index`] on the leader, then applied here), then reads
//! a page, waiting for a record if asked to ([`Node::wait_page`],
//! [`Node::read_page`]). Consumer positions take the same barrier. Every
//! wait is on the state machine's applied watch, which moves after every
//! applied batch and snapshot install, never on a sleep loop.
//!
//! Only waits and reads; proposes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::errors::{LinearizableReadError, RaftError};
use openraft::ReadPolicy;
use tokio::time::Instant;

use crate::error::{raft_stopped, NodeError};
use crate::health::QuorumCount;
use crate::node::Node;
use crate::routing::LeaderCall;
use crate::rpc::RpcKind;
use ordo_api::limits::{MAX_READ_BYTES, MAX_READ_LIMIT, MAX_READ_WAIT_MS, MIN_LOG_INDEX_WAIT_MS};
use ordo_api::Consistency;
use ordo_core::{GroupName, LogIndex, Offset, Record, TopicName};
use ordo_store::GroupLag;

/// What a read asks for: `topic`'s records from `from`, at most `limit`
/// (at most `MAX_READ_LIMIT`, the default), as fresh as `consistency` asks,
/// once this node has applied `min_log_index`, waiting up to `wait` for a
/// record at or after `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    pub from: Offset,
    pub limit: Option<usize>,
    pub consistency: Consistency,
    pub wait: Duration,
    pub min_log_index: Option<LogIndex>,
}

impl ReadRequest {
    /// A read from `from`, at once, of as many records as a page holds.
    pub fn starting_at(from: Offset, consistency: Consistency) -> Self {
        ReadRequest {
            from,
            limit: None,
            consistency,
            wait: Duration::ZERO,
            min_log_index: None,
        }
    }
}

/// A page of a topic's records, and where the next read goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<Record>,
    /// Where the next read should start.
    pub next_offset: Offset,
    /// The topic's end offset when the page was read.
    pub end_offset: Offset,
}

impl Node {
    /// A read with its waits: first `min_log_index` (read-your-writes, at
    /// most `MIN_LOG_INDEX_WAIT_MS`, else `Unavailable`), then the
    /// consistency barrier, then up to `wait` (capped at
    /// `MAX_READ_WAIT_MS`) for a record at or after `from`. A topic that
    /// does not exist yet is waited for too; at the deadline the answer is
    /// an empty page, or `TopicNotFound` if the topic still does not exist.
    pub async fn read_waiting(
        &self,
        topic: &TopicName,
        request: &ReadRequest,
    ) -> Result<Page, NodeError> {
        if let Some(index) = request.min_log_index {
            self.wait_applied(index, Duration::from_millis(MIN_LOG_INDEX_WAIT_MS))
                .await?;
        }
        self.read_barrier(request.consistency).await?;
        let request = ReadRequest {
            wait: request.wait.min(Duration::from_millis(MAX_READ_WAIT_MS)),
            ..request.clone()
        };
        self.wait_page(topic, &request).await
    }

    /// Waits (at most `timeout`) until this node has applied `index`.
    pub(crate) async fn wait_applied(
        &self,
        index: LogIndex,
        timeout: Duration,
    ) -> Result<(), NodeError> {
        let mut applied = self.state_machine().applied_watch();
        let wait = async move {
            applied
                .wait_for(|a| a.is_some_and(|a| a >= index))
                .await
                .map(|_| ())
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(NodeError::Unavailable {
                reason: format!("this node has not applied log index {index} yet"),
            }),
        }
    }

    /// Before a read: for `linearizable`, makes sure this node has applied
    /// everything committed before the read began (the leader's read index);
    /// `local` reads go ahead at once.
    pub(crate) async fn read_barrier(&self, consistency: Consistency) -> Result<(), NodeError> {
        #[cfg(feature = "mutants")]
        let skip_read_index = crate::mutants::stale_linearizable_read();
        #[cfg(not(feature = "mutants"))]
        let skip_read_index = false;
        if consistency == Consistency::Local || skip_read_index {
            return Ok(());
        }
        let read_index = self.route(&ReadIndex).await?;
        self.wait_applied(read_index, self.config().write_timeout)
            .await
    }

    /// The read index, on the leader: the last log index committed when
    /// the read began, once a quorum confirmed this node still leads.
    pub(crate) async fn local_read_index(&self) -> Result<LogIndex, NodeError> {
        let read = self.raft().get_read_log_id(ReadPolicy::ReadIndex);
        match tokio::time::timeout(self.config().leader_wait, read).await {
            Ok(Ok((read_log_id, _applied))) => Ok(LogIndex(read_log_id.index())),
            Ok(Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(f)))) => {
                Err(self.not_leader(&f))
            }
            Ok(Err(RaftError::APIError(LinearizableReadError::QuorumNotEnough(e)))) => {
                tracing::debug!(error = %e, "a read index without a quorum");
                let acked = QuorumCount {
                    reached: Some(e.got.len()),
                    ..self.quorum_count()
                };
                Err(no_quorum_for_read(acked))
            }
            Ok(Err(RaftError::Fatal(fatal))) => Err(NodeError::Unavailable {
                reason: raft_stopped(&fatal),
            }),
            Err(_) => Err(no_quorum_for_read(self.quorum_count())),
        }
    }

    /// A page of `topic` from this node's applied state (no barrier: the
    /// caller decides how fresh), waiting up to `request.wait` until it
    /// holds at least one record. At the deadline: the empty page, or
    /// `TopicNotFound` if the topic still does not exist. Streams use this
    /// with their keep-alive interval as the wait.
    pub async fn wait_page(
        &self,
        topic: &TopicName,
        request: &ReadRequest,
    ) -> Result<Page, NodeError> {
        let deadline = Instant::now() + request.wait;
        let mut applied = self.state_machine().applied_watch();
        loop {
            // Marked seen before the read: an apply that lands after the
            // read still wakes the wait below.
            applied.borrow_and_update();
            let page = match self.read_page(topic, request) {
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

    /// A page of `topic` from this node's applied state, with no barrier.
    pub(crate) fn read_page(
        &self,
        topic: &TopicName,
        request: &ReadRequest,
    ) -> Result<Page, NodeError> {
        let limit = request
            .limit
            .unwrap_or(MAX_READ_LIMIT)
            .clamp(1, MAX_READ_LIMIT);
        let page = self
            .state_machine()
            .read_records(topic, request.from, limit, MAX_READ_BYTES)
            .map_err(NodeError::internal)?
            .ok_or_else(|| NodeError::TopicNotFound {
                topic: topic.to_string(),
            })?;
        if request.from > page.end_offset {
            return Err(NodeError::OffsetOutOfRange {
                topic: topic.to_string(),
                from: request.from,
                end_offset: page.end_offset,
            });
        }
        if request.from < page.start_offset {
            return Err(NodeError::OffsetGone {
                topic: topic.to_string(),
                from: request.from,
                start_offset: page.start_offset,
            });
        }
        // With no record, nothing is stored from `from` to the end (a page
        // stops early only after a record): a reader of a compacted range
        // moves on to the end rather than asking for the same gap again.
        let next_offset = page.next_offset();
        Ok(Page {
            records: page.records,
            next_offset,
            end_offset: page.end_offset,
        })
    }

    /// Whether a stream of `topic` may start at `from`, by this node's
    /// applied state. A stream from past the end would wait for offsets
    /// that may never exist: refused as a read would be, as is one from
    /// below the topic's start. A missing topic is waited for.
    pub fn check_stream_from(&self, topic: &TopicName, from: Offset) -> Result<(), NodeError> {
        let Some(topic_state) = self.state_machine().topic(topic) else {
            return Ok(());
        };
        if from > topic_state.end_offset {
            return Err(NodeError::OffsetOutOfRange {
                topic: topic.to_string(),
                from,
                end_offset: topic_state.end_offset,
            });
        }
        if from < topic_state.start_offset {
            return Err(NodeError::OffsetGone {
                topic: topic.to_string(),
                from,
                start_offset: topic_state.start_offset,
            });
        }
        Ok(())
    }

    /// `group`'s position in `topic`, as fresh as `consistency` asks.
    pub async fn consumer_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        consistency: Consistency,
    ) -> Result<Offset, NodeError> {
        self.read_barrier(consistency).await?;
        self.state_machine()
            .consumer_offset(group, topic)
            .ok_or_else(|| NodeError::PositionNotFound {
                group: group.to_string(),
                topic: topic.to_string(),
            })
    }

    /// Every position `group` committed, with each topic's end and the
    /// group's lag in it, as fresh as `consistency` asks.
    pub async fn consumer_group(
        &self,
        group: &GroupName,
        consistency: Consistency,
    ) -> Result<BTreeMap<TopicName, GroupLag>, NodeError> {
        self.read_barrier(consistency).await?;
        let topics = self.state_machine().group_lag(group);
        if topics.is_empty() {
            return Err(NodeError::GroupNotFound {
                group: group.to_string(),
            });
        }
        Ok(topics)
    }
}

/// The leader's read index: asked by [`Node::read_barrier`], answered by
/// [`Node::local_read_index`] on the leader, forwarded to it as a
/// `ReadIndex` RPC from anywhere else.
pub(crate) struct ReadIndex;

impl LeaderCall for ReadIndex {
    type Answer = LogIndex;
    const KIND: RpcKind = RpcKind::ReadIndex;
    const CHANGES_NOTHING: bool = true;

    async fn run_here(&self, node: &Node) -> Result<LogIndex, NodeError> {
        node.local_read_index().await
    }

    fn body(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// A linearizable read the leader could not confirm with a quorum; nothing
/// was read.
fn no_quorum_for_read(quorum: QuorumCount) -> NodeError {
    NodeError::Unavailable {
        reason: format!(
            "no quorum confirmed the leader for a linearizable read: {quorum} (a read with \
             consistency=local needs no quorum)"
        ),
    }
}
