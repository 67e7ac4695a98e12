//! A snapshot's life in the store: built from the published state for
//! openraft and kept as the current one (unless a newer one was installed
//! meanwhile), installed in the state machine's place, and found again
//! after a restart; the snapshot tree names the current one, and stale
//! snapshot files are removed once it is durable.

use std::io;

use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf};
use openraft::{RaftSnapshotBuilder, Snapshot};
use ordo_core::{LogIndex, State};

use super::dump::dump;
use super::format::{read_header, Header};
use super::import::read_contents;
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::keys;
use crate::kv::Batch;
use crate::persisted;
use crate::snapshot_file::{SnapshotData, Stored, BUILDING};
use crate::state_machine::{Applied, StateMachineStore};
use crate::type_config::StoreTypeConfig;

/// A snapshot as this store hands it to openraft.
pub(crate) type SnapshotOfStore<C> = SnapshotOf<C, SnapshotData>;

impl<C: StoreTypeConfig> RaftSnapshotBuilder<C> for StateMachineStore<C> {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOfStore<C>, io::Error> {
        // Reading and writing the whole state takes long (seconds for
        // millions of records); on a runtime worker it starved heartbeats
        // and once caused an election under load.
        let store = self.clone();
        let (meta, data, kept) = self.shared.disk.run_blocking(move || build(&store)).await?;
        self.shared.flush().await?;
        remove_stale(self, kept)?;
        crate::metrics::snapshot_built(data.len());
        Ok(Snapshot {
            meta,
            snapshot: data,
        })
    }
}

/// Writes the published state machine as a snapshot and keeps it as the
/// current one (unless a newer one was installed meanwhile). Returns it and
/// the file it is kept in.
#[allow(clippy::type_complexity)]
fn build<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
) -> Result<(SnapshotMetaOf<C>, SnapshotData, Option<String>), StoreError> {
    let (meta, data) = dump(store, BUILDING)?;
    let kept = keep_if_newer(store, &meta, &data)?;
    let data = match &kept {
        Some(name) => store.shared.snapshots.open(Stored::File(name.clone()))?,
        None => data,
    };
    Ok((meta, data, kept))
}

/// Stores a freshly built snapshot as current, unless a newer one (installed
/// while this one was being built) is already there; then it is deleted.
/// Returns the file it is kept in (on a memory disk, none).
fn keep_if_newer<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
    meta: &SnapshotMetaOf<C>,
    data: &SnapshotData,
) -> Result<Option<String>, StoreError> {
    let tree = &store.shared.snapshot_tree;
    let _snapshot_tree = store.lock_snapshot_tree();
    if let Some(existing) = tree.get(keys::SNAPSHOT_META_KEY)? {
        let existing: SnapshotMetaOf<C> = decode("snapshot metadata", &existing)?;
        if existing.last_log_id > meta.last_log_id {
            store.shared.snapshots.discard(data)?;
            return Ok(None);
        }
    }
    let mut batch = Batch::default();
    let kept = record_current(store, &mut batch, meta, data)?;
    store.shared.commit(batch)?;
    Ok(kept)
}

/// Adopts `data` as the current snapshot and adds to `batch` what the
/// snapshot tree must say of it. Returns the file it is kept in.
fn record_current<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
    batch: &mut Batch,
    meta: &SnapshotMetaOf<C>,
    data: &SnapshotData,
) -> Result<Option<String>, StoreError> {
    let tree = &store.shared.snapshot_tree;
    let last_index = meta.last_log_id.as_ref().map_or(0, |log_id| log_id.index());
    batch.insert(
        tree,
        keys::SNAPSHOT_META_KEY,
        encode("snapshot metadata", meta)?,
    );
    Ok(match store.shared.snapshots.adopt(data, last_index)? {
        Stored::File(name) => {
            batch.insert(tree, keys::SNAPSHOT_FILE_KEY, name.clone().into_bytes());
            batch.remove(tree, keys::SNAPSHOT_DATA_KEY);
            Some(name)
        }
        Stored::Bytes(bytes) => {
            batch.insert(tree, keys::SNAPSHOT_DATA_KEY, bytes);
            batch.remove(tree, keys::SNAPSHOT_FILE_KEY);
            None
        }
    })
}

/// After `kept` was made current and flushed: deletes snapshot files that
/// neither it nor the tree's current entry name.
pub(crate) fn remove_stale<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
    kept: Option<String>,
) -> Result<(), StoreError> {
    let _snapshot_tree = store.lock_snapshot_tree();
    let current = current_file(store)?;
    store.shared.snapshots.remove_stale(&[kept, current])
}

/// The file the snapshot tree names as current, if any.
fn current_file<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
) -> Result<Option<String>, StoreError> {
    let Some(name) = store.shared.snapshot_tree.get(keys::SNAPSHOT_FILE_KEY)? else {
        return Ok(None);
    };
    String::from_utf8(name.to_vec()).map(Some).map_err(|_| {
        StoreError::BadSnapshot("the current snapshot's file name is not UTF-8".into())
    })
}

/// Replaces the whole state machine with the snapshot's contents and makes it
/// the current snapshot, in one batch over both trees: a crash leaves either
/// the old state machine and snapshot or the new ones. The caller flushes,
/// then calls [`remove_stale`] with the file returned. The snapshot is read
/// as a stream and checked frame by frame; the batch holds its records until
/// it is committed.
pub(crate) fn install<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
    meta: &SnapshotMetaOf<C>,
    data: &SnapshotData,
) -> Result<Option<String>, StoreError> {
    let (mut frames, header) = read_header::<C>(data)?;
    let Header {
        last_applied,
        membership,
        topics,
        producers,
        positions,
        queues,
    } = header;
    if last_applied != meta.last_log_id || membership != meta.last_membership {
        return Err(StoreError::BadSnapshot(format!(
            "metadata says {meta}, contents say last applied {last_applied:?}"
        )));
    }
    let (tree, records) = (&store.shared.tree, &store.shared.records);
    let mut writer = store.lock_writer()?;
    let mut batch = Batch::default();
    // Writes apply in order, so a key removed here and inserted below is
    // simply overwritten: only keys absent from the snapshot end up removed.
    // First the decided state (every key of the tree before the records'),
    // then the records.
    for key in tree.range(..keys::RECORDS_FROM).keys() {
        batch.remove(tree, &key?);
    }
    records.stage_clear(&mut batch)?;
    let mut state = State {
        last_applied: last_applied.as_ref().map(|log_id| LogIndex(log_id.index())),
        producers,
        positions,
        queues,
        topics: topics.into_iter().collect(),
        ..State::default()
    };
    read_contents::<C>(&mut frames, &mut state, &mut batch, records)?;
    persisted::write_all(&mut batch, tree, &state)?;
    batch.insert(
        tree,
        keys::LAST_APPLIED_KEY,
        encode("last applied log id", &meta.last_log_id)?,
    );
    batch.insert(
        tree,
        keys::MEMBERSHIP_KEY,
        encode("membership", &meta.last_membership)?,
    );

    // Dumps and readers are held off while the tree changes under them.
    let no_dumps = store.exclude_snapshot_dumps();
    let mut published = store.write_published();
    let kept = {
        let _snapshot_tree = store.lock_snapshot_tree();
        let kept = record_current(store, &mut batch, meta, data)?;
        store.shared.commit(batch)?;
        kept
    };
    let last_applied = state.last_applied;
    let applied = Applied {
        state,
        last_applied: meta.last_log_id,
        membership: meta.last_membership.clone(),
    };
    *writer = applied.clone();
    *published = applied;
    drop(published);
    drop(no_dumps);
    drop(writer);
    store.notify_applied(last_applied);
    Ok(kept)
}

/// The current snapshot, if one was ever built or installed.
pub(crate) fn current<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
) -> Result<Option<SnapshotOfStore<C>>, StoreError> {
    let tree = &store.shared.snapshot_tree;
    // Read the keys under the lock so they belong to the same snapshot.
    let _snapshot_tree = store.lock_snapshot_tree();
    let Some(meta) = tree.get(keys::SNAPSHOT_META_KEY)? else {
        return Ok(None);
    };
    let stored = match (current_file(store)?, tree.get(keys::SNAPSHOT_DATA_KEY)?) {
        (Some(name), _) => Stored::File(name),
        (None, Some(bytes)) => Stored::Bytes(bytes.to_vec()),
        (None, None) => {
            return Err(StoreError::BadSnapshot(
                "the current snapshot's metadata is there but not its data".into(),
            ))
        }
    };
    Ok(Some(Snapshot {
        meta: decode("snapshot metadata", &meta)?,
        snapshot: store.shared.snapshots.open(stored)?,
    }))
}
