//! `LogStore`: openraft's log storage (entries, vote, committed and last
//! purged log ids) on either medium of `kv`.
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

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::type_config::alias::{LogIdOf, VoteOf};
use openraft::{OptionalSend, RaftLogReader};

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::flusher::Flusher;
use crate::keys;
use crate::kv::{Batch, Disk, Tree};
use crate::type_config::StoreTypeConfig;

/// Entries removed per batch when purging in the background.
const PURGE_CHUNK_ENTRIES: usize = 1000;

/// The Raft log and its metadata. Cheap to clone: clones share the trees.
pub struct LogStore<C: StoreTypeConfig> {
    disk: Disk,
    log: Tree,
    meta: Tree,
    flusher: Arc<Flusher<C>>,
    /// See `StoreOptions::pipelined_flush`.
    pipelined: bool,
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
            log: self.log.clone(),
            meta: self.meta.clone(),
            flusher: Arc::clone(&self.flusher),
            pipelined: self.pipelined,
            #[cfg(feature = "mutants")]
            unpersisted_vote: std::sync::Arc::clone(&self.unpersisted_vote),
            _types: PhantomData,
        }
    }
}

impl<C: StoreTypeConfig> LogStore<C> {
    pub(crate) fn open(disk: &Disk, pipelined: bool) -> Result<Self, StoreError> {
        let store = LogStore {
            disk: disk.clone(),
            log: disk.open_tree(keys::LOG_TREE)?,
            meta: disk.open_tree(keys::RAFT_META_TREE)?,
            flusher: Arc::new(Flusher::new(disk)),
            pipelined,
            #[cfg(feature = "mutants")]
            unpersisted_vote: Default::default(),
            _types: PhantomData,
        };
        store.finish_interrupted_purge()?;
        Ok(store)
    }

    /// `purge` records the purged log id durably before removing entries, so
    /// a crash in between leaves entries at or below it; remove them now.
    fn finish_interrupted_purge(&self) -> Result<(), StoreError> {
        if let Some(purged) =
            self.get_meta::<LogIdOf<C>>(keys::LAST_PURGED_KEY, "last purged log id")?
        {
            self.remove_range(..=purged.index())?;
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
        let empty = self.last_entry_log_id()?.is_none()
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
        self.flush().await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // The disk is shared by all trees: this also makes every state
        // machine write made before it durable.
        let started = std::time::Instant::now();
        let flushed = self.disk.flush().await;
        crate::metrics::flushed(started.elapsed());
        flushed
    }

    /// Removes the entries whose index is in `range`, atomically.
    fn remove_range(&self, range: impl RangeBounds<u64>) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        for key in self.log.range(key_range(&range)).keys() {
            batch.remove(&self.log, &key?);
        }
        self.disk.commit(batch)
    }

    /// Removes the entries up to `last` (inclusive), oldest first, in
    /// batches of `PURGE_CHUNK_ENTRIES`: each batch is short, so appends
    /// interleave. Not atomic, and need not be: the purged log id is already
    /// durable, nothing reads at or below it, and `open` finishes the job.
    fn remove_up_to_in_chunks(&self, last: u64) -> Result<(), StoreError> {
        loop {
            let mut batch = Batch::default();
            let mut removed = 0;
            for key in self
                .log
                .range(key_range(&(..=last)))
                .keys()
                .take(PURGE_CHUNK_ENTRIES)
            {
                batch.remove(&self.log, &key?);
                removed += 1;
            }
            self.disk.commit(batch)?;
            if removed < PURGE_CHUNK_ENTRIES {
                return Ok(());
            }
        }
    }

    /// The entries in `range`, in order. A missing entry inside what is
    /// present is an error, never silently skipped: openraft relies on the
    /// log having no holes.
    fn read_entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<C::Entry>, StoreError> {
        let mut entries: Vec<C::Entry> = Vec::new();
        for item in self.log.range(key_range(&range)) {
            let (key, value) = item?;
            let index = keys::log_index(&key)?;
            if let Some(previous) = entries.last() {
                let expected = previous.index() + 1;
                if index != expected {
                    return Err(StoreError::LogHole {
                        expected,
                        found: index,
                    });
                }
            }
            entries.push(decode("log entry", &value)?);
        }
        Ok(entries)
    }

    fn last_entry_log_id(&self) -> Result<Option<LogIdOf<C>>, StoreError> {
        let Some((key, value)) = self.log.last()? else {
            return Ok(None);
        };
        let entry: C::Entry = decode("log entry", &value)?;
        let index = keys::log_index(&key)?;
        debug_assert_eq!(index, entry.index(), "log entry stored under a foreign key");
        Ok(Some(entry.log_id()))
    }

    fn write_entries<I: IntoIterator<Item = C::Entry>>(
        &self,
        entries: I,
    ) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        for entry in entries {
            batch.insert(
                &self.log,
                &keys::log_key(entry.index()),
                encode("log entry", &entry)?,
            );
        }
        self.disk.commit(batch)
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

/// How many entries [`RaftLogReader::entries_stream`] reads at a time.
pub(crate) const STREAM_CHUNK_ENTRIES: u64 = 64;

/// Translates a range of log indexes into a range of log keys; an empty
/// range of indexes stays an empty range of keys, which `kv` never scans.
fn key_range(range: &impl RangeBounds<u64>) -> (Bound<[u8; 8]>, Bound<[u8; 8]>) {
    (
        range.start_bound().map(|i| keys::log_key(*i)),
        range.end_bound().map(|i| keys::log_key(*i)),
    )
}

impl<C: StoreTypeConfig> RaftLogReader<C> for LogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, io::Error> {
        Ok(self.read_entries(range)?)
    }

    /// The entries openraft applies, read [`STREAM_CHUNK_ENTRIES`] at a
    /// time as they are consumed (openraft's default reads the whole range
    /// at once: a follower applying a backlog of thousands of entries held
    /// them all in memory, and its RSS passed a gigabyte).
    async fn entries_stream<RB>(
        &mut self,
        range: RB,
    ) -> impl Stream<Item = Result<C::Entry, io::Error>> + OptionalSend
    where
        RB: RangeBounds<u64> + Clone + Debug + OptionalSend,
    {
        let start = match range.start_bound() {
            Bound::Included(index) => *index,
            Bound::Excluded(index) => index.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(index) => index.saturating_add(1),
            Bound::Excluded(index) => *index,
            Bound::Unbounded => u64::MAX,
        };
        let store = self.clone();
        futures::stream::unfold(Some(start), move |next| {
            let store = store.clone();
            async move {
                let from = next.filter(|from| *from < end)?;
                let to = from.saturating_add(STREAM_CHUNK_ENTRIES).min(end);
                let (chunk, after): (Vec<Result<C::Entry, io::Error>>, _) =
                    match store.read_entries(from..to) {
                        // A short chunk is the end of what the log holds.
                        Ok(entries) => {
                            let full = entries.len() as u64 == to - from;
                            (entries.into_iter().map(Ok).collect(), full.then_some(to))
                        }
                        Err(e) => (vec![Err(e.into())], None),
                    };
                (!chunk.is_empty()).then(|| (futures::stream::iter(chunk), after))
            }
        })
        .flatten()
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, io::Error> {
        #[cfg(feature = "mutants")]
        {
            let unpersisted = self.lock_unpersisted_vote().clone();
            if unpersisted.is_some() {
                return Ok(unpersisted);
            }
        }
        Ok(self.get_meta(keys::VOTE_KEY, "vote")?)
    }
}

impl<C: StoreTypeConfig> RaftLogStorage<C> for LogStore<C> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let last_purged_log_id: Option<LogIdOf<C>> =
            self.get_meta(keys::LAST_PURGED_KEY, "last purged log id")?;
        // With every entry purged, the last log id is the last purged one
        // (purged entries may still be on disk while their removal runs).
        let last_log_id = self.last_entry_log_id()?.max(last_purged_log_id.clone());
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

    // Not flushed: losing the committed log id in a crash only means
    // re-applying less on restart, and sled recovers writes in order, so it
    // can never come back ahead of the flushed log it points into.
    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        match committed {
            Some(log_id) => self.put_meta(keys::COMMITTED_KEY, "committed log id", &log_id)?,
            None => self.meta.remove(keys::COMMITTED_KEY)?,
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<C>>, io::Error> {
        Ok(self.get_meta(keys::COMMITTED_KEY, "committed log id")?)
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
            None => self.write_entries(entries),
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
        // One atomic batch: no hole can appear, whatever the crash point.
        match last_log_id {
            Some(log_id) => {
                self.remove_range((Bound::Excluded(log_id.index()), Bound::Unbounded))?
            }
            None => self.remove_range(..)?,
        }
        self.flusher.barrier().await?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        // Record the purge point durably first: after a crash the log then
        // still reports it, and `open` finishes the removal.
        self.put_meta(keys::LAST_PURGED_KEY, "last purged log id", &log_id)?;
        self.flusher.barrier().await?;
        // Then remove the entries without holding up appends: a purge
        // behind a snapshot removes up to `snapshot_every_entries` of them,
        // about 2 s of sled work for 100,000, during which every append
        // waited (a 2 s latency spike under load).
        let store = self.clone();
        let last = log_id.index();
        self.disk
            .run_in_background("removing purged log entries", move || {
                store.remove_up_to_in_chunks(last)
            })?;
        Ok(())
    }
}
