//! The `Node`: owns `Raft`, the state machine's read side and the transport,
//! and turns client requests into Raft proposals and reads.
//!
//! Any node accepts any request. A follower forwards a command to the leader
//! and, for a linearizable read, asks the leader for a read index and then
//! serves the read from its own state once it has applied that index. Every
//! failure says whether the command may have been applied (`OutcomeUnknown`)
//! or certainly was not (`NoLeader`, `Unavailable`), so callers retry safely.

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{
    ClientWriteError, ForwardReason, ForwardToLeader, InitializeError, LinearizableReadError,
    RaftError,
};
use openraft::raft::AppendEntriesResponse;
use openraft::{BasicNode, ReadPolicy};

use crate::config::NodeConfig;
use crate::disk_space::DiskSpace;
use crate::error::{raft_stopped, NodeError};
use crate::health::{LeaderContact, QuorumCount};
use crate::membership::MembershipOp;
use crate::network::NetworkFactory;
use crate::proposer::Proposer;
use crate::routing::{LeaderAnswer, LeaderOp};
use crate::rpc::{
    self, DecodeError, ForwardReply, ForwardRequest, MembershipReply, ReadIndexReply, RpcKind,
    SnapshotReply,
};
use crate::snapshot_receiver::SnapshotReceiver;
use crate::storage_fault::StorageFault;
use crate::transport::Transport;
use crate::types::{LogStore, Raft, StateMachine, TypeConfig};
use crate::words;
use ordo_core::api::{
    AppendRequest, AppendResponse, CommitOffsetRequest, CommitOffsetResponse, Consistency,
    ConsumerGroup, ConsumerOffset, ReadParams, ReadResponse, TopicPosition,
};
use ordo_core::limits::{MAX_READ_BYTES, MAX_READ_LIMIT};
use ordo_core::{Command, CommandResult, GroupName, LogIndex, NewRecord, NodeId, TopicName};

pub struct Node {
    pub(crate) config: NodeConfig,
    raft: Raft,
    state_machine: StateMachine,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) snapshots: SnapshotReceiver,
    pub(crate) leader_contact: LeaderContact,
    /// Gathers this node's writes into batches for openraft's core.
    proposer: Proposer,
    /// Set once this node's storage failed (see `storage_fault`).
    pub(crate) storage_fault: StorageFault,
    /// The data dir's free space against its reserve (see `disk_space`).
    pub(crate) disk_space: DiskSpace,
}

impl Node {
    /// Starts Raft over the given storage and transport. With configured
    /// peers, the lowest id initializes the cluster if it has no membership
    /// yet (never a node started to `join` an existing cluster: it waits to
    /// be added); a restarted node resumes from its storage.
    pub async fn start(
        config: NodeConfig,
        log_store: LogStore,
        state_machine: StateMachine,
        transport: Arc<dyn Transport>,
    ) -> Result<Arc<Node>, NodeError> {
        let raft_config = config.raft_config().map_err(NodeError::internal)?;
        let network = NetworkFactory {
            id: config.id,
            transport: transport.clone(),
            peer_log: Arc::default(),
            log_store: log_store.clone(),
        };
        let log_bytes = log_store.clone();
        let raft = Raft::new(
            config.id,
            Arc::new(raft_config),
            network,
            log_store,
            state_machine.clone(),
        )
        .await
        .map_err(NodeError::internal)?;
        let proposer = Proposer::start(raft.clone());
        let disk_space = DiskSpace::new(config.space.clone());
        // A first sample before the first request (a start below the
        // reserve refuses data from the start); `disk_space::watch` logs.
        let _ = disk_space.sample();
        let node = Arc::new(Node {
            proposer,
            config,
            raft,
            state_machine,
            transport,
            snapshots: SnapshotReceiver::default(),
            leader_contact: LeaderContact::default(),
            storage_fault: StorageFault::default(),
            disk_space,
        });
        tokio::spawn(crate::disk_space::watch(Arc::downgrade(&node)));
        tokio::spawn(crate::storage_fault::watch(Arc::downgrade(&node)));
        tokio::spawn(crate::snapshot_receiver::drop_abandoned(Arc::downgrade(
            &node,
        )));
        tokio::spawn(crate::cleaner::run(Arc::downgrade(&node)));
        tokio::spawn(crate::snapshot_trigger::run(
            Arc::downgrade(&node),
            log_bytes,
        ));
        if !node.config.join && node.config.peers.keys().next() == Some(&node.config.id) {
            node.initialize_if_new().await?;
        }
        Ok(node)
    }

    async fn initialize_if_new(&self) -> Result<(), NodeError> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(NodeError::internal)?;
        if initialized {
            return Ok(());
        }
        match self.init(self.config.peers.clone()).await {
            Ok(()) | Err(NodeError::AlreadyInitialized) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn id(&self) -> NodeId {
        self.config.id
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn state_machine(&self) -> &StateMachine {
        &self.state_machine
    }

    /// The leader this node currently believes in. Read, like the term,
    /// from openraft's server metrics, which change with the vote, the role
    /// and the membership only: its full metrics change on nearly every
    /// turn of the Raft core, and every answer reads the leader. None once
    /// this node's storage failed: its core stopped believing in whatever
    /// leader it last knew (itself, perhaps) and it cannot tell.
    pub fn current_leader(&self) -> Option<NodeId> {
        if self.storage_fault.cause().is_some() {
            return None;
        }
        self.raft.server_metrics().borrow_watched().current_leader
    }

    /// The term of this node's vote.
    pub fn current_term(&self) -> u64 {
        self.raft
            .server_metrics()
            .borrow_watched()
            .vote
            .leader_id
            .term
    }

    /// True once Raft has stopped (after `shutdown`, or a fatal error).
    pub fn is_shut_down(&self) -> bool {
        self.raft.metrics().borrow_watched().state == openraft::ServerState::Shutdown
    }

    /// Ready: in touch with a quorum (see `health`) and has applied
    /// everything it knows to be committed.
    pub fn is_ready(&self) -> bool {
        self.health().is_ready()
    }

    /// Forms a cluster of `members` (this node alone if empty).
    pub async fn init(&self, mut members: BTreeMap<NodeId, String>) -> Result<(), NodeError> {
        if members.is_empty() {
            members.insert(self.config.id, self.config.advertise_addr.clone());
        }
        let nodes: BTreeMap<NodeId, BasicNode> = members
            .into_iter()
            .map(|(id, addr)| (id, BasicNode::new(addr)))
            .collect();
        match self.raft.initialize(nodes).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                Err(NodeError::AlreadyInitialized)
            }
            Err(RaftError::APIError(InitializeError::NotInMembers(e))) => {
                let members: Vec<String> =
                    e.membership.voter_ids().map(|id| id.to_string()).collect();
                Err(NodeError::InvalidRequest {
                    reason: format!(
                        "this node (id {}) is not among the members given ({}); a node can \
                         only form a cluster it is part of",
                        e.node_id,
                        members.join(", ")
                    ),
                })
            }
            Err(RaftError::Fatal(fatal)) => Err(NodeError::Internal {
                reason: raft_stopped(&fatal),
            }),
        }
    }

    /// Appends the request's records to `topic`, with its producer and
    /// condition: acknowledged once a majority has the entry durably and it
    /// has been applied here or on the leader. A refusal by the state
    /// machine is `NodeError::Rejected`, and appended nothing.
    pub async fn append(
        &self,
        topic: TopicName,
        request: AppendRequest,
    ) -> Result<AppendResponse, NodeError> {
        let started = std::time::Instant::now();
        let (records, bytes) = (
            request.records.len(),
            request.records.iter().map(NewRecord::size).sum(),
        );
        let label = topic.clone();
        let command = Command::Append {
            topic,
            records: request.records.into(),
            timestamp_ms: 0, // stamped by the leader in `propose_local`
            producer: request.producer,
            condition: request.condition,
        };
        match self.propose(command).await? {
            result @ CommandResult::Appended { duplicate, .. } => {
                let took = started.elapsed();
                crate::metrics::append_acknowledged(&label, took, duplicate, records, bytes);
                Ok(AppendResponse {
                    offsets: result.offsets(),
                    log_index: result.log_index(),
                    duplicate,
                })
            }
            other => Err(NodeError::unexpected_answer("an append", &other)),
        }
    }

    /// Sets `group`'s position in `topic` through the log, so it survives
    /// any failover; `expected` makes it a compare-and-set (see
    /// `Command::CommitOffset`).
    pub async fn commit_offset(
        &self,
        group: GroupName,
        topic: TopicName,
        request: CommitOffsetRequest,
    ) -> Result<CommitOffsetResponse, NodeError> {
        let command = Command::CommitOffset {
            group,
            topic,
            offset: request.offset,
            expected: request.expected,
        };
        match self.propose(command).await? {
            CommandResult::OffsetCommitted { log_index } => Ok(CommitOffsetResponse {
                offset: request.offset,
                log_index,
            }),
            other => Err(NodeError::unexpected_answer("a position commit", &other)),
        }
    }

    /// Proposes `command` through the leader; a rejection is an error.
    pub(crate) async fn propose(&self, command: Command) -> Result<CommandResult, NodeError> {
        match self.route(LeaderOp::Propose(command)).await? {
            LeaderAnswer::Applied(CommandResult::Rejected { rejection, .. }) => {
                Err(NodeError::Rejected { rejection })
            }
            LeaderAnswer::Applied(result) => Ok(result),
            other => Err(NodeError::unexpected_answer("a proposal", &other)),
        }
    }

    /// `group`'s position in `topic`, as fresh as `consistency` asks.
    pub async fn consumer_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        consistency: Consistency,
    ) -> Result<ConsumerOffset, NodeError> {
        self.read_barrier(consistency).await?;
        let offset = self
            .state_machine
            .consumer_offset(group, topic)
            .ok_or_else(|| NodeError::PositionNotFound {
                group: group.to_string(),
                topic: topic.to_string(),
            })?;
        Ok(ConsumerOffset { offset })
    }

    /// Every position `group` committed, with each topic's end and the
    /// group's lag in it, as fresh as `consistency` asks.
    pub async fn consumer_group(
        &self,
        group: &GroupName,
        consistency: Consistency,
    ) -> Result<ConsumerGroup, NodeError> {
        self.read_barrier(consistency).await?;
        let topics = topic_positions(self.state_machine.group_lag(group));
        if topics.is_empty() {
            return Err(NodeError::GroupNotFound {
                group: group.to_string(),
            });
        }
        Ok(ConsumerGroup {
            group: group.clone(),
            topics,
        })
    }

    /// Proposes on this node, which must be the leader.
    pub(crate) async fn propose_local(
        &self,
        mut command: Command,
    ) -> Result<CommandResult, NodeError> {
        if let Command::Append { timestamp_ms, .. } | Command::CleanTopic { timestamp_ms, .. } =
            &mut command
        {
            *timestamp_ms = (self.config.clock)();
        }
        if let Some(space) = self.disk_space.below_reserve() {
            // What frees space (deleting, compacting, expiring) goes on.
            if matches!(
                command,
                Command::Append { .. } | Command::CommitOffset { .. } | Command::PutTopic { .. }
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
        let write = self.proposer.propose(command);
        match tokio::time::timeout(self.config.write_timeout, write).await {
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
                    words::duration(self.config.write_timeout),
                    self.quorum_count()
                ),
            }),
        }
    }

    /// A page of `topic` from this node's applied state, with no barrier.
    pub(crate) fn read_page(
        &self,
        topic: &TopicName,
        params: &ReadParams,
    ) -> Result<ReadResponse, NodeError> {
        let limit = params
            .limit
            .unwrap_or(MAX_READ_LIMIT)
            .clamp(1, MAX_READ_LIMIT);
        let page = self
            .state_machine
            .read_records(topic, params.from, limit, MAX_READ_BYTES)
            .map_err(NodeError::internal)?
            .ok_or_else(|| NodeError::TopicNotFound {
                topic: topic.to_string(),
            })?;
        if params.from > page.end_offset {
            return Err(NodeError::OffsetOutOfRange {
                topic: topic.to_string(),
                from: params.from,
                end_offset: page.end_offset,
            });
        }
        if params.from < page.start_offset {
            return Err(NodeError::OffsetGone {
                topic: topic.to_string(),
                from: params.from,
                start_offset: page.start_offset,
            });
        }
        // With no record, nothing is stored from `from` to the end (a page
        // stops early only after a record): a reader of a compacted range
        // moves on to the end rather than asking for the same gap again.
        let next_offset = page.next_offset();
        Ok(ReadResponse {
            records: page.records,
            next_offset,
            end_offset: page.end_offset,
        })
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
        let read_index = match self.route(LeaderOp::ReadIndex).await? {
            LeaderAnswer::ReadIndex(index) => LogIndex(index),
            other => return Err(NodeError::unexpected_answer("a read index", &other)),
        };
        self.wait_applied(read_index, self.config.write_timeout)
            .await
    }

    pub(crate) async fn local_read_index(&self) -> Result<u64, NodeError> {
        let read = self.raft.get_read_log_id(ReadPolicy::ReadIndex);
        match tokio::time::timeout(self.config.leader_wait, read).await {
            Ok(Ok((read_log_id, _applied))) => Ok(read_log_id.index()),
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

    /// The refusal of a node that cannot take a leader's request, in words:
    /// it is not the leader, it is handing leadership over, or its quorum
    /// stopped acknowledging it (openraft's leader lease ran out). Nothing
    /// was done, so the caller may retry.
    pub(crate) fn not_leader(&self, refusal: &ForwardToLeader<TypeConfig>) -> NodeError {
        let reason = match refusal.reason {
            ForwardReason::NotLeader => "this node is no longer the leader".to_string(),
            ForwardReason::LeadershipTransfer => match refusal.leader_id {
                Some(to) => format!("leadership is being handed over to node {to}"),
                None => "leadership is being handed over".to_string(),
            },
            ForwardReason::LeaseExpired => {
                format!("the leader has lost its quorum: {}", self.quorum_count())
            }
        };
        NodeError::NoLeader {
            leader: refusal.leader_id,
            reason,
        }
    }

    /// Waits (at most `timeout`) until this node has applied `index`.
    pub(crate) async fn wait_applied(
        &self,
        index: LogIndex,
        timeout: std::time::Duration,
    ) -> Result<(), NodeError> {
        let mut applied = self.state_machine.applied_watch();
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

    /// Why the Raft core stopped, once this node's storage failed.
    fn failed_core(&self) -> Option<openraft::errors::Fatal<TypeConfig>> {
        self.storage_failure()?;
        self.raft
            .metrics()
            .borrow_watched()
            .running_state
            .clone()
            .err()
    }

    /// Answers an internal RPC from another node. Only a malformed message
    /// is an error; Raft and node errors travel inside the encoded reply.
    pub async fn handle_rpc(&self, kind: RpcKind, body: &[u8]) -> Result<Vec<u8>, DecodeError> {
        // A core stopped by a storage failure answers nothing, and openraft
        // logs an error for every Raft message sent to it (about 20 a
        // second): the sender hears of the failure here instead. Each of
        // these replies is a `Result` with a `RaftError`, whose `Err` is
        // encoded the same whatever its `Ok` type.
        let raft_message = matches!(
            kind,
            RpcKind::AppendEntries | RpcKind::Vote | RpcKind::PreVote | RpcKind::TransferLeader
        );
        if raft_message {
            if let Some(fatal) = self.failed_core() {
                return Ok(rpc::encode(&Err::<(), _>(RaftError::<TypeConfig>::Fatal(
                    fatal,
                ))));
            }
        }
        Ok(match kind {
            RpcKind::AppendEntries => {
                let request = rpc::decode_append_entries(body)?;
                // Below half its reserve a follower takes no new entries
                // (see `disk_space`); the leader retries, and heartbeats
                // still reach it.
                let carries_entries = !request.entries.is_empty();
                if carries_entries {
                    if let Some(space) = self.disk_space.below_follower_floor() {
                        let reply: Result<AppendEntriesResponse<TypeConfig>, _> =
                            Err(RaftError::<TypeConfig>::Fatal(low_space(&space)));
                        return Ok(rpc::encode(&reply));
                    }
                }
                let reply = self.raft.append_entries(request).await;
                // Any answer but "your term is over" means a current leader
                // reached this node.
                if reply
                    .as_ref()
                    .is_ok_and(|r| !matches!(r, AppendEntriesResponse::HigherVote(_)))
                {
                    self.leader_contact.record();
                }
                let appended = reply.as_ref().is_ok_and(|r| {
                    matches!(
                        r,
                        AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_)
                    )
                });
                if carries_entries && appended {
                    self.snapshots.abandon();
                }
                rpc::encode(&reply)
            }
            RpcKind::Vote => rpc::encode(&self.raft.vote(rpc::decode(body)?).await),
            RpcKind::PreVote => rpc::encode(&self.raft.pre_vote(rpc::decode(body)?).await),
            RpcKind::Snapshot => {
                let (header, chunk) = rpc::decode_snapshot(body)?;
                let vote = header.vote;
                if let Some(space) = self.disk_space.below_follower_floor() {
                    return Ok(rpc::encode(&SnapshotReply::StartOver(format!(
                        "node {} takes no snapshot while its disk space is low: {space}",
                        self.id()
                    ))));
                }
                let reply = match self
                    .snapshots
                    .receive(&self.state_machine, header, &chunk)
                    .await
                {
                    Ok(None) => SnapshotReply::Accepted,
                    Ok(Some(snapshot)) => {
                        let data = snapshot.snapshot.clone();
                        let installed = self
                            .raft
                            .install_full_snapshot(vote, snapshot)
                            .await
                            .map_err(RaftError::<TypeConfig>::Fatal);
                        if let Err(e) = self.state_machine.discard_unused_snapshot(&data) {
                            tracing::warn!(error = %e, "could not delete a snapshot not installed");
                        }
                        SnapshotReply::Installed(installed)
                    }
                    Err(reason) => SnapshotReply::StartOver(reason),
                };
                rpc::encode(&reply)
            }
            RpcKind::Forward => {
                let request: ForwardRequest = rpc::decode(body)?;
                let reply: ForwardReply = if self.current_leader() == Some(self.config.id) {
                    self.propose_local(request.command).await
                } else {
                    Err(NodeError::NoLeader {
                        leader: self.current_leader(),
                        reason: format!("node {} is not the leader", self.config.id),
                    })
                };
                rpc::encode(&reply)
            }
            RpcKind::ReadIndex => {
                let reply: ReadIndexReply = self.local_read_index().await;
                rpc::encode(&reply)
            }
            RpcKind::Membership => {
                let op: MembershipOp = rpc::decode(body)?;
                let reply: MembershipReply = self.membership_local(op).await;
                rpc::encode(&reply)
            }
            RpcKind::TransferLeader => {
                let reply = self.raft.handle_transfer_leader(rpc::decode(body)?).await;
                rpc::encode(&reply.map_err(RaftError::<TypeConfig>::Fatal))
            }
        })
    }

    /// The applied state now, as a backup: its last log id (index, term)
    /// and the snapshot stream (see `ordo_store::backup`).
    pub async fn export_snapshot(
        &self,
    ) -> Result<(Option<(u64, u64)>, ordo_store::SnapshotData), NodeError> {
        let ordo_store::ExportedSnapshot { meta, data } = self
            .state_machine
            .export_snapshot()
            .await
            .map_err(NodeError::internal)?;
        let last = meta
            .last_log_id
            .map(|log_id| (log_id.index, log_id.committed_leader_id().term));
        Ok((last, data))
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
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

/// What a follower below its reserve answers a leader's entries with: an
/// error the leader takes as "cannot take messages now" and retries.
fn low_space(space: &crate::disk_space::SpaceReading) -> openraft::errors::Fatal<TypeConfig> {
    let refusal = std::io::Error::other(format!("disk space low: {space}"));
    openraft::errors::Fatal::StorageError(openraft::StorageError::from_io_error(
        openraft::ErrorSubject::Logs,
        openraft::ErrorVerb::Write,
        refusal,
    ))
}

/// A group's lag in each topic, as the API shows it.
pub(crate) fn topic_positions(
    lags: BTreeMap<TopicName, ordo_store::GroupLag>,
) -> BTreeMap<TopicName, TopicPosition> {
    lags.into_iter()
        .map(|(topic, lag)| {
            let position = TopicPosition {
                offset: lag.offset,
                end_offset: lag.end_offset,
                lag_records: lag.lag_records,
            };
            (topic, position)
        })
        .collect()
}
