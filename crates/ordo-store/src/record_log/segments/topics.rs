//! The registry of the topics' logs and its bookkeeping: which generation
//! of a topic's files reads and appends go to ([`Topics`], behind one
//! mutex), each generation's [`SegmentLog`] behind a lock of its own
//! ([`TopicLog`]), the file work deferred until a commit ([`Deferred`]),
//! and the topic-files and records-start keys in the tree ([`TopicFiles`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ordo_core::TopicName;

use super::RECORDS_DIR;
use crate::error::StoreError;
use crate::keys;
use crate::kv::{Batch, Disk, Tree};
use crate::segment::{Files, SegmentLog, SegmentOptions};

pub(super) struct Shared {
    pub(super) disk: Disk,
    pub(super) tree: Tree,
    pub(super) files: Files,
    pub(super) options: SegmentOptions,
    pub(super) topics: Mutex<Topics>,
    /// Held for a whole sync, and by whatever removes files.
    pub(super) syncing: Mutex<()>,
}

/// One generation of one topic's files.
pub(super) struct TopicLog {
    pub(super) topic: TopicName,
    pub(super) generation: u64,
    pub(super) dir: PathBuf,
    pub(super) segments: RwLock<SegmentLog>,
    /// Where its records start, as staged (reads go by the committed key).
    pub(super) staged_start: AtomicU64,
}

pub(super) type SharedLog = Arc<TopicLog>;

#[derive(Default)]
pub(super) struct Topics {
    /// The generation each topic's name reads and appends to.
    pub(super) logs: BTreeMap<TopicName, SharedLog>,
    /// Generations dropped or cleared since the last `after_commit`, still
    /// read under their name until it commits if no new one took it.
    pub(super) dropping: BTreeMap<TopicName, SharedLog>,
    /// Logs appended to since the last sync.
    pub(super) unsynced: BTreeMap<TopicName, SharedLog>,
    /// File work for `after_commit`, in the order it was staged.
    pub(super) deferred: Vec<Deferred>,
    /// Offsets tombstoned whose segment `after_commit` has yet to weigh
    /// for a rewrite (it must be sealed first).
    pub(super) removed: Vec<(SharedLog, u64)>,
    pub(super) next_generation: u64,
}

/// File work that waits for the commit of the batch that decided it.
pub(super) enum Deferred {
    /// Retention: the whole segments below `before` go.
    Purge { log: SharedLog, before: u64 },
    /// A drop or a clear: the generation's directory goes.
    Remove { log: SharedLog },
}

/// The topic-files key's value: which generation holds a topic's records,
/// and the offset after the last one written to it (`u64` BE each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TopicFiles {
    pub(super) generation: u64,
    pub(super) end: u64,
}

impl TopicFiles {
    pub(super) fn encode(self) -> Vec<u8> {
        let mut bytes = self.generation.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.end.to_be_bytes());
        bytes
    }

    pub(super) fn decode(topic: &TopicName, bytes: &[u8]) -> Result<TopicFiles, StoreError> {
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

impl Shared {
    /// `topic`'s log, created (a new generation) if it has none.
    pub(super) fn log_for_append(&self, topic: &TopicName) -> Result<SharedLog, StoreError> {
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

    pub(super) fn open_log(
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
    pub(super) fn stage_forget(
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
    pub(super) fn lookup(&self, topic: &TopicName) -> Result<Option<SharedLog>, StoreError> {
        let topics = self.lock_topics()?;
        Ok(topics
            .logs
            .get(topic)
            .or_else(|| topics.dropping.get(topic))
            .cloned())
    }

    /// Where `topic`'s records start, as committed.
    pub(super) fn committed_start(&self, topic: &TopicName) -> Result<u64, StoreError> {
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
    pub(super) fn committed_files(&self) -> Result<BTreeMap<TopicName, TopicFiles>, StoreError> {
        let mut current = BTreeMap::new();
        for entry in self.tree.scan_prefix(&keys::topic_files_prefix()) {
            let (key, value) = entry?;
            let topic = keys::topic_from_bookkeeping_key(&key)?;
            let files = TopicFiles::decode(&topic, &value)?;
            current.insert(topic, files);
        }
        Ok(current)
    }

    pub(super) fn lock_topics(&self) -> Result<MutexGuard<'_, Topics>, StoreError> {
        self.topics.lock().map_err(|_| StoreError::Poisoned)
    }

    pub(super) fn lock_syncing(&self) -> Result<MutexGuard<'_, ()>, StoreError> {
        self.syncing.lock().map_err(|_| StoreError::Poisoned)
    }
}

impl TopicLog {
    pub(super) fn read(&self) -> Result<RwLockReadGuard<'_, SegmentLog>, StoreError> {
        self.segments.read().map_err(|_| StoreError::Poisoned)
    }

    pub(super) fn write(&self) -> Result<RwLockWriteGuard<'_, SegmentLog>, StoreError> {
        self.segments.write().map_err(|_| StoreError::Poisoned)
    }
}

/// `<topic>@<generation>`: `@` is not allowed in topic names.
fn dir_name(topic: &TopicName, generation: u64) -> String {
    format!("{topic}@{generation}")
}

pub(super) fn parse_dir_name(name: &str) -> Option<(TopicName, u64)> {
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
