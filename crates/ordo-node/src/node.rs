//! The `Node`: owns `Raft`, the state machine's read side and the transport.
//! This file holds the struct, its start and shutdown, and the accessors
//! the node's rooms reach its parts through; the work is done elsewhere:
//!
//! - `propose`: the write path (append, position commits, any command),
//!   proposed here when this node leads, else forwarded;
//! - `reads`: reads and their waits (read barrier, read index, pages,
//!   consumer positions);
//! - `routing`: the way to the leader, wherever it is;
//! - `rpc_answer`: the answers to other nodes' RPCs;
//! - `topics`, `membership`, `health`, `status`, `storage_fault`,
//!   `kafka_brokers`, `cluster_view`, `event_watch`: their own jobs, named
//!   by their files.
//!
//! Any node accepts any request. A follower forwards a command to the leader
//! and, for a linearizable read, asks the leader for a read index and then
//! serves the read from its own state once it has applied that index. Every
//! failure says whether the command may have been applied (`OutcomeUnknown`)
//! or certainly was not (`NoLeader`, `Unavailable`), so callers retry safely.

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{InitializeError, RaftError};
use openraft::BasicNode;

use crate::config::NodeConfig;
use crate::disk_space::DiskSpace;
use crate::error::{raft_stopped, NodeError};
use crate::event_watch::Events;
use crate::health::LeaderContact;
use crate::kafka_brokers::KafkaAddresses;
use crate::network::NetworkFactory;
use crate::peers::Peers;
use crate::proposer::Proposer;
use crate::snapshot_receiver::SnapshotReceiver;
use crate::storage_fault::StorageFault;
use crate::types::{LogStore, Raft, StateMachine};
use ordo_core::{LogIndex, NodeId, Term};

/// A backup of the applied state: the snapshot stream and the last log
/// entry it holds.
pub struct Backup {
    /// The index and term of the last entry applied, if any was.
    pub last_log_id: Option<(LogIndex, Term)>,
    pub data: ordo_store::SnapshotData,
}

pub struct Node {
    config: NodeConfig,
    raft: Raft,
    state_machine: StateMachine,
    transport: Arc<dyn Peers>,
    snapshots: SnapshotReceiver,
    leader_contact: LeaderContact,
    /// Gathers this node's writes into batches for openraft's core.
    proposer: Proposer,
    /// Set once this node's storage failed (see `storage_fault`).
    storage_fault: StorageFault,
    /// The data dir's free space against its reserve (see `disk_space`).
    disk_space: DiskSpace,
    /// The members' Kafka addresses as they last answered (see
    /// `kafka_brokers`).
    kafka_addresses: KafkaAddresses,
    /// What this node saw happen, newest last (see `events`).
    events: Events,
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
        transport: Arc<dyn Peers>,
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
        let config_id = config.id;
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
            kafka_addresses: KafkaAddresses::default(),
            events: Events::new(config_id),
        });
        tokio::spawn(crate::disk_space::watch(Arc::downgrade(&node)));
        tokio::spawn(crate::storage_fault::watch(Arc::downgrade(&node)));
        tokio::spawn(crate::snapshot_receiver::drop_abandoned(Arc::downgrade(
            &node,
        )));
        tokio::spawn(crate::cleaner::run(Arc::downgrade(&node)));
        tokio::spawn(crate::event_watch::watch(Arc::downgrade(&node)));
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

    /// How this node calls its peers (forwarding to the leader).
    pub(crate) fn transport(&self) -> &dyn Peers {
        self.transport.as_ref()
    }

    /// Where this node's writes are gathered for openraft (see `propose`).
    pub(crate) fn proposer(&self) -> &Proposer {
        &self.proposer
    }

    /// The snapshot being received from the leader, chunk by chunk.
    pub(crate) fn snapshots(&self) -> &SnapshotReceiver {
        &self.snapshots
    }

    /// When a leader last reached this node (see `health`).
    pub(crate) fn leader_contact(&self) -> &LeaderContact {
        &self.leader_contact
    }

    /// Whether this node's storage failed (see `storage_fault`).
    pub(crate) fn storage_fault(&self) -> &StorageFault {
        &self.storage_fault
    }

    /// The data dir's free space against its reserve (see `disk_space`).
    pub(crate) fn disk_space(&self) -> &DiskSpace {
        &self.disk_space
    }

    /// The members' Kafka addresses as they last answered.
    pub(crate) fn kafka_addresses(&self) -> &KafkaAddresses {
        &self.kafka_addresses
    }

    /// What this node saw happen (see `events`).
    pub(crate) fn events(&self) -> &Events {
        &self.events
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
    pub fn current_term(&self) -> Term {
        Term(
            self.raft
                .server_metrics()
                .borrow_watched()
                .vote
                .leader_id
                .term,
        )
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

    /// The applied state now, as a backup (see `ordo_store::backup`).
    pub async fn export_snapshot(&self) -> Result<Backup, NodeError> {
        let ordo_store::ExportedSnapshot { meta, data } = self
            .state_machine
            .export_snapshot()
            .await
            .map_err(NodeError::internal)?;
        let last = meta.last_log_id.map(|log_id| {
            (
                LogIndex(log_id.index),
                Term(log_id.committed_leader_id().term),
            )
        });
        Ok(Backup {
            last_log_id: last,
            data,
        })
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
