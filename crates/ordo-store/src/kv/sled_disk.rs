//! The production medium: sled, on real files. The only module that opens
//! a sled database or commits to one; reads go to sled directly from `kv`.
//!
//! sled flushes in write order and recovers a prefix of unflushed writes,
//! and a batch or transaction is atomic: the contract `kv` states.

use std::collections::BTreeMap;
use std::path::Path;

use sled::Transactional;

use super::Write;
use crate::error::StoreError;

/// sled's page cache limit, by default. sled's own default (1 GiB) is far
/// more than a node should pin in memory per process; records are read back
/// from disk. sled counts pages at their on-disk size, so the memory it
/// uses is a multiple of this (see `docs/operations.md`, "Memory and disk").
pub const CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// sled's log segment size. sled stores a tree page larger than a quarter
/// of a segment as a separate blob file, and sled 0.34 does not reliably
/// delete blob files it no longer needs (spacejam/sled#786): with the
/// default 512 KiB segments, pages of a few large Raft log entries became
/// blobs and a leader's disk grew by about a quarter of everything appended
/// even though its log was purged and its topics compacted. With 8 MiB
/// segments only values over 2 MiB become blobs.
pub const SEGMENT_SIZE_BYTES: usize = 8 * 1024 * 1024;

/// Opens (or creates) the database in `dir` with a page cache of
/// `cache_capacity` bytes. sled locks the directory: a second open fails
/// while any handle from the first is alive.
pub(super) fn open(dir: &Path, cache_capacity: u64) -> Result<sled::Db, StoreError> {
    sled::Config::new()
        .path(dir)
        .cache_capacity(cache_capacity)
        .segment_size(SEGMENT_SIZE_BYTES)
        // Flushed only when the store says (after the records' files are
        // synced), never on a timer: the tree must never become durable
        // ahead of the segment files it points into.
        .flush_every_ms(None)
        .open()
        .map_err(|source| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        })
}

/// Commits `writes` atomically: one sled batch if they touch one tree, one
/// transaction over every tree they touch otherwise.
pub(super) fn commit(db: &sled::Db, writes: Vec<Write>) -> Result<(), StoreError> {
    let mut batches: BTreeMap<&'static str, sled::Batch> = BTreeMap::new();
    for write in writes {
        let batch = batches.entry(write.tree).or_default();
        match write.value {
            Some(value) => batch.insert(write.key, value),
            None => batch.remove(write.key),
        }
    }
    let mut trees = Vec::with_capacity(batches.len());
    let mut tree_batches = Vec::with_capacity(batches.len());
    for (name, batch) in batches {
        trees.push(db.open_tree(name)?);
        tree_batches.push(batch);
    }
    if let ([tree], [_]) = (trees.as_slice(), tree_batches.as_slice()) {
        let batch = tree_batches.pop().expect("one batch for one tree");
        tree.apply_batch(batch)?;
        return Ok(());
    }
    trees.as_slice().transaction(
        |views| -> sled::transaction::ConflictableTransactionResult<(), StoreError> {
            for (view, batch) in views.iter().zip(&tree_batches) {
                view.apply_batch(batch)?;
            }
            Ok(())
        },
    )?;
    Ok(())
}
