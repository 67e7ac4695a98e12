//! Deterministic network simulation of an ordo cluster (turmoil).
//!
//! The nodes run the production `ordo-node` and `ordo-http` code; only the
//! network ([`net`]) and the disk (`ordo_store::MemDisk`) are simulated.
//! A seed determines everything: the fault [`schedule`], the clients'
//! [`workload`], message latencies, Raft's election timeouts. Every client
//! operation is recorded ([`recorder`], [`history`]) and the [`checker`]
//! verifies the history against ordo's guarantees. [`run`] ties one seed
//! together; `src/main.rs` runs many.

pub mod checker;
pub mod cluster;
pub mod history;
pub mod net;
pub mod recorder;
pub mod run;
pub mod schedule;
pub mod workload;
