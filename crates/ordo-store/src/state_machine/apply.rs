//! Applying committed entries: each run of them (see [`segments`]) applied
//! to the writer's copy with `ordo_core::apply`, written as one atomic
//! batch, then published to readers.

use std::ops::Range;

use openraft::type_config::alias::LogIdOf;
use openraft::{EntryPayload, StoredMembership};
use ordo_core::cleanup::{RecordStore, StoredRecord, Visit};
use ordo_core::state::apply_noop;
use ordo_core::{Command, CommandResult, LogIndex, Offset, Record, TopicName};

use super::{Applied, StateMachineStore};
use crate::codec::encode;
use crate::error::StoreError;
use crate::keys;
use crate::kv::Batch;
use crate::persisted::Changes;
use crate::record_log::RecordLog;
use crate::type_config::{OrdoPayload, StoreTypeConfig};

impl<C: StoreTypeConfig> StateMachineStore<C> {
    /// Applies committed entries in order and returns one result per entry.
    /// Each segment (see [`segments`]) is one atomic batch; on error, the
    /// segments before the failing one are applied and nothing after.
    pub(crate) fn apply_entries(
        &self,
        entries: Vec<C::Entry>,
    ) -> Result<Vec<CommandResult>, StoreError> {
        let mut results = Vec::with_capacity(entries.len());
        let mut writer = self.lock_writer()?;
        for segment in segments::<C>(entries) {
            // A cleanup pass (always first in its segment) removes records,
            // so it waits for a snapshot dump in progress.
            let _no_dumps =
                starts_with_cleanup::<C>(&segment).then(|| self.exclude_snapshot_dumps());
            match self.write_batch(&mut writer, segment) {
                Ok((segment_results, changes)) => {
                    self.publish(&writer, &changes);
                    results.extend(segment_results);
                }
                Err(e) => {
                    // The writer's copy ran ahead of the disk; fall back to
                    // what was last published, which is what the disk holds.
                    *writer = self.read_published().clone();
                    return Err(e);
                }
            }
        }
        Ok(results)
    }

    /// Applies `entries` to the writer's copy and writes the batch to disk.
    fn write_batch(
        &self,
        writer: &mut Applied<C>,
        entries: Vec<(LogIdOf<C>, OrdoPayload)>,
    ) -> Result<(Vec<CommandResult>, Changes), StoreError> {
        let (tree, records) = (&self.shared.tree, &self.shared.records);
        let mut batch = Batch::default();
        let mut changes = Changes::default();
        let mut results = Vec::with_capacity(entries.len());
        for (log_id, payload) in entries {
            let index = LogIndex(log_id.index());
            let result = match payload {
                EntryPayload::Blank => apply_noop(&mut writer.state, index),
                EntryPayload::Normal(command) => {
                    #[cfg(feature = "mutants")]
                    let command = crate::mutants::restamp_queue_command(
                        command,
                        self.shared.node_clock.get(),
                    );
                    // A cleanup is first in its batch (see `segments`), so
                    // the record log holds every record it may look at.
                    let mut cleanup = StagedCleanup {
                        records,
                        batch: &mut batch,
                        changes: &mut changes,
                    };
                    let outcome =
                        ordo_core::apply_with(&mut writer.state, index, &command, &mut cleanup)?;
                    changes.stage(&mut batch, records, command, &outcome)?;
                    outcome.result
                }
                EntryPayload::Membership(membership) => {
                    writer.membership = StoredMembership::new(Some(log_id), membership);
                    changes.membership = true;
                    apply_noop(&mut writer.state, index)
                }
            };
            writer.last_applied = Some(log_id);
            results.push(result);
        }
        changes.write(&mut batch, tree, &writer.state)?;
        batch.insert(
            tree,
            keys::LAST_APPLIED_KEY,
            encode("last applied log id", &writer.last_applied)?,
        );
        if changes.membership {
            batch.insert(
                tree,
                keys::MEMBERSHIP_KEY,
                encode("membership", &writer.membership)?,
            );
        }
        self.shared.commit(batch)?;
        Ok((results, changes))
    }

    /// Makes the writer's copy visible to readers, copying only what changed.
    fn publish(&self, writer: &Applied<C>, changes: &Changes) {
        assert_eq!(
            writer.state.last_applied,
            writer.last_applied.map(|log_id| LogIndex(log_id.index())),
            "the decided state's applied index and the applied log id disagree"
        );
        {
            let mut published = self.write_published();
            // Raft applies each committed entry once, in log order, and a
            // published batch holds at least one: what readers see, and the
            // index they wait on, only move forward.
            assert!(
                writer.state.last_applied > published.state.last_applied,
                "the applied index would go back: publishing {:?} over {:?}",
                writer.state.last_applied,
                published.state.last_applied
            );
            changes.copy(&writer.state, &mut published.state);
            if changes.membership {
                published.membership = writer.membership.clone();
            }
            published.state.last_applied = writer.state.last_applied;
            published.last_applied = writer.last_applied;
        }
        self.shared
            .applied_tx
            .send_replace(writer.state.last_applied);
    }
}

/// Splits committed entries into runs written as one batch each: a cleanup
/// command starts a new run, so every record applied before it is on the
/// disk (a batch's writes are not readable until it is committed) when it
/// looks at them. A queue's claim or nack reads records too, but needs no
/// run of its own: the segment record log takes an append into its files
/// as it is staged, readable at once (`tests::queues` holds it to that).
fn segments<C: StoreTypeConfig>(entries: Vec<C::Entry>) -> Vec<Vec<(LogIdOf<C>, OrdoPayload)>> {
    let mut segments: Vec<Vec<_>> = Vec::new();
    for entry in entries {
        let (log_id, payload) = C::into_parts(entry);
        let cleans = is_cleanup(&payload);
        match segments.last_mut() {
            Some(segment) if !cleans => segment.push((log_id, payload)),
            _ => segments.push(vec![(log_id, payload)]),
        }
    }
    segments
}

fn is_cleanup(payload: &OrdoPayload) -> bool {
    matches!(payload, EntryPayload::Normal(Command::CleanTopic { .. }))
}

fn starts_with_cleanup<C: StoreTypeConfig>(segment: &[(LogIdOf<C>, OrdoPayload)]) -> bool {
    segment
        .first()
        .is_some_and(|(_, payload)| is_cleanup(payload))
}

/// The record log as cleanup sees it: removals are staged in the batch
/// being prepared, forgotten keys noted in its changes.
struct StagedCleanup<'a> {
    records: &'a RecordLog,
    batch: &'a mut Batch,
    changes: &'a mut Changes,
}

impl RecordStore for StagedCleanup<'_> {
    type Error = StoreError;

    fn sweep(
        &mut self,
        topic: &TopicName,
        range: Range<Offset>,
        visit: &mut dyn FnMut(&StoredRecord) -> Visit,
    ) -> Result<(), StoreError> {
        self.records.sweep(self.batch, topic, range, visit)
    }

    fn truncate(&mut self, topic: &TopicName, offset: Offset) -> Result<(), StoreError> {
        self.records.stage_truncate(self.batch, topic, offset)
    }

    fn key_forgotten(&mut self, topic: &TopicName, key: &str) {
        self.changes.key_changed(topic, key);
    }

    fn read(
        &mut self,
        topic: &TopicName,
        range: Range<Offset>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        self.records.read_page(topic, range, limit, usize::MAX)
    }
}
