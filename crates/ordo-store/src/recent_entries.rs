//! [`RecentEntries`]: the newest Raft log entries, kept decoded beside the
//! segment files that hold them, so that the reads that follow an append
//! (the leader replicating it, every node applying it) cost a clone instead
//! of a file read and a decode.
//!
//! It mirrors a suffix of the log: indexes `first..next` with no gap, the
//! last one the log's last. The log keeps it so under its own lock, calling
//! [`RecentEntries::appended`], [`RecentEntries::truncate_after`],
//! [`RecentEntries::purge_through`] and [`RecentEntries::clear`] as the
//! files change; a read it cannot answer whole goes to the files. It holds
//! at most [`MAX_ENTRIES`] entries and about [`MAX_BYTES`] of them as stored.

use std::collections::VecDeque;

use openraft::LogId;

use crate::type_config::{EntryLeaderId, OrdoPayload};

/// The most entries kept.
pub(crate) const MAX_ENTRIES: usize = 1024;
/// The most bytes of entries kept, counted as the log stores them.
pub(crate) const MAX_BYTES: usize = 4 * 1024 * 1024;

/// One entry as kept: its log id, its payload, and its stored size.
type Kept = (LogId<EntryLeaderId>, OrdoPayload, usize);

/// See the module's documentation.
#[derive(Default)]
pub(crate) struct RecentEntries {
    /// The index of the first entry kept (meaningless when empty).
    first: u64,
    entries: VecDeque<Kept>,
    bytes: usize,
}

impl RecentEntries {
    /// The log appended `batch` (log id, payload, stored size), in order,
    /// right after its last entry. A batch that does not follow on from
    /// what is kept starts the cache afresh.
    pub(crate) fn appended(&mut self, batch: Vec<Kept>) {
        let Some((log_id, _, _)) = batch.first() else {
            return;
        };
        if self.entries.is_empty() || log_id.index != self.next() {
            self.clear();
            self.first = log_id.index;
        }
        for kept in batch {
            self.bytes += kept.2;
            self.entries.push_back(kept);
        }
        while self.entries.len() > MAX_ENTRIES || self.bytes > MAX_BYTES {
            self.pop_front();
        }
    }

    /// The log dropped every entry after `index`.
    pub(crate) fn truncate_after(&mut self, index: u64) {
        while !self.entries.is_empty() && self.next() > index.saturating_add(1) {
            if let Some((_, _, bytes)) = self.entries.pop_back() {
                self.bytes -= bytes;
            }
        }
    }

    /// The log forgot every entry up to `index`, inclusive.
    pub(crate) fn purge_through(&mut self, index: u64) {
        while !self.entries.is_empty() && self.first <= index {
            self.pop_front();
        }
    }

    /// The log was emptied.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Copies of the entries `start..end`, if every one is kept.
    pub(crate) fn get(
        &self,
        start: u64,
        end: u64,
    ) -> Option<Vec<(LogId<EntryLeaderId>, OrdoPayload)>> {
        if self.entries.is_empty() || start < self.first || end > self.next() || start >= end {
            return None;
        }
        let from = usize::try_from(start - self.first).ok()?;
        let count = usize::try_from(end - start).ok()?;
        Some(
            self.entries
                .range(from..from + count)
                .map(|(log_id, payload, _)| (*log_id, payload.clone()))
                .collect(),
        )
    }

    fn next(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    fn pop_front(&mut self) {
        if let Some((_, _, bytes)) = self.entries.pop_front() {
            self.bytes -= bytes;
            self.first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use openraft::EntryPayload;

    use super::*;

    fn entry(index: u64, bytes: usize) -> Kept {
        let log_id = LogId {
            leader_id: EntryLeaderId {
                term: 1,
                node_id: 1,
            },
            index,
        };
        (log_id, EntryPayload::Blank, bytes)
    }

    fn batch(range: std::ops::Range<u64>) -> Vec<Kept> {
        range.map(|index| entry(index, 10)).collect()
    }

    fn indexes(cache: &RecentEntries, start: u64, end: u64) -> Option<Vec<u64>> {
        cache
            .get(start, end)
            .map(|entries| entries.iter().map(|(id, _)| id.index).collect())
    }

    #[test]
    fn answers_only_ranges_it_holds_whole() {
        let mut cache = RecentEntries::default();
        assert_eq!(indexes(&cache, 0, 1), None);
        cache.appended(batch(5..8));
        cache.appended(batch(8..10));
        assert_eq!(indexes(&cache, 5, 10), Some((5..10).collect()));
        assert_eq!(indexes(&cache, 7, 9), Some(vec![7, 8]));
        assert_eq!(indexes(&cache, 4, 6), None, "starts before the first kept");
        assert_eq!(indexes(&cache, 9, 11), None, "ends past the last kept");
        assert_eq!(indexes(&cache, 6, 6), None, "empty");
    }

    #[test]
    fn follows_truncation_purge_and_a_fresh_start() {
        let mut cache = RecentEntries::default();
        cache.appended(batch(1..10));
        cache.truncate_after(6);
        assert_eq!(indexes(&cache, 1, 7), Some((1..7).collect()));
        assert_eq!(indexes(&cache, 1, 8), None);
        cache.appended(batch(7..9));
        cache.purge_through(3);
        assert_eq!(indexes(&cache, 4, 9), Some((4..9).collect()));
        assert_eq!(indexes(&cache, 3, 5), None);
        cache.truncate_after(0);
        assert_eq!(indexes(&cache, 4, 5), None, "truncated below what is kept");
        cache.appended(batch(4..6));
        assert_eq!(indexes(&cache, 4, 6), Some(vec![4, 5]));
        // A batch that does not follow on (the log was reset) starts afresh.
        cache.appended(batch(100..102));
        assert_eq!(indexes(&cache, 4, 6), None);
        assert_eq!(indexes(&cache, 100, 102), Some(vec![100, 101]));
        cache.clear();
        assert_eq!(indexes(&cache, 100, 101), None);
    }

    #[test]
    fn keeps_within_its_bounds_by_dropping_the_oldest() {
        let mut cache = RecentEntries::default();
        cache.appended(batch(0..(MAX_ENTRIES as u64 + 10)));
        assert_eq!(cache.entries.len(), MAX_ENTRIES);
        assert_eq!(indexes(&cache, 9, 11), None);
        assert!(cache.get(10, MAX_ENTRIES as u64 + 10).is_some());

        let mut cache = RecentEntries::default();
        cache.appended(vec![entry(0, MAX_BYTES / 2), entry(1, MAX_BYTES / 2)]);
        cache.appended(vec![entry(2, 1)]);
        assert_eq!(indexes(&cache, 1, 3), Some(vec![1, 2]));
        assert_eq!(cache.bytes, MAX_BYTES / 2 + 1);
    }
}
