//! [`RaftLogSegments`]: the Raft log's entries in segment files (a
//! [`SegmentLog`] whose seqs are log indexes, each item one entry as
//! `raft_entry` lays it out), shared by every `LogStore` clone and the
//! flusher. The log's metadata (vote, committed and purged log ids) stays
//! in the store's tree.
//!
//! Concurrency: appends and reshapes take the segment log's write lock,
//! reads its read lock, each only for the memory and file work itself; a
//! sync takes the write lock only to write out what is buffered, and waits
//! for the disk without it, so appends and reads go on meanwhile. Whatever
//! removes segments (truncation, purge) first waits for a sync under way,
//! so no sync is left holding a removed file.
//!
//! The newest entries are also kept decoded ([`RecentEntries`]), so that
//! replicating and applying what was just appended reads no file.

use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use openraft::LogId;

use crate::error::StoreError;
use crate::raft_entry;
use crate::recent_entries::RecentEntries;
use crate::segment::{Files, ItemRef, SegmentLog, SegmentOptions};
use crate::type_config::{EntryLeaderId, StoreTypeConfig};

/// The directory of the Raft log's segments, under the store's.
pub(crate) const RAFT_LOG_DIR: &str = "raft-log";

/// The Raft log's segments; see the module's documentation.
pub(crate) struct RaftLogSegments {
    segments: RwLock<Held>,
    /// Held for a whole sync, and by whatever removes segments.
    syncing: Mutex<()>,
    /// Bytes of entries appended since the log was opened.
    appended_bytes: AtomicU64,
}

impl RaftLogSegments {
    /// Opens (or creates) the log in [`RAFT_LOG_DIR`] under `files`, in
    /// segments of `segment_bytes` (with [`SegmentOptions::direct_sync`]
    /// as `direct_sync` says), repairing what a crash left, and logs each
    /// repair.
    pub(crate) fn open(
        files: Files,
        segment_bytes: u64,
        direct_sync: bool,
    ) -> Result<RaftLogSegments, StoreError> {
        let options = SegmentOptions {
            segment_bytes,
            direct_sync,
            ..SegmentOptions::default()
        };
        let (segments, recovery) = SegmentLog::open(files, Path::new(RAFT_LOG_DIR), options)?;
        for action in &recovery.actions {
            tracing::warn!(repair = %action, "the Raft log was not closed cleanly");
        }
        let first_index = segments.first_seq();
        Ok(RaftLogSegments {
            segments: RwLock::new(Held {
                segments,
                first_index,
                recent: RecentEntries::default(),
            }),
            syncing: Mutex::new(()),
            appended_bytes: AtomicU64::new(0),
        })
    }

    /// Appends `entries`, which must follow on from the last one held (an
    /// empty log takes them from any index). Readable at once; durable once
    /// a later [`RaftLogSegments::sync`] returns.
    pub(crate) fn append<C: StoreTypeConfig>(
        &self,
        entries: impl IntoIterator<Item = C::Entry>,
    ) -> Result<(), StoreError> {
        let mut encoded = Vec::new();
        for entry in entries {
            let (log_id, payload) = C::into_parts(entry);
            let mut bytes = Vec::new();
            raft_entry::encode(&log_id, &payload, &mut bytes)?;
            encoded.push((log_id, payload, bytes));
        }
        let mut held = self.write()?;
        if let Some((log_id, _, _)) = encoded.first() {
            if held.is_empty() && held.segments.next_seq() != log_id.index {
                held.reset(log_id.index)?;
            }
        }
        let appended = held
            .segments
            .append_batch(encoded.iter().map(|(log_id, _, bytes)| ItemRef {
                seq: log_id.index,
                timestamp_ms: 0,
                payload: bytes,
            }));
        if let Err(e) = appended {
            // Part of the batch may be in the files: read them from now on.
            held.recent.clear();
            return Err(e);
        }
        let bytes: usize = encoded.iter().map(|(_, _, bytes)| bytes.len()).sum();
        held.recent.appended(
            encoded
                .into_iter()
                .map(|(log_id, payload, bytes)| (log_id, payload, bytes.len()))
                .collect(),
        );
        self.appended_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Bytes of entries appended since the log was opened.
    pub(crate) fn appended_bytes(&self) -> u64 {
        self.appended_bytes.load(Ordering::Relaxed)
    }

    /// The entries in `range` that the log holds, in order.
    pub(crate) fn read<C: StoreTypeConfig>(
        &self,
        range: &impl RangeBounds<u64>,
    ) -> Result<Vec<C::Entry>, StoreError> {
        let held = self.read_lock()?;
        let start = match range.start_bound() {
            Bound::Included(index) => *index,
            Bound::Excluded(index) => index.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(index) => index.saturating_add(1),
            Bound::Excluded(index) => *index,
            Bound::Unbounded => u64::MAX,
        };
        Self::read_held::<C>(&held, start.max(held.first_index), end)
    }

    /// The entries from `start` up to `end` (exclusive) if the log still
    /// holds the entry at `start`, and none if it was purged. Replication
    /// reads this way: openraft sends the entries it reads after the
    /// `prev_log_id` it chose, so entries starting later than asked (a
    /// purge ran meanwhile) would not follow it, and a follower with an
    /// empty log would take them with a hole in front (openraft then
    /// sends a heartbeat and turns to a snapshot).
    pub(crate) fn read_from<C: StoreTypeConfig>(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<C::Entry>, StoreError> {
        let held = self.read_lock()?;
        if start < held.first_index {
            return Ok(Vec::new());
        }
        Self::read_held::<C>(&held, start, end)
    }

    /// The entries in `start..end` of `held`, from `start` (which it holds).
    fn read_held<C: StoreTypeConfig>(
        held: &Held,
        start: u64,
        end: u64,
    ) -> Result<Vec<C::Entry>, StoreError> {
        let segments = &held.segments;
        let end = end.min(segments.next_seq());
        if start >= end {
            return Ok(Vec::new());
        }
        if let Some(entries) = held.recent.get(start, end) {
            return Ok(entries
                .into_iter()
                .map(|(log_id, payload)| C::from_parts(log_id, payload))
                .collect());
        }
        let count = usize::try_from(end - start).unwrap_or(usize::MAX);
        segments
            .read(start, count, usize::MAX)?
            .into_iter()
            .map(|item| {
                let (log_id, payload) = raft_entry::decode(item.seq, &item.payload)?;
                Ok(C::from_parts(log_id, payload))
            })
            .collect()
    }

    /// The last entry's log id, if the log holds any.
    pub(crate) fn last_log_id(&self) -> Result<Option<LogId<EntryLeaderId>>, StoreError> {
        let held = self.read_lock()?;
        if held.is_empty() {
            return Ok(None);
        }
        let next = held.segments.next_seq();
        let last = held.segments.read(next - 1, 1, usize::MAX)?;
        let item = last.first().ok_or(StoreError::LogHole {
            expected: next - 1,
            found: next,
        })?;
        raft_entry::decode_log_id(item.seq, &item.payload).map(Some)
    }

    /// Whether the log holds no entry.
    pub(crate) fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.read_lock()?.is_empty())
    }

    /// Makes every entry appended before it durable.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let _syncing = self.lock_syncing()?;
        let pending = self.write()?.segments.begin_sync()?;
        let synced = pending.sync()?;
        if synced.wrote_directly() {
            self.write()?.segments.synced(synced);
        }
        Ok(())
    }

    /// Drops every entry after `index` (all of them for `None`). Durable
    /// when it returns.
    pub(crate) fn truncate_after(&self, index: Option<u64>) -> Result<(), StoreError> {
        let _syncing = self.lock_syncing()?;
        let mut held = self.write()?;
        match index {
            Some(index) if index >= held.first_index => {
                held.recent.truncate_after(index);
                held.segments.truncate_after(index)
            }
            _ => {
                let first = held.first_index;
                held.reset(first)
            }
        }
    }

    /// Empties the log, so that the next append is `next_index`. Durable
    /// when it returns.
    pub(crate) fn reset(&self, next_index: u64) -> Result<(), StoreError> {
        let _syncing = self.lock_syncing()?;
        self.write()?.reset(next_index)
    }

    /// Forgets the entries up to `index` (inclusive): removes the segments
    /// that hold only such entries, or, when no later entry is held, empties
    /// the log so that the next append is `index + 1`. Durable when it
    /// returns.
    pub(crate) fn purge_through(&self, index: u64) -> Result<(), StoreError> {
        let _syncing = self.lock_syncing()?;
        let mut held = self.write()?;
        let next = index.saturating_add(1);
        if next >= held.segments.next_seq() {
            held.reset(next)
        } else {
            held.recent.purge_through(index);
            held.segments.purge_before(next)?;
            held.first_index = held.first_index.max(next);
            Ok(())
        }
    }

    fn read_lock(&self) -> Result<RwLockReadGuard<'_, Held>, StoreError> {
        self.segments.read().map_err(|_| StoreError::Poisoned)
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, Held>, StoreError> {
        self.segments.write().map_err(|_| StoreError::Poisoned)
    }

    fn lock_syncing(&self) -> Result<MutexGuard<'_, ()>, StoreError> {
        self.syncing.lock().map_err(|_| StoreError::Poisoned)
    }
}

/// The segments, and the first index they hold that is not purged: purge
/// removes whole segments, so entries before it may still be in the oldest.
struct Held {
    segments: SegmentLog,
    first_index: u64,
    /// The newest entries, decoded, mirroring the segments' last ones.
    recent: RecentEntries,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.segments.next_seq() <= self.first_index
    }

    fn reset(&mut self, next_index: u64) -> Result<(), StoreError> {
        self.recent.clear();
        self.segments.reset(next_index)?;
        self.first_index = next_index;
        Ok(())
    }
}
