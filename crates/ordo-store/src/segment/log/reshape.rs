//! The operations that change which items and segments a [`SegmentLog`]
//! holds, other than appending: truncation (Raft's conflicting entries),
//! purge (after a snapshot), reset (a snapshot past the log's end) and a
//! segment's replacement (compaction). Each is durable when it returns, and
//! orders its removals, cuts and renames so that a crash part-way leaves a
//! log that recovery accepts and that holds no item it did not hold before.

use super::{
    rewrite_path, segment_path, File, FileKind, IndexPoint, Item, Segment, SegmentIndex,
    SegmentLog, SegmentTail, StoreError, MAX_ITEM_PAYLOAD_BYTES,
};

impl SegmentLog {
    /// Drops every item after `seq`: later segments are removed, the one
    /// holding `seq` is cut after it and takes appends again. Durable when
    /// it returns. Fails if `seq + 1` was purged.
    pub(crate) fn truncate_after(&mut self, seq: u64) -> Result<(), StoreError> {
        self.check_usable()?;
        let keep_end = seq.saturating_add(1);
        if keep_end >= self.next_seq() {
            return Ok(());
        }
        let first = self.first_seq();
        if keep_end < first {
            return Err(StoreError::Purged {
                dir: self.files.full_path(&self.dir),
                seq: keep_end,
                first,
            });
        }
        let result = self.cut(keep_end);
        self.fail_on_error(result)
    }

    /// Removes the sealed segments whose items all come before `seq`, and
    /// returns how many. Never a part of a segment, nor the segment appends
    /// go to (see [`SegmentLog::reset`]). Durable when it returns.
    pub(crate) fn purge_before(&mut self, seq: u64) -> Result<usize, StoreError> {
        self.check_usable()?;
        let count = self
            .sealed
            .iter()
            .take_while(|segment| segment.end_seq <= seq)
            .count();
        let result = self.remove_oldest(count);
        self.fail_on_error(result)?;
        Ok(count)
    }

    /// Empties the log, so that the next append has seq `next_seq` (after a
    /// snapshot replaced everything up to it). Durable when it returns. A
    /// crash during a reset may leave the log empty at its old position: a
    /// reset again completes it.
    pub(crate) fn reset(&mut self, next_seq: u64) -> Result<(), StoreError> {
        self.check_usable()?;
        let result = self.empty_and_move_to(next_seq);
        self.fail_on_error(result)
    }

    /// Replaces sealed segment `base_seq` with `items` (a compaction's
    /// survivors): a subset of its items, in order, keeping its last one so
    /// that it still ends where the next segment begins. Written beside it,
    /// synced, then renamed over it: a crash leaves the old segment or the
    /// new one, whole.
    pub(crate) fn replace_segment(
        &mut self,
        base_seq: u64,
        items: impl IntoIterator<Item = Item>,
    ) -> Result<(), StoreError> {
        self.check_usable()?;
        let Some(i) = self.sealed.iter().position(|s| s.base_seq == base_seq) else {
            return Err(self.bad_replacement(base_seq, "no sealed segment starts there"));
        };
        let end_seq = self.sealed[i].end_seq;
        let rewrite = |kind| rewrite_path(&self.dir, base_seq, kind);
        let log = self.files.create(&rewrite(FileKind::Log))?;
        let mut index = SegmentIndex::new(
            self.files.create(&rewrite(FileKind::Index))?,
            self.files.create(&rewrite(FileKind::TimeIndex))?,
        );
        let written = self.write_replacement(&log, base_seq, end_seq, items);
        let (points, tail) = match written {
            Ok(written) => written,
            Err(e) => {
                for kind in FileKind::ALL {
                    // Best effort: recovery removes any rewrite left over.
                    let _ = self.files.remove(&rewrite(kind));
                }
                return Err(e);
            }
        };
        let result = self.swap_in(i, log, &mut index, &points, tail);
        self.fail_on_error(result)
    }

    /// [`SegmentLog::truncate_after`]`(keep_end - 1)`, checked.
    fn cut(&mut self, keep_end: u64) -> Result<(), StoreError> {
        self.write_buffer()?;
        self.drop_buffer();
        self.active.index.write_pending()?;
        // The segment that keeps the last item kept (the first, if none is).
        let keeper = self.segment_containing(keep_end - 1);
        let later = self.sealed.len() - keeper;
        if later > 0 {
            let mut removed = self.sealed.split_off(keeper);
            let keeper_segment = removed.remove(0);
            let newest = std::mem::replace(&mut self.active, keeper_segment);
            removed.push(newest);
            for segment in removed.into_iter().rev() {
                segment.remove(&self.files, &self.dir)?;
            }
            self.files.sync_dir(&self.dir)?;
            self.dir_unsynced = false;
            self.active.index.load()?;
            self.written = self.active.tail.data_len;
            self.buffer_start = self.written;
        }
        let start = self.active.index.at_or_before(keep_end - 1)?;
        let mut tail = start.map_or_else(SegmentTail::default, SegmentTail::at);
        let interval = self.options.index_interval_bytes;
        self.visit(self.sealed.len(), start, |_, item| {
            if item.seq >= keep_end {
                return false;
            }
            // Points past the resumed one are already in the index.
            tail.advance(item.seq, item.timestamp_ms, item.frame_len(), interval);
            true
        })?;
        let points = self.active.index.count_at_or_before(keep_end - 1)?;
        self.active.index.cut_to(points)?;
        tail.last_point = self.active.index.last()?;
        self.active.log.set_len(tail.data_len)?;
        self.active.log.sync_data()?;
        self.active.index.sync()?;
        self.active.log.preallocate(self.options.segment_bytes)?;
        self.active.tail = tail;
        self.active.end_seq = keep_end;
        self.written_to(tail.data_len)
    }

    /// Removes the oldest `count` sealed segments, durably.
    fn remove_oldest(&mut self, count: usize) -> Result<(), StoreError> {
        if count == 0 {
            return Ok(());
        }
        for segment in self.sealed.drain(..count) {
            segment.remove(&self.files, &self.dir)?;
        }
        self.files.sync_dir(&self.dir)
    }

    fn empty_and_move_to(&mut self, next_seq: u64) -> Result<(), StoreError> {
        self.remove_oldest(self.sealed.len())?;
        self.fence_pending();
        self.written_to(0)?;
        self.active.index.cut_to(0)?;
        self.active.log.set_len(0)?;
        self.active.index.sync()?;
        self.active.log.sync_data()?;
        let old_base = self.active.base_seq;
        if next_seq != old_base {
            // The log's name says where it starts, so it moves last.
            for kind in [FileKind::Index, FileKind::TimeIndex, FileKind::Log] {
                let from = segment_path(&self.dir, old_base, kind);
                self.files
                    .rename(&from, &segment_path(&self.dir, next_seq, kind))?;
            }
            self.files.sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        let open = |kind| self.files.open(&segment_path(&self.dir, next_seq, kind));
        let (log, offsets, times) = (
            open(FileKind::Log)?,
            open(FileKind::Index)?,
            open(FileKind::TimeIndex)?,
        );
        log.preallocate(self.options.segment_bytes)?;
        let mut index = SegmentIndex::new(offsets, times);
        index.hold(Vec::new(), 0);
        self.active = Segment {
            base_seq: next_seq,
            end_seq: next_seq,
            log,
            index,
            tail: SegmentTail::default(),
        };
        Ok(())
    }

    /// Writes a replacement's items to `log`, checking them, and returns
    /// its index points and where it ends.
    fn write_replacement(
        &self,
        log: &File,
        base_seq: u64,
        end_seq: u64,
        items: impl IntoIterator<Item = Item>,
    ) -> Result<(Vec<IndexPoint>, SegmentTail), StoreError> {
        let mut tail = SegmentTail::default();
        let mut points = Vec::new();
        let mut buffer = Vec::new();
        let mut last_seq = None;
        for item in items {
            let in_order = last_seq.is_none_or(|last| item.seq > last);
            if !in_order || !(base_seq..end_seq).contains(&item.seq) {
                let detail = format!(
                    "seq {} out of order or outside {base_seq}..{end_seq}",
                    item.seq
                );
                return Err(self.bad_replacement(base_seq, &detail));
            }
            if item.payload.len() > MAX_ITEM_PAYLOAD_BYTES {
                return Err(self.bad_replacement(base_seq, "an item too large for a frame"));
            }
            let item = item.as_ref();
            let interval = self.options.index_interval_bytes;
            points.extend(tail.advance(item.seq, item.timestamp_ms, item.frame_len(), interval));
            item.encode(&mut buffer);
            if buffer.len() >= self.options.write_buffer_bytes {
                log.write_at(tail.data_len - buffer.len() as u64, &buffer)?;
                buffer.clear();
            }
            last_seq = Some(item.seq);
        }
        if last_seq != end_seq.checked_sub(1) {
            let detail = format!("it must keep the segment's last item, seq {}", end_seq - 1);
            return Err(self.bad_replacement(base_seq, &detail));
        }
        log.write_at(tail.data_len - buffer.len() as u64, &buffer)?;
        log.sync_data()?;
        Ok((points, tail))
    }

    /// Renames a written replacement over sealed segment `i`.
    fn swap_in(
        &mut self,
        i: usize,
        log: File,
        index: &mut SegmentIndex,
        points: &[IndexPoint],
        tail: SegmentTail,
    ) -> Result<(), StoreError> {
        index.rewrite(points)?;
        drop(log);
        let base_seq = self.sealed[i].base_seq;
        // The log's rename is the commit point; recovery rebuilds the index
        // of a segment whose rewrite it finds unfinished.
        for kind in [FileKind::Log, FileKind::Index, FileKind::TimeIndex] {
            let from = rewrite_path(&self.dir, base_seq, kind);
            self.files
                .rename(&from, &segment_path(&self.dir, base_seq, kind))?;
        }
        self.files.sync_dir(&self.dir)?;
        let open = |kind| self.files.open(&segment_path(&self.dir, base_seq, kind));
        let mut index = SegmentIndex::new(open(FileKind::Index)?, open(FileKind::TimeIndex)?);
        index.trust(points.len());
        let segment = &mut self.sealed[i];
        segment.log = open(FileKind::Log)?;
        segment.index = index;
        segment.tail = tail;
        Ok(())
    }

    fn bad_replacement(&self, base_seq: u64, detail: &str) -> StoreError {
        StoreError::BadReplacement {
            dir: self.files.full_path(&self.dir),
            base_seq,
            detail: detail.to_owned(),
        }
    }
}
