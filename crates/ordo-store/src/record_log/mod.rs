//! `RecordLog`: where the state machine keeps its records, the seam between
//! the store and the records' layout on disk. Everything above it speaks of
//! topics, offsets, timestamps and records; only an implementation knows
//! where they lie. There are two: `tree`, each record under its own key in
//! the state machine tree (ordo's layout since the start, on either medium
//! of `kv`), and `segments`, each topic's records in segment files of its
//! own (on real files or a `MemDisk`'s), with what must commit with the
//! decided state (removals, where a topic starts) in the tree. Reads that only need the records in offset order (a
//! page, a seek, a cleanup sweep) are written once here, over
//! [`RecordLog::encoded`].
//!
//! The contract every implementation keeps, and the store relies on:
//! - writes are staged in the apply's [`Batch`], so records land with the
//!   decided state and the last applied log id, and a crash keeps all of
//!   them or none;
//! - staged removals are not readable until the batch is committed (which
//!   is why a cleanup starts a batch of its own: see `state_machine`);
//!   staged appends may be (`segments` writes them to the files at once),
//!   which no caller sees, since every read ends at a published end offset;
//! - a topic's records are read in offset order, with gaps where compaction
//!   removed some, and only those in the range asked for (an empty or
//!   inverted range reads nothing);
//! - a record leaves for a snapshot, and comes back from one, in `codec`'s
//!   encoding of a [`Record`], whatever the layout: the snapshot format
//!   does not depend on it. A snapshot may also share a topic's segment
//!   files instead of copying their records ([`RecordLog::share_segments`]);
//!   it then carries them as they are, and an install reads their items
//!   back ([`RecordLog::stage_import_items`]).
//!
//! Reads are not bounded by the published state here: callers pass ranges
//! that end at a published end offset.
//!
//! Around each commit the store calls [`RecordLog::write_out`] (before it:
//! appends handed to the files, so a process crash never leaves the tree
//! ahead of them) and [`RecordLog::after_commit`] (after it: the file work
//! the batch decided); before a flush of the tree, [`RecordLog::sync`];
//! at open, [`RecordLog::reconcile`] with the decided state. All four are
//! no-ops for the tree.

mod segments;
mod tree;

use std::collections::BTreeMap;
use std::ops::Range;

use ordo_core::cleanup::{StoredRecord, Visit};
use ordo_core::{Offset, Record, TopicName};

use crate::error::StoreError;
use crate::kv::{Batch, Bytes, Disk};
use crate::record_codec;
use crate::segment::Files;
use segments::SegmentRecords;
pub(crate) use segments::{Reconciled, RecordSegmentOptions, RECORDS_DIR, RECORD_SEGMENT_BYTES};
use tree::TreeLog;

/// The records of every topic, in one of the layouts. Cheap to clone.
#[derive(Clone)]
pub(crate) enum RecordLog {
    /// Each record under its own key in the state machine tree: ordo's
    /// layout before the segment files, kept as the reference the record
    /// log's suite runs both against (the store opens `Segments`).
    #[cfg_attr(not(test), allow(dead_code))]
    Tree(TreeLog),
    /// Each topic's records in segment files of its own.
    Segments(SegmentRecords),
}

/// Encoded records (see the module doc), in offset order, read lazily.
pub(crate) type Encoded = Box<dyn Iterator<Item = Result<Bytes, StoreError>>>;

/// What of a topic's records in an offset range a snapshot can share
/// rather than copy: see [`RecordLog::share_segments`].
pub(crate) struct SharedSegments {
    /// Segment files, oldest first, each with how many bytes at its start
    /// to share: every item in those lies in the range, and no one changes
    /// them any more (a sealed segment whole; the newest one's items
    /// before the range's end, which later appends only follow).
    pub segments: Vec<(crate::segment::File, u64)>,
    /// Where the records they do not hold start: the range's start, or
    /// the end of the last of them.
    pub tail_from: Offset,
    /// The offsets below `tail_from` that the segments still hold but
    /// compaction removed (a reader skips them).
    pub tombstones: Vec<Offset>,
}

impl SharedSegments {
    /// Nothing shared: every record from `start` on is copied.
    pub fn none(start: Offset) -> SharedSegments {
        SharedSegments {
            segments: Vec::new(),
            tail_from: start,
            tombstones: Vec::new(),
        }
    }
}

/// One record to import: its offset, its timestamp and its encoding.
pub(crate) type ImportedRecord = (u64, u64, Vec<u8>);

impl RecordLog {
    /// The record log in the state machine tree on `disk`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn open_in_tree(disk: &Disk) -> Result<RecordLog, StoreError> {
        TreeLog::open(disk).map(RecordLog::Tree)
    }

    /// The record log in per-topic segment files under `files` (the same
    /// medium and incarnation as `disk`), its bookkeeping in the state
    /// machine tree on `disk`. Call [`RecordLog::reconcile`] before use.
    pub(crate) fn open_in_segments(
        disk: &Disk,
        files: Files,
        options: &RecordSegmentOptions,
    ) -> Result<RecordLog, StoreError> {
        SegmentRecords::open(disk, files, options).map(RecordLog::Segments)
    }

    /// Whether this is the tree layout, whose records are the tree's own
    /// record keys (nothing to move out of the tree then).
    pub(crate) fn is_in_tree(&self) -> bool {
        matches!(self, RecordLog::Tree(_))
    }

    /// Stages `records`, which an append placed in `topic` (in offset order,
    /// after every record the topic holds).
    pub(crate) fn stage_append(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        records: &[Record],
    ) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(log) => log.stage_append(batch, topic, records),
            RecordLog::Segments(log) => log.stage_append(batch, topic, records),
        }
    }

    /// Stages the removal of `topic`'s record at `offset` (compaction).
    pub(crate) fn stage_remove(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offset: Offset,
    ) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(log) => {
                log.stage_remove(batch, topic, offset);
                Ok(())
            }
            RecordLog::Segments(log) => log.stage_remove(batch, topic, offset),
        }
    }

    /// Stages the removal of every record of `topic` below `offset`: the
    /// topic's front, which retention moved its start past.
    pub(crate) fn stage_truncate(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offset: Offset,
    ) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(log) => log.stage_truncate(batch, topic, offset),
            RecordLog::Segments(log) => log.stage_truncate(batch, topic, offset),
        }
    }

    /// Stages the removal of all of `topic`'s records, which lie in
    /// `offsets`, including those staged earlier in the same batch.
    pub(crate) fn stage_drop(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offsets: Range<Offset>,
    ) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(log) => {
                log.stage_drop(batch, topic, offsets);
                Ok(())
            }
            RecordLog::Segments(log) => log.stage_drop(batch, topic),
        }
    }

    /// Stages one record of a snapshot being installed, `encoded` as the
    /// snapshot holds it, at `offset` in `topic`.
    pub(crate) fn stage_import(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offset: Offset,
        encoded: Vec<u8>,
    ) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(log) => {
                log.stage_import(batch, topic, offset, encoded);
                Ok(())
            }
            RecordLog::Segments(log) => log.stage_import(batch, topic, offset, encoded),
        }
    }

    /// Stages records of a snapshot being installed, in offset order, each
    /// encoded as the snapshot holds it.
    pub(crate) fn stage_import_items(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        records: &[ImportedRecord],
    ) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(log) => {
                for (offset, _, encoded) in records {
                    log.stage_import(batch, topic, Offset(*offset), encoded.clone());
                }
                Ok(())
            }
            RecordLog::Segments(log) => log.stage_import_items(batch, topic, records),
        }
    }

    /// Calls `share` with the segment files of `topic` whose items (or
    /// whose first bytes' items) lie in `range` (its start and published
    /// end), holding them unchanged meanwhile: a snapshot links them and
    /// copies only the records from `tail_from` on. In the tree layout
    /// nothing is shared.
    pub(crate) fn share_segments<T>(
        &self,
        topic: &TopicName,
        range: Range<Offset>,
        share: impl FnOnce(SharedSegments) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            RecordLog::Tree(_) => share(SharedSegments::none(range.start)),
            RecordLog::Segments(log) => log.share_segments(topic, range, share),
        }
    }

    /// Stages the removal of every record of every topic (before a snapshot
    /// install imports the snapshot's).
    pub(crate) fn stage_clear(&self, batch: &mut Batch) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(log) => log.stage_clear(batch),
            RecordLog::Segments(log) => log.stage_clear(batch),
        }
    }

    /// `topic`'s records at offsets in `range`, encoded: what a snapshot
    /// dump copies as it is, and what every read below decodes.
    pub(crate) fn encoded(&self, topic: &TopicName, range: Range<Offset>) -> Encoded {
        match self {
            RecordLog::Tree(log) => log.encoded(topic, range),
            RecordLog::Segments(log) => log.encoded(topic, range),
        }
    }

    /// Commits `batch` on `disk` with the records it staged: their appends
    /// handed to the files first (so that a process crash never leaves the
    /// tree ahead of them), the file work it decided after.
    pub(crate) fn commit(&self, disk: &Disk, batch: Batch) -> Result<(), StoreError> {
        self.write_out()?;
        disk.commit(batch)?;
        self.after_commit()
    }

    /// Makes everything committed on `disk` durable, the records' files
    /// synced before the tree is flushed, so that the tree is never durable
    /// ahead of the files it points into. Blocks.
    pub(crate) fn flush(&self, disk: &Disk) -> Result<(), StoreError> {
        self.sync()?;
        disk.flush_blocking()
    }

    /// Hands every append staged so far to the files (not synced): before
    /// the batch holding their state commits.
    pub(crate) fn write_out(&self) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(_) => Ok(()),
            RecordLog::Segments(log) => log.write_out(),
        }
    }

    /// Makes every append staged so far durable: before the tree is flushed.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(_) => Ok(()),
            RecordLog::Segments(log) => log.sync(),
        }
    }

    /// The file work committed batches decided (purges, removals,
    /// compaction's rewrites): after the commit, never inside a batch.
    pub(crate) fn after_commit(&self) -> Result<(), StoreError> {
        match self {
            RecordLog::Tree(_) => Ok(()),
            RecordLog::Segments(log) => log.after_commit(),
        }
    }

    /// Holds the records against the decided state's topics (`ends`: each
    /// one's start and end offsets) at open, repairing what a crash left
    /// and reporting what it cannot (see [`Reconciled`]).
    pub(crate) fn reconcile(
        &self,
        ends: &BTreeMap<TopicName, (Offset, Offset)>,
    ) -> Result<Reconciled, StoreError> {
        match self {
            RecordLog::Tree(_) => Ok(Reconciled::default()),
            RecordLog::Segments(log) => log.reconcile(ends),
        }
    }

    /// Up to `limit` records of `topic` in `range`, stopping before the
    /// record that would take their encoded size past `max_bytes` (but
    /// always returning the first one, however large).
    pub(crate) fn read_page(
        &self,
        topic: &TopicName,
        range: Range<Offset>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let mut page = Vec::new();
        if limit == 0 {
            return Ok(page);
        }
        let mut total_bytes = 0usize;
        for encoded in self.encoded(topic, range) {
            let encoded = encoded?;
            if !page.is_empty() && total_bytes.saturating_add(encoded.len()) > max_bytes {
                break;
            }
            total_bytes = total_bytes.saturating_add(encoded.len());
            page.push(record_codec::decode(&encoded)?);
            if page.len() >= limit {
                break;
            }
        }
        Ok(page)
    }

    /// `topic`'s first record in `range` (at or after its start), if any.
    pub(crate) fn first(
        &self,
        topic: &TopicName,
        range: Range<Offset>,
    ) -> Result<Option<Record>, StoreError> {
        self.encoded(topic, range)
            .next()
            .map(|encoded| record_codec::decode(&encoded?))
            .transpose()
    }

    /// The first offset in `range` whose record (or, at a gap, the first
    /// record after it) is stamped at or after `timestamp_ms`, or the end of
    /// `range` if there is none. Timestamps never go back within a topic
    /// (see `TopicState::max_timestamp_ms`), so this bisects: O(log n) reads.
    pub(crate) fn seek_time(
        &self,
        topic: &TopicName,
        range: Range<Offset>,
        timestamp_ms: u64,
    ) -> Result<Offset, StoreError> {
        // Invariant: every record below `low` is older, and the first record
        // at or after `high` (if any) is not. Compaction leaves gaps, so
        // each probe reads the first record at or after the middle.
        let (mut low, mut high) = (range.start.0, range.end.0);
        while low < high {
            let middle = low + (high - low) / 2;
            let Some(record) = self.first(topic, Offset(middle)..Offset(high))? else {
                // Nothing stored in middle..high: the answer is at most middle.
                high = middle;
                continue;
            };
            if record.timestamp_ms < timestamp_ms {
                low = record.offset.0 + 1;
            } else {
                high = record.offset.0;
            }
        }
        Ok(Offset(low))
    }

    /// Shows `visit` each record of `topic` in `range` as cleanup sees it,
    /// in offset order, staging the removal of each one it answers
    /// [`Visit::Remove`], until it answers [`Visit::Stop`] or the range
    /// ends. Records staged in the same batch are not seen.
    pub(crate) fn sweep(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        range: Range<Offset>,
        visit: &mut dyn FnMut(&StoredRecord) -> Visit,
    ) -> Result<(), StoreError> {
        for encoded in self.encoded(topic, range) {
            let record = record_codec::decode(&encoded?)?;
            let stored = StoredRecord {
                offset: record.offset,
                timestamp_ms: record.timestamp_ms,
                size: record.size(),
            };
            match visit(&stored) {
                Visit::Keep => {}
                Visit::Remove => self.stage_remove(batch, topic, record.offset)?,
                Visit::Stop => break,
            }
        }
        Ok(())
    }

    /// The offsets of every record the log holds, by topic, whatever the
    /// decided state says: what the tests check a crash or a delete against.
    #[cfg(test)]
    pub(crate) fn held(
        &self,
    ) -> Result<std::collections::BTreeMap<TopicName, Vec<Offset>>, StoreError> {
        match self {
            RecordLog::Tree(log) => log.held(),
            RecordLog::Segments(log) => log.held(),
        }
    }

    /// The ends the record log's own bookkeeping gives each topic (for
    /// `segments`; none for the tree): what its tests reconcile with, having
    /// no decided state.
    #[cfg(test)]
    pub(crate) fn bookkept_ends(
        &self,
    ) -> Result<BTreeMap<TopicName, (Offset, Offset)>, StoreError> {
        match self {
            RecordLog::Tree(_) => Ok(BTreeMap::new()),
            RecordLog::Segments(log) => log.bookkept_ends(),
        }
    }
}
