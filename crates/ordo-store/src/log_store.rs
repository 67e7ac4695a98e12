//! `LogStore`: openraft's log storage: entries in segment files
//! (`raft_log_segments`), vote, committed and last purged log ids in the
//! metadata tree, on either medium (sled and real files, or a `MemDisk`).
//!
//! Durability rule: nothing is reported persisted before the disk has
//! flushed it. `append` writes its entries (readable at once); the
//! [`Flusher`] flushes, once for every append waiting, and the callback is
//! completed only after a flush that began after the write returned.
//! Pipelined (`StoreOptions::pipelined_flush`), `append` returns at once and
//! the flusher completes the callback, so openraft replicates the entries
//! while the leader's own flush runs; otherwise `append` completes it
//! before returning. Callbacks complete in append order. `save_vote`, `truncate_after` and `purge` wait for a
//! flusher barrier, so they are durable, and every append before them
//! completed, when they return. (openraft#2118, a new leader counting
//! entries flushed before they are, is fixed in 0.10.0-alpha.37: `become_leader`
//! waits for earlier IO to be flushed; the simulation elects leaders while
//! appends are unflushed to keep it so.) Only the `mutants` feature's
//! switches break this rule, on purpose.
//!
//! Its reads, openraft's `RaftLogReader`, are `reader`'s.

mod reader;

use std::io;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::type_config::alias::{LogIdOf, VoteOf};
use openraft::OptionalSend;

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::flusher::Flusher;
use crate::keys;
use crate::kv::{Batch, Disk, Tree};
use crate::raft_log_segments::RaftLogSegments;
use crate::record_log::RecordLog;
use crate::segment::Files;
use crate::type_config::StoreTypeConfig;
use crate::StoreOptions;

/// Entries moved per batch from a Raft log kept in the tree (before the
/// segment files) into the segments.
const MIGRATE_CHUNK_ENTRIES: usize = 1000;

/// How far the committed log id moves before it is written to the tree
/// again (see `save_committed`).
pub(crate) const COMMITTED_WRITE_STRIDE: u64 = 1024;

/// The Raft log and its metadata. Cheap to clone: clones share the
/// segments and the tree.
pub struct LogStore<C: StoreTypeConfig> {
    disk: Disk,
    meta: Tree,
    entries: Arc<RaftLogSegments>,
    flusher: Arc<Flusher<C>>,
    /// See `StoreOptions::pipelined_flush`.
    pipelined: bool,
    /// The committed log id as last saved, shared by clones.
    committed: Arc<Mutex<SavedCommitted<C>>>,
    /// The vote the skip-vote-persist mutant kept in memory instead of
    /// writing it; shared by clones, so the running node still sees it.
    #[cfg(feature = "mutants")]
    unpersisted_vote: std::sync::Arc<std::sync::Mutex<Option<VoteOf<C>>>>,
    _types: PhantomData<fn() -> C>,
}

impl<C: StoreTypeConfig> Clone for LogStore<C> {
    fn clone(&self) -> Self {
        LogStore {
            disk: self.disk.clone(),
            meta: self.meta.clone(),
            entries: Arc::clone(&self.entries),
            flusher: Arc::clone(&self.flusher),
            pipelined: self.pipelined,
            committed: Arc::clone(&self.committed),
            #[cfg(feature = "mutants")]
            unpersisted_vote: std::sync::Arc::clone(&self.unpersisted_vote),
            _types: PhantomData,
        }
    }
}

/// What `save_committed` was last given, and where the tree's copy is.
struct SavedCommitted<C: StoreTypeConfig> {
    /// Whether this process saved one yet.
    saved: bool,
    /// The id last saved in this process (when `saved`).
    latest: Option<LogIdOf<C>>,
    /// The index of the id last written to the tree by this process.
    written_index: Option<u64>,
}

impl<C: StoreTypeConfig> SavedCommitted<C> {
    /// Notes `committed` as saved; true when it must be written to the
    /// tree too: the first time, when it is none, when it moved back, or
    /// [`COMMITTED_WRITE_STRIDE`] entries past the copy there.
    fn note(&mut self, committed: &Option<LogIdOf<C>>) -> bool {
        (self.saved, self.latest) = (true, *committed);
        let index = committed.as_ref().map(|log_id| log_id.index());
        let due = match (index, self.written_index) {
            (Some(index), Some(written)) => {
                index < written || index >= written.saturating_add(COMMITTED_WRITE_STRIDE)
            }
            _ => true,
        };
        if due {
            self.written_index = index;
        }
        due
    }
}

impl<C: StoreTypeConfig> LogStore<C> {
    /// Bytes of entries this log has been handed since it was opened (all
    /// clones count together): what a node snapshots by.
    pub fn bytes_appended(&self) -> u64 {
        self.entries.appended_bytes()
    }

    /// The index of the last entry purged from this log, if any.
    pub fn last_purged_index(&self) -> Result<Option<u64>, StoreError> {
        let purged: Option<LogIdOf<C>> =
            self.get_meta(keys::LAST_PURGED_KEY, "last purged log id")?;
        Ok(purged.map(|log_id| log_id.index()))
    }

    /// Opens the log: its entries in segment files under `files`, its
    /// metadata in `disk`'s tree.
    pub(crate) fn open(
        disk: &Disk,
        files: Files,
        records: RecordLog,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        let entries = Arc::new(RaftLogSegments::open(
            files,
            options.log_segment_bytes,
            options.direct_sync,
        )?);
        let store = LogStore {
            disk: disk.clone(),
            meta: disk.open_tree(keys::RAFT_META_TREE)?,
            entries: Arc::clone(&entries),
            flusher: Arc::new(Flusher::new(disk, entries, records, options.flush_linger)),
            pipelined: options.pipelined_flush,
            committed: Arc::new(Mutex::new(SavedCommitted {
                saved: false,
                latest: None,
                written_index: None,
            })),
            #[cfg(feature = "mutants")]
            unpersisted_vote: Default::default(),
            _types: PhantomData,
        };
        store.migrate_from_tree()?;
        store.finish_interrupted_purge()?;
        Ok(store)
    }

    /// Moves the entries of a log kept in the tree (as ordo did before the
    /// segment files) into the segments, then removes them from the tree.
    /// The tree is emptied only after the segments are durable, so while it
    /// holds entries it is the whole log: a migration a crash interrupted
    /// starts again from an empty segment log.
    fn migrate_from_tree(&self) -> Result<(), StoreError> {
        let tree = self.disk.open_tree(keys::LOG_TREE)?;
        let Some((first_key, _)) = tree.iter().next().transpose()? else {
            return Ok(());
        };
        let first = keys::log_index(&first_key)?;
        tracing::info!(
            first_index = first,
            "moving the Raft log from the tree into segment files"
        );
        self.entries.reset(first)?;
        let mut moved = 0u64;
        let mut chunk: Vec<C::Entry> = Vec::with_capacity(MIGRATE_CHUNK_ENTRIES);
        for item in tree.iter() {
            let (_, value) = item?;
            chunk.push(decode("log entry", &value)?);
            if chunk.len() == MIGRATE_CHUNK_ENTRIES {
                moved += chunk.len() as u64;
                self.entries.append::<C>(chunk.drain(..))?;
            }
        }
        moved += chunk.len() as u64;
        self.entries.append::<C>(chunk)?;
        self.entries.sync()?;
        let mut batch = Batch::default();
        for key in tree.iter().keys() {
            batch.remove(&tree, &key?);
        }
        self.disk.commit(batch)?;
        self.disk.flush_blocking()?;
        tracing::info!(entries = moved, "moved the Raft log into segment files");
        Ok(())
    }

    /// `purge` records the purged log id durably before removing entries, so
    /// a crash in between leaves entries at or below it; remove them now.
    /// This also puts an emptied log's next entry right after the purged one.
    fn finish_interrupted_purge(&self) -> Result<(), StoreError> {
        if let Some(purged) =
            self.get_meta::<LogIdOf<C>>(keys::LAST_PURGED_KEY, "last purged log id")?
        {
            self.entries.purge_through(purged.index)?;
        }
        Ok(())
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.meta
            .get(key)?
            .map(|bytes| decode(what, &bytes))
            .transpose()
    }

    // Guards plain values that every writer leaves whole.
    fn lock_committed(&self) -> std::sync::MutexGuard<'_, SavedCommitted<C>> {
        self.committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn put_meta<T: serde::Serialize>(
        &self,
        key: &[u8],
        what: &'static str,
        value: &T,
    ) -> Result<(), StoreError> {
        self.meta.insert(key, encode(what, value)?)
    }

    /// See [`LogStore::seed_restored`] (in `backup`).
    pub(crate) async fn seed(&self, last: LogIdOf<C>, vote: VoteOf<C>) -> Result<(), StoreError> {
        let empty = self.entries.is_empty()?
            && self.meta.get(keys::VOTE_KEY)?.is_none()
            && self.meta.get(keys::LAST_PURGED_KEY)?.is_none();
        if !empty {
            return Err(StoreError::NotEmpty(
                "its Raft log holds entries or a vote".into(),
            ));
        }
        self.put_meta(keys::LAST_PURGED_KEY, "last purged log id", &last)?;
        self.put_meta(keys::COMMITTED_KEY, "committed log id", &last)?;
        self.put_meta(keys::VOTE_KEY, "vote", &vote)?;
        self.flusher.barrier().await?;
        self.entries.purge_through(last.index)
    }

    // Holds only an `Option`, replaced whole: a poisoned lock still guards
    // a consistent value.
    #[cfg(feature = "mutants")]
    fn lock_unpersisted_vote(&self) -> std::sync::MutexGuard<'_, Option<VoteOf<C>>> {
        self.unpersisted_vote
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Completes `callback` once the entries just written are durable:
    /// pipelined, the flusher does it later and this returns at once;
    /// otherwise this waits for a flush and completes it before returning.
    async fn complete_when_flushed(&self, callback: IOFlushed<C>) -> Result<(), StoreError> {
        #[cfg(feature = "mutants")]
        if crate::mutants::ack_before_flush() {
            callback.io_completed(Ok(()));
            return Ok(());
        }
        if self.pipelined {
            self.flusher.complete_when_durable(callback);
            return Ok(());
        }
        let flushed = self.flusher.barrier().await;
        callback.io_completed(
            flushed
                .as_ref()
                .map(|_| ())
                .map_err(|e| io::Error::other(e.to_string())),
        );
        flushed
    }
}

impl<C: StoreTypeConfig> RaftLogStorage<C> for LogStore<C> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let last_purged_log_id: Option<LogIdOf<C>> =
            self.get_meta(keys::LAST_PURGED_KEY, "last purged log id")?;
        // With every entry purged, the last log id is the last purged one.
        let last_log_id = self.entries.last_log_id()?.max(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> Result<(), io::Error> {
        #[cfg(feature = "mutants")]
        {
            let mut unpersisted = self.lock_unpersisted_vote();
            if crate::mutants::skip_vote_persist() {
                *unpersisted = Some(vote.clone());
                return Ok(());
            }
            *unpersisted = None;
        }
        self.put_meta(keys::VOTE_KEY, "vote", vote)?;
        self.flusher.barrier().await?;
        Ok(())
    }

    // Kept in memory, and written to the tree (not flushed) only every
    // `COMMITTED_WRITE_STRIDE` entries: openraft saves it on every commit,
    // and that sled insert on its core's path was 2.4 % of a follower's
    // samples at 16 clients (`docs/performance.md`). An
    // older committed id after a restart, or none, only means re-applying
    // less before the leader says more (openraft starts from the state
    // machine's last applied id when that is further), and `read_committed`
    // copes with it coming back ahead of the entries that survived.
    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let write = self.lock_committed().note(&committed);
        if write {
            match committed {
                Some(log_id) => self.put_meta(keys::COMMITTED_KEY, "committed log id", &log_id)?,
                None => self.meta.remove(keys::COMMITTED_KEY)?,
            }
        }
        Ok(())
    }

    /// The committed log id, never past the last entry the log holds: the
    /// tree and the segments are made durable apart, so after a crash the
    /// committed id saved may point past the entries that survived. Every
    /// entry up to it was committed, so the last one held is as far as this
    /// node can re-apply; the leader sends it the rest.
    async fn read_committed(&mut self) -> Result<Option<LogIdOf<C>>, io::Error> {
        let (saved, latest) = {
            let committed = self.lock_committed();
            (committed.saved, committed.latest)
        };
        let committed: Option<LogIdOf<C>> = match saved {
            true => latest,
            false => self.get_meta(keys::COMMITTED_KEY, "committed log id")?,
        };
        let held = self.get_log_state().await?.last_log_id;
        Ok(match (committed, held) {
            (Some(committed), Some(held)) if held.index < committed.index => Some(held),
            (committed, Some(_)) => committed,
            (_, None) => None,
        })
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // The entries are readable as soon as the batch is applied; they are
        // persisted only once a flush begun after it returns, and only then
        // is it said.
        let written = match self.flusher.failure() {
            Some(e) => Err(e),
            None => self.entries.append::<C>(entries),
        };
        let completed = match written {
            Ok(()) => self.complete_when_flushed(callback).await,
            Err(e) => {
                callback.io_completed(Err(io::Error::other(e.to_string())));
                Err(e)
            }
        };
        completed.map_err(|e| {
            tracing::error!(error = %e, "appending to the Raft log failed");
            e.into()
        })
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        // Durable when it returns, and no hole can appear whatever the
        // crash point (see `SegmentLog::truncate_after`).
        self.entries
            .truncate_after(last_log_id.map(|log_id| log_id.index))?;
        self.flusher.barrier().await?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        // Record the purge point durably first (with the state machine's
        // writes, which the tree's flush covers): after a crash the log
        // then still reports it, and `open` finishes the removal. Removing
        // whole segments is quick, so it is done here.
        self.put_meta(keys::LAST_PURGED_KEY, "last purged log id", &log_id)?;
        self.flusher.barrier().await?;
        self.entries.purge_through(log_id.index)?;
        Ok(())
    }
}
