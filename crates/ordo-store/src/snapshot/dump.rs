//! Writing the published state machine as a snapshot stream. Building
//! streams it to the snapshot's directory (`snapshot_file`), the segments
//! as hard links: a sealed segment never changes, and the newest one only
//! grows, so its first bytes (the items before the snapshot's end) are
//! shared too. A snapshot thus copies the metadata only, and copies records
//! as runs only where the tree layout holds them or a segment sealed while
//! the snapshot was taken; memory does not grow with the records held.

use std::io::Write;
use std::ops::Range;

use openraft::type_config::alias::SnapshotMetaOf;
use openraft::SnapshotMeta;
use ordo_core::{KeyState, Offset, State, TopicName, TopicState};

use super::format::{write_frame, write_raw, Frame, Header, KEYS_PER_FRAME, RECORDS_PER_RUN};
use crate::error::StoreError;
use crate::record_log::RecordLog;
use crate::snapshot_file::{SnapshotData, SnapshotWriter};
use crate::state_machine::StateMachineStore;
use crate::type_config::StoreTypeConfig;

/// Writes the published state machine as a snapshot (a file named for
/// `purpose` while it is written) and returns it, complete and durable.
pub(crate) fn dump<C: StoreTypeConfig>(
    store: &StateMachineStore<C>,
    purpose: &str,
) -> Result<(SnapshotMetaOf<C>, SnapshotData), StoreError> {
    let mut out = store.shared.snapshots.writer(purpose)?;
    let meta = {
        // Installs and cleanups wait: with them held off, records below the
        // copied end offsets do not change while they are read.
        let _no_changes = store.hold_off_changes();
        let (decided, last_applied, membership) = {
            let published = store.read_published();
            (
                published.state.clone(),
                published.last_applied,
                published.membership.clone(),
            )
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership.clone(),
        };
        let State {
            topics,
            mut keys,
            producers,
            positions,
            queues,
            ..
        } = decided;
        write_frame(
            &mut out,
            &Frame::<C>::Header(Header {
                last_applied,
                membership,
                topics: topics.iter().map(|(n, s)| (n.clone(), s.clone())).collect(),
                producers,
                positions,
                queues,
            }),
        )?;
        let mut records = 0;
        for (name, state) in &topics {
            let index: Vec<(String, KeyState)> =
                keys.remove(name).unwrap_or_default().into_iter().collect();
            for chunk in index.chunks(KEYS_PER_FRAME) {
                let frame = Frame::<C>::Keys {
                    topic: name.clone(),
                    keys: chunk.to_vec(),
                };
                write_frame(&mut out, &frame)?;
            }
            records += write_topic_records::<C>(&mut out, &store.shared.records, name, state)?;
        }
        write_frame(&mut out, &Frame::<C>::End { records })?;
        meta
    };
    Ok((meta, out.finish()?))
}

/// Writes a topic's records: its segment files' bytes that hold records
/// below the copied end offset as they are (linked, where the snapshot is
/// in files), any rest copied. Returns how many records were copied.
fn write_topic_records<C: StoreTypeConfig>(
    out: &mut SnapshotWriter,
    records: &RecordLog,
    name: &TopicName,
    state: &TopicState,
) -> Result<u64, StoreError> {
    let range = state.start_offset..state.end_offset;
    let tail_from = records.share_segments(name, range, |share| {
        for offsets in share.tombstones.chunks(KEYS_PER_FRAME) {
            let frame = Frame::<C>::Tombstones {
                topic: name.clone(),
                offsets: offsets.to_vec(),
            };
            write_frame(out, &frame)?;
        }
        for (file, len) in &share.segments {
            let frame = Frame::<C>::Segment {
                topic: name.clone(),
                len: *len,
            };
            write_frame(out, &frame)?;
            out.append_file(file, *len)?;
        }
        Ok(share.tail_from)
    })?;
    write_records::<C>(out, records, name, tail_from..state.end_offset)
}

/// Copies a topic's records in `range`, as stored, in runs of
/// [`RECORDS_PER_RUN`]. Bounded by the copied end offset: records of later
/// applies are left out, so the snapshot matches its last applied log id
/// exactly.
fn write_records<C: StoreTypeConfig>(
    out: &mut impl Write,
    records: &RecordLog,
    name: &TopicName,
    range: Range<Offset>,
) -> Result<u64, StoreError> {
    let mut run = Vec::with_capacity(RECORDS_PER_RUN);
    let mut written = 0;
    let mut encoded = records.encoded(name, range);
    loop {
        let next = encoded.next().transpose()?;
        let done = next.is_none();
        run.extend(next);
        if run.len() == RECORDS_PER_RUN || (done && !run.is_empty()) {
            let count = run.len() as u64;
            let frame = Frame::<C>::Records {
                topic: name.clone(),
                count,
            };
            write_frame(out, &frame)?;
            for value in run.drain(..) {
                write_raw(out, &value)?;
            }
            written += count;
        }
        if done {
            return Ok(written);
        }
    }
}
