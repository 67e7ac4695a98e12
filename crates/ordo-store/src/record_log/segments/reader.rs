//! Reading a topic's records back from its segment log: lazily, in chunks
//! that grow from a few records (a seek's probe reads one) to many (a
//! snapshot's dump), each chunk read under the log's read lock and then
//! filtered against the tombstones of its offset range with one range scan
//! of the tree, never a lookup per record (under the same lock, so that a
//! compaction's rewrite, which drops items before their tombstones, is seen
//! whole or not at all). Reads start at the committed
//! start of the topic's records, and at its log's first segment. Also what
//! of a topic's segment files a snapshot may share instead of copying.

use std::collections::{BTreeSet, VecDeque};
use std::ops::Range;
use std::path::PathBuf;

use ordo_core::{Offset, TopicName};

use super::{SegmentRecords, Shared, SharedLog, TopicLog};
use crate::error::StoreError;
use crate::keys;
use crate::kv::{Bytes, Tree};
use crate::record_log::SharedSegments;

/// Records in the first chunk a read takes.
const FIRST_CHUNK_ITEMS: usize = 8;
/// The most records one chunk takes.
const MAX_CHUNK_ITEMS: usize = 1024;
/// The most payload bytes one chunk takes (at least one record, however large).
const MAX_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// The encoded records of one topic in a range of offsets.
pub(super) struct Reader {
    tree: Tree,
    log: SharedLog,
    /// The next offset to read from, and the end of the range.
    next: u64,
    end: u64,
    chunk_items: usize,
    ready: VecDeque<Bytes>,
    done: bool,
}

impl Shared {
    /// A reader of `topic`'s records in `range`, or `None` if it has no log.
    pub(super) fn reader(
        &self,
        topic: &TopicName,
        range: Range<Offset>,
    ) -> Result<Option<Reader>, StoreError> {
        let Some(log) = self.lookup(topic)? else {
            return Ok(None);
        };
        let start = self.committed_start(topic)?;
        Ok(Some(Reader {
            tree: self.tree.clone(),
            log,
            next: range.start.0.max(start),
            end: range.end.0,
            chunk_items: FIRST_CHUNK_ITEMS,
            ready: VecDeque::new(),
            done: false,
        }))
    }
}

impl Reader {
    /// Reads the next chunk that holds a record not tombstoned into
    /// `ready`, or marks the read done.
    fn fill(&mut self) -> Result<(), StoreError> {
        while self.ready.is_empty() && !self.done {
            // The tombstones are read under the log's lock too: a rewrite
            // removes an item (under the write lock) before its tombstone.
            let segments = self.log.read()?;
            let from = self.next.max(segments.first_seq());
            if from >= self.end || from >= segments.next_seq() {
                self.done = true;
                return Ok(());
            }
            let items = segments.read(from, self.chunk_items, MAX_CHUNK_BYTES)?;
            self.chunk_items = (self.chunk_items * 2).min(MAX_CHUNK_ITEMS);
            let items: Vec<_> = items.into_iter().take_while(|i| i.seq < self.end).collect();
            let (Some(first), Some(last)) = (items.first(), items.last()) else {
                self.done = true;
                return Ok(());
            };
            let (first, last) = (first.seq, last.seq);
            self.next = last + 1;
            let tombstoned = tombstoned(&self.tree, &self.log, first..last + 1)?;
            drop(segments);
            self.ready.extend(
                items
                    .into_iter()
                    .filter(|item| !tombstoned.contains(&item.seq))
                    .map(|item| Bytes::Memory(item.payload.into())),
            );
        }
        Ok(())
    }
}

/// The tombstoned offsets of `log`'s generation in `offsets`, with one
/// range scan.
pub(super) fn tombstoned(
    tree: &Tree,
    log: &TopicLog,
    offsets: Range<u64>,
) -> Result<BTreeSet<u64>, StoreError> {
    let (topic, generation) = (&log.topic, log.generation);
    let keys = keys::tombstone_key(topic, generation, Offset(offsets.start))
        ..keys::tombstone_key(topic, generation, Offset(offsets.end));
    tree.range(keys)
        .keys()
        .map(|key| Ok(keys::from_tombstone_key(&key?)?.2 .0))
        .collect()
}

impl Iterator for Reader {
    type Item = Result<Bytes, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.fill() {
            self.done = true;
            self.ready.clear();
            return Some(Err(e));
        }
        self.ready.pop_front().map(Ok)
    }
}

impl SegmentRecords {
    pub(in crate::record_log) fn share_segments<T>(
        &self,
        topic: &TopicName,
        range: std::ops::Range<Offset>,
        share: impl FnOnce(SharedSegments) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(log) = self.shared.lookup(topic)? else {
            return share(SharedSegments::none(range.start));
        };
        // Held while `share` runs: a compaction's rewrite replaces a
        // sealed segment under the write lock.
        let segments = log.read()?;
        let sealed: Vec<_> = segments
            .sealed_segments()
            .into_iter()
            .filter(|segment| segment.end_seq > range.start.0)
            .collect();
        let whole = sealed
            .iter()
            .take_while(|segment| segment.end_seq <= range.end.0);
        let mut shared: Vec<(PathBuf, Option<u64>)> =
            whole.map(|segment| (segment.log.clone(), None)).collect();
        let mut tail_from = sealed[..shared.len()]
            .last()
            .map_or(range.start, |segment| Offset(segment.end_seq));
        // With every sealed segment before the end shared, the newest
        // segment's items before the end are the rest.
        if shared.len() == sealed.len() {
            if let Some((path, len)) = segments.active_prefix(range.end.0)? {
                shared.push((path, Some(len)));
                tail_from = range.end;
            }
        }
        let tombstones = tombstoned(&self.shared.tree, &log, range.start.0..tail_from.0)?
            .into_iter()
            .map(Offset)
            .collect();
        let segments = shared
            .into_iter()
            .map(|(path, len)| {
                let file = self.shared.files.open(&path)?;
                let len = match len {
                    Some(len) => len,
                    None => file.len()?,
                };
                Ok((file, len))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        share(SharedSegments {
            segments,
            tail_from,
            tombstones,
        })
    }
}
