//! The store's promises, one file per promise: openraft's own storage suite
//! on both media, durability across reopen, crash semantics of the memory
//! disk and of the store on it, the state machine's apply and reads,
//! snapshots, compaction and retention, the decided state (producers, key index, positions) across
//! all of these, the record log's own promises against each of its
//! implementations, (feature `mutants`) that each mutant breaks its promise,
//! and the segment engine's files and logs (`segment`).

mod cleanup;
mod crash;
mod decided;
mod durability;
mod mem_disk;
#[cfg(feature = "mutants")]
mod mutants;
mod pipelined;
mod queues;
mod raft_log;
mod record_log;
mod record_segments;
mod segment;
mod snapshot;
mod snapshot_links;
mod state_machine;
mod suite;
pub(crate) mod support;
mod topics;
mod upgrade;
