//! The state machine's read API for the HTTP layer: pages of records, the
//! search for an offset by time, topic metadata, consumer positions, the
//! producer table and key index, and how far this node has applied. Not
//! part of openraft.
//!
//! Every read is bounded by the published state (see `state_machine`), so a
//! read never returns a record of a batch that is not fully applied.

use std::collections::BTreeMap;

use ordo_core::{
    GroupName, KeyState, LogIndex, Offset, Positions, ProducerId, ProducerState, Record, TopicName,
    TopicState,
};
use tokio::sync::watch;

use crate::codec::decode;
use crate::error::StoreError;
use crate::keys;
use crate::state_machine::StateMachineStore;
use crate::type_config::StoreTypeConfig;

/// A page of one topic's records, and the topic's bounds at the time of the read.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicPage {
    /// Consecutive records in offset order.
    pub records: Vec<Record>,
    /// The first offset still readable.
    pub start_offset: Offset,
    /// The offset the next appended record will get.
    pub end_offset: Offset,
}

impl TopicPage {
    /// Where the next page starts: after the last record returned, or at
    /// `from` if there was none.
    pub fn next_offset(&self, from: Offset) -> Offset {
        self.records
            .last()
            .map_or(from, |record| record.offset.next())
    }
}

impl<C: StoreTypeConfig> StateMachineStore<C> {
    /// Up to `limit` records of `topic` at offsets `>= from`, stopping before
    /// the record that would take their encoded size past `max_bytes` (but
    /// always returning the first one, however large). `None` if the topic
    /// does not exist.
    pub fn read_records(
        &self,
        topic: &TopicName,
        from: Offset,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Option<TopicPage>, StoreError> {
        // Held for the whole scan: a snapshot install cannot swap the tree
        // underneath, and the end offset stays the one the page reports.
        let published = self.read_published();
        let Some(topic_state) = published.state.topics.get(topic) else {
            return Ok(None);
        };
        let mut page = TopicPage {
            records: Vec::new(),
            start_offset: topic_state.start_offset,
            end_offset: topic_state.end_offset,
        };
        if from >= page.end_offset || limit == 0 {
            return Ok(Some(page));
        }
        let range = keys::record_key(topic, from)..keys::record_key(topic, page.end_offset);
        let mut total_bytes = 0usize;
        for value in self.shared.tree.range(range).values() {
            let value = value?;
            if !page.records.is_empty() && total_bytes.saturating_add(value.len()) > max_bytes {
                break;
            }
            total_bytes = total_bytes.saturating_add(value.len());
            page.records.push(decode("record", &value)?);
            if page.records.len() >= limit {
                break;
            }
        }
        Ok(Some(page))
    }

    /// The first offset of `topic` whose record's timestamp is at or after
    /// `timestamp_ms`, or the end offset if there is none; `None` if the
    /// topic does not exist. Timestamps never go back within a topic (see
    /// `TopicState::max_timestamp_ms`), so this bisects: O(log n) reads.
    pub fn offset_for_timestamp(
        &self,
        topic: &TopicName,
        timestamp_ms: u64,
    ) -> Result<Option<Offset>, StoreError> {
        let published = self.read_published();
        let Some(topic_state) = published.state.topics.get(topic) else {
            return Ok(None);
        };
        // Invariant: every record below `low` is older, and `high` is either
        // the end or a record at or after `timestamp_ms`.
        let (mut low, mut high) = (topic_state.start_offset.0, topic_state.end_offset.0);
        while low < high {
            let middle = low + (high - low) / 2;
            let key = keys::record_key(topic, Offset(middle));
            let value = self
                .shared
                .tree
                .get(&key)?
                .ok_or(StoreError::MissingRecord {
                    topic: topic.clone(),
                    offset: Offset(middle),
                })?;
            let record: Record = decode("record", &value)?;
            if record.timestamp_ms < timestamp_ms {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(Some(Offset(low)))
    }

    /// One topic's metadata, if the topic exists.
    pub fn topic(&self, topic: &TopicName) -> Option<TopicState> {
        self.read_published().state.topics.get(topic).cloned()
    }

    /// Every topic's metadata.
    pub fn topics(&self) -> BTreeMap<TopicName, TopicState> {
        self.read_published().state.topics.clone()
    }

    /// `group`'s position in `topic` (the next offset it will read), if the
    /// group committed one.
    pub fn consumer_offset(&self, group: &GroupName, topic: &TopicName) -> Option<Offset> {
        self.read_published().state.position(group, topic)
    }

    /// Every position `group` committed, by topic (empty for a group that
    /// never committed one). Lag in a topic is its end offset minus this.
    pub fn consumer_offsets(&self, group: &GroupName) -> BTreeMap<TopicName, Offset> {
        let published = self.read_published();
        published
            .state
            .positions
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    /// Every group's positions, by group then topic.
    pub fn all_consumer_offsets(&self) -> Positions {
        self.read_published().state.positions.clone()
    }

    /// What the producer table holds for `id`: its last applied append.
    pub fn producer(&self, id: &ProducerId) -> Option<ProducerState> {
        self.read_published().state.producers.get(id).cloned()
    }

    /// What the key index holds for `key` in `topic`: its latest record.
    pub fn key_state(&self, topic: &TopicName, key: &str) -> Option<KeyState> {
        let published = self.read_published();
        published.state.keys.get(topic)?.get(key).copied()
    }

    /// The log index of the last entry applied and published.
    pub fn last_applied(&self) -> Option<LogIndex> {
        self.read_published().state.last_applied
    }

    /// Follows [`Self::last_applied`]: updated after every applied batch and
    /// every snapshot install, so a caller can wait for a read index.
    pub fn applied_watch(&self) -> watch::Receiver<Option<LogIndex>> {
        self.shared.applied_tx.subscribe()
    }
}
