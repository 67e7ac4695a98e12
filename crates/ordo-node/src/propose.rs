//! The write path: a client's command, from the node's door to its answer.
//!
//! [`Node::append`], [`Node::commit_offset`] and [`Node::new_producer_id`]
//! turn a request into a [`Command`]; [`Node::propose`] routes it to the leader (see `routing`),
//! which runs [`Node::propose_local`]: stamped with the leader's clock,
//! checked against the disk reserve, gathered into a batch by the
//! `proposer` and handed to openraft, which answers once a majority has the
//! entry durably and this node applied it. A follower forwards the command
//! as a `Forward` RPC; the leader's answering side (`rpc_answer`) runs the
//! same [`Node::propose_local`].

use openraft::errors::{ClientWriteError, RaftError};

use crate::error::{raft_stopped, NodeError};
use crate::node::Node;
use crate::routing::LeaderCall;
use crate::rpc::{self, ForwardRequest, RpcKind};
use crate::words;
use ordo_core::{
    Append, Appended, Command, CommandResult, GroupName, LogIndex, NewRecord, Offset, QueueCommand,
    QueueOp, TopicName,
};

impl Node {
    /// Appends `append`'s records to `topic`, with its producer and
    /// condition: acknowledged once a majority has the entry durably and it
    /// has been applied here or on the leader. A refusal by the state
    /// machine is `NodeError::Rejected`, and appended nothing.
    pub async fn append(&self, topic: TopicName, append: Append) -> Result<Appended, NodeError> {
        let started = std::time::Instant::now();
        let (records, bytes) = (
            append.records.len(),
            append.records.iter().map(NewRecord::size).sum(),
        );
        let label = topic.clone();
        let command = Command::Append {
            topic,
            records: append.records.into(),
            timestamp_ms: 0, // stamped by the leader in `propose_local`
            producer: append.producer,
            condition: append.condition,
        };
        match self.propose(command).await? {
            CommandResult::Appended {
                first_offset,
                count,
                log_index,
                duplicate,
            } => {
                let took = started.elapsed();
                crate::metrics::append_acknowledged(&label, took, duplicate, records, bytes);
                Ok(Appended {
                    first_offset,
                    count,
                    log_index,
                    duplicate,
                })
            }
            other => Err(NodeError::unexpected_answer("an append", &other)),
        }
    }

    /// Sets `group`'s position in `topic` to `offset` through the log, so
    /// it survives any failover; `expected` makes it a compare-and-set (see
    /// `Command::CommitOffset`). Answers with the log index of the entry.
    pub async fn commit_offset(
        &self,
        group: GroupName,
        topic: TopicName,
        offset: Offset,
        expected: Option<Option<Offset>>,
    ) -> Result<LogIndex, NodeError> {
        let command = Command::CommitOffset {
            group,
            topic,
            offset,
            expected,
        };
        match self.propose(command).await? {
            CommandResult::OffsetCommitted { log_index } => Ok(log_index),
            other => Err(NodeError::unexpected_answer("a position commit", &other)),
        }
    }

    /// A number no other call in the cluster's life answers (a Kafka
    /// producer id): the log index of a `NewProducerId` entry, proposed
    /// through the leader like any write, so it is unique because log
    /// indexes are never reused, and increases from call to call.
    pub async fn new_producer_id(&self) -> Result<u64, NodeError> {
        match self.propose(Command::NewProducerId).await? {
            CommandResult::Noop { log_index } => Ok(log_index.0),
            other => Err(NodeError::unexpected_answer("a new producer id", &other)),
        }
    }

    /// Proposes `command` through the leader; a rejection is an error.
    pub(crate) async fn propose(&self, command: Command) -> Result<CommandResult, NodeError> {
        match self.route(&ForwardRequest { command }).await? {
            CommandResult::Rejected { rejection, .. } => Err(NodeError::Rejected { rejection }),
            result => Ok(result),
        }
    }

    /// Proposes on this node, which must be the leader.
    pub(crate) async fn propose_local(
        &self,
        mut command: Command,
    ) -> Result<CommandResult, NodeError> {
        if let Command::Append { timestamp_ms, .. }
        | Command::CleanTopic { timestamp_ms, .. }
        | Command::Queue(QueueCommand { timestamp_ms, .. }) = &mut command
        {
            *timestamp_ms = (self.config().clock)();
        }
        if let Some(space) = self.disk_space().below_reserve() {
            // What frees space (deleting, compacting, expiring) goes on.
            if matches!(
                command,
                Command::Append { .. }
                    | Command::CommitOffset { .. }
                    | Command::PutTopic { .. }
                    | Command::Queue(QueueCommand {
                        op: QueueOp::Put { .. },
                        ..
                    })
            ) {
                return Err(NodeError::InsufficientStorage {
                    node: self.id(),
                    free_bytes: space.free_bytes,
                    reserve_bytes: space.reserve_bytes,
                    reason: space.to_string(),
                });
            }
        }
        #[cfg(feature = "mutants")]
        if crate::mutants::early_offsets() && matches!(command, Command::Append { .. }) {
            return self.propose_speculatively(command).await;
        }
        let write = self.proposer().propose(command);
        match tokio::time::timeout(self.config().write_timeout, write).await {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(self.not_leader(&f))
            }
            Ok(Err(RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)))) => {
                Err(NodeError::OutcomeUnknown {
                    reason: "leadership changed after the entry was proposed".into(),
                })
            }
            Ok(Err(RaftError::APIError(other))) => {
                Err(NodeError::unexpected_answer("a write", &other))
            }
            Ok(Err(RaftError::Fatal(fatal))) => Err(NodeError::OutcomeUnknown {
                reason: raft_stopped(&fatal),
            }),
            Err(_) => Err(NodeError::OutcomeUnknown {
                reason: format!(
                    "not committed within {} ({})",
                    words::duration(self.config().write_timeout),
                    self.quorum_count()
                ),
            }),
        }
    }
}

/// A proposal: run by [`Node::propose_local`] on the leader, forwarded to
/// it as a `Forward` RPC from anywhere else.
impl LeaderCall for ForwardRequest {
    type Answer = CommandResult;
    const KIND: RpcKind = RpcKind::Forward;

    async fn run_here(&self, node: &Node) -> Result<CommandResult, NodeError> {
        node.propose_local(self.command.clone()).await
    }

    fn body(&self) -> Vec<u8> {
        rpc::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::leading_alone;

    #[tokio::test]
    async fn new_producer_ids_differ_and_increase() {
        let node = leading_alone().await;
        let first = node.new_producer_id().await.expect("an id");
        let second = node.new_producer_id().await.expect("an id");
        assert!(first < second, "{first} then {second}");
    }
}
