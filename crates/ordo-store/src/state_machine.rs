//! `StateMachineStore`: openraft's state machine on either medium of `kv`.
//! It applies committed entries with `ordo_core::apply` and persists what
//! that decided: the records it placed (in the [`RecordLog`]), the changed
//! parts of the decided state (topic metadata, key index, producer table,
//! consumer positions; see `persisted`) and the last applied log id, all in
//! one atomic batch per `apply` call, except that a cleanup command (which
//! must see every record applied before it on the disk) starts a batch of
//! its own: see `apply`, which applies them; this module opens the store,
//! guards its two copies of the applied state and serves openraft.
//!
//! Two copies of the applied state live in memory. The writer's copy (behind
//! a mutex, touched only by `apply` and snapshot install) runs ahead while a
//! batch is being prepared; the published copy (behind a read-write lock,
//! what readers and `applied_state` see) is updated only after the batch is
//! on the disk. Readers therefore never see an offset whose record is not yet
//! written. Lock order is always writer, then published. Both copies hold
//! the whole decided state, key index and producer table included, so
//! memory grows with the number of distinct keys and producers.
//!
//! The state machine is not flushed here: the flushed Raft log is the source
//! of truth, and the disk recovers writes in order, so after a crash the state
//! machine is a consistent prefix that openraft completes by re-applying the
//! log after the persisted last applied log id.

mod apply;

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{OptionalSend, StoredMembership};
use ordo_core::{LogIndex, State};
use tokio::sync::watch;

use crate::codec::decode;
use crate::error::StoreError;
use crate::keys;
use crate::kv::{Batch, Disk, Tree};
use crate::persisted;
use crate::record_log::RecordLog;
use crate::record_recovery;
use crate::snapshot;
use crate::snapshot_file::{SnapshotData, SnapshotHome, SnapshotWriter, INCOMING};
use crate::type_config::StoreTypeConfig;

/// Entries applied (and written) as one batch at most; see `apply`.
const APPLY_CHUNK_ENTRIES: usize = 64;

/// The state machine. Cheap to clone: clones share everything, so one clone
/// can serve reads while openraft drives another.
pub struct StateMachineStore<C: StoreTypeConfig> {
    pub(crate) shared: Arc<Shared<C>>,
}

impl<C: StoreTypeConfig> Clone for StateMachineStore<C> {
    fn clone(&self) -> Self {
        StateMachineStore {
            shared: Arc::clone(&self.shared),
        }
    }
}

pub(crate) struct Shared<C: StoreTypeConfig> {
    pub(crate) disk: Disk,
    /// The decided state, last applied log id, membership (and, in the
    /// tree layout, the records).
    pub(crate) tree: Tree,
    /// The records, as `ordo_core::apply` placed them.
    pub(crate) records: RecordLog,
    /// The current snapshot (its metadata, and its file name or bytes).
    pub(crate) snapshot_tree: Tree,
    /// Where snapshot bytes live.
    pub(crate) snapshots: SnapshotHome,
    /// Held by every reader and writer of the snapshot tree, so its two keys
    /// are always read, compared and replaced together. Innermost lock.
    snapshot_lock: Mutex<()>,
    writer: Mutex<Applied<C>>,
    published: RwLock<Applied<C>>,
    /// Exclusive while a snapshot install replaces the state or a cleanup
    /// pass removes records, shared while a snapshot is dumped. Otherwise
    /// records below a published end offset never change, so a dump needs
    /// only this and a copy of the published metadata to be one point in
    /// time, without holding up appends or readers. (A cleanup pass that
    /// comes while a snapshot is dumped waits for the dump.)
    change_lock: RwLock<()>,
    pub(crate) applied_tx: watch::Sender<Option<LogIndex>>,
    /// The clock of the node this store belongs to, for the
    /// `unstamped-queue-time` mutant (see `crate::mutants`).
    #[cfg(feature = "mutants")]
    pub(crate) node_clock: std::sync::OnceLock<fn() -> u64>,
}

impl<C: StoreTypeConfig> Shared<C> {
    /// Commits `batch` with the records it staged (see
    /// [`RecordLog::commit`]).
    pub(crate) fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.records.commit(&self.disk, batch)
    }

    /// Makes everything applied so far durable (see [`RecordLog::flush`]).
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let (records, disk) = (self.records.clone(), self.disk.clone());
        self.disk.run_blocking(move || records.flush(&disk)).await
    }
}

/// Everything applied so far, as far as memory holds it.
#[derive(Clone)]
pub(crate) struct Applied<C: StoreTypeConfig> {
    pub(crate) state: State,
    pub(crate) last_applied: Option<LogIdOf<C>>,
    pub(crate) membership: StoredMembershipOf<C>,
}

impl<C: StoreTypeConfig> StateMachineStore<C> {
    pub(crate) fn open(
        disk: &Disk,
        snapshots: SnapshotHome,
        records: RecordLog,
    ) -> Result<Self, StoreError> {
        let tree = disk.open_tree(keys::STATE_MACHINE_TREE)?;
        record_recovery::move_records_out_of_tree(disk, &tree, &records)?;
        let mut applied = load_applied::<C>(&tree)?;
        if record_recovery::hold_against_state(disk, &tree, &records, &applied.state)? {
            applied = load_applied::<C>(&tree)?;
        }
        let (applied_tx, _) = watch::channel(applied.state.last_applied);
        let store = StateMachineStore {
            shared: Arc::new(Shared {
                disk: disk.clone(),
                snapshot_tree: disk.open_tree(keys::SNAPSHOT_TREE)?,
                snapshots,
                snapshot_lock: Mutex::new(()),
                tree,
                records,
                writer: Mutex::new(applied.clone()),
                published: RwLock::new(applied),
                change_lock: RwLock::new(()),
                applied_tx,
                #[cfg(feature = "mutants")]
                node_clock: std::sync::OnceLock::new(),
            }),
        };
        // Files of snapshots a crash left behind, which the tree never named
        // or no longer names.
        snapshot::remove_stale(&store, None)?;
        // Only for the size gauge: a bad snapshot is openraft's to report.
        if let Ok(Some(current)) = snapshot::current(&store) {
            crate::metrics::current_snapshot(current.snapshot.len());
        }
        Ok(store)
    }

    /// A writer for a snapshot being received from the leader, written to
    /// a file as it arrives (on a memory disk, to memory).
    pub fn snapshot_writer(&self) -> Result<SnapshotWriter, StoreError> {
        self.shared.snapshots.writer(INCOMING)
    }

    /// Makes a received snapshot durable and hands it back for openraft to
    /// install.
    pub async fn finish_snapshot(
        &self,
        writer: SnapshotWriter,
    ) -> Result<SnapshotData, StoreError> {
        self.shared.disk.run_blocking(move || writer.finish()).await
    }

    /// Deletes a received snapshot's files unless it was installed (then
    /// they were renamed, and nothing is at its old path): openraft skips
    /// the install of a snapshot no newer than what it has committed (a
    /// leader that sent the same one twice), which left a whole copy of
    /// the records on disk until the next start.
    pub fn discard_unused_snapshot(&self, data: &SnapshotData) -> Result<(), StoreError> {
        self.shared.snapshots.discard(data)
    }

    pub(crate) fn notify_applied(&self, last_applied: Option<LogIndex>) {
        self.shared.applied_tx.send_replace(last_applied);
    }

    pub(crate) fn lock_writer(&self) -> Result<MutexGuard<'_, Applied<C>>, StoreError> {
        self.shared.writer.lock().map_err(|_| StoreError::Poisoned)
    }

    // The published copy is only changed after a successful write, by code
    // with nothing in it that panics, so a poisoned lock (a panic elsewhere
    // while it was held) still guards consistent data.
    pub(crate) fn read_published(&self) -> RwLockReadGuard<'_, Applied<C>> {
        self.shared
            .published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write_published(&self) -> RwLockWriteGuard<'_, Applied<C>> {
        self.shared
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    // The change lock guards no data, so poisoning means nothing to it.
    pub(crate) fn hold_off_changes(&self) -> RwLockReadGuard<'_, ()> {
        self.shared
            .change_lock
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn exclude_snapshot_dumps(&self) -> RwLockWriteGuard<'_, ()> {
        self.shared
            .change_lock
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    // Guards no data in memory either: what it serialises is on the disk.
    pub(crate) fn lock_snapshot_tree(&self) -> MutexGuard<'_, ()> {
        self.shared
            .snapshot_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
/// Reads the applied state back from the state machine tree.
fn load_applied<C: StoreTypeConfig>(tree: &Tree) -> Result<Applied<C>, StoreError> {
    let last_applied: Option<LogIdOf<C>> = match tree.get(keys::LAST_APPLIED_KEY)? {
        Some(bytes) => decode("last applied log id", &bytes)?,
        None => None,
    };
    let membership: StoredMembershipOf<C> = match tree.get(keys::MEMBERSHIP_KEY)? {
        Some(bytes) => decode("membership", &bytes)?,
        None => StoredMembership::default(),
    };
    let state = persisted::load_state(
        tree,
        last_applied.as_ref().map(|log_id| LogIndex(log_id.index())),
    )?;
    Ok(Applied {
        state,
        last_applied,
        membership,
    })
}

impl<C: StoreTypeConfig> RaftStateMachine<C> for StateMachineStore<C> {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<C>>, StoredMembershipOf<C>), io::Error> {
        let published = self.read_published();
        Ok((published.last_applied, published.membership.clone()))
    }

    async fn apply<Strm>(&mut self, entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<C>, io::Error>> + Unpin + OptionalSend,
    {
        // A bounded number of entries at a time: a follower catching up
        // may be handed thousands at once.
        let mut chunks = entries.try_chunks(APPLY_CHUNK_ENTRIES);
        while let Some(items) = chunks.try_next().await.map_err(|e| e.1)? {
            let (entries, responders): (Vec<_>, Vec<_>) = items.into_iter().unzip();
            let results = self.apply_entries(entries)?;
            // Answer only after the batch is on disk and published, so a
            // client that hears back can read what it wrote from this node.
            for (responder, result) in responders.into_iter().zip(results) {
                if let Some(responder) = responder {
                    responder.send(result);
                }
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<C>,
        snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        let (store, meta) = (self.clone(), meta.clone());
        let size_bytes = snapshot.len();
        let kept = self
            .shared
            .disk
            .run_blocking(move || snapshot::install(&store, &meta, &snapshot))
            .await?;
        self.shared.flush().await?;
        snapshot::remove_stale(self, kept)?;
        crate::metrics::snapshot_installed(size_bytes);
        // The snapshot as received holds every record a second time: kept
        // as the current one, it would double this node's disk until its
        // next snapshot. One built from what was just installed shares the
        // records' files instead, and replaces it.
        if self.shared.snapshots.shares_files() {
            openraft::RaftSnapshotBuilder::build_snapshot(self).await?;
        }
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<C, Self::SnapshotData>>, io::Error> {
        Ok(snapshot::current(self)?)
    }
}
