//! ordo-store: durable storage for openraft: the Raft log (entries in
//! segment files under `raft-log/`; vote, committed and purged log ids in
//! sled), the state machine (records by topic and offset in segment files
//! under `records/`; topic metadata, key index, producer table, consumer
//! positions, last applied log id, membership in sled) and the current
//! snapshot. In production it lives on sled and
//! real files; in the deterministic simulation the same code runs on a
//! [`MemDisk`] (trees and files) that can crash.
//!
//! Map of the crate:
//! - [`open`] and [`open_memory`] (here): one disk per node, split into the
//!   two handles openraft wants.
//! - `kv`: the storage-medium seam, the only place that touches sled
//!   (`kv::sled_disk`) or the simulated disk ([`MemDisk`], `kv::mem_disk`,
//!   with the I/O errors the simulation injects into it, `kv::disk_faults`).
//! - `type_config`: the bounds on the Raft type configuration ([`StoreTypeConfig`]).
//! - `keys`: tree names and every key layout; `codec`: every value encoding
//!   but a record's in segment files, which is `record_codec`'s.
//! - `log_store`: [`LogStore`], openraft's `RaftLogStorage` and `RaftLogReader`;
//!   `raft_log_segments`: its entries in segment files; `recent_entries`:
//!   the newest of them kept decoded; `raft_entry`: one entry's binary
//!   layout there and between nodes; `flusher`: its group commit,
//!   completing appends once a flush returns.
//! - `state_machine`: [`StateMachineStore`], openraft's `RaftStateMachine`;
//!   `persisted`: the decided state's entries in the tree, written only
//!   where an apply changed them; `record_log`: the records, behind one
//!   seam (`RecordLog`) whatever their layout (in the tree; or in per-topic
//!   segment files, `record_log::segments`, not opened by `open` yet); `read`: the read API for the node and its HTTP layer
//!   ([`TopicPage`], positions and their [`GroupLag`], producers);
//!   `snapshot`: building, installing and keeping the current snapshot;
//!   `snapshot_file`: where snapshot bytes live ([`SnapshotData`]).
//! - `segment`: the segment-file storage engine (files, frames, indexes,
//!   `SegmentLog`), which holds the Raft log (and, through
//!   `record_log::segments`, can hold the topics' records);
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
mod binary;
mod codec;
mod command_codec;
mod error;
mod flusher;
mod keys;
mod kv;
mod log_store;
pub mod metrics;
#[cfg(feature = "mutants")]
pub mod mutants;
mod persisted;
mod raft_entry;
mod raft_log_segments;
mod read;
mod recent_entries;
mod record_codec;
mod record_log;
mod record_recovery;
mod segment;
mod slow_sync;
mod snapshot;
mod snapshot_file;
mod state_machine;
mod type_config;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use backup::{backup_meta, ExportedSnapshot};
pub use error::{KvError, StoreError};
pub use kv::{DiskArea, DiskError, DiskOp, InjectedError, MemDisk, CACHE_CAPACITY_BYTES};
pub use log_store::LogStore;
pub use raft_entry::{decode_entry, encode_entry, payload_len_hint};
pub use read::{GroupLag, QueueView, TopicPage};
pub use slow_sync::{SLOW_SYNC_P99, SLOW_SYNC_WINDOW};
pub use snapshot_file::{SnapshotData, SnapshotWriter};
pub use state_machine::StateMachineStore;
pub use type_config::{OrdoPayload, StoreTypeConfig};

use kv::Disk;
use record_log::{RecordLog, RecordSegmentOptions};
use segment::Files;
use snapshot_file::SnapshotHome;

/// Opens (or creates) the node's store in `dir`, on sled and segment files,
/// and returns its log and its state machine. Both share one `sled::Db`, so
/// a flush of the log's metadata (a vote, a purge) also makes every state
/// machine write made before it durable.
///
/// sled locks the directory: a second `open` of the same `dir` fails while
/// any handle from the first is alive.
pub fn open<C: StoreTypeConfig>(
    dir: &Path,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    open_with(dir, &StoreOptions::default())
}

/// [`StoreOptions::log_segment_bytes`] by default.
pub const LOG_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// [`StoreOptions::flush_linger`]'s default.
pub const FLUSH_LINGER: std::time::Duration = std::time::Duration::from_micros(500);

/// [`StoreOptions::record_segment_bytes`] by default.
pub const RECORD_SEGMENT_BYTES: u64 = record_log::RECORD_SEGMENT_BYTES;

/// How a store on sled is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// sled's page cache limit in bytes (sled counts pages at their on-disk
    /// size, so the memory it takes is a multiple of this).
    pub cache_capacity_bytes: u64,
    /// Whether the Raft log's `append` returns before its flush (openraft
    /// replicates the entries while the leader flushes them; the flusher
    /// completes them) or after it. On by default: with the log in segment
    /// files it answers one client about 40 % faster and 16 clients about
    /// 15 % faster than waiting for the flush (`docs/performance.md`).
    pub pipelined_flush: bool,
    /// How long the flusher waits for more appends before a flush when the
    /// flush before it served more than one (on real files; a simulated
    /// disk's flush has a latency of its own). A busy log then syncs once
    /// for a larger group: at 64 clients a leader flushed about 1,700 times
    /// a second, 8 entries each, and waiting 500 µs cut the cluster's CPU
    /// per append by 5-17 % at 64 clients in two runs of three (the third
    /// was within its noise); one client's appends, each flushed alone,
    /// never wait (`docs/performance.md`).
    pub flush_linger: std::time::Duration,
    /// Whether the Raft log's newest segment is written only with direct,
    /// synchronous writes (`O_DIRECT | O_DSYNC`, whole blocks), a flush
    /// being one such write, instead of a buffered write and an
    /// fdatasync. On by default; a file system that refuses direct I/O
    /// gets the write and the fdatasync either way.
    pub direct_sync: bool,
    /// The size of one segment file of the Raft log: each is preallocated
    /// to it, and a purge removes whole segments, so a node keeps up to
    /// this much of its log beyond what its snapshot needs.
    pub log_segment_bytes: u64,
    /// The size of one segment file of a topic's records: retention
    /// removes, and compaction rewrites, whole segments.
    pub record_segment_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity_bytes: CACHE_CAPACITY_BYTES,
            pipelined_flush: true,
            flush_linger: FLUSH_LINGER,
            direct_sync: true,
            log_segment_bytes: LOG_SEGMENT_BYTES,
            record_segment_bytes: RECORD_SEGMENT_BYTES,
        }
    }
}

/// [`open`] with options.
pub fn open_with<C: StoreTypeConfig>(
    dir: &Path,
    options: &StoreOptions,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    let disk = Disk::open_sled(dir, options.cache_capacity_bytes)?;
    split(&disk, Files::real(dir), SnapshotHome::files(dir)?, options)
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
    let handle = disk.open_incarnation();
    let files = Files::Memory(handle.clone());
    split(&Disk::Memory(handle), files, SnapshotHome::Tree, options)
}

/// The two handles openraft wants, sharing `disk`.
fn split<C: StoreTypeConfig>(
    disk: &Disk,
    files: Files,
    snapshots: SnapshotHome,
    options: &StoreOptions,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    let record_options = RecordSegmentOptions {
        segment_bytes: options.record_segment_bytes,
    };
    let records = RecordLog::open_in_segments(disk, files.clone(), &record_options)?;
    let log = LogStore::open(disk, files, records.clone(), options)?;
    let state_machine = StateMachineStore::open(disk, snapshots, records)?;
    Ok((log, state_machine))
}
