//! [`SegmentLog`]: one directory of segments holding items with increasing
//! sequence numbers, contiguous (the Raft log by index) or, with
//! [`SegmentOptions::allow_gaps`], with gaps (a topic's records by offset,
//! after compaction or from a snapshot): appends and rolling to a new
//! segment (here), writing out and syncing with group commit (`sync`),
//! reads through the sparse indexes (`read`); `reshape` (truncate, purge,
//! reset, replace) changes which segments it holds. Opening is
//! `recovery`'s job; one segment's files are `segment_file`'s.
//!
//! Durability: appends go to a write buffer (written out once it holds
//! [`SegmentOptions::write_buffer_bytes`]); [`SegmentLog::sync`] writes it
//! with one write and fdatasyncs the newest segment (and the directory, if a
//! segment was created since), so many appends share one sync. With
//! [`SegmentOptions::direct_sync`] every write of the newest segment is
//! durable when it returns instead ([`File::write_durably_at`]: direct and
//! synchronous, in whole blocks), so a sync is that one write; the buffer
//! then starts at the block that holds the end of what is written, and
//! keeps that block's written bytes, since each write rewrites it. A segment is
//! sealed (written out, its preallocated tail trimmed, synced with its
//! indexes) before the next one is created, so no segment exists on disk
//! without every item before it. Truncation, purge, reset and replacement
//! are durable when they return.
//!
//! Concurrency: one writer, many readers. Every change takes `&mut self`;
//! reads take `&self` and use positional reads (no shared file cursor), so
//! readers may share the log (behind a lock whose read side they hold, or
//! any `&SegmentLog`) while no write is under way. Reads see every append,
//! synced or not.
//!
//! A failed write or sync leaves what is on disk unknown (a failed fsync may
//! have dropped the dirty pages a retry would then never write), so after
//! one every change fails with [`StoreError::SegmentLogFailed`] until the
//! log is reopened, which recovers.

mod read;
mod reshape;
mod sync;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::file::{block_start, File};
use super::files::Files;
use super::frame::ByteSource;
use super::index::{IndexPoint, SegmentIndex, SegmentTail};
use super::item::{Item, ItemRef, MAX_ITEM_PAYLOAD_BYTES};
use super::recovery::{self, Recovery};
use super::segment_file::{rewrite_path, segment_path, FileKind, Segment};
use crate::error::StoreError;

/// A segment's size before the log rolls to a new one, by default.
pub(crate) const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Log bytes between two index points, by default.
pub(crate) const DEFAULT_INDEX_INTERVAL_BYTES: u64 = 4 * 1024;

/// Appends buffered before they are written out (not synced), by default.
pub(crate) const DEFAULT_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// How a segment log lays out its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentOptions {
    /// A segment takes items until the next would take it past this; new
    /// segments are preallocated to it. (An item larger than this gets a
    /// segment of its own.)
    pub segment_bytes: u64,
    /// An item gets an index point once this many log bytes have passed
    /// since the last point: a read scans at most about this much to reach
    /// its first item. At least 1.
    pub index_interval_bytes: u64,
    /// Appends are buffered until a sync, or until this many bytes of them
    /// are (then written out with one write, not synced).
    pub write_buffer_bytes: usize,
    /// Whether seqs may skip: an append's seqs must then only be strictly
    /// increasing and at or after [`SegmentLog::next_seq`], and a segment
    /// may start after the one before it ends (a compacted topic's
    /// records, or a snapshot's, by offset). Off by default: the Raft log
    /// keeps its indexes contiguous, and recovery refuses a gap in it.
    pub allow_gaps: bool,
    /// Whether the newest segment is written only with durable writes
    /// (see the module's documentation), a sync being one such write.
    /// Off by default; the Raft log, synced for every group of appends,
    /// turns it on.
    pub direct_sync: bool,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            index_interval_bytes: DEFAULT_INDEX_INTERVAL_BYTES,
            write_buffer_bytes: DEFAULT_WRITE_BUFFER_BYTES,
            allow_gaps: false,
            direct_sync: false,
        }
    }
}

/// An immutable segment, for a snapshot to hard-link: its files (relative
/// to the log's [`Files`] root) and the seqs it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealedSegment {
    pub base_seq: u64,
    /// One past its last item.
    pub end_seq: u64,
    pub log: PathBuf,
    pub index: PathBuf,
    pub time_index: PathBuf,
}

/// One directory of segments; see the module's documentation.
pub(crate) struct SegmentLog {
    files: Files,
    dir: PathBuf,
    options: SegmentOptions,
    /// Immutable segments, oldest first.
    sealed: Vec<Segment>,
    /// The newest segment, the one appends go to.
    active: Segment,
    /// The newest segment's bytes from `buffer_start` on, and
    /// `buffer_start + buffer.len()` is its data length: frames appended
    /// but not yet written to its file, which holds `written` bytes. With
    /// [`SegmentOptions::direct_sync`] the buffer starts at the block that
    /// holds `written` (its written bytes kept), otherwise at `written`.
    buffer: Vec<u8>,
    buffer_start: u64,
    written: u64,
    /// With [`SegmentOptions::direct_sync`]: held for each write of the
    /// newest segment, and counting those made through `&mut self`, so a
    /// [`sync::PendingSync`] writes only if none was made since it began (one
    /// made since wrote all it holds, and more, to the same blocks).
    direct_writes: Arc<Mutex<u64>>,
    /// A segment was created since the directory was last synced.
    dir_unsynced: bool,
    /// Set by a failed write or sync (shared with each [`sync::PendingSync`],
    /// which sets it itself when its sync fails).
    failed: Arc<AtomicBool>,
}

impl SegmentLog {
    /// Opens (or creates, empty, from seq 0) the log in `dir` under
    /// `files`, recovering from a crash: see `segment::recovery` for what
    /// it repairs and what it refuses.
    pub(crate) fn open(
        files: Files,
        dir: &Path,
        options: SegmentOptions,
    ) -> Result<(SegmentLog, Recovery), StoreError> {
        assert!(
            options.index_interval_bytes > 0,
            "an index interval of 0 bytes"
        );
        let (recovered, recovery) = recovery::recover(&files, dir, &options)?;
        let written = recovered.active.tail.data_len;
        let mut log = SegmentLog {
            files,
            dir: dir.to_path_buf(),
            options,
            sealed: recovered.sealed,
            active: recovered.active,
            buffer: Vec::new(),
            buffer_start: written,
            written,
            direct_writes: Arc::default(),
            dir_unsynced: false,
            failed: Arc::default(),
        };
        log.keep_written_block()?;
        Ok((log, recovery))
    }

    /// The first seq the log holds (its oldest segment's base), or
    /// [`SegmentLog::next_seq`] when it holds none.
    pub(crate) fn first_seq(&self) -> u64 {
        self.sealed
            .first()
            .map_or(self.active.base_seq, |segment| segment.base_seq)
    }

    /// The seq the next append must have (with gaps: at least), one past
    /// the last item appended (after a reopen, one past the last item held).
    pub(crate) fn next_seq(&self) -> u64 {
        self.active.end_seq
    }

    /// Appends one item; `seq` must be [`SegmentLog::next_seq`]. Durable
    /// only once a later [`SegmentLog::sync`] returns.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn append(
        &mut self,
        seq: u64,
        timestamp_ms: u64,
        payload: &[u8],
    ) -> Result<(), StoreError> {
        self.append_batch([ItemRef {
            seq,
            timestamp_ms,
            payload,
        }])
    }

    /// Appends items with seqs from [`SegmentLog::next_seq`] on, in order
    /// (with gaps if [`SegmentOptions::allow_gaps`]): all of them, or (if
    /// any is out of sequence or too large) none.
    pub(crate) fn append_batch<'a>(
        &mut self,
        items: impl IntoIterator<Item = ItemRef<'a>>,
    ) -> Result<(), StoreError> {
        self.check_usable()?;
        let items: Vec<ItemRef<'a>> = items.into_iter().collect();
        let mut expected = self.next_seq();
        for item in &items {
            let in_sequence = if self.options.allow_gaps {
                item.seq >= expected
            } else {
                item.seq == expected
            };
            if !in_sequence {
                return Err(StoreError::OutOfSequence {
                    dir: self.files.full_path(&self.dir),
                    expected,
                    found: item.seq,
                });
            }
            expected = item.seq + 1;
            if item.payload.len() > MAX_ITEM_PAYLOAD_BYTES {
                return Err(StoreError::ItemTooLarge {
                    dir: self.files.full_path(&self.dir),
                    bytes: item.payload.len(),
                    max: MAX_ITEM_PAYLOAD_BYTES,
                });
            }
        }
        let result = items.iter().try_for_each(|item| self.push(item));
        let result = result.and_then(|()| {
            if self.buffer.len() >= self.options.write_buffer_bytes {
                self.write_buffer()
            } else {
                Ok(())
            }
        });
        self.fail_on_error(result)
    }

    /// Syncs everything and trims the newest segment's preallocated tail:
    /// the next open finds nothing to repair.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn close(mut self) -> Result<(), StoreError> {
        self.sync()?;
        self.active.index.sync()?;
        self.active.log.set_len(self.active.tail.data_len)?;
        self.active.log.sync_data()
    }

    fn last_seq(&self) -> Option<u64> {
        (self.next_seq() > self.first_seq()).then(|| self.next_seq() - 1)
    }

    /// Adds one checked item to the write buffer, rolling first if it would
    /// take the newest segment past its size.
    fn push(&mut self, item: &ItemRef<'_>) -> Result<(), StoreError> {
        let frame_len = item.frame_len();
        let data_len = self.active.tail.data_len;
        if data_len > 0 && data_len + frame_len > self.options.segment_bytes {
            self.roll()?;
        }
        let interval = self.options.index_interval_bytes;
        let tail = &mut self.active.tail;
        if let Some(point) = tail.advance(item.seq, item.timestamp_ms, frame_len, interval) {
            self.active.index.push(point);
        }
        item.encode(&mut self.buffer);
        self.active.end_seq = item.seq + 1;
        Ok(())
    }

    /// Seals the newest segment and starts the next.
    fn roll(&mut self) -> Result<(), StoreError> {
        self.write_buffer()?;
        self.drop_buffer();
        self.active.index.seal()?;
        self.active.log.set_len(self.active.tail.data_len)?;
        self.active.log.sync_data()?;
        let base_seq = self.active.end_seq;
        let next = Segment::create(&self.files, &self.dir, base_seq, self.options.segment_bytes)?;
        self.dir_unsynced = true;
        self.sealed.push(std::mem::replace(&mut self.active, next));
        self.written_to(0)
    }

    /// Which segment holds `seq` (0 is the oldest, `sealed.len()` the
    /// newest): the last one starting at or before it, or the oldest.
    fn segment_containing(&self, seq: u64) -> usize {
        let starting_at_or_before = self.sealed.partition_point(|s| s.base_seq <= seq)
            + usize::from(self.active.base_seq <= seq);
        starting_at_or_before.saturating_sub(1)
    }

    fn segment(&self, i: usize) -> &Segment {
        self.sealed.get(i).unwrap_or(&self.active)
    }

    fn check_usable(&self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(StoreError::SegmentLogFailed {
                dir: self.files.full_path(&self.dir),
            });
        }
        Ok(())
    }

    fn fail_on_error<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        result
    }
}
