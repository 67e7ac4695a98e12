//! Compaction and retention: which stored records a `CleanTopic` command
//! removes. The decisions are pure and made here, at the command's log
//! index, from the replicated state and the stored records the store shows
//! them, so every replica removes exactly the same records; the store only
//! walks its records and removes what these rules say ([`RecordStore`]).
//!
//! - `compact`: a record stays only while it is its key's latest (what the
//!   key index names). A key whose latest record is a tombstone keeps it for
//!   the topic's tombstone retention after its timestamp, then the tombstone
//!   goes too and the key leaves the index. Offsets never move: the start
//!   offset stays where it is, and reads skip the gaps.
//! - `delete`: records go from the start while they are older than
//!   `retention_ms` or the topic holds more than `retention_bytes`; the
//!   start offset moves up past them (the store truncates the topic's front
//!   there, in one go), and keys whose latest record went leave the key
//!   index.
//!
//! Record sizes are [`crate::record::record_size`], defined here in the core
//! rather than by the store's encoding, so a change of codec cannot make
//! replicas disagree about what `retention_bytes` keeps.

use std::collections::HashSet;
use std::convert::Infallible;
use std::ops::Range;

use crate::condition::KeyIndex;
use crate::ids::Offset;
use crate::record::Record;
use crate::rejection::Rejection;
use crate::topic::TopicName;
use crate::topic_config::{Cleanup, TopicConfig};
use crate::topic_state::TopicState;

/// Most records one pass removes, so one pass is one bounded write batch
/// and one bounded pause of the apply loop (about 0.2 s on a 2-core VM; a
/// pass runs where appends are applied). A pass that stops there leaves the
/// topic still due, and the next pass goes on from where it stopped.
pub const MAX_REMOVED_PER_PASS: u64 = 10_000;

/// One stored record, as cleanup sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: Offset,
    pub timestamp_ms: u64,
    /// [`crate::record::record_size`] of the record.
    pub size: u64,
}

/// What cleanup does with the record it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Leave this record where it is and look at the next.
    Keep,
    Remove,
    /// Keep this record and look at no more.
    Stop,
}

/// The records a store holds, as cleanup needs to see and remove them.
pub trait RecordStore {
    type Error;

    /// Shows `visit` each stored record of `topic` at an offset in `range`,
    /// in offset order, removing each one it answers [`Visit::Remove`], until
    /// it answers [`Visit::Stop`] or the range ends.
    fn sweep(
        &mut self,
        topic: &TopicName,
        range: Range<Offset>,
        visit: &mut dyn FnMut(&StoredRecord) -> Visit,
    ) -> Result<(), Self::Error>;

    /// Removes every stored record of `topic` below `offset`: retention
    /// moved the topic's start there.
    fn truncate(&mut self, topic: &TopicName, offset: Offset) -> Result<(), Self::Error>;

    /// `key` left `topic`'s key index: its latest record was removed.
    fn key_forgotten(&mut self, topic: &TopicName, key: &str);

    /// Up to `limit` stored records of `topic` in `range`, in offset order:
    /// what a queue's claim hands out and a dead letter copies.
    fn read(
        &mut self,
        topic: &TopicName,
        range: Range<Offset>,
        limit: usize,
    ) -> Result<Vec<Record>, Self::Error>;
}

/// A store that holds no records (the model in tests, or a caller that only
/// tracks decisions): cleanup finds nothing to remove.
pub struct NoRecords;

impl RecordStore for NoRecords {
    type Error = Infallible;

    fn sweep(
        &mut self,
        _: &TopicName,
        _: Range<Offset>,
        _: &mut dyn FnMut(&StoredRecord) -> Visit,
    ) -> Result<(), Infallible> {
        Ok(())
    }

    fn truncate(&mut self, _: &TopicName, _: Offset) -> Result<(), Infallible> {
        Ok(())
    }

    fn key_forgotten(&mut self, _: &TopicName, _: &str) {}

    fn read(
        &mut self,
        _: &TopicName,
        _: Range<Offset>,
        _: usize,
    ) -> Result<Vec<Record>, Infallible> {
        Ok(Vec::new())
    }
}

/// What one cleanup removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Removed {
    pub records: u64,
    pub bytes: u64,
}

/// Runs one cleanup pass over `topic` at time `now_ms` (the leader's clock,
/// carried in the command): removes the records `config` says go, updates
/// the topic's start offset and counters and the key index, and reports what
/// went. A topic with cleanup `none` is refused.
pub(crate) fn clean<S: RecordStore>(
    topic: &TopicName,
    state: &mut TopicState,
    keys: Option<&mut KeyIndex>,
    now_ms: u64,
    store: &mut S,
) -> Result<Result<Removed, Rejection>, S::Error> {
    let config = state.config;
    let (start_before, end_before) = (state.start_offset, state.end_offset);
    let removed = match config.cleanup() {
        Cleanup::None => {
            return Ok(Err(Rejection::NothingToClean {
                topic: topic.clone(),
            }))
        }
        Cleanup::Compact => compact(topic, state, keys, &config, now_ms, store)?,
        Cleanup::Delete => expire(topic, state, keys, &config, now_ms, store)?,
    };
    assert!(
        removed.records <= MAX_REMOVED_PER_PASS,
        "a cleanup pass of {topic} removed {} records, past the most one may",
        removed.records
    );
    assert_eq!(
        state.end_offset, end_before,
        "a cleanup pass of {topic} moved its end offset"
    );
    assert!(
        start_before <= state.start_offset && state.start_offset <= state.end_offset,
        "a cleanup pass of {topic} moved its start offset from {start_before} to {}, \
         back or past its end {}",
        state.start_offset,
        state.end_offset
    );
    assert!(
        state.compacted_to <= state.end_offset,
        "a cleanup pass of {topic} left its compaction at {}, past its end {}",
        state.compacted_to,
        state.end_offset
    );
    state.stored_records = state.stored_records.saturating_sub(removed.records);
    state.stored_bytes = state.stored_bytes.saturating_sub(removed.bytes);
    Ok(Ok(removed))
}

/// Whether a cleanup pass over a topic would remove anything that the state
/// alone can tell: superseded records or an expired tombstone in a `compact`
/// topic, or more than `retention_bytes` in a `delete` topic. (Age-based
/// retention also depends on the oldest record's timestamp, which the store
/// knows: see [`expired_by_age`].) Used to schedule background passes.
pub fn cleanup_due(state: &TopicState, keys: Option<&KeyIndex>, now_ms: u64) -> bool {
    let config = state.config;
    match config.cleanup() {
        Cleanup::None => false,
        Cleanup::Compact => {
            let Some(keys) = keys else {
                return state.stored_records > 0;
            };
            // Compact once at least half of what is stored is superseded,
            // so a pass's work is paid for by what it frees (Kafka's
            // min.cleanable.dirty.ratio of 0.5).
            let superseded = state.stored_records.saturating_sub(keys.len() as u64);
            let grace = config.tombstone_retention_ms();
            superseded > 0 && superseded * 2 >= state.stored_records
                || keys
                    .values()
                    .any(|key| !key.live && tombstone_expired(key.timestamp_ms, grace, now_ms))
        }
        Cleanup::Delete => config
            .retention_bytes()
            .is_some_and(|limit| state.stored_bytes > limit),
    }
}

/// Whether a `delete` topic's oldest record, stamped `oldest_timestamp_ms`,
/// is past the topic's `retention_ms` at `now_ms`.
pub fn expired_by_age(config: &TopicConfig, oldest_timestamp_ms: u64, now_ms: u64) -> bool {
    config.cleanup() == Cleanup::Delete
        && config
            .retention_ms()
            .is_some_and(|retention| oldest_timestamp_ms.saturating_add(retention) <= now_ms)
}

fn tombstone_expired(timestamp_ms: u64, grace_ms: u64, now_ms: u64) -> bool {
    timestamp_ms.saturating_add(grace_ms) <= now_ms
}

/// Keeps each key's latest record (and a tombstone only within its grace).
///
/// A pass resumes at `TopicState::compacted_to` (where the last one stopped
/// at `MAX_REMOVED_PER_PASS`), so a run of passes over a large topic scans
/// each record about once; a pass that reaches the end starts the next one
/// from the start again.
fn compact<S: RecordStore>(
    topic: &TopicName,
    state: &mut TopicState,
    keys: Option<&mut KeyIndex>,
    config: &TopicConfig,
    now_ms: u64,
    store: &mut S,
) -> Result<Removed, S::Error> {
    let mut kept = HashSet::new();
    if let Some(keys) = keys {
        let grace = config.tombstone_retention_ms();
        let mut expired = Vec::new();
        for (key, key_state) in keys.iter() {
            if !key_state.live && tombstone_expired(key_state.timestamp_ms, grace, now_ms) {
                expired.push(key.clone());
            } else {
                kept.insert(key_state.last_offset);
            }
        }
        for key in expired {
            keys.remove(&key);
            store.key_forgotten(topic, &key);
        }
    }
    let mut removed = Removed::default();
    let mut stopped_at = None;
    let from = state.compacted_to.max(state.start_offset);
    store.sweep(topic, from..state.end_offset, &mut |record| {
        if kept.contains(&record.offset) {
            Visit::Keep
        } else if removed.records >= MAX_REMOVED_PER_PASS {
            stopped_at = Some(record.offset);
            Visit::Stop
        } else {
            removed.records += 1;
            removed.bytes += record.size;
            Visit::Remove
        }
    })?;
    state.compacted_to = stopped_at.unwrap_or(state.start_offset);
    Ok(removed)
}

/// Removes records from the start while they are too old or too many bytes
/// are held, and moves the start offset past them: the sweep only looks,
/// and the store truncates the front once the new start is known.
fn expire<S: RecordStore>(
    topic: &TopicName,
    state: &mut TopicState,
    keys: Option<&mut KeyIndex>,
    config: &TopicConfig,
    now_ms: u64,
    store: &mut S,
) -> Result<Removed, S::Error> {
    let cutoff_ms = config
        .retention_ms()
        .map(|retention| now_ms.saturating_sub(retention));
    let mut held_bytes = state.stored_bytes;
    let mut removed = Removed::default();
    // Where the kept records begin: the first one kept, or the end.
    let mut new_start = state.end_offset;
    store.sweep(topic, state.start_offset..state.end_offset, &mut |record| {
        let too_old = cutoff_ms.is_some_and(|cutoff| record.timestamp_ms < cutoff);
        let too_big = config
            .retention_bytes()
            .is_some_and(|limit| held_bytes > limit);
        if (too_old || too_big) && removed.records < MAX_REMOVED_PER_PASS {
            held_bytes = held_bytes.saturating_sub(record.size);
            removed.records += 1;
            removed.bytes += record.size;
            Visit::Keep
        } else {
            new_start = record.offset;
            Visit::Stop
        }
    })?;
    // Only records seen move the start: a store that showed none (it holds
    // none, or only the model's view) leaves the topic as it was.
    if removed.records > 0 && new_start > state.start_offset {
        debug_assert!(
            removed.records <= new_start.0 - state.start_offset.0,
            "retention of {topic} removed {} records below {new_start}, from {}: \
             more than one record per offset",
            removed.records,
            state.start_offset
        );
        store.truncate(topic, new_start)?;
        state.start_offset = new_start;
        if let Some(keys) = keys {
            keys.retain(|key, key_state| {
                let stays = key_state.last_offset >= new_start;
                if !stays {
                    store.key_forgotten(topic, key);
                }
                stays
            });
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
