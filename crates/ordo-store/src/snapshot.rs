//! Snapshots: building one from the state machine, installing one in its
//! place, and keeping the current one on disk so it survives a restart.
//!
//! A snapshot is the whole state machine as one encoded image: last applied
//! log id, membership, every topic with its metadata, key index and records,
//! the producer table and the consumer positions: everything a node needs
//! to decide the next command exactly as the node that built it would. It is
//! held in memory whole for now; streaming it is a later optimisation.
//! (openraft 0.10 dropped `snapshot_id` from `SnapshotMeta`: two snapshots at
//! the same last log id hold the same state, so none is kept here.)

use std::collections::BTreeMap;
use std::io;
use std::io::Cursor;

use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{RaftSnapshotBuilder, Snapshot, SnapshotMeta};
use ordo_core::{
    KeyIndex, LogIndex, Positions, ProducerId, ProducerState, Record, State, TopicName, TopicState,
};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::keys;
use crate::kv::{Batch, Tree};
use crate::persisted;
use crate::state_machine::{Applied, StateMachineStore};
use crate::type_config::StoreTypeConfig;

/// The encoded form of a whole state machine.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
struct SnapshotImage<C: StoreTypeConfig> {
    last_applied: Option<LogIdOf<C>>,
    membership: StoredMembershipOf<C>,
    topics: Vec<TopicImage>,
    // Defaults: a snapshot from before these existed had none.
    #[serde(default)]
    producers: BTreeMap<ProducerId, ProducerState>,
    #[serde(default)]
    positions: Positions,
}

#[derive(Serialize, Deserialize)]
struct TopicImage {
    name: TopicName,
    state: TopicState,
    #[serde(default)]
    keys: KeyIndex,
    /// The topic's records from its start offset to its end offset, in order.
    records: Vec<Record>,
}

/// A snapshot as this store hands it to openraft: its bytes in memory.
pub(crate) type SnapshotBytes<C> = SnapshotOf<C, Cursor<Vec<u8>>>;

impl<C: StoreTypeConfig> RaftSnapshotBuilder<C> for StateMachineStore<C> {
    type SnapshotData = Cursor<Vec<u8>>;

    async fn build_snapshot(&mut self) -> Result<SnapshotBytes<C>, io::Error> {
        // Reading, encoding and storing the whole state takes long (about
        // 2 s for 100,000 records on a 2-core VM); on a runtime worker it
        // starved heartbeats and once caused an election under load.
        let store = self.clone();
        let (meta, bytes) = self.shared.disk.run_blocking(move || build(&store)).await?;
        self.shared.disk.flush().await?;
        Ok(Snapshot {
            meta,
            snapshot: Cursor::new(bytes),
        })
    }
}

/// Encodes the published state machine and keeps it as the current snapshot.
fn build<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
) -> Result<(SnapshotMetaOf<C>, Vec<u8>), StoreError> {
    let image = {
        let _no_install = store.hold_off_installs();
        let (decided, last_applied, membership) = {
            let published = store.read_published();
            (
                published.state.clone(),
                published.last_applied.clone(),
                published.membership.clone(),
            )
        };
        let State {
            topics: topic_states,
            mut keys,
            producers,
            positions,
            ..
        } = decided;
        let mut topics = Vec::with_capacity(topic_states.len());
        for (name, state) in topic_states {
            // Bounded by the copied end offset: records of later applies
            // are ignored, so the dump matches `last_applied` exactly.
            let records = read_topic_records(&store.shared.tree, &name, &state)?;
            topics.push(TopicImage {
                keys: keys.remove(&name).unwrap_or_default(),
                name,
                state,
                records,
            });
        }
        SnapshotImage::<C> {
            last_applied,
            membership,
            topics,
            producers,
            positions,
        }
    };
    let meta = SnapshotMeta {
        last_log_id: image.last_applied.clone(),
        last_membership: image.membership.clone(),
    };
    let bytes = encode("snapshot", &image)?;
    keep_if_newer(store, &meta, bytes.clone())?;
    Ok((meta, bytes))
}

fn read_topic_records(
    tree: &Tree,
    name: &TopicName,
    state: &TopicState,
) -> Result<Vec<Record>, StoreError> {
    if state.start_offset >= state.end_offset {
        return Ok(Vec::new());
    }
    let range =
        keys::record_key(name, state.start_offset)..keys::record_key(name, state.end_offset);
    tree.range(range)
        .values()
        .map(|value| decode("record", &value?))
        .collect()
}

/// Stores a freshly built snapshot as current, unless a newer one (installed
/// while this one was being built) is already there.
fn keep_if_newer<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
    meta: &SnapshotMetaOf<C>,
    bytes: Vec<u8>,
) -> Result<(), StoreError> {
    let tree = &store.shared.snapshot_tree;
    let meta_bytes = encode("snapshot metadata", meta)?;
    let _snapshot_tree = store.lock_snapshot_tree();
    if let Some(existing) = tree.get(keys::SNAPSHOT_META_KEY)? {
        let existing: SnapshotMetaOf<C> = decode("snapshot metadata", &existing)?;
        if existing.last_log_id > meta.last_log_id {
            return Ok(());
        }
    }
    let mut batch = Batch::default();
    batch.insert(tree, keys::SNAPSHOT_META_KEY, meta_bytes);
    batch.insert(tree, keys::SNAPSHOT_DATA_KEY, bytes);
    store.shared.disk.commit(batch)
}

/// Replaces the whole state machine with the snapshot's contents and makes it
/// the current snapshot, in one batch over both trees: a crash leaves either
/// the old state machine and snapshot or the new ones. The caller flushes.
pub(crate) fn install<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
    meta: &SnapshotMetaOf<C>,
    bytes: Vec<u8>,
) -> Result<(), StoreError> {
    let image: SnapshotImage<C> = decode("snapshot", &bytes)?;
    if image.last_applied != meta.last_log_id || image.membership != meta.last_membership {
        return Err(StoreError::BadSnapshot(format!(
            "metadata says {meta}, contents say last applied {:?}",
            image.last_applied
        )));
    }
    let meta_bytes = encode("snapshot metadata", meta)?;
    let tree = &store.shared.tree;
    let snapshot_tree = &store.shared.snapshot_tree;

    let mut writer = store.lock_writer()?;
    let mut batch = Batch::default();
    // Writes apply in order, so a key removed here and inserted below is
    // simply overwritten: only keys absent from the snapshot end up removed.
    for key in tree.iter().keys() {
        batch.remove(tree, &key?);
    }
    let mut state = State {
        last_applied: meta
            .last_log_id
            .as_ref()
            .map(|log_id| LogIndex(log_id.index())),
        producers: image.producers,
        positions: image.positions,
        ..State::default()
    };
    for topic in image.topics {
        if let Some((key, key_state)) = topic
            .keys
            .iter()
            .find(|(_, key_state)| key_state.last_offset >= topic.state.end_offset)
        {
            return Err(StoreError::BadSnapshot(format!(
                "topic {} has key {key:?} at offset {}, past its end {}",
                topic.name, key_state.last_offset, topic.state.end_offset
            )));
        }
        for record in &topic.records {
            if record.offset < topic.state.start_offset || record.offset >= topic.state.end_offset {
                return Err(StoreError::BadSnapshot(format!(
                    "topic {} holds offset {} outside {}..{}",
                    topic.name, record.offset, topic.state.start_offset, topic.state.end_offset
                )));
            }
            batch.insert(
                tree,
                &keys::record_key(&topic.name, record.offset),
                encode("record", record)?,
            );
        }
        if !topic.keys.is_empty() {
            state.keys.insert(topic.name.clone(), topic.keys);
        }
        state.topics.insert(topic.name, topic.state);
    }
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
    batch.insert(snapshot_tree, keys::SNAPSHOT_META_KEY, meta_bytes);
    batch.insert(snapshot_tree, keys::SNAPSHOT_DATA_KEY, bytes);

    // Dumps and readers are held off while the tree changes under them.
    let no_dumps = store.exclude_snapshot_dumps();
    let mut published = store.write_published();
    {
        let _snapshot_tree = store.lock_snapshot_tree();
        store.shared.disk.commit(batch)?;
    }
    let last_applied = state.last_applied;
    let applied = Applied {
        state,
        last_applied: meta.last_log_id.clone(),
        membership: meta.last_membership.clone(),
    };
    *writer = applied.clone();
    *published = applied;
    drop(published);
    drop(no_dumps);
    drop(writer);
    store.notify_applied(last_applied);
    Ok(())
}

/// The current snapshot, if one was ever built or installed.
pub(crate) fn current<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
) -> Result<Option<SnapshotBytes<C>>, StoreError> {
    let tree = &store.shared.snapshot_tree;
    // Read both keys under the lock so they belong to the same snapshot.
    let (meta, data) = {
        let _snapshot_tree = store.lock_snapshot_tree();
        (
            tree.get(keys::SNAPSHOT_META_KEY)?,
            tree.get(keys::SNAPSHOT_DATA_KEY)?,
        )
    };
    let (Some(meta), Some(data)) = (meta, data) else {
        return Ok(None);
    };
    Ok(Some(Snapshot {
        meta: decode("snapshot metadata", &meta)?,
        snapshot: Cursor::new(data.to_vec()),
    }))
}
