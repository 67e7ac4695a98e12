//! Reading a [`SegmentLog`]: items from a seq on, the first item at or
//! after a time, and what of its segments a snapshot may share; the newest
//! segment's items are read partly from its file and partly from the
//! write buffer.

use std::path::PathBuf;

use super::{
    segment_path, ByteSource, File, FileKind, IndexPoint, Item, ItemRef, SealedSegment, SegmentLog,
    StoreError,
};

impl SegmentLog {
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

    /// [`super::Segment::visit_from`] on segment `i`, with its bytes where they
    /// are: the newest segment's partly still in the write buffer.
    pub(super) fn visit(
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
