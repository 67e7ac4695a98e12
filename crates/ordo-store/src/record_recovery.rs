//! Opening the state machine's records: moving the records an earlier ordo
//! kept in the tree into segment files, and holding the records' files
//! against the decided state after a crash.
//!
//! The tree is flushed only after the records' files are synced, and every
//! batch's appends reach the files before the batch commits, so after a
//! process crash the files hold at least what the tree says; what they hold
//! beyond it (appends of a batch the crash lost) is cut, and applied again
//! from the Raft log. Only a power loss can leave the tree ahead of the
//! files (the disk may keep tree pages written since its last flush): then
//! the state machine is wiped, and openraft rebuilds it from the current
//! snapshot and the log (`get_initial_state` installs a snapshot ahead of
//! the applied state, then re-applies the committed entries after it).

use std::collections::BTreeMap;

use ordo_core::{Offset, State, TopicName};

use crate::error::StoreError;
use crate::keys;
use crate::kv::{Batch, Disk, Tree};
use crate::record_log::RecordLog;

/// Records copied per batch when moving them out of the tree.
const MOVE_CHUNK_RECORDS: usize = 1000;

/// Moves the records of a tree written by an earlier ordo into the
/// segment files. The copy starts from empty files and is synced before
/// [`keys::RECORDS_MOVED_KEY`] is flushed; only then are the tree's records
/// removed, in chunks. A crash before the marker copies again; after it,
/// the removal finishes.
pub(crate) fn move_records_out_of_tree(
    disk: &Disk,
    tree: &Tree,
    records: &RecordLog,
) -> Result<(), StoreError> {
    if records.is_in_tree() || tree.range(keys::RECORDS_FROM..).next().is_none() {
        return Ok(());
    }
    if tree.get(keys::RECORDS_MOVED_KEY)?.is_none() {
        tracing::info!("moving the records from the tree into segment files");
        let mut batch = Batch::default();
        records.stage_clear(&mut batch)?;
        records.commit(disk, batch)?;
        let mut batch = Batch::default();
        let mut moved = 0usize;
        for item in tree.range(keys::RECORDS_FROM..) {
            let (key, value) = item?;
            let (topic, offset) = keys::from_record_key(&key)?;
            records.stage_import(&mut batch, &topic, offset, value.to_vec())?;
            moved += 1;
            if moved.is_multiple_of(MOVE_CHUNK_RECORDS) {
                records.commit(disk, std::mem::take(&mut batch))?;
            }
        }
        batch.insert(tree, keys::RECORDS_MOVED_KEY, Vec::new());
        records.commit(disk, batch)?;
        records.flush(disk)?;
        tracing::info!(records = moved, "moved the records into segment files");
    }
    loop {
        let mut batch = Batch::default();
        let mut removed = 0usize;
        for key in tree
            .range(keys::RECORDS_FROM..)
            .keys()
            .take(MOVE_CHUNK_RECORDS)
        {
            batch.remove(tree, &key?);
            removed += 1;
        }
        if removed < MOVE_CHUNK_RECORDS {
            batch.remove(tree, keys::RECORDS_MOVED_KEY);
        }
        disk.commit(batch)?;
        if removed < MOVE_CHUNK_RECORDS {
            return records.flush(disk);
        }
    }
}

/// Holds the records' files against the decided `state` (see the module's
/// documentation), logging what was repaired. Answers whether the state
/// machine was wiped, for the caller to load it again.
pub(crate) fn hold_against_state(
    disk: &Disk,
    tree: &Tree,
    records: &RecordLog,
    state: &State,
) -> Result<bool, StoreError> {
    let ends: BTreeMap<TopicName, (Offset, Offset)> = state
        .topics
        .iter()
        .map(|(name, topic)| (name.clone(), (topic.start_offset, topic.end_offset)))
        .collect();
    let reconciled = records.reconcile(&ends)?;
    for topic in &reconciled.removed {
        tracing::warn!(%topic, "removed the record files of a topic the state does not hold");
    }
    for topic in &reconciled.truncated {
        tracing::warn!(%topic, "cut records a crash kept past the topic's end; they are applied again from the Raft log");
    }
    if reconciled.behind.is_empty() {
        return Ok(false);
    }
    for (topic, (files_end, state_end)) in &reconciled.behind {
        tracing::warn!(
            %topic,
            files_end = files_end.0,
            state_end = state_end.0,
            "the record files end before the records the state holds (a power loss?): \
             the state machine is rebuilt from the snapshot and the Raft log"
        );
    }
    let mut batch = Batch::default();
    records.stage_clear(&mut batch)?;
    for key in tree.iter().keys() {
        batch.remove(tree, &key?);
    }
    records.commit(disk, batch)?;
    records.flush(disk)?;
    Ok(true)
}
