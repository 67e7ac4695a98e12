//! The record log in segment files: each topic's records in a
//! [`SegmentLog`] of their own (seq = the record's offset, timestamp = its
//! `timestamp_ms`, payload = `codec`'s encoding of the record, the bytes
//! [`SegmentRecords::encoded`] returns and a snapshot copies), with gaps
//! allowed ([`SegmentOptions::allow_gaps`]): compaction and snapshots leave
//! them. What must commit with the decided state lives in the state machine
//! tree beside it (`keys`: tombstones, where a topic's records start, which
//! files hold them); the file work that follows a commit waits for
//! [`SegmentRecords::after_commit`]. This module owns the topics' logs,
//! staging and durability; `reader` reads them back (skipping tombstones);
//! `maintenance` does the deferred file work, compaction's rewrites and the
//! reconciling at open.
//!
//! Layout: topic `t`'s records are in `records/t@<generation>/` under the
//! [`Files`] root. A topic dropped (or cleared) and created again, in the
//! same batch or later, gets a new generation, so it starts empty at offset
//! 0 while the old directory waits for the commit to be removed; the tree's
//! topic-files key names the generation the decided state uses, so after a
//! crash on either side of the commit the open keeps exactly that one
//! (this replaces renaming a dropped topic's directory away at once, which a
//! crash before the commit would turn into a lost topic).
//!
//! How it keeps `RecordLog`'s contract:
//! - appends (and a snapshot's imports) go to the topic's log at once, so
//!   they are readable before their batch commits. That is harmless: every
//!   caller bounds its reads by a published end offset, which only moves
//!   with the commit. The batch gets the topic-files key (generation, and
//!   where the files end), which [`SegmentRecords::reconcile`] holds the
//!   files against at open;
//! - a removal (compaction) is a tombstone key in the batch: reads skip
//!   tombstoned offsets once it commits, never before. A sealed segment
//!   more than half tombstoned is rewritten after a commit, and the
//!   tombstones the rewrite made unnecessary go;
//! - truncating the front writes where the records start into the batch
//!   (reads never go below it once committed) and purges whole segments
//!   after the commit; a drop or a clear stages the removal of the topic's
//!   bookkeeping, and its old generation stays readable under its name
//!   until `after_commit` removes its directory (unless the name was
//!   created again meanwhile: it then reads the new generation, whose
//!   records no published end offset reaches yet).
//!
//! Durability: [`SegmentRecords::write_out`] hands every buffered append to
//! its file before the batch holding their state commits, so a process
//! crash never leaves the tree ahead of the files; [`SegmentRecords::sync`]
//! fdatasyncs the logs appended to since the last sync, before the tree is
//! flushed. After a power loss the tree may still be ahead (it is flushed
//! after the files are synced, but a flush of the tree for another reason
//! may come first): `reconcile` reports it.
//!
//! Concurrency: the map of topics is behind one mutex, held only to look a
//! topic up or change the map; each topic's log is behind a lock of its
//! own, read for reads and written for appends and file work, never held
//! across a caller's callback (a sweep reads chunk by chunk). Syncs and
//! file work that removes files take a mutex of their own, so no sync is
//! left holding a removed file.

mod maintenance;
mod reader;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ordo_core::{Offset, Record, TopicName};

use super::{Encoded, ImportedRecord, SharedSegments};
use crate::error::StoreError;
use crate::keys;
use crate::kv::{Batch, Disk, Tree};
use crate::record_codec;
use crate::segment::{Files, ItemRef, SegmentLog, SegmentOptions};
pub(crate) use maintenance::Reconciled;

/// The directory of the topics' record logs, under the store's.
pub(crate) const RECORDS_DIR: &str = "records";

/// [`RecordSegmentOptions::segment_bytes`] by default.
pub(crate) const RECORD_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// How the record log lays out its topics' files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordSegmentOptions {
    /// The size of one segment file of a topic: a compaction rewrites, and
    /// retention purges, whole segments.
    pub segment_bytes: u64,
}

impl Default for RecordSegmentOptions {
    fn default() -> Self {
        RecordSegmentOptions {
            segment_bytes: RECORD_SEGMENT_BYTES,
        }
    }
}

/// Records in per-topic segment files. Cheap to clone; clones share the
/// topics' logs.
#[derive(Clone)]
pub(crate) struct SegmentRecords {
    shared: Arc<Shared>,
}

struct Shared {
    disk: Disk,
    tree: Tree,
    files: Files,
    options: SegmentOptions,
    topics: Mutex<Topics>,
    /// Held for a whole sync, and by whatever removes files.
    syncing: Mutex<()>,
}

/// One generation of one topic's files.
struct TopicLog {
    topic: TopicName,
    generation: u64,
    dir: PathBuf,
    segments: RwLock<SegmentLog>,
    /// Where its records start, as staged (reads go by the committed key).
    staged_start: AtomicU64,
}

type SharedLog = Arc<TopicLog>;

#[derive(Default)]
struct Topics {
    /// The generation each topic's name reads and appends to.
    logs: BTreeMap<TopicName, SharedLog>,
    /// Generations dropped or cleared since the last `after_commit`, still
    /// read under their name until it commits if no new one took it.
    dropping: BTreeMap<TopicName, SharedLog>,
    /// Logs appended to since the last sync.
    unsynced: BTreeMap<TopicName, SharedLog>,
    /// File work for `after_commit`, in the order it was staged.
    deferred: Vec<Deferred>,
    /// Offsets tombstoned whose segment `after_commit` has yet to weigh
    /// for a rewrite (it must be sealed first).
    removed: Vec<(SharedLog, u64)>,
    next_generation: u64,
}

/// File work that waits for the commit of the batch that decided it.
enum Deferred {
    /// Retention: the whole segments below `before` go.
    Purge { log: SharedLog, before: u64 },
    /// A drop or a clear: the generation's directory goes.
    Remove { log: SharedLog },
}

/// The topic-files key's value: which generation holds a topic's records,
/// and the offset after the last one written to it (`u64` BE each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TopicFiles {
    generation: u64,
    end: u64,
}

impl TopicFiles {
    fn encode(self) -> Vec<u8> {
        let mut bytes = self.generation.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.end.to_be_bytes());
        bytes
    }

    fn decode(topic: &TopicName, bytes: &[u8]) -> Result<TopicFiles, StoreError> {
        let (generation, end) = bytes
            .split_at_checked(8)
            .filter(|(_, end)| end.len() == 8)
            .ok_or_else(|| bad_entry(topic, format!("topic files of {} bytes", bytes.len())))?;
        Ok(TopicFiles {
            generation: u64_be(generation),
            end: u64_be(end),
        })
    }
}

impl SegmentRecords {
    /// Opens every topic's log under [`RECORDS_DIR`] in `files`, the
    /// generation the tree on `disk` names; any other generation (a dropped
    /// topic's, or one created by a batch a crash lost) is removed.
    pub(super) fn open(
        disk: &Disk,
        files: Files,
        options: &RecordSegmentOptions,
    ) -> Result<SegmentRecords, StoreError> {
        let tree = disk.open_tree(keys::STATE_MACHINE_TREE)?;
        let options = SegmentOptions {
            segment_bytes: options.segment_bytes,
            allow_gaps: true,
            ..SegmentOptions::default()
        };
        let records = Path::new(RECORDS_DIR);
        files.create_dir_all(records)?;
        files.sync_dir(Path::new(""))?;
        let shared = Arc::new(Shared {
            disk: disk.clone(),
            tree,
            files,
            options,
            topics: Mutex::new(Topics::default()),
            syncing: Mutex::new(()),
        });
        let current = shared.committed_files()?;
        let mut topics = Topics {
            next_generation: current
                .values()
                .map(|f| f.generation + 1)
                .max()
                .unwrap_or(0),
            ..Topics::default()
        };
        for name in shared.files.list_subdirs(records)? {
            let dir = records.join(&name);
            let (topic, generation) =
                parse_dir_name(&name).ok_or_else(|| StoreError::StrayRecordDir {
                    path: shared.files.full_path(&dir),
                })?;
            topics.next_generation = topics.next_generation.max(generation + 1);
            if current.get(&topic).map(|files| files.generation) == Some(generation) {
                let start = shared.committed_start(&topic)?;
                let log = shared.open_log(topic.clone(), generation, start)?;
                topics.logs.insert(topic, log);
            } else {
                shared.files.remove_dir_all(&dir)?;
            }
        }
        *shared.lock_topics()? = topics;
        Ok(SegmentRecords { shared })
    }

    pub(super) fn stage_append(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        records: &[Record],
    ) -> Result<(), StoreError> {
        let items = records
            .iter()
            .map(|record| {
                let payload = record_codec::encode(record)?;
                Ok((record.offset.0, record.timestamp_ms, payload))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.append(batch, topic, &items)
    }

    pub(super) fn stage_import(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offset: Offset,
        encoded: Vec<u8>,
    ) -> Result<(), StoreError> {
        let record = record_codec::decode(&encoded)?;
        self.append(batch, topic, &[(offset.0, record.timestamp_ms, encoded)])
    }

    pub(super) fn stage_import_items(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        records: &[ImportedRecord],
    ) -> Result<(), StoreError> {
        self.append(batch, topic, records)
    }

    pub(super) fn share_segments<T>(
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
        let tombstones = reader::tombstoned(&self.shared.tree, &log, range.start.0..tail_from.0)?
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

    pub(super) fn stage_remove(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offset: Offset,
    ) -> Result<(), StoreError> {
        let mut topics = self.shared.lock_topics()?;
        let Some(log) = topics.logs.get(topic).cloned() else {
            return Ok(());
        };
        let key = keys::tombstone_key(topic, log.generation, offset);
        batch.insert(&self.shared.tree, &key, Vec::new());
        topics.removed.push((log, offset.0));
        Ok(())
    }

    pub(super) fn stage_truncate(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offset: Offset,
    ) -> Result<(), StoreError> {
        let mut topics = self.shared.lock_topics()?;
        let Some(log) = topics.logs.get(topic).cloned() else {
            // No files: nothing to hide or purge.
            return Ok(());
        };
        let before = log.staged_start.fetch_max(offset.0, Ordering::SeqCst);
        if offset.0 <= before {
            return Ok(());
        }
        let tree = &self.shared.tree;
        batch.insert(
            tree,
            &keys::records_start_key(topic),
            offset.0.to_be_bytes().to_vec(),
        );
        // Tombstones below the start hide nothing any more.
        let below = keys::tombstone_key(topic, log.generation, Offset(0))
            ..keys::tombstone_key(topic, log.generation, offset);
        for key in tree.range(below).keys() {
            batch.remove(tree, &key?);
        }
        topics.deferred.push(Deferred::Purge {
            log,
            before: offset.0,
        });
        Ok(())
    }

    pub(super) fn stage_drop(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
    ) -> Result<(), StoreError> {
        let mut topics = self.shared.lock_topics()?;
        self.shared.stage_forget(batch, &mut topics, topic)
    }

    pub(super) fn stage_clear(&self, batch: &mut Batch) -> Result<(), StoreError> {
        let mut topics = self.shared.lock_topics()?;
        let names: Vec<TopicName> = topics.logs.keys().cloned().collect();
        for topic in &names {
            self.shared.stage_forget(batch, &mut topics, topic)?;
        }
        // Whatever bookkeeping is left (a topic truncated or dropped with
        // no files, tombstones of an older generation) goes too.
        let tree = &self.shared.tree;
        for prefix in [
            keys::tombstone_prefix(),
            keys::records_start_prefix(),
            keys::topic_files_prefix(),
        ] {
            for key in tree.scan_prefix(&prefix).keys() {
                batch.remove(tree, &key?);
            }
        }
        Ok(())
    }

    pub(super) fn encoded(&self, topic: &TopicName, range: std::ops::Range<Offset>) -> Encoded {
        if range.start >= range.end {
            return Box::new(std::iter::empty());
        }
        match self.shared.reader(topic, range) {
            Ok(Some(reader)) => Box::new(reader),
            Ok(None) => Box::new(std::iter::empty()),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    /// Writes every topic's buffered appends to its files, without syncing.
    pub(super) fn write_out(&self) -> Result<(), StoreError> {
        let logs: Vec<SharedLog> = self
            .shared
            .lock_topics()?
            .unsynced
            .values()
            .cloned()
            .collect();
        for log in logs {
            log.write()?.write_out()?;
        }
        Ok(())
    }

    /// Makes every append so far durable: fdatasyncs each log appended to
    /// since the last sync.
    pub(super) fn sync(&self) -> Result<(), StoreError> {
        let _syncing = self.shared.lock_syncing()?;
        let logs = std::mem::take(&mut self.shared.lock_topics()?.unsynced);
        let result = logs.values().try_for_each(|log| {
            let pending = log.write()?.begin_sync()?;
            let synced = pending.sync()?;
            if synced.wrote_directly() {
                log.write()?.synced(synced);
            }
            Ok(())
        });
        if result.is_err() {
            // Kept as unsynced, so no later sync reports them durable: the
            // failed log refuses every write and sync from now on (a failed
            // fsync is final), and the flusher never retries one.
            let mut topics = self.shared.lock_topics()?;
            for (topic, log) in logs {
                topics.unsynced.entry(topic).or_insert(log);
            }
        }
        result
    }

    /// The offsets of every record a read can return, by topic.
    #[cfg(test)]
    pub(super) fn held(&self) -> Result<BTreeMap<TopicName, Vec<Offset>>, StoreError> {
        let names: Vec<TopicName> = self.shared.lock_topics()?.logs.keys().cloned().collect();
        let mut held = BTreeMap::new();
        for topic in names {
            let offsets = self
                .encoded(&topic, Offset(0)..Offset(u64::MAX))
                .map(|encoded| Ok(record_codec::decode(&encoded?)?.offset))
                .collect::<Result<Vec<_>, StoreError>>()?;
            if !offsets.is_empty() {
                held.insert(topic, offsets);
            }
        }
        Ok(held)
    }

    /// The ends the tree's bookkeeping gives each topic with files (where
    /// its records start, and where its files end): what the record log's
    /// tests reconcile with, having no decided state.
    #[cfg(test)]
    pub(super) fn bookkept_ends(
        &self,
    ) -> Result<BTreeMap<TopicName, (Offset, Offset)>, StoreError> {
        let mut ends = BTreeMap::new();
        for (topic, files) in self.shared.committed_files()? {
            let start = self.shared.committed_start(&topic)?;
            ends.insert(topic, (Offset(start), Offset(files.end)));
        }
        Ok(ends)
    }

    /// Appends `items` (offset, timestamp, encoded record) to `topic`'s
    /// log, creating it on first use, and stages where its files now end.
    fn append(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        items: &[(u64, u64, Vec<u8>)],
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let log = self.shared.log_for_append(topic)?;
        let mut segments = log.write()?;
        segments.append_batch(items.iter().map(|(seq, timestamp_ms, payload)| ItemRef {
            seq: *seq,
            timestamp_ms: *timestamp_ms,
            payload,
        }))?;
        let files = TopicFiles {
            generation: log.generation,
            end: segments.next_seq(),
        };
        batch.insert(
            &self.shared.tree,
            &keys::topic_files_key(topic),
            files.encode(),
        );
        Ok(())
    }
}

impl Shared {
    /// `topic`'s log, created (a new generation) if it has none.
    fn log_for_append(&self, topic: &TopicName) -> Result<SharedLog, StoreError> {
        let mut topics = self.lock_topics()?;
        let log = match topics.logs.get(topic) {
            Some(log) => log.clone(),
            None => {
                let generation = topics.next_generation;
                topics.next_generation += 1;
                let log = self.open_log(topic.clone(), generation, 0)?;
                // The new directory's entry, durable before anything in it.
                self.files.sync_dir(Path::new(RECORDS_DIR))?;
                topics.logs.insert(topic.clone(), log.clone());
                log
            }
        };
        topics.unsynced.insert(topic.clone(), log.clone());
        Ok(log)
    }

    fn open_log(
        &self,
        topic: TopicName,
        generation: u64,
        start: u64,
    ) -> Result<SharedLog, StoreError> {
        let dir = Path::new(RECORDS_DIR).join(dir_name(&topic, generation));
        let (segments, recovery) =
            SegmentLog::open(self.files.clone(), &dir, self.options.clone())?;
        for action in &recovery.actions {
            tracing::warn!(%topic, repair = %action, "a topic's records were not closed cleanly");
        }
        Ok(Arc::new(TopicLog {
            topic,
            generation,
            dir,
            segments: RwLock::new(segments),
            staged_start: AtomicU64::new(start),
        }))
    }

    /// Stages the end of `topic`'s current generation (a drop, or a clear):
    /// its bookkeeping goes with the batch, its directory after it.
    fn stage_forget(
        &self,
        batch: &mut Batch,
        topics: &mut Topics,
        topic: &TopicName,
    ) -> Result<(), StoreError> {
        let tree = &self.tree;
        batch.remove(tree, &keys::records_start_key(topic));
        batch.remove(tree, &keys::topic_files_key(topic));
        topics.unsynced.remove(topic);
        let Some(log) = topics.logs.remove(topic) else {
            return Ok(());
        };
        let prefix = keys::tombstone_generation_prefix(topic, log.generation);
        for key in tree.scan_prefix(&prefix).keys() {
            batch.remove(tree, &key?);
        }
        topics.dropping.insert(topic.clone(), log.clone());
        topics.deferred.push(Deferred::Remove { log });
        Ok(())
    }

    /// The log a read of `topic` goes to: its current generation, or the
    /// one a drop not yet committed took from it.
    fn lookup(&self, topic: &TopicName) -> Result<Option<SharedLog>, StoreError> {
        let topics = self.lock_topics()?;
        Ok(topics
            .logs
            .get(topic)
            .or_else(|| topics.dropping.get(topic))
            .cloned())
    }

    /// Where `topic`'s records start, as committed.
    fn committed_start(&self, topic: &TopicName) -> Result<u64, StoreError> {
        match self.tree.get(&keys::records_start_key(topic))? {
            None => Ok(0),
            Some(bytes) => {
                let bytes: [u8; 8] = (*bytes)
                    .try_into()
                    .map_err(|_| bad_entry(topic, format!("a start of {} bytes", bytes.len())))?;
                Ok(u64::from_be_bytes(bytes))
            }
        }
    }

    /// Every topic's files as the tree names them.
    fn committed_files(&self) -> Result<BTreeMap<TopicName, TopicFiles>, StoreError> {
        let mut current = BTreeMap::new();
        for entry in self.tree.scan_prefix(&keys::topic_files_prefix()) {
            let (key, value) = entry?;
            let topic = keys::topic_from_bookkeeping_key(&key)?;
            let files = TopicFiles::decode(&topic, &value)?;
            current.insert(topic, files);
        }
        Ok(current)
    }

    fn lock_topics(&self) -> Result<MutexGuard<'_, Topics>, StoreError> {
        self.topics.lock().map_err(|_| StoreError::Poisoned)
    }

    fn lock_syncing(&self) -> Result<MutexGuard<'_, ()>, StoreError> {
        self.syncing.lock().map_err(|_| StoreError::Poisoned)
    }
}

impl TopicLog {
    fn read(&self) -> Result<RwLockReadGuard<'_, SegmentLog>, StoreError> {
        self.segments.read().map_err(|_| StoreError::Poisoned)
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, SegmentLog>, StoreError> {
        self.segments.write().map_err(|_| StoreError::Poisoned)
    }
}

/// `<topic>@<generation>`: `@` is not allowed in topic names.
fn dir_name(topic: &TopicName, generation: u64) -> String {
    format!("{topic}@{generation}")
}

fn parse_dir_name(name: &str) -> Option<(TopicName, u64)> {
    let (topic, generation) = name.rsplit_once('@')?;
    let generation = generation.parse().ok()?;
    Some((TopicName::new(topic).ok()?, generation))
}

fn u64_be(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8 bytes"))
}

fn bad_entry(topic: &TopicName, detail: String) -> StoreError {
    StoreError::BadRecordLogEntry {
        topic: topic.to_string(),
        detail,
    }
}
