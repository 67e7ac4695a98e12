//! The state machine's reads, for the node and its HTTP layer: pages of a
//! topic's records ([`TopicPage`]), the search for an offset by time, topic
//! metadata, consumer positions and their lag ([`GroupLag`]), the producer
//! table and key index, which topics are due for cleanup, and how far this
//! node has applied. Not part of openraft. The types returned are the
//! store's own; the node turns them into the API's.
//!
//! Every read is bounded by the published state (see `state_machine`), so a
//! read never returns a record of a batch that is not fully applied.

use std::collections::BTreeMap;

use ordo_core::cleanup;
use ordo_core::{
    GroupName, KeyState, LogIndex, Offset, ProducerId, ProducerState, Queue, Record, State,
    TopicName, TopicState,
};
use tokio::sync::watch;

use crate::error::StoreError;
use crate::state_machine::StateMachineStore;
use crate::type_config::StoreTypeConfig;

/// A consumer group's position in one topic, the topic's end, and the lag
/// between them, all from one applied state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLag {
    /// The next offset the group will read.
    pub offset: Offset,
    /// The offset the next appended record will get.
    pub end_offset: Offset,
    /// Records appended that the group has not read: `end_offset - offset`.
    pub lag_records: u64,
}

/// Each position with its topic's end offset and the lag to it. Deleting a
/// topic drops its positions in the same apply, so a position's topic
/// exists; a missing one reads as empty.
fn lag_in(state: &State, positions: &BTreeMap<TopicName, Offset>) -> BTreeMap<TopicName, GroupLag> {
    positions
        .iter()
        .map(|(topic, &offset)| {
            let end_offset = state
                .topics
                .get(topic)
                .map_or(offset, |topic_state| topic_state.end_offset);
            let position = GroupLag {
                offset,
                end_offset,
                lag_records: end_offset.0.saturating_sub(offset.0),
            };
            (topic.clone(), position)
        })
        .collect()
}

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
    /// the end if there was none (a page stops early only after a record,
    /// so an empty one means nothing is stored from `from` to the end).
    pub fn next_offset(&self) -> Offset {
        self.records
            .last()
            .map_or(self.end_offset, |record| record.offset.next())
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
        // Held for the whole scan: a snapshot install cannot swap the records
        // underneath, and the end offset stays the one the page reports.
        let published = self.read_published();
        let Some(topic_state) = published.state.topics.get(topic) else {
            return Ok(None);
        };
        let records =
            self.shared
                .records
                .read_page(topic, from..topic_state.end_offset, limit, max_bytes)?;
        Ok(Some(TopicPage {
            records,
            start_offset: topic_state.start_offset,
            end_offset: topic_state.end_offset,
        }))
    }

    /// The first offset of `topic` whose record's timestamp is at or after
    /// `timestamp_ms`, or the end offset if there is none; `None` if the
    /// topic does not exist. In a compacted range the answer may be a
    /// removed offset: reading from it starts at the first record kept
    /// after it, which is the one meant.
    pub fn offset_for_timestamp(
        &self,
        topic: &TopicName,
        timestamp_ms: u64,
    ) -> Result<Option<Offset>, StoreError> {
        let published = self.read_published();
        let Some(topic_state) = published.state.topics.get(topic) else {
            return Ok(None);
        };
        let readable = topic_state.start_offset..topic_state.end_offset;
        let offset = self
            .shared
            .records
            .seek_time(topic, readable, timestamp_ms)?;
        Ok(Some(offset))
    }

    /// The topics a cleanup pass at `now_ms` would remove records from:
    /// what the background cleaner proposes `CleanTopic` for. Only a
    /// schedule: the pass itself decides at its own log index.
    pub fn topics_due_for_cleanup(&self, now_ms: u64) -> Result<Vec<TopicName>, StoreError> {
        // What the state alone tells is decided under the lock; the reads
        // of oldest records come after it, so applies are not held up by
        // them (a stale answer only shifts a pass by one tick).
        let (mut due, by_age) = {
            let published = self.read_published();
            let state = &published.state;
            let mut due = Vec::new();
            let mut by_age = Vec::new();
            for (topic, topic_state) in &state.topics {
                if cleanup::cleanup_due(topic_state, state.keys.get(topic), now_ms) {
                    due.push(topic.clone());
                } else if topic_state.config.retention_ms().is_some()
                    && topic_state.stored_records > 0
                {
                    by_age.push((topic.clone(), topic_state.clone()));
                }
            }
            (due, by_age)
        };
        for (topic, topic_state) in by_age {
            if self.oldest_expired(&topic, &topic_state, now_ms)? {
                due.push(topic);
            }
        }
        due.sort();
        Ok(due)
    }

    /// Whether `topic`'s oldest stored record is past its `retention_ms`.
    fn oldest_expired(
        &self,
        topic: &TopicName,
        topic_state: &TopicState,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let readable = topic_state.start_offset..topic_state.end_offset;
        let Some(oldest) = self.shared.records.first(topic, readable)? else {
            return Ok(false);
        };
        Ok(cleanup::expired_by_age(
            &topic_state.config,
            oldest.timestamp_ms,
            now_ms,
        ))
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

    /// `group`'s position, the topic's end and the lag in every topic it
    /// committed a position in (empty for a group that never did), from one
    /// applied state, so a lag is never computed against another moment's end.
    pub fn group_lag(&self, group: &GroupName) -> BTreeMap<TopicName, GroupLag> {
        let published = self.read_published();
        let state = &published.state;
        state
            .positions
            .get(group)
            .map(|positions| lag_in(state, positions))
            .unwrap_or_default()
    }

    /// [`Self::group_lag`] of every group, from one applied state.
    pub fn consumer_lag(&self) -> BTreeMap<GroupName, BTreeMap<TopicName, GroupLag>> {
        let published = self.read_published();
        let state = &published.state;
        state
            .positions
            .iter()
            .map(|(group, positions)| (group.clone(), lag_in(state, positions)))
            .collect()
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

/// A work queue as a node's applied state has it, with what its counts
/// need of its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueView {
    pub group: GroupName,
    pub topic: TopicName,
    pub queue: Queue,
    /// The topic's end offset (0 if the topic does not exist yet).
    pub end_offset: Offset,
    /// The timestamp of the oldest job neither done nor in flight.
    pub oldest_pending_ms: Option<u64>,
}

impl<C: StoreTypeConfig> StateMachineStore<C> {
    /// The queue `group` keeps over `topic`, if one was made.
    pub fn queue(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<Option<QueueView>, StoreError> {
        let published = self.read_published();
        let Some(queue) = published.state.queue_of(group, topic) else {
            return Ok(None);
        };
        self.queue_view(&published.state, group, topic, queue)
            .map(Some)
    }

    /// What a waiting claim watches of a queue: its jobs and its topic's
    /// end offset, read without touching a record.
    pub fn queue_jobs(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Option<(ordo_core::queue::QueueState, Offset)> {
        let published = self.read_published();
        let queue = published.state.queue_of(group, topic)?;
        let end_offset = published
            .state
            .topics
            .get(topic)
            .map_or(Offset(0), |state| state.end_offset);
        Some((queue.jobs.clone(), end_offset))
    }

    /// Every queue, by topic then group, from one applied state.
    pub fn queues(&self) -> Result<Vec<QueueView>, StoreError> {
        let published = self.read_published();
        let state = &published.state;
        state
            .all_queues()
            .map(|(topic, group, queue)| self.queue_view(state, group, topic, queue))
            .collect()
    }

    /// The records of `topic` at `offsets` (those still stored), in order:
    /// the jobs a claim handed out.
    pub fn jobs(&self, topic: &TopicName, offsets: &[Offset]) -> Result<Vec<Record>, StoreError> {
        let _published = self.read_published();
        let mut jobs = Vec::with_capacity(offsets.len());
        for offset in offsets {
            let page =
                self.shared
                    .records
                    .read_page(topic, *offset..offset.next(), 1, usize::MAX)?;
            jobs.extend(page);
        }
        Ok(jobs)
    }

    fn queue_view(
        &self,
        state: &State,
        group: &GroupName,
        topic: &TopicName,
        queue: &Queue,
    ) -> Result<QueueView, StoreError> {
        let (start_offset, end_offset) = state
            .topics
            .get(topic)
            .map_or((Offset(0), Offset(0)), |t| (t.start_offset, t.end_offset));
        let oldest_pending_ms = match queue.jobs.first_pending(end_offset) {
            Some(first) => self
                .shared
                .records
                .first(topic, first.max(start_offset)..end_offset)?
                .map(|record| record.timestamp_ms),
            None => None,
        };
        Ok(QueueView {
            group: group.clone(),
            topic: topic.clone(),
            queue: queue.clone(),
            end_offset,
            oldest_pending_ms,
        })
    }
}
