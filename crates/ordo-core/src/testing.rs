//! Builders for the rule tests: commands as a producer or consumer would
//! send them, and a log that applies them at consecutive indexes.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ops::Range;

use crate::cleanup::{RecordStore, StoredRecord, Visit};
use crate::{
    apply, apply_with, Command, CommandResult, Condition, GroupName, LogIndex, NewRecord, Offset,
    Producer, ProducerId, Record, State, TopicName, TopicState,
};

pub(crate) fn topic(name: &str) -> TopicName {
    TopicName::new(name).expect("valid test topic")
}

pub(crate) fn group(name: &str) -> GroupName {
    GroupName::new(name).expect("valid test group")
}

pub(crate) fn record(key: Option<&str>, value: Value) -> NewRecord {
    NewRecord {
        key: key.map(str::to_owned),
        value: value.into(),
        headers: Default::default(),
    }
}

/// An append of `records` to `topic_name`, neither idempotent nor conditional.
pub(crate) fn append(topic_name: &str, records: Vec<NewRecord>) -> Command {
    Command::Append {
        topic: topic(topic_name),
        records: records.into(),
        timestamp_ms: 1,
        producer: None,
        condition: None,
    }
}

/// An append of `n` keyless records.
pub(crate) fn append_n(topic_name: &str, n: usize) -> Command {
    append(topic_name, (0..n).map(|i| record(None, json!(i))).collect())
}

/// One record with `key` and `value`.
pub(crate) fn keyed(topic_name: &str, key: &str, value: Value) -> Command {
    append(topic_name, vec![record(Some(key), value)])
}

/// `command` (an append) sent as `producer`'s append number `seq`.
pub(crate) fn from_producer(mut command: Command, producer: &str, seq: u64) -> Command {
    if let Command::Append { producer: p, .. } = &mut command {
        *p = Some(Producer::new(
            ProducerId::new(producer).expect("valid test producer"),
            seq,
        ));
    }
    command
}

/// `command` (an append) sent as `producer`'s append whose first record is
/// its record number `seq` (Kafka's numbering).
pub(crate) fn from_kafka_producer(mut command: Command, producer: &str, seq: u64) -> Command {
    if let Command::Append { producer: p, .. } = &mut command {
        *p = Some(Producer::records(
            ProducerId::new(producer).expect("valid test producer"),
            seq,
        ));
    }
    command
}

/// `command` (an append) made conditional on `condition`.
pub(crate) fn only_if(mut command: Command, condition: Condition) -> Command {
    if let Command::Append { condition: c, .. } = &mut command {
        *c = Some(condition);
    }
    command
}

pub(crate) fn commit(
    group_name: &str,
    topic_name: &str,
    offset: u64,
    expected: Option<Option<Offset>>,
) -> Command {
    Command::CommitOffset {
        group: group(group_name),
        topic: topic(topic_name),
        offset: Offset(offset),
        expected,
    }
}

/// A replica's state and the index of the next command it applies.
#[derive(Default)]
pub(crate) struct Log {
    pub(crate) state: State,
    next_index: u64,
}

impl Log {
    /// Applies `command` at the next log index; its result.
    pub(crate) fn apply(&mut self, command: Command) -> CommandResult {
        self.next_index += 1;
        apply(&mut self.state, LogIndex(self.next_index), &command).result
    }
}

/// An `Appended` result, as a fresh append reports it.
pub(crate) fn appended(first_offset: u64, count: u64, log_index: u64) -> CommandResult {
    CommandResult::Appended {
        first_offset: Offset(first_offset),
        count,
        log_index: LogIndex(log_index),
        duplicate: false,
    }
}

pub(crate) fn rejected(log_index: u64, rejection: crate::Rejection) -> CommandResult {
    CommandResult::Rejected {
        log_index: LogIndex(log_index),
        rejection,
    }
}

/// A store that holds what was appended, as cleanup and queues see it.
#[derive(Default, PartialEq, Debug)]
pub(crate) struct MemRecords {
    pub(crate) records: BTreeMap<(TopicName, Offset), Record>,
    pub(crate) forgotten: Vec<(TopicName, String)>,
    /// Records shown to cleanup, over all sweeps.
    pub(crate) visited: usize,
}

impl RecordStore for MemRecords {
    type Error = Infallible;

    fn sweep(
        &mut self,
        topic: &TopicName,
        range: Range<Offset>,
        visit: &mut dyn FnMut(&StoredRecord) -> Visit,
    ) -> Result<(), Infallible> {
        let bounds = (topic.clone(), range.start)..(topic.clone(), range.end);
        let mut removed = Vec::new();
        for (at, record) in self.records.range(bounds) {
            self.visited += 1;
            let stored = StoredRecord {
                offset: record.offset,
                timestamp_ms: record.timestamp_ms,
                size: record.size(),
            };
            match visit(&stored) {
                Visit::Keep => {}
                Visit::Remove => removed.push(at.clone()),
                Visit::Stop => break,
            }
        }
        for at in removed {
            self.records.remove(&at);
        }
        Ok(())
    }

    fn truncate(&mut self, topic: &TopicName, offset: Offset) -> Result<(), Infallible> {
        self.records
            .retain(|(t, at), _| t != topic || *at >= offset);
        Ok(())
    }

    fn key_forgotten(&mut self, topic: &TopicName, key: &str) {
        self.forgotten.push((topic.clone(), key.to_owned()));
    }

    fn read(
        &mut self,
        topic: &TopicName,
        range: Range<Offset>,
        limit: usize,
    ) -> Result<Vec<Record>, Infallible> {
        let bounds = (topic.clone(), range.start)..(topic.clone(), range.end);
        Ok(self
            .records
            .range(bounds)
            .take(limit)
            .map(|(_, record)| record.clone())
            .collect())
    }
}

/// A replica: the state, its store, and the next log index.
#[derive(Default)]
pub(crate) struct Replica {
    pub(crate) state: State,
    pub(crate) store: MemRecords,
    index: u64,
}

impl Replica {
    /// Applies `command` at the next index and, like the real store,
    /// keeps the records it placed.
    pub(crate) fn run(&mut self, command: Command) -> CommandResult {
        self.index += 1;
        let index = LogIndex(self.index);
        let Ok(outcome) = apply_with(&mut self.state, index, &command, &mut self.store);
        if let Some(placed) = outcome.placed {
            for record in placed.records {
                self.store
                    .records
                    .insert((placed.topic.clone(), record.offset), record);
            }
        }
        outcome.result
    }

    /// The offsets of the records the store holds for `topic_name`.
    pub(crate) fn offsets(&self, topic_name: &str) -> Vec<u64> {
        let topic = topic(topic_name);
        self.store
            .records
            .keys()
            .filter(|(t, _)| *t == topic)
            .map(|(_, offset)| offset.0)
            .collect()
    }

    pub(crate) fn topic(&self, topic_name: &str) -> &TopicState {
        &self.state.topics[&topic(topic_name)]
    }
}
