//! Snapshots: building one from the state machine, installing one in its
//! place, and keeping the current one on disk so it survives a restart.
//!
//! A snapshot is the whole state machine: last applied log id, membership,
//! every topic with its metadata, key index and records, the producer table
//! and the consumer positions: everything a node needs to decide the next
//! command exactly as the node that built it would. It is a stream of
//! frames, each a 4-byte little-endian length and that many bytes: a
//! [`Frame::Header`], the key index in [`Frame::Keys`] chunks, then each
//! topic's records: the segment files that hold them, each a
//! [`Frame::Segment`] followed by the file's bytes as they are on disk
//! (with [`Frame::Tombstones`] first, naming the records in them that
//! compaction removed), then any rest as [`Frame::Records`] runs, each
//! followed by that many raw frames (each one record encoded, as the record
//! log hands it out and takes it back); and a [`Frame::End`] that counts
//! the records of the runs, so a truncated snapshot is refused.
//!
//! Building streams it to the snapshot's directory (`snapshot_file`), the
//! segments as hard links: a sealed segment never changes, and the newest
//! one only grows, so its first bytes (the items before the snapshot's end)
//! are shared too. A snapshot thus copies the metadata only, and copies
//! records as runs only where the tree layout holds them or a segment
//! sealed while the snapshot was taken; memory does not grow with the
//! records held. Installing reads the segments' items back (each frame's
//! checksum checked) into the node's own files.
//! (openraft 0.10 dropped `snapshot_id` from `SnapshotMeta`: two snapshots at
//! the same last log id hold the same state, so none is kept here.)

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::ops::Range;

use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{RaftSnapshotBuilder, Snapshot, SnapshotMeta};
use ordo_core::{
    KeyState, LogIndex, Offset, Positions, ProducerId, ProducerState, State, TopicName, TopicState,
};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::keys;
use crate::kv::Batch;
use crate::persisted;
use crate::record_codec;
use crate::record_log::{ImportedRecord, RecordLog};
use crate::segment;
use crate::snapshot_file::{SnapshotData, SnapshotWriter, Stored, BUILDING};
use crate::state_machine::{Applied, StateMachineStore};
use crate::type_config::StoreTypeConfig;

/// Records per [`Frame::Records`] run, and keys per [`Frame::Keys`].
const RECORDS_PER_RUN: usize = 1_000;
const KEYS_PER_FRAME: usize = 10_000;
/// No frame is larger (a record is at most the 4 MiB request body; a header
/// holds every producer and consumer position): a corrupt length is refused
/// instead of allocated.
const MAX_FRAME_BYTES: usize = 256 * 1024 * 1024;

/// One frame of the snapshot stream (see the module doc).
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
enum Frame<C: StoreTypeConfig> {
    Header(Header<C>),
    Keys {
        topic: TopicName,
        keys: Vec<(String, KeyState)>,
    },
    /// `count` raw frames follow: the topic's next records, in offset order.
    Records {
        topic: TopicName,
        count: u64,
    },
    /// Offsets of the topic's records that compaction removed but the
    /// segment files that follow still hold.
    Tombstones {
        topic: TopicName,
        offsets: Vec<Offset>,
    },
    /// `len` bytes follow: one sealed segment file of the topic, as it is
    /// on disk (checksummed frames of items: offset, timestamp, record).
    Segment {
        topic: TopicName,
        len: u64,
    },
    End {
        records: u64,
    },
}

/// A snapshot's first frame: all of the decided state but the key index and
/// the records.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
struct Header<C: StoreTypeConfig> {
    last_applied: Option<LogIdOf<C>>,
    membership: StoredMembershipOf<C>,
    topics: Vec<(TopicName, TopicState)>,
    producers: BTreeMap<ProducerId, ProducerState>,
    positions: Positions,
}

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

fn write_frame<C: StoreTypeConfig>(
    out: &mut impl Write,
    frame: &Frame<C>,
) -> Result<(), StoreError> {
    write_raw(out, &encode("snapshot frame", frame)?)
}

fn write_raw(out: &mut impl Write, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|len| *len as usize <= MAX_FRAME_BYTES)
        .ok_or_else(|| StoreError::BadSnapshot(format!("a frame of {} bytes", bytes.len())))?;
    out.write_all(&len.to_le_bytes())
        .and_then(|()| out.write_all(bytes))
        .map_err(|source| StoreError::Io {
            what: "write a snapshot",
            source,
        })
}

/// A snapshot's frames, read in order.
type SnapshotFrames<'a> = FrameReader<Box<dyn Read + 'a>>;

/// Reads frames back.
struct FrameReader<R> {
    input: R,
}

impl<R: Read> FrameReader<R> {
    /// The next frame's bytes, or `None` at a clean end.
    fn next_raw(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        let read_error = |source| StoreError::Io {
            what: "read a snapshot",
            source,
        };
        let mut len = [0u8; 4];
        let mut filled = 0;
        while filled < len.len() {
            match self.input.read(&mut len[filled..]).map_err(read_error)? {
                0 if filled == 0 => return Ok(None),
                0 => return Err(truncated()),
                n => filled += n,
            }
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(StoreError::BadSnapshot(format!(
                "a frame claims {len} bytes, more than the {MAX_FRAME_BYTES} allowed"
            )));
        }
        let mut bytes = vec![0; len];
        self.input
            .read_exact(&mut bytes)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => truncated(),
                _ => read_error(e),
            })?;
        Ok(Some(bytes))
    }

    fn next_frame<C: StoreTypeConfig>(&mut self) -> Result<Frame<C>, StoreError> {
        let bytes = self.next_raw()?.ok_or_else(truncated)?;
        decode("snapshot frame", &bytes)
    }
}

fn truncated() -> StoreError {
    StoreError::BadSnapshot("the snapshot ends before its end frame (truncated)".into())
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
pub(crate) fn current_file<C: StoreTypeConfig>(
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

/// Reads the key index and records that follow the header into `state` and
/// `batch`, checking each against the header's topics, up to the end frame.
fn read_contents<C: StoreTypeConfig>(
    frames: &mut FrameReader<impl Read>,
    state: &mut State,
    batch: &mut Batch,
    record_log: &RecordLog,
) -> Result<(), StoreError> {
    let mut import = Import {
        state,
        batch,
        record_log,
        last_offsets: BTreeMap::new(),
        tombstones: BTreeMap::new(),
    };
    let mut records = 0;
    loop {
        match frames.next_frame::<C>()? {
            Frame::Header(_) => {
                return Err(StoreError::BadSnapshot("it has a second header".into()));
            }
            Frame::Keys { topic, keys } => {
                let end = topic_state(import.state, &topic)?.end_offset;
                if let Some((key, key_state)) = keys.iter().find(|(_, k)| k.last_offset >= end) {
                    return Err(StoreError::BadSnapshot(format!(
                        "topic {topic} has key {key:?} at offset {}, past its end {end}",
                        key_state.last_offset
                    )));
                }
                import.state.keys.entry(topic).or_default().extend(keys);
            }
            Frame::Tombstones { topic, offsets } => {
                topic_state(import.state, &topic)?;
                let held = import.tombstones.entry(topic).or_default();
                held.extend(offsets.into_iter().map(|offset| offset.0));
            }
            Frame::Segment { topic, len } => {
                import.segment(&topic, &mut frames.input, len)?;
            }
            Frame::Records { topic, count } => {
                let mut run = Vec::new();
                for _ in 0..count {
                    let raw = frames.next_raw()?.ok_or_else(truncated)?;
                    let record = record_codec::decode(&raw)?;
                    import.check(&topic, record.offset.0)?;
                    run.push((record.offset.0, record.timestamp_ms, raw));
                }
                import.flush(&topic, &mut run)?;
                records += count;
            }
            Frame::End { records: counted } if counted == records => break,
            Frame::End { records: counted } => {
                return Err(StoreError::BadSnapshot(format!(
                    "its end frame counts {counted} records, it holds {records}"
                )));
            }
        }
    }
    if frames.next_raw()?.is_some() {
        return Err(StoreError::BadSnapshot("bytes follow its end frame".into()));
    }
    Ok(())
}

/// Records on their way from a snapshot into the record log.
struct Import<'a> {
    state: &'a mut State,
    batch: &'a mut Batch,
    record_log: &'a RecordLog,
    /// Each topic's last offset imported, so offsets only go up.
    last_offsets: BTreeMap<TopicName, Offset>,
    /// The offsets the snapshot's segments hold but compaction removed.
    tombstones: BTreeMap<TopicName, BTreeSet<u64>>,
}

impl Import<'_> {
    /// Imports the items of one of `topic`'s segment files, `len` bytes of
    /// `input`: all but those below the topic's start (retention) or
    /// tombstoned, in runs of [`RECORDS_PER_RUN`].
    fn segment(
        &mut self,
        topic: &TopicName,
        input: &mut impl Read,
        len: u64,
    ) -> Result<(), StoreError> {
        let start = topic_state(self.state, topic)?.start_offset;
        let what = format!("a segment of topic {topic} in a snapshot");
        let mut run = Vec::with_capacity(RECORDS_PER_RUN);
        segment::read_items(input, len, &what, |item| {
            self.check(topic, item.seq)?;
            let removed = self
                .tombstones
                .get(topic)
                .is_some_and(|removed| removed.contains(&item.seq));
            if item.seq >= start.0 && !removed {
                run.push((item.seq, item.timestamp_ms, item.payload.to_vec()));
            }
            if run.len() == RECORDS_PER_RUN {
                self.flush(topic, &mut run)?;
            }
            Ok(())
        })?;
        self.flush(topic, &mut run)
    }

    /// Refuses `offset` unless it lies before the topic's end and after
    /// every offset of it imported so far.
    fn check(&mut self, topic: &TopicName, offset: u64) -> Result<(), StoreError> {
        let end = topic_state(self.state, topic)?.end_offset;
        let after = self.last_offsets.get(topic).copied();
        if offset >= end.0 || after.is_some_and(|after| offset <= after.0) {
            return Err(StoreError::BadSnapshot(format!(
                "topic {topic} holds offset {offset} out of order or past its end {end}"
            )));
        }
        self.last_offsets.insert(topic.clone(), Offset(offset));
        Ok(())
    }

    fn flush(
        &mut self,
        topic: &TopicName,
        run: &mut Vec<ImportedRecord>,
    ) -> Result<(), StoreError> {
        if run.is_empty() {
            return Ok(());
        }
        let start = topic_state(self.state, topic)?.start_offset;
        if let Some((offset, ..)) = run.iter().find(|(offset, ..)| *offset < start.0) {
            return Err(StoreError::BadSnapshot(format!(
                "topic {topic} holds offset {offset}, before its start {start}"
            )));
        }
        self.record_log.stage_import_items(self.batch, topic, run)?;
        run.clear();
        Ok(())
    }
}

fn topic_state<'a>(state: &'a State, topic: &TopicName) -> Result<&'a TopicState, StoreError> {
    state
        .topics
        .get(topic)
        .ok_or_else(|| StoreError::BadSnapshot(format!("topic {topic} is not in its header")))
}

/// The metadata a snapshot's header gives (its last applied log id and
/// membership), read without the rest.
pub(crate) fn read_meta<C: StoreTypeConfig>(
    data: &SnapshotData,
) -> Result<SnapshotMetaOf<C>, StoreError> {
    let (_, header) = read_header::<C>(data)?;
    Ok(SnapshotMeta {
        last_log_id: header.last_applied,
        last_membership: header.membership,
    })
}

/// Opens `data` and reads its header, which must come first.
fn read_header<C: StoreTypeConfig>(
    data: &SnapshotData,
) -> Result<(SnapshotFrames<'_>, Header<C>), StoreError> {
    let mut frames = FrameReader {
        input: data.reader(),
    };
    match frames.next_frame::<C>()? {
        Frame::Header(header) => Ok((frames, header)),
        _ => Err(StoreError::BadSnapshot(
            "it does not start with a header".into(),
        )),
    }
}

/// Copies `data` to `out` with its header's membership replaced by
/// `membership` (restoring a backup into a cluster of other nodes).
pub(crate) fn copy_with_membership<C: StoreTypeConfig>(
    data: &SnapshotData,
    membership: StoredMembershipOf<C>,
    mut out: crate::SnapshotWriter,
) -> Result<SnapshotData, StoreError> {
    let (mut frames, header) = read_header::<C>(data)?;
    let header = Frame::<C>::Header(Header {
        membership,
        ..header
    });
    write_frame(&mut out, &header)?;
    io::copy(&mut frames.input, &mut out).map_err(|source| StoreError::Io {
        what: "copy a snapshot",
        source,
    })?;
    out.finish()
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
