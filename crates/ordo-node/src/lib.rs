//! ordo's Raft node: everything between the HTTP layer and storage.
//!
//! - [`types`]: the one openraft type config.
//! - [`transport`]: the small byte-level RPC trait nodes talk through
//!   (reqwest in production; the simulation plugs in its own).
//! - [`raft_stream`]: Raft's messages over one kept-open connection per
//!   peer, both ends, as a transport over any way of dialling a peer.
//! - [`network`]: openraft's network, written once over any transport.
//! - [`peer_log`]: what a node logs about reaching its peers, in place of
//!   openraft's warning per failed message.
//! - [`reachability`]: pure: which of those outcomes are worth a line.
//! - [`rpc`]: the internal RPC paths and their encoding, for both ends;
//!   [`append_wire`]: the binary form of AppendEntries, the message sent most.
//! - [`node`]: the `Node` that owns `Raft`, store and transport, and turns
//!   client requests into proposals, forwarding to the leader when needed.
//! - `topics`: topic administration and the search by time.
//! - `wait`: reads that wait: long-poll and read-your-writes.
//! - [`status`]: the cluster status view built from Raft metrics.
//! - [`health`]: whether this node is in touch with a quorum and ready.
//! - [`disk_space`]: the free-space reserve below which a node takes no
//!   new data.
//! - [`storage_fault`]: a node whose storage failed: out of the way, logged
//!   once, then its process exits for its supervisor to start it again.
//! - `membership`: adding and removing nodes, handing over leadership.
//! - `snapshot_trigger`: snapshots by the bytes of log written.
//! - [`membership_rules`]: pure: which membership changes are allowed.
//! - [`runtime`]: openraft's async runtime, with seedable randomness.
//! - [`clock`]: where record timestamps come from.
//! - `words`: durations written for the people who read messages.
//! - [`metrics`]: the node's Prometheus metric names (appends, leader
//!   changes), the bound on topic labels, and where they are recorded.

pub mod append_wire;
mod cleaner;
pub mod clock;
pub mod config;
pub mod disk_space;
pub mod error;
pub mod health;
mod membership;
pub mod membership_rules;
pub mod metrics;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod network;
pub mod node;
pub mod peer_log;
mod propose;
mod proposer;
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
pub mod transport;
pub mod types;
mod words;

pub use config::NodeConfig;
pub use error::NodeError;
pub use node::Node;
pub use transport::{node_transport, HttpTransport, Transport, TransportError};
pub use types::TypeConfig;
