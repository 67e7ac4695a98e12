//! The record log in segment files: each topic's records in a
//! [`crate::segment::SegmentLog`] of their own (seq = the record's offset,
//! timestamp = its `timestamp_ms`, payload = `codec`'s encoding of the
//! record, the bytes [`SegmentRecords::encoded`] returns and a snapshot
//! copies), with gaps allowed ([`SegmentOptions::allow_gaps`]): compaction and snapshots leave
//! them. What must commit with the decided state lives in the state machine
//! tree beside it (`keys`: tombstones, where a topic's records start, which
//! files hold them); the file work that follows a commit waits for
//! [`SegmentRecords::after_commit`]. This module opens the topics' logs
//! and owns staging and durability; `topics` is the registry of the
//! topics' logs and their bookkeeping; `reader` reads them back (skipping
//! tombstones) and shares their segments with a snapshot; `maintenance`
//! does the deferred file work, compaction's rewrites and the reconciling
//! at open.
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
mod topics;

#[cfg(test)]
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use ordo_core::{Offset, Record, TopicName};

use super::{Encoded, ImportedRecord};
use crate::error::StoreError;
use crate::keys;
use crate::kv::{Batch, Disk};
use crate::record_codec;
use crate::segment::{Files, ItemRef, SegmentOptions};
pub(crate) use maintenance::Reconciled;
use topics::{parse_dir_name, Deferred, Shared, SharedLog, TopicFiles, TopicLog, Topics};

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
        // `ordo_core::apply` places an append's records at consecutive
        // offsets from the topic's end; the segment log allows gaps (for
        // compaction and snapshots), so it would take a gap without a word.
        assert!(
            records
                .windows(2)
                .all(|pair| pair[1].offset.0 == pair[0].offset.0 + 1),
            "the records appended to topic {topic} are not at consecutive offsets"
        );
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
