//! ordo-store: durable storage for openraft: the Raft log (entries, vote,
//! committed and purged log ids), the state machine (records by topic and
//! offset, topic metadata, key index, producer table, consumer positions,
//! last applied log id, membership) and the current snapshot. In production it lives on sled; in the deterministic simulation
//! the same code runs on a [`MemDisk`] that can crash.
//!
//! Map of the crate:
//! - [`open`] and [`open_memory`] (here): one disk per node, split into the
//!   two handles openraft wants.
//! - `kv`: the storage-medium seam, the only place that touches sled
//!   (`kv::sled_disk`) or the simulated disk ([`MemDisk`], `kv::mem_disk`).
//! - `type_config`: the bounds on the Raft type configuration ([`StoreTypeConfig`]).
//! - `keys`: tree names and every key layout; `codec`: every value encoding.
//! - `log_store`: [`LogStore`], openraft's `RaftLogStorage` and `RaftLogReader`;
//!   `flusher`: its group commit, completing appends once a flush returns.
//! - `state_machine`: [`StateMachineStore`], openraft's `RaftStateMachine`;
//!   `persisted`: the decided state's entries in the tree, written only
//!   where an apply changed them; `record_log`: the records, behind one
//!   seam (`RecordLog`) whatever their layout; `read`: the read API for the HTTP layer
//!   ([`TopicPage`], positions, producers);
//!   `snapshot`: building, installing and keeping the current snapshot;
//!   `snapshot_file`: where snapshot bytes live ([`SnapshotData`]).
//! - `segment`: the building blocks of the segment-file storage engine
//!   (files, frames, indexes, `SegmentLog`), not yet wired into the store;
//!   `segment::files` is its file-medium seam, real files or the files of
//!   the same [`MemDisk`] (reached only through `kv::mem_disk`'s handle).
//! - `backup`: exporting the applied state as a backup, and seeding an
//!   empty store from one.
//! - `error`: [`StoreError`].
//! - [`metrics`]: the store's Prometheus metric names (flush latency,
//!   snapshots) and where they are recorded.
//! - `mutants` (feature `mutants` only): deliberate durability bugs for the
//!   simulation's checker to catch.
//!
//! This crate decides nothing (offsets, dedupe, conditions, positions):
//! `ordo_core::apply` does, and this crate persists what it decided.

mod backup;
mod codec;
mod error;
mod flusher;
mod keys;
mod kv;
mod log_store;
pub mod metrics;
#[cfg(feature = "mutants")]
pub mod mutants;
mod persisted;
mod read;
mod record_log;
// Until the store runs on it (issue 13), only its tests use most of it.
#[cfg_attr(not(test), allow(dead_code, unused_imports))]
mod segment;
mod snapshot;
mod snapshot_file;
mod state_machine;
mod type_config;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use backup::backup_meta;
pub use error::StoreError;
pub use kv::{MemDisk, CACHE_CAPACITY_BYTES};
pub use log_store::LogStore;
pub use read::TopicPage;
pub use snapshot_file::{SnapshotData, SnapshotWriter};
pub use state_machine::StateMachineStore;
pub use type_config::{OrdoPayload, StoreTypeConfig};

use kv::Disk;
use record_log::RecordLog;
use snapshot_file::SnapshotHome;

/// Opens (or creates) the node's store in `dir`, on sled, and returns its log
/// and its state machine. Both share one `sled::Db`, so flushing the log also
/// makes every state machine write made before it durable.
///
/// sled locks the directory: a second `open` of the same `dir` fails while
/// any handle from the first is alive.
pub fn open<C: StoreTypeConfig>(
    dir: &Path,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    open_with(dir, &StoreOptions::default())
}

/// How a store on sled is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// sled's page cache limit in bytes (sled counts pages at their on-disk
    /// size, so the memory it takes is a multiple of this).
    pub cache_capacity_bytes: u64,
    /// Whether the Raft log's `append` returns before its flush (openraft
    /// replicates the entries while the leader flushes them; the flusher
    /// completes them) or after it. Off by default: on sled it answers one
    /// client about 15 % faster but costs about 20 % of throughput at 16
    /// and 64 clients (`docs/performance.md`).
    pub pipelined_flush: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity_bytes: CACHE_CAPACITY_BYTES,
            pipelined_flush: false,
        }
    }
}

/// [`open`] with options.
pub fn open_with<C: StoreTypeConfig>(
    dir: &Path,
    options: &StoreOptions,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    let disk = Disk::open_sled(dir, options.cache_capacity_bytes)?;
    split(&disk, SnapshotHome::files(dir)?, options)
}

/// Opens the node's store on a simulated `disk`, as [`open`] does on sled,
/// after [`MemDisk::crash`] or on a fresh disk. This starts a new
/// incarnation: every store opened on `disk` before is fenced off and fails
/// from now on. Opening without a crash first keeps the unflushed writes,
/// still unflushed, so a restart that may lose data is `crash` then this.
pub fn open_memory<C: StoreTypeConfig>(
    disk: &MemDisk,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    open_memory_with(disk, &StoreOptions::default())
}

/// [`open_memory`] with options (the cache capacity means nothing there).
pub fn open_memory_with<C: StoreTypeConfig>(
    disk: &MemDisk,
    options: &StoreOptions,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    split(&Disk::open_memory(disk), SnapshotHome::Tree, options)
}

/// The two handles openraft wants, sharing `disk`.
fn split<C: StoreTypeConfig>(
    disk: &Disk,
    snapshots: SnapshotHome,
    options: &StoreOptions,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    let log = LogStore::open(disk, options.pipelined_flush)?;
    let records = RecordLog::open_in_tree(disk)?;
    let state_machine = StateMachineStore::open(disk, snapshots, records)?;
    Ok((log, state_machine))
}
