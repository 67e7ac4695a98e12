//! The segment record log's file work outside a batch: what a committed
//! batch left to do ([`SegmentRecords::after_commit`]: purges, removing a
//! dropped generation's directory, rewriting a sealed segment compaction
//! mostly emptied), and holding the files against the decided state at
//! open ([`SegmentRecords::reconcile`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ordo_core::{Offset, TopicName};

use super::reader::tombstoned;
use super::{Deferred, SegmentRecords, Shared, SharedLog, Topics};
use crate::error::StoreError;
use crate::keys;
use crate::kv::Batch;
use crate::segment::SegmentLog;

/// What [`SegmentRecords::reconcile`] found and did, by topic.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Reconciled {
    /// Files of a topic the decided state does not have: removed.
    pub removed: Vec<TopicName>,
    /// Files holding records at or after the topic's end (appended by a
    /// batch a crash lost, to be applied again): cut back to the end.
    pub truncated: Vec<TopicName>,
    /// Whole segments below the topic's start, purged: how many.
    pub purged: Vec<(TopicName, usize)>,
    /// Files that end before the records the decided state holds (the tree
    /// ahead of the files, after a power loss): where the files end, and
    /// where they should. The caller must rebuild the state machine.
    pub behind: BTreeMap<TopicName, (Offset, Offset)>,
}

impl SegmentRecords {
    /// The file work committed batches left: purges and removed
    /// directories, in order, then a rewrite of every sealed segment more
    /// than half tombstoned, and the removal of the tombstones it made
    /// unnecessary. Only after the batches that staged the work committed.
    pub(crate) fn after_commit(&self) -> Result<(), StoreError> {
        let shared = &self.shared;
        let _syncing = shared.lock_syncing()?;
        let (deferred, removed) = {
            let mut topics = shared.lock_topics()?;
            topics.dropping.clear();
            let deferred = std::mem::take(&mut topics.deferred);
            (deferred, std::mem::take(&mut topics.removed))
        };
        for work in deferred {
            match work {
                Deferred::Purge { log, before } => {
                    log.write()?.purge_before(before)?;
                }
                Deferred::Remove { log } => {
                    // Waits for the reads under way.
                    let _segments = log.write()?;
                    shared.files.remove_dir_all(&log.dir)?;
                }
            }
        }
        let mut by_log: Vec<(SharedLog, BTreeSet<u64>)> = Vec::new();
        for (log, offset) in removed {
            match by_log.iter_mut().find(|(l, _)| Arc::ptr_eq(l, &log)) {
                Some((_, offsets)) => {
                    offsets.insert(offset);
                }
                None => by_log.push((log, BTreeSet::from([offset]))),
            }
        }
        for (log, offsets) in by_log {
            shared.compact(&log, &offsets)?;
        }
        Ok(())
    }

    /// Holds each topic's files against the decided state's `ends` (its
    /// start and end offsets), at open, before any apply: removes the files
    /// of a topic not in it, cuts records at or after a topic's end, purges
    /// whole segments below its start, drops tombstones no generation in use
    /// needs, and reports files that end before the records the tree says
    /// they hold: where the last committed batch left them (the tree's
    /// topic-files key), at most the topic's end. Not the end itself: a
    /// snapshot's topic may end past its last record, compacted away.
    pub(crate) fn reconcile(
        &self,
        ends: &BTreeMap<TopicName, (Offset, Offset)>,
    ) -> Result<Reconciled, StoreError> {
        let shared = &self.shared;
        let _syncing = shared.lock_syncing()?;
        let mut topics = shared.lock_topics()?;
        let mut reconciled = Reconciled::default();
        let gone: Vec<TopicName> = topics
            .logs
            .keys()
            .filter(|topic| !ends.contains_key(*topic))
            .cloned()
            .collect();
        for topic in gone {
            topics.unsynced.remove(&topic);
            if let Some(log) = topics.logs.remove(&topic) {
                shared.files.remove_dir_all(&log.dir)?;
            }
            reconciled.removed.push(topic);
        }
        let written = shared.committed_files()?;
        for (topic, &(start, end)) in ends {
            let files_end = match topics.logs.get(topic) {
                None => 0,
                Some(log) => {
                    let mut segments = log.write()?;
                    if segments.next_seq() > end.0 {
                        cut_at(&mut segments, end.0)?;
                        reconciled.truncated.push(topic.clone());
                    }
                    let purged = segments.purge_before(start.0)?;
                    if purged > 0 {
                        reconciled.purged.push((topic.clone(), purged));
                    }
                    segments.next_seq()
                }
            };
            let expected = written.get(topic).map_or(0, |files| files.end.min(end.0));
            if files_end < expected && expected > start.0 {
                let ends = (Offset(files_end), Offset(expected));
                reconciled.behind.insert(topic.clone(), ends);
            }
        }
        shared.drop_stale_bookkeeping(&topics, ends)?;
        Ok(reconciled)
    }
}

impl Shared {
    /// Rewrites each sealed segment of `log` holding one of `offsets` (just
    /// tombstoned) that is more than half tombstoned, keeping its survivors
    /// (and its last item, which it must keep, tombstoned or not), then
    /// removes the tombstones of the items it dropped. Offsets in the
    /// segment appends go to wait for it to be sealed.
    fn compact(&self, log: &SharedLog, offsets: &BTreeSet<u64>) -> Result<(), StoreError> {
        let current = {
            let topics = self.lock_topics()?;
            topics
                .logs
                .get(&log.topic)
                .is_some_and(|l| Arc::ptr_eq(l, log))
        };
        if !current {
            return Ok(());
        }
        let sealed = log.read()?.sealed_segments();
        let sealed_end = sealed.last().map_or(0, |segment| segment.end_seq);
        let waiting: Vec<u64> = offsets.range(sealed_end..).copied().collect();
        if !waiting.is_empty() {
            let mut topics = self.lock_topics()?;
            let waiting = waiting.into_iter().map(|offset| (log.clone(), offset));
            topics.removed.extend(waiting);
        }
        for segment in sealed
            .iter()
            .filter(|s| offsets.range(s.base_seq..s.end_seq).next().is_some())
        {
            let (base, end) = (segment.base_seq, segment.end_seq);
            let items: Vec<_> = log
                .read()?
                .read(base, usize::MAX, usize::MAX)?
                .into_iter()
                .take_while(|item| item.seq < end)
                .collect();
            let tombstoned = tombstoned(&self.tree, log, base..end)?;
            let dead = items.iter().filter(|i| tombstoned.contains(&i.seq)).count();
            if dead * 2 <= items.len() {
                continue;
            }
            // A segment must keep its last item, which it ends with (but
            // a cut into a gap, then a roll, leaves one ending after it:
            // left as it is).
            let last = end - 1;
            if items.last().map(|item| item.seq) != Some(last) {
                continue;
            }
            let survivors = items
                .into_iter()
                .filter(|item| item.seq == last || !tombstoned.contains(&item.seq));
            log.write()?.replace_segment(base, survivors)?;
            let mut batch = Batch::default();
            for offset in tombstoned.into_iter().filter(|&offset| offset != last) {
                let key = keys::tombstone_key(&log.topic, log.generation, Offset(offset));
                batch.remove(&self.tree, &key);
            }
            self.disk.commit(batch)?;
        }
        Ok(())
    }

    /// Removes, in a batch of its own, the bookkeeping of topics not in
    /// `ends` and the tombstones of generations not in use (a drop staged
    /// in the same batch as a removal leaves the removal's).
    fn drop_stale_bookkeeping(
        &self,
        topics: &Topics,
        ends: &BTreeMap<TopicName, (Offset, Offset)>,
    ) -> Result<(), StoreError> {
        let tree = &self.tree;
        let mut batch = Batch::default();
        for prefix in [keys::records_start_prefix(), keys::topic_files_prefix()] {
            for key in tree.scan_prefix(&prefix).keys() {
                let key = key?;
                if !ends.contains_key(&keys::topic_from_bookkeeping_key(&key)?) {
                    batch.remove(tree, &key);
                }
            }
        }
        for key in tree.scan_prefix(&keys::tombstone_prefix()).keys() {
            let key = key?;
            let (topic, generation, _) = keys::from_tombstone_key(&key)?;
            let in_use = topics.logs.get(&topic).map(|log| log.generation);
            if !ends.contains_key(&topic) || in_use != Some(generation) {
                batch.remove(tree, &key);
            }
        }
        self.disk.commit(batch)
    }
}

/// Drops every item of `segments` at or after `end`.
fn cut_at(segments: &mut SegmentLog, end: u64) -> Result<(), StoreError> {
    if end <= segments.first_seq() {
        segments.reset(end)
    } else {
        segments.truncate_after(end - 1)
    }
}
