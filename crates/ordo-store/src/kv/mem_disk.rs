//! The simulated medium: [`MemDisk`], one node's disk in memory, for the
//! deterministic simulation. It promises what sled promises and no more: a
//! write is readable at once but durable only after a flush, and a crash
//! keeps the flushed state plus a prefix, in write order, of the write
//! batches made since (sled recovers such a prefix of its unflushed log).
//!
//! The same disk holds the segment engine's files (`segment::mem_files`,
//! with the crash contract of a real disk written out there), so one
//! [`MemDisk::crash`] takes down the trees and the files together.
//!
//! Deterministic by construction: ordered maps only, no threads, no clocks,
//! no randomness. How many unflushed batches a crash keeps, and how much of
//! each file's unsynced bytes, is the caller's choice; the simulation draws
//! it from its seeded RNG.
//!
//! Each open of a store on the disk starts an incarnation. A crash, or a
//! newer open, fences off every handle of the older incarnations: their
//! reads, writes and flushes fail with [`StoreError::Fenced`], so a crashed
//! node's leftover tasks can never write into its next life.
//!
//! The simulation can make chosen writes and syncs fail (`ENOSPC`, `EIO`;
//! the plan and its record are `kv::disk_faults`'s): a disk full in an area
//! until space returns, or the next sync in an area. A failed flush of the
//! trees loses the batches it was to make durable (fsyncgate, as a failed
//! sync of a file loses its changes: see `segment::mem_files`): they stay
//! readable, but no crash keeps them and no later flush makes them durable.
//! [`MemDisk::injected_errors`] tells what the current incarnation was made
//! to see.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{DiskArea, DiskError, DiskOp, InjectedError, Place, Write};
use crate::error::{KvError, StoreError};
use crate::segment::MemFileSystem;

type Key = Arc<[u8]>;
type Value = Arc<[u8]>;
type TreeMap = BTreeMap<Key, Value>;
type Trees = BTreeMap<&'static str, TreeMap>;

/// One atomic unit of writes: a batch, or a single insert or remove.
type WriteBatch = Vec<MemWrite>;

struct MemWrite {
    tree: &'static str,
    key: Key,
    /// `None` removes the key.
    value: Option<Value>,
}

/// One simulated node's disk. Cloning gives another handle to the same disk,
/// so the simulation can keep it across the node's crash and reopen a store
/// on it with [`crate::open_memory`].
#[derive(Clone, Default)]
pub struct MemDisk {
    state: Arc<Mutex<DiskState>>,
}

#[derive(Default)]
struct DiskState {
    /// What survives any crash.
    durable: Trees,
    /// What reads see: `durable` with every unflushed batch applied (and
    /// those a failed flush lost).
    current: Trees,
    /// Batches written since the last flush, oldest first.
    unflushed: Vec<WriteBatch>,
    /// The segment engine's files and directories.
    files: MemFileSystem,
    /// Bumped by every open and every crash; handles of another are fenced.
    incarnation: u64,
    /// How long the Raft log's flusher takes to start a flush (simulated
    /// time): the window in which appended entries are written but not
    /// durable, and a crash or an election can find them so.
    flush_latency: Duration,
}

impl MemDisk {
    /// A fresh, empty disk.
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    /// How many write batches a crash now could lose: the range the
    /// simulation draws `keep_unflushed_batches` from is `0..=` this.
    pub fn unflushed_batches(&self) -> usize {
        self.lock().unflushed.len()
    }

    /// Makes every flush of the Raft log's flusher on this disk wait
    /// `latency` of (simulated) time first. Zero, the default, flushes as
    /// soon as the flusher runs.
    pub fn set_flush_latency(&self, latency: Duration) {
        self.lock().flush_latency = latency;
    }

    /// How many bytes of each file's unsynced changes a crash now could
    /// lose, by path: the range [`MemDisk::crash_with`] draws each file's
    /// `keep_file_bytes` from is `0..=` this. (A truncation or preallocation
    /// counts as one byte.)
    pub fn unsynced_file_bytes(&self) -> BTreeMap<PathBuf, u64> {
        self.lock().files.unsynced_bytes()
    }

    /// Disk full: from now on every write and preallocation of a file in
    /// `area` fails with `error` and writes nothing (and with
    /// [`DiskArea::Anywhere`], every flush of the trees), until
    /// [`MemDisk::stop_failing_writes`].
    pub fn fail_writes(&self, area: DiskArea, error: DiskError) {
        self.lock().files.faults.fail_writes(area, error);
    }

    /// Space returns: writes succeed again.
    pub fn stop_failing_writes(&self) {
        self.lock().files.faults.stop_failing_writes();
    }

    /// The next sync in `area` (a file's fdatasync, or the sync half of a
    /// durable write; with [`DiskArea::Anywhere`], also a flush of the
    /// trees) fails with `error`, and what it was to make durable is lost
    /// to any later crash. Each call arms one more such failure.
    pub fn fail_next_sync(&self, area: DiskArea, error: DiskError) {
        self.lock().files.faults.fail_next_sync(area, error);
    }

    /// Disarms every fault: writes succeed, and no sync armed to fail
    /// (and not failed yet) will.
    pub fn clear_faults(&self) {
        self.lock().files.faults.clear();
    }

    /// The injected errors the disk returned since its current incarnation
    /// began (the last open of a store on it, or the last crash).
    pub fn injected_errors(&self) -> Vec<InjectedError> {
        self.lock().files.faults.injected().to_vec()
    }

    /// Simulates power loss. Everything flushed survives, and so do the
    /// first `keep_unflushed_batches` batches written since the last flush
    /// (all of them if there are fewer), each whole; the rest are lost.
    /// Files keep what they had at their last sync, and none of their
    /// unsynced bytes; each directory is as it was at its last sync.
    /// Every store opened on this disk so far is fenced off; open a new one
    /// with [`crate::open_memory`] to restart the node.
    pub fn crash(&self, keep_unflushed_batches: usize) {
        self.crash_with(keep_unflushed_batches, |_, _| 0);
    }

    /// [`MemDisk::crash`], keeping of each file (by path) also the first
    /// `keep_file_bytes(path, unsynced_bytes)` bytes of what was written to
    /// it since its last sync: a torn write if that ends inside a write.
    pub fn crash_with(
        &self,
        keep_unflushed_batches: usize,
        keep_file_bytes: impl FnMut(&Path, u64) -> u64,
    ) {
        let mut state = self.lock();
        let state = &mut *state;
        let keep = keep_unflushed_batches.min(state.unflushed.len());
        for batch in state.unflushed.drain(..keep) {
            apply(&mut state.durable, batch);
        }
        state.unflushed.clear();
        state.current = state.durable.clone();
        state.files.crash(keep_file_bytes);
        state.files.faults.new_incarnation();
        state.incarnation += 1;
    }

    /// Starts a new incarnation and returns its handle.
    pub(crate) fn open_incarnation(&self) -> MemHandle {
        let mut state = self.lock();
        state.files.faults.new_incarnation();
        state.incarnation += 1;
        MemHandle {
            disk: self.clone(),
            incarnation: state.incarnation,
        }
    }

    // Every update below leaves the state whole before it could panic (only
    // allocation can), so a poisoned lock still guards a consistent disk.
    fn lock(&self) -> MutexGuard<'_, DiskState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemDisk")
            .field("incarnation", &state.incarnation)
            .field("unflushed_batches", &state.unflushed.len())
            .finish_non_exhaustive()
    }
}

/// Applies one batch's writes, in order, to `trees`.
fn apply(trees: &mut Trees, batch: WriteBatch) {
    for write in batch {
        let tree = trees.entry(write.tree).or_default();
        match write.value {
            Some(value) => tree.insert(write.key, value),
            None => tree.remove(&write.key),
        };
    }
}

/// One incarnation's access to a [`MemDisk`].
#[derive(Clone)]
pub(crate) struct MemHandle {
    disk: MemDisk,
    incarnation: u64,
}

impl MemHandle {
    /// The disk's state, if this handle's incarnation is still the live one.
    fn live(&self) -> Result<MutexGuard<'_, DiskState>, StoreError> {
        let state = self.disk.lock();
        if state.incarnation != self.incarnation {
            return Err(StoreError::Fenced);
        }
        Ok(state)
    }

    /// Runs `work` on the disk's files, if this handle is still live.
    pub(crate) fn with_files<T>(
        &self,
        work: impl FnOnce(&mut MemFileSystem) -> T,
    ) -> Result<T, StoreError> {
        Ok(work(&mut self.live()?.files))
    }

    pub(super) fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Value>, StoreError> {
        let state = self.live()?;
        Ok(state
            .current
            .get(tree)
            .and_then(|tree| tree.get(key))
            .cloned())
    }

    #[cfg(test)]
    pub(super) fn last(&self, tree: &str) -> Result<Option<(Key, Value)>, StoreError> {
        let state = self.live()?;
        Ok(state
            .current
            .get(tree)
            .and_then(|tree| tree.last_key_value())
            .map(|(key, value)| (Arc::clone(key), Arc::clone(value))))
    }

    /// Writes `writes` as one unflushed batch, readable at once.
    pub(super) fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let batch: WriteBatch = writes
            .into_iter()
            .map(|write| MemWrite {
                tree: write.tree,
                key: write.key.into(),
                value: write.value.map(Into::into),
            })
            .collect();
        let mut state = self.live()?;
        let state = &mut *state;
        for write in &batch {
            let tree = state.current.entry(write.tree).or_default();
            match &write.value {
                Some(value) => tree.insert(Arc::clone(&write.key), Arc::clone(value)),
                None => tree.remove(&write.key),
            };
        }
        state.unflushed.push(batch);
        Ok(())
    }

    /// See [`MemDisk::set_flush_latency`].
    pub(crate) fn flush_latency(&self) -> Duration {
        self.disk.lock().flush_latency
    }

    /// Makes every batch written so far durable. If it fails (an injected
    /// fault), those batches are lost to any crash, even after a later
    /// flush succeeds.
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        let mut state = self.live()?;
        let state = &mut *state;
        if let Some(error) = state.files.faults.on_sync(DiskOp::TreeFlush, Place::Trees) {
            state.unflushed.clear();
            return Err(StoreError::Kv(KvError::io(error)));
        }
        for batch in state.unflushed.drain(..) {
            apply(&mut state.durable, batch);
        }
        Ok(())
    }

    pub(super) fn range(
        &self,
        tree: &'static str,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> MemIter {
        MemIter {
            handle: self.clone(),
            tree,
            lower: lower.map(Into::into),
            upper: upper.map(Into::into),
            done: false,
        }
    }
}

/// A lazy range scan. It takes the disk's lock for one entry at a time and
/// resumes after the last key it returned, so it holds no lock between
/// steps and sees writes made meanwhile, as a sled iterator may.
pub(crate) struct MemIter {
    handle: MemHandle,
    tree: &'static str,
    /// Moves past each key returned.
    lower: Bound<Key>,
    upper: Bound<Key>,
    done: bool,
}

impl Iterator for MemIter {
    type Item = Result<(Key, Value), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let state = match self.handle.live() {
            Ok(state) => state,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        // `kv` never builds an empty range, and `lower` only ever moves to a
        // key inside it, so this range never panics.
        let bounds = (
            self.lower.as_ref().map(|key| &**key),
            self.upper.as_ref().map(|key| &**key),
        );
        let found = state
            .current
            .get(self.tree)
            .and_then(|tree| tree.range::<[u8], _>(bounds).next())
            .map(|(key, value)| (Arc::clone(key), Arc::clone(value)));
        drop(state);
        match found {
            Some((key, value)) => {
                self.lower = Bound::Excluded(Arc::clone(&key));
                Some(Ok((key, value)))
            }
            None => {
                self.done = true;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "t";

    fn insert(handle: &MemHandle, key: &[u8], value: &[u8]) {
        handle
            .commit(vec![Write::insert(TREE, key, value.to_vec())])
            .expect("commit");
    }

    fn holds(handle: &MemHandle, key: &[u8]) -> bool {
        handle.get(TREE, key).expect("get").is_some()
    }

    #[test]
    fn a_failed_flush_loses_its_batches_even_after_a_later_flush_succeeds() {
        let disk = MemDisk::new();
        let handle = disk.open_incarnation();
        insert(&handle, b"a", b"1");
        handle.flush().expect("flush");
        insert(&handle, b"b", b"2");
        disk.fail_next_sync(DiskArea::Anywhere, DiskError::Io);

        assert!(handle.flush().is_err());
        assert!(holds(&handle, b"b"), "still readable until a crash");
        insert(&handle, b"c", b"3");
        handle.flush().expect("the next flush succeeds");
        assert_eq!(disk.injected_errors().len(), 1);
        disk.crash(usize::MAX);

        let handle = disk.open_incarnation();
        assert!(holds(&handle, b"a") && holds(&handle, b"c"));
        assert!(!holds(&handle, b"b"), "lost with the failed flush");
        assert_eq!(disk.injected_errors(), vec![], "a new incarnation");
    }

    #[test]
    fn a_full_disk_fails_flushes_of_the_trees_until_space_returns() {
        let disk = MemDisk::new();
        let handle = disk.open_incarnation();
        disk.fail_writes(DiskArea::Anywhere, DiskError::NoSpace);
        insert(&handle, b"a", b"1");
        let failed = handle.flush().expect_err("disk full");
        assert!(failed.to_string().contains("os error 28"), "{failed}");
        disk.stop_failing_writes();
        insert(&handle, b"b", b"2");
        handle.flush().expect("space returned");
        disk.crash(0);

        let handle = disk.open_incarnation();
        assert!(!holds(&handle, b"a") && holds(&handle, b"b"));
    }
}
