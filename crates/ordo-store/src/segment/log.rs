//! [`SegmentLog`]: one directory of segments holding items with increasing
//! sequence numbers, contiguous (the Raft log by index) or, with
//! [`SegmentOptions::allow_gaps`], with gaps (a topic's records by offset,
//! after compaction or from a snapshot): appends with group commit, reads through the sparse indexes,
//! and rolling to a new segment; `reshape` (truncate, purge, reset,
//! replace) changes which segments it holds. Opening is `recovery`'s job;
//! one segment's files are `segment_file`'s.
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

mod reshape;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::files::{block_start, File, Files};
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
    /// [`PendingSync`] writes only if none was made since it began (one
    /// made since wrote all it holds, and more, to the same blocks).
    direct_writes: Arc<Mutex<u64>>,
    /// A segment was created since the directory was last synced.
    dir_unsynced: bool,
    /// Set by a failed write or sync (shared with each [`PendingSync`],
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

    /// Writes every buffered append to its file, without syncing it: a
    /// process crash (not a power loss) keeps them from now on.
    pub(crate) fn write_out(&mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        let result = self.write_buffer();
        self.fail_on_error(result)
    }

    /// Makes every item appended so far durable, and returns the last one's
    /// seq (`None` if the log holds none).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn sync(&mut self) -> Result<Option<u64>, StoreError> {
        self.check_usable()?;
        let result = self.write_and_sync();
        self.fail_on_error(result)?;
        Ok(self.last_seq())
    }

    /// The first half of a sync that does not hold the log while the disk
    /// works: writes out what is buffered (and syncs the directory, if a
    /// segment was created since) and returns the newest segment's file to
    /// sync, or with [`SegmentOptions::direct_sync`] a copy of the buffer
    /// to write. [`PendingSync::sync`] does the rest, and the log takes
    /// note of a direct write with [`SegmentLog::synced`]; appends, reads
    /// and rolls may go on meanwhile (a roll syncs the segment it seals,
    /// and a pending write skips itself once a roll or a reshape has
    /// written). Removing the segment while it is pending is the caller's
    /// to prevent. A failed sync marks the log failed.
    pub(crate) fn begin_sync(&mut self) -> Result<PendingSync, StoreError> {
        self.check_usable()?;
        let result = self.begin_sync_unchecked();
        self.fail_on_error(result)
    }

    fn begin_sync_unchecked(&mut self) -> Result<PendingSync, StoreError> {
        let write = if !self.options.direct_sync {
            self.write_buffer()?;
            SyncWrite::Fdatasync
        } else if self.buffer_start + self.buffer.len() as u64 > self.written {
            SyncWrite::Direct(DirectWrite {
                position: self.buffer_start,
                bytes: self.buffer.clone(),
                after_writes: *lock(&self.direct_writes),
                writes: Arc::clone(&self.direct_writes),
            })
        } else {
            // Every direct write was durable when it returned.
            SyncWrite::Nothing
        };
        self.active.index.write_pending()?;
        if self.dir_unsynced {
            self.files.sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        Ok(PendingSync {
            file: self.active.log.try_clone()?,
            write,
            log_failed: Arc::clone(&self.failed),
        })
    }

    /// Takes note of a sync's direct write, once [`PendingSync::sync`] has
    /// returned it: the bytes it wrote are in the file, and the buffer
    /// drops the blocks before the one that holds their end. Nothing to do
    /// for a sync that wrote nothing, or whose bytes a later write of the
    /// log has written since.
    pub(crate) fn synced(&mut self, synced: Synced) {
        let Some((after_writes, end)) = synced.direct else {
            return;
        };
        if *lock(&self.direct_writes) == after_writes && end > self.written {
            self.written_through(end);
        }
    }

    /// Up to `max_items` items from `from_seq` on, in order, stopping before
    /// the item that would take their payloads past `max_bytes` (but
    /// always at least one, if there is one). Fails for a seq purged.
    pub(crate) fn read(
        &self,
        from_seq: u64,
        max_items: usize,
        max_bytes: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let first = self.first_seq();
        if from_seq < first {
            return Err(StoreError::Purged {
                dir: self.files.full_path(&self.dir),
                seq: from_seq,
                first,
            });
        }
        let mut items: Vec<Item> = Vec::new();
        let mut bytes = 0;
        let mut full = max_items == 0;
        for i in self.segment_containing(from_seq)..=self.sealed.len() {
            if full || from_seq >= self.next_seq() {
                break;
            }
            let start = self.segment(i).index.at_or_before(from_seq)?;
            self.visit(i, start, |_, item| {
                if item.seq < from_seq {
                    return true;
                }
                if !items.is_empty() && bytes + item.payload.len() > max_bytes {
                    full = true;
                    return false;
                }
                bytes += item.payload.len();
                items.push(item.to_item());
                full = items.len() >= max_items;
                !full
            })?;
        }
        Ok(items)
    }

    /// The seq of the first item whose timestamp is at or after
    /// `timestamp_ms`, if any.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn seek_time(&self, timestamp_ms: u64) -> Result<Option<u64>, StoreError> {
        for i in 0..=self.sealed.len() {
            let segment = self.segment(i);
            if segment.tail.max_timestamp_ms < Some(timestamp_ms) {
                continue;
            }
            let start = segment.index.last_older_than(timestamp_ms)?;
            let mut found = None;
            self.visit(i, start, |_, item| {
                if item.timestamp_ms >= timestamp_ms {
                    found = Some(item.seq);
                }
                found.is_none()
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The segments no append, truncation or reset will change, oldest
    /// first: those before the one appends go to.
    pub(crate) fn sealed_segments(&self) -> Vec<SealedSegment> {
        let path = |base_seq, kind| segment_path(&self.dir, base_seq, kind);
        self.sealed
            .iter()
            .map(|segment| SealedSegment {
                base_seq: segment.base_seq,
                end_seq: segment.end_seq,
                log: path(segment.base_seq, FileKind::Log),
                index: path(segment.base_seq, FileKind::Index),
                time_index: path(segment.base_seq, FileKind::TimeIndex),
            })
            .collect()
    }

    /// The newest segment's log file and how many bytes at its start hold
    /// its items before `end_seq`, if there are any and they are all
    /// written out to the file (none still in the write buffer): bytes that
    /// no later append, sync or seal changes, which a snapshot may share.
    pub(crate) fn active_prefix(&self, end_seq: u64) -> Result<Option<(PathBuf, u64)>, StoreError> {
        if end_seq <= self.active.base_seq {
            return Ok(None);
        }
        let start = self.active.index.at_or_before(end_seq - 1)?;
        let mut len = 0;
        self.visit(self.sealed.len(), start, |position, item| {
            if item.seq >= end_seq {
                return false;
            }
            len = position + item.frame_len();
            true
        })?;
        if len == 0 || len > self.written {
            return Ok(None);
        }
        let path = segment_path(&self.dir, self.active.base_seq, FileKind::Log);
        Ok(Some((path, len)))
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

    /// Writes the buffer out: with [`SegmentOptions::direct_sync`] durably,
    /// keeping the block that holds the end; otherwise not synced, emptying it.
    fn write_buffer(&mut self) -> Result<(), StoreError> {
        let end = self.buffer_start + self.buffer.len() as u64;
        if end == self.written {
            return Ok(());
        }
        if self.options.direct_sync {
            let mut writes = lock(&self.direct_writes);
            self.active
                .log
                .write_durably_at(self.buffer_start, &self.buffer)?;
            *writes += 1;
        } else {
            self.active.log.write_at(self.written, &self.buffer)?;
        }
        debug_assert_eq!(end, self.active.tail.data_len);
        self.written_through(end);
        Ok(())
    }

    /// The file holds the buffer's bytes up to `end`: the buffer drops
    /// them, or with [`SegmentOptions::direct_sync`] those before the block
    /// that holds `end`.
    fn written_through(&mut self, end: u64) {
        self.written = end;
        let keep_from = if self.options.direct_sync {
            block_start(end)
        } else {
            end
        };
        self.buffer
            .drain(..(keep_from - self.buffer_start) as usize);
        self.buffer_start = keep_from;
    }

    /// Makes any [`PendingSync`] begun before skip its write: the newest
    /// segment is about to change other than by appends.
    fn fence_pending(&self) {
        *lock(&self.direct_writes) += 1;
    }

    /// With [`SegmentOptions::direct_sync`], moves the buffer's start back
    /// to the block that holds `written`, reading that block's written
    /// bytes back from the file, so the next write rewrites it whole; the
    /// buffer must hold nothing unwritten. Otherwise nothing to do.
    fn keep_written_block(&mut self) -> Result<(), StoreError> {
        debug_assert_eq!(self.buffer_start + self.buffer.len() as u64, self.written);
        if !self.options.direct_sync {
            return Ok(());
        }
        let start = block_start(self.written);
        if start == self.buffer_start {
            return Ok(());
        }
        let mut block = vec![0; (self.written - start) as usize];
        self.active.log.read_exact_at(start, &mut block)?;
        self.buffer = block;
        self.buffer_start = start;
        Ok(())
    }

    /// Forgets the buffer, which must hold nothing unwritten, so that reads
    /// go to the file, and fences off any pending sync: before the newest
    /// segment changes other than by appends.
    fn drop_buffer(&mut self) {
        debug_assert_eq!(self.buffer_start + self.buffer.len() as u64, self.written);
        self.buffer.clear();
        self.buffer_start = self.written;
        self.fence_pending();
    }

    /// The file now holds `len` bytes of the newest segment, and the
    /// buffer nothing more.
    fn written_to(&mut self, len: u64) -> Result<(), StoreError> {
        self.buffer.clear();
        self.buffer_start = len;
        self.written = len;
        self.keep_written_block()
    }

    #[cfg_attr(not(test), allow(dead_code))]
    fn write_and_sync(&mut self) -> Result<(), StoreError> {
        let synced = self.begin_sync_unchecked()?.sync()?;
        self.synced(synced);
        Ok(())
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

    /// [`Segment::visit_from`] on segment `i`, with its bytes where they
    /// are: the newest segment's partly still in the write buffer.
    fn visit(
        &self,
        i: usize,
        start: Option<IndexPoint>,
        visit: impl FnMut(u64, ItemRef<'_>) -> bool,
    ) -> Result<(), StoreError> {
        match self.sealed.get(i) {
            Some(segment) => segment.visit_from(&segment.log, start, visit),
            None => {
                let bytes = ActiveBytes {
                    log: &self.active.log,
                    buffer_start: self.buffer_start,
                    buffer: &self.buffer,
                };
                self.active.visit_from(&bytes, start, visit)
            }
        }
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

/// A sync begun by [`SegmentLog::begin_sync`], to finish without the log.
pub(crate) struct PendingSync {
    file: File,
    write: SyncWrite,
    log_failed: Arc<AtomicBool>,
}

/// What a pending sync does to the disk.
enum SyncWrite {
    /// Without [`SegmentOptions::direct_sync`]: what it wrote out.
    Fdatasync,
    /// With it: the buffer's bytes not yet written.
    Direct(DirectWrite),
    /// With it, when every byte is written, and so durable.
    Nothing,
}

/// A sync's direct write: the buffer as it began, from its start.
struct DirectWrite {
    position: u64,
    bytes: Vec<u8>,
    /// The log's count of writes when the sync began.
    after_writes: u64,
    writes: Arc<Mutex<u64>>,
}

/// What a finished sync made durable, for [`SegmentLog::synced`].
#[must_use = "the log takes note of a direct write with `SegmentLog::synced`"]
pub(crate) struct Synced {
    /// A direct write's count of writes before it, and where it ended.
    direct: Option<(u64, u64)>,
}

impl Synced {
    /// Whether the sync made a direct write, of which the log must take
    /// note ([`SegmentLog::synced`]); nothing is lost by not telling it of
    /// any other.
    pub(crate) fn wrote_directly(&self) -> bool {
        self.direct.is_some()
    }
}

impl PendingSync {
    /// Makes every item appended before the sync began durable. A failure
    /// marks the log failed (see the module's documentation).
    pub(crate) fn sync(self) -> Result<Synced, StoreError> {
        let result = match &self.write {
            SyncWrite::Fdatasync => self.file.sync_data().map(|()| None),
            SyncWrite::Nothing => Ok(None),
            SyncWrite::Direct(write) => {
                let writes = lock(&write.writes);
                if *writes == write.after_writes {
                    let end = write.position + write.bytes.len() as u64;
                    self.file
                        .write_durably_at(write.position, &write.bytes)
                        .map(|()| Some((write.after_writes, end)))
                } else {
                    // A write of the log since wrote these bytes, durably.
                    Ok(None)
                }
            }
        };
        let direct = result.inspect_err(|_| self.log_failed.store(true, Ordering::SeqCst))?;
        Ok(Synced { direct })
    }
}

fn lock(writes: &Mutex<u64>) -> std::sync::MutexGuard<'_, u64> {
    writes.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The newest segment's bytes: its file up to `buffer_start`, then the
/// buffer.
struct ActiveBytes<'a> {
    log: &'a File,
    buffer_start: u64,
    buffer: &'a [u8],
}

impl ByteSource for ActiveBytes<'_> {
    fn read_exact_at(&self, position: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        let in_file = self
            .buffer_start
            .saturating_sub(position)
            .min(buf.len() as u64) as usize;
        let (from_file, from_buffer) = buf.split_at_mut(in_file);
        if !from_file.is_empty() {
            self.log.read_exact_at(position, from_file)?;
        }
        if !from_buffer.is_empty() {
            let start = (position + in_file as u64 - self.buffer_start) as usize;
            let buffered = self
                .buffer
                .get(start..start + from_buffer.len())
                .expect("reads stay within the segment's data");
            from_buffer.copy_from_slice(buffered);
        }
        Ok(())
    }
}
