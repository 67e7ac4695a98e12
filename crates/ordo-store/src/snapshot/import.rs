//! Reading a snapshot stream's key index and records back into the
//! state being installed and the install's batch, each checked against the
//! header's topics. The segments' items are read back with each frame's
//! checksum checked, into the node's own files.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use ordo_core::{Offset, State, TopicName, TopicState};

use super::format::{truncated, Frame, FrameReader, RECORDS_PER_RUN};
use crate::error::StoreError;
use crate::kv::Batch;
use crate::record_codec;
use crate::record_log::{ImportedRecord, RecordLog};
use crate::segment;
use crate::type_config::StoreTypeConfig;

/// Reads the key index and records that follow the header into `state` and
/// `batch`, checking each against the header's topics, up to the end frame.
pub(super) fn read_contents<C: StoreTypeConfig>(
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
