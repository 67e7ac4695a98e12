//! The pure state machine: `apply(&mut State, LogIndex, Command)`.
//!
//! Offsets are assigned here and nowhere else, in the order commands are
//! applied, which is log order; so offset order is log order on every replica.
//! Every decision is made here too: producer dedupe, conditions, position
//! commits. `State` holds only what deciding needs (each topic's next
//! offset, key index, the producer table, consumer positions); the store
//! persists the records themselves exactly as [`Outcome::placed`] hands them
//! over (offsets and timestamps decided here), in the same atomic batch as
//! the changed parts of `State`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::cleanup::{self, NoRecords, RecordStore};
use crate::command::{Command, CommandResult};
use crate::condition::{check_condition, Condition, KeyIndex, KeyState};
use crate::consumer::{check_commit, GroupName, Positions};
use crate::ids::{LogIndex, Offset};
use crate::limits::MAX_TOPICS;
use crate::producer::{
    check_sequence, record_append, Producer, ProducerAppend, ProducerId, ProducerState, Sequence,
};
use crate::record::{NewRecord, Record};
use crate::rejection::Rejection;
use crate::topic::TopicName;
use crate::topic_config::{Cleanup, TopicConfig};
use crate::topic_state::TopicState;

mod queues;

pub use queues::{Queue, Queues};

/// The replicated state, identical on every replica at the same log index.
/// Maps hold no empty entries, so two replicas that decided alike are equal
/// however they got here (applies, a restart, a snapshot install).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub topics: BTreeMap<TopicName, TopicState>,
    /// Each topic's key index, for key conditions; only topics that have
    /// keyed records have one.
    #[serde(default)]
    pub keys: BTreeMap<TopicName, KeyIndex>,
    /// The producer table: each idempotent producer's last applied append.
    #[serde(default)]
    pub producers: BTreeMap<ProducerId, ProducerState>,
    /// Consumer positions, by group then topic.
    #[serde(default)]
    pub positions: Positions,
    /// Work queues, by topic then group.
    #[serde(default)]
    pub queues: Queues,
    pub last_applied: Option<LogIndex>,
}

/// What applying one command decided: the answer for the client, and the
/// records it placed for the store to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub result: CommandResult,
    /// Only a fresh append places records; a duplicate, a rejection and
    /// every other command place none.
    pub placed: Option<Placed>,
}

/// The records one append placed, as the log holds them: each with the
/// offset assigned here and the topic's clamped timestamp (see
/// [`TopicState::max_timestamp_ms`]), in offset order.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub topic: TopicName,
    pub records: Vec<Record>,
}

impl From<CommandResult> for Outcome {
    /// The outcome of a command that placed no records.
    fn from(result: CommandResult) -> Self {
        Outcome {
            result,
            placed: None,
        }
    }
}

/// Applies one committed command, to a state whose store holds no records
/// (see [`apply_with`]): what the rule tests and models use.
pub fn apply(state: &mut State, index: LogIndex, command: &Command) -> Outcome {
    match apply_with(state, index, command, &mut NoRecords) {
        Ok(outcome) => outcome,
        Err(never) => match never {},
    }
}

/// Applies one committed command. Must be called exactly once per log index,
/// in increasing index order. Total: every command gets a result, and a
/// rejected one changes nothing but the applied index (Raft has already
/// committed it, so it uses up its index on every replica alike).
///
/// `records` is the store's view of the records applied before this
/// command: only a `CleanTopic` looks at them, and removes some. The
/// records an append adds come back in the outcome instead, for the store
/// to write as they are. The only error is the store's, and then the
/// caller must not keep `state`.
pub fn apply_with<S: RecordStore>(
    state: &mut State,
    index: LogIndex,
    command: &Command,
    records: &mut S,
) -> Result<Outcome, S::Error> {
    debug_assert!(
        state.last_applied.is_none_or(|last| last < index),
        "log index {index} applied after {:?}",
        state.last_applied
    );
    state.last_applied = Some(index);
    let decided = match command {
        Command::Append {
            topic,
            records,
            timestamp_ms,
            producer,
            condition,
        } => state.append(
            index,
            topic,
            records,
            *timestamp_ms,
            producer.as_ref(),
            *condition,
        ),
        Command::CommitOffset {
            group,
            topic,
            offset,
            expected,
        } => state
            .commit_offset(index, group, topic, *offset, *expected)
            .map(Outcome::from),
        Command::PutTopic { topic, config } => {
            state.put_topic(index, topic, *config).map(Outcome::from)
        }
        Command::DeleteTopic { topic } => state.delete_topic(index, topic).map(Outcome::from),
        Command::CleanTopic {
            topic,
            timestamp_ms,
        } => state
            .clean_topic(index, topic, *timestamp_ms, records)?
            .map(Outcome::from),
        Command::Queue(command) => state.queue(index, command, records)?,
        Command::NewProducerId => Ok(Outcome::from(CommandResult::Noop { log_index: index })),
    };
    Ok(decided.unwrap_or_else(|rejection| {
        Outcome::from(CommandResult::Rejected {
            log_index: index,
            rejection,
        })
    }))
}

/// Records that an entry without a command (blank or membership) was applied.
pub fn apply_noop(state: &mut State, index: LogIndex) -> CommandResult {
    debug_assert!(
        state.last_applied.is_none_or(|last| last < index),
        "log index {index} applied after {:?}",
        state.last_applied
    );
    state.last_applied = Some(index);
    CommandResult::Noop { log_index: index }
}

impl State {
    /// The position of `group` in `topic`, if it committed one.
    pub fn position(&self, group: &GroupName, topic: &TopicName) -> Option<Offset> {
        self.positions.get(group)?.get(topic).copied()
    }

    /// The rules in order: the producer's sequence first (a retry of an
    /// append that won is answered as it was, not judged again), then the
    /// condition, then the append itself.
    fn append(
        &mut self,
        index: LogIndex,
        topic: &TopicName,
        records: &[NewRecord],
        timestamp_ms: u64,
        producer: Option<&Producer>,
        condition: Option<Condition>,
    ) -> Result<Outcome, Rejection> {
        if let Some(producer) = producer {
            if let Sequence::Retry(original) = check_sequence(&self.producers, producer, topic)? {
                return Ok(Outcome::from(CommandResult::Appended {
                    first_offset: original.first_offset,
                    count: original.count,
                    log_index: original.log_index,
                    duplicate: true,
                }));
            }
        }
        if let Some(condition) = condition {
            check_condition(
                condition,
                self.topics.get(topic),
                self.keys.get(topic),
                records,
            )
            .map_err(|current| Rejection::ConditionFailed { condition, current })?;
        }

        self.check_room_for(topic)?;
        if let Some(topic_state) = self.topics.get(topic) {
            if topic_state.config.cleanup() == Cleanup::Compact
                && records.iter().any(|record| record.key.is_none())
            {
                return Err(Rejection::KeyRequired {
                    topic: topic.clone(),
                });
            }
        }

        let (first_offset, placed) = self.place(topic, records, timestamp_ms);
        let count = records.len() as u64;
        if let Some(producer) = producer {
            let sent = ProducerAppend {
                seq: producer.seq,
                topic: topic.clone(),
                first_offset,
                count,
                log_index: index,
            };
            record_append(&mut self.producers, producer, sent);
        }
        Ok(Outcome {
            result: CommandResult::Appended {
                first_offset,
                count,
                log_index: index,
                duplicate: false,
            },
            placed: Some(placed),
        })
    }

    /// Places `records` at the end of `topic` (made if it does not exist),
    /// stamped `timestamp_ms` (clamped, see [`TopicState::max_timestamp_ms`]):
    /// assigns their offsets, counts them and indexes their keys. The rules
    /// that may refuse an append are the caller's.
    fn place(
        &mut self,
        topic: &TopicName,
        records: &[NewRecord],
        timestamp_ms: u64,
    ) -> (Offset, Placed) {
        // Offsets are assigned here and nowhere else.
        let topic_state = self.topics.entry(topic.clone()).or_default();
        let first_offset = topic_state.end_offset;
        let count = records.len() as u64;
        topic_state.end_offset = Offset(first_offset.0 + count);
        assert!(
            topic_state.start_offset <= first_offset && first_offset <= topic_state.end_offset,
            "topic {topic}: an append moved its end offset from {first_offset} to {}, \
             or its start offset {} is past its end",
            topic_state.end_offset,
            topic_state.start_offset
        );
        topic_state.max_timestamp_ms = topic_state.max_timestamp_ms.max(timestamp_ms);
        let timestamp_ms = topic_state.max_timestamp_ms;
        topic_state.stored_records += count;
        topic_state.stored_bytes += records.iter().map(NewRecord::size).sum::<u64>();

        let mut placed = Vec::with_capacity(records.len());
        for (record, offset) in records.iter().zip(first_offset.0..) {
            let offset = Offset(offset);
            if let Some(key) = &record.key {
                let key_state = KeyState {
                    last_offset: offset,
                    live: !record.value.is_null(),
                    timestamp_ms,
                };
                self.keys
                    .entry(topic.clone())
                    .or_default()
                    .insert(key.clone(), key_state);
            }
            placed.push(record.clone().at(offset, timestamp_ms));
        }
        debug_assert!(
            placed
                .iter()
                .map(|record| record.offset)
                .eq((first_offset.0..first_offset.0 + count).map(Offset)),
            "topic {topic}: an append's offsets run contiguously from its old end offset {first_offset}"
        );
        let placed = Placed {
            topic: topic.clone(),
            records: placed,
        };
        (first_offset, placed)
    }

    fn commit_offset(
        &mut self,
        index: LogIndex,
        group: &GroupName,
        topic: &TopicName,
        offset: Offset,
        expected: Option<Option<Offset>>,
    ) -> Result<CommandResult, Rejection> {
        let current = self.position(group, topic);
        check_commit(self.topics.get(topic), current, topic, offset, expected)?;
        self.positions
            .entry(group.clone())
            .or_default()
            .insert(topic.clone(), offset);
        Ok(CommandResult::OffsetCommitted { log_index: index })
    }

    /// Creates `topic` with `config`, or sets the config of an existing one
    /// (its records and offsets stay as they are).
    fn put_topic(
        &mut self,
        index: LogIndex,
        topic: &TopicName,
        config: TopicConfig,
    ) -> Result<CommandResult, Rejection> {
        self.check_room_for(topic)?;
        self.topics.entry(topic.clone()).or_default().config = config;
        Ok(CommandResult::TopicPut { log_index: index })
    }

    /// Refuses to create `topic` once the cluster holds `MAX_TOPICS`; an
    /// existing topic is always fine. Decided here, at the command's log
    /// index, so two creations racing for the last slot are decided alike
    /// on every replica.
    fn check_room_for(&self, topic: &TopicName) -> Result<(), Rejection> {
        if self.topics.len() >= MAX_TOPICS && !self.topics.contains_key(topic) {
            return Err(Rejection::TooManyTopics {
                topic: topic.clone(),
                limit: MAX_TOPICS as u64,
            });
        }
        Ok(())
    }

    /// One compaction or retention pass over `topic` (see `cleanup`).
    fn clean_topic<S: RecordStore>(
        &mut self,
        index: LogIndex,
        topic: &TopicName,
        now_ms: u64,
        records: &mut S,
    ) -> Result<Result<CommandResult, Rejection>, S::Error> {
        let Some(topic_state) = self.topics.get_mut(topic) else {
            return Ok(Err(Rejection::TopicNotFound {
                topic: topic.clone(),
            }));
        };
        let keys = self.keys.get_mut(topic);
        let removed = match cleanup::clean(topic, topic_state, keys, now_ms, records)? {
            Ok(removed) => removed,
            Err(rejection) => return Ok(Err(rejection)),
        };
        if self.keys.get(topic).is_some_and(|index| index.is_empty()) {
            self.keys.remove(topic);
        }
        Ok(Ok(CommandResult::TopicCleaned {
            log_index: index,
            start_offset: topic_state.start_offset,
            removed_records: removed.records,
            removed_bytes: removed.bytes,
        }))
    }

    /// Forgets `topic`: its offsets, key index and every group's position in
    /// it. An append under the same name later makes a new topic that starts
    /// at offset 0 again. The producer table is left alone: a producer's
    /// retry is still answered as it was.
    fn delete_topic(
        &mut self,
        index: LogIndex,
        topic: &TopicName,
    ) -> Result<CommandResult, Rejection> {
        let removed = self
            .topics
            .remove(topic)
            .ok_or_else(|| Rejection::TopicNotFound {
                topic: topic.clone(),
            })?;
        self.keys.remove(topic);
        self.queues.remove(topic);
        self.positions.retain(|_, positions| {
            positions.remove(topic);
            !positions.is_empty()
        });
        Ok(CommandResult::TopicDeleted {
            log_index: index,
            start_offset: removed.start_offset,
            end_offset: removed.end_offset,
        })
    }
}

#[cfg(test)]
mod tests;
