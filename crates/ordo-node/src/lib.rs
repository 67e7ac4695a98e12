//! ordo's Raft node: everything between the HTTP layer and storage.
//!
//! The life of an append, one line a step:
//!
//! 1. Received: `ordo-http`'s `routes/records.rs` turns the request into an
//!    `ordo_core::Append`; [`Node::append`] (`propose.rs`) makes it a
//!    `Command::Append` and routes it to the leader (`routing.rs`; from a
//!    follower as a `Forward` RPC, answered in `rpc_answer.rs`).
//! 2. Ordered: on the leader `Node::propose_local` (`propose.rs`) stamps it
//!    and hands it to the `Proposer` (`proposer.rs`), which proposes it to
//!    openraft in a batch (`Raft::client_write_many`).
//! 3. Durable: openraft appends it to the log store, which `ordo-store`'s
//!    `flusher.rs` flushes (`log_store.rs`: nothing is reported persisted
//!    before the disk has it); a majority's copies make it committed.
//! 4. Applied: `ordo-store`'s `state_machine.rs` applies the committed entry
//!    (`ordo_core::apply` assigns the offsets) and answers a `CommandResult`.
//! 5. Answered: the result comes back through the `Proposer` to
//!    [`Node::append`] as an `ordo_core::Appended`, which
//!    `routes/records.rs` sends as the `AppendResponse`.
//!
//! The rooms:
//!
//! - [`node`]: the `Node`: its parts, its start and shutdown, accessors.
//! - `propose`: the write path (append, position commits, any command),
//!   proposed on the leader or forwarded to it; `proposer`: the batches.
//! - `reads`: reads and their waits: the read barrier and read index,
//!   read-your-writes, long-poll pages, consumer positions.
//! - `routing`: the way to the leader, for what only it can do.
//! - `rpc_answer`: the answering side of the internal RPCs.
//! - `topics`: topic administration and the search by time.
//! - `membership`: adding and removing nodes, handing over leadership;
//!   [`membership_rules`]: pure: which membership changes are allowed.
//! - [`status`]: the cluster status view built from Raft metrics.
//! - [`health`]: whether this node is in touch with a quorum and ready.
//! - [`kafka_brokers`]: each member's Kafka address, asked of it and
//!   kept a few seconds.
//! - [`cluster_view`]: every member's own view and events, asked of it,
//!   for `GET /v1/cluster/nodes` and `GET /v1/events`.
//! - [`events`]: pure: a node's recent events in a bounded ring, and the
//!   merge of several nodes' by time; `event_watch`: what records them
//!   from Raft's metrics (leaders, membership, snapshots built).
//! - [`disk_space`]: the free-space reserve below which a node takes no
//!   new data.
//! - [`storage_fault`]: a node whose storage failed: out of the way, logged
//!   once, then its process exits for its supervisor to start it again.
//! - `snapshot_trigger`: snapshots by the bytes of log written;
//!   `snapshot_receiver`: a snapshot received in chunks.
//! - `cleaner`: compaction and retention passes on the leader's clock.
//! - [`types`]: the one openraft type config.
//! - [`peers`]: what a node reaches its peers through ([`Peers`]: one call,
//!   its success answer or a [`PeerError`]), each call a request of its own
//!   over any `ordo_transport::Transport` (reqwest in production, turmoil in
//!   the simulation).
//! - [`raft_stream`]: Raft's messages over one kept-open connection per
//!   peer: its frames, its dialing side and its answering side.
//! - [`network`]: openraft's network, written once over any transport.
//! - [`peer_log`]: what a node logs about reaching its peers, in place of
//!   openraft's warning per failed message.
//! - [`reachability`]: pure: which of those outcomes are worth a line.
//! - [`rpc`]: the internal RPC paths and their encoding, for both ends;
//!   [`append_wire`]: the binary form of AppendEntries, the message sent most.
//! - [`runtime`]: openraft's async runtime, with seedable randomness.
//! - [`clock`]: where record timestamps come from.
//! - `words`: durations written for the people who read messages.
//! - [`metrics`]: the node's Prometheus metric names (appends, leader
//!   changes), the bound on topic labels, and where they are recorded.

pub mod append_wire;
mod cleaner;
pub mod clock;
pub mod cluster_view;
pub mod config;
pub mod disk_space;
pub mod error;
mod event_watch;
pub mod events;
pub mod health;
pub mod kafka_brokers;
mod membership;
pub mod membership_rules;
pub mod metrics;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod network;
pub mod node;
pub mod peer_log;
pub mod peers;
mod propose;
mod proposer;
mod queues;
pub mod raft_stream;
pub mod reachability;
mod reads;
mod replication_gather;
pub mod restore;
mod routing;
pub mod rpc;
mod rpc_answer;
pub mod runtime;
mod snapshot_receiver;
mod snapshot_trigger;
pub mod status;
pub mod storage_fault;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod topics;
pub mod types;
mod words;

pub use config::NodeConfig;
pub use error::NodeError;
pub use node::{Backup, Node};
pub use ordo_store::QueueView;
pub use peers::{node_transport, PeerError, Peers, RequestPeers};
pub use queues::ClaimedJobs;
pub use reads::{Page, ReadRequest};
pub use types::TypeConfig;
