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
use crate::command::{Command, CommandResult, Rejection};
use crate::condition::{check_condition, Condition, KeyIndex, KeyState};
use crate::consumer::{check_commit, GroupName, Positions};
use crate::ids::{LogIndex, Offset};
use crate::limits::MAX_TOPICS;
use crate::producer::{check_sequence, Producer, ProducerId, ProducerState, Sequence};
use crate::record::{NewRecord, Record};
use crate::topic::TopicName;
use crate::topic_config::{Cleanup, TopicConfig};

/// What the state machine knows about one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicState {
    /// The first offset still readable (0 until retention removes records).
    pub start_offset: Offset,
    /// The offset the next appended record will get.
    pub end_offset: Offset,
    /// Cleanup and retention (the default for a topic made by an append).
    #[serde(default)]
    pub config: TopicConfig,
    /// The timestamp of the topic's latest record. A record is stamped with
    /// the larger of this and its leader's clock, so timestamps never go
    /// back within a topic, even when a new leader's clock is behind the
    /// old one's, and a search by time can bisect offsets.
    #[serde(default)]
    pub max_timestamp_ms: u64,
    /// How many records the topic holds (between its start and end offsets,
    /// less what compaction removed).
    #[serde(default)]
    pub stored_records: u64,
    /// Their total `record_size`: what `retention_bytes` bounds.
    #[serde(default)]
    pub stored_bytes: u64,
    /// Where the next compaction pass starts (see `cleanup`).
    #[serde(default)]
    pub compacted_to: Offset,
}

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
            )?;
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

        // Offsets are assigned here and nowhere else.
        let topic_state = self.topics.entry(topic.clone()).or_default();
        let first_offset = topic_state.end_offset;
        let count = records.len() as u64;
        topic_state.end_offset = Offset(first_offset.0 + count);
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
        if let Some(producer) = producer {
            let last = ProducerState {
                last_seq: producer.seq,
                topic: topic.clone(),
                first_offset,
                count,
                log_index: index,
            };
            self.producers.insert(producer.id.clone(), last);
        }
        Ok(Outcome {
            result: CommandResult::Appended {
                first_offset,
                count,
                log_index: index,
                duplicate: false,
            },
            placed: Some(Placed {
                topic: topic.clone(),
                records: placed,
            }),
        })
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
mod tests {
    use super::*;
    use crate::testing::{
        append as append_records, append_n as append, commit, from_producer, keyed, only_if, record,
    };
    use serde_json::json;

    #[test]
    fn offsets_start_at_zero_and_are_contiguous_per_topic() {
        let mut state = State::default();
        let a = apply(&mut state, LogIndex(1), &append("a", 3)).result;
        let b = apply(&mut state, LogIndex(2), &append("a", 2)).result;
        assert_eq!(a.offsets(), vec![Offset(0), Offset(1), Offset(2)]);
        assert_eq!(b.offsets(), vec![Offset(3), Offset(4)]);
        assert_eq!(
            state.topics[&TopicName::new("a").unwrap()].end_offset,
            Offset(5)
        );
    }

    #[test]
    fn topics_have_independent_offsets() {
        let mut state = State::default();
        apply(&mut state, LogIndex(1), &append("a", 2));
        let b = apply(&mut state, LogIndex(2), &append("b", 1)).result;
        let a = apply(&mut state, LogIndex(3), &append("a", 1)).result;
        assert_eq!(b.offsets(), vec![Offset(0)]);
        assert_eq!(a.offsets(), vec![Offset(2)]);
    }

    #[test]
    fn noops_advance_the_applied_index_but_no_offsets() {
        let mut state = State::default();
        apply_noop(&mut state, LogIndex(1));
        let r = apply(&mut state, LogIndex(2), &append("a", 1)).result;
        assert_eq!(r.offsets(), vec![Offset(0)]);
        assert_eq!(state.last_applied, Some(LogIndex(2)));
    }

    #[test]
    fn the_same_commands_give_the_same_state_and_results_on_every_replica() {
        // Every kind of command, accepted and rejected, interleaved.
        let cmds: Vec<_> = (0..60u64)
            .map(|i| match i % 6 {
                0 => append(["a", "b", "c"][(i / 6 % 3) as usize], (i % 4) as usize),
                1 => from_producer(append("a", 1), ["p", "q"][(i / 6 % 2) as usize], i / 24),
                2 => only_if(
                    keyed("k", &format!("key{}", i % 5), json!(i)),
                    Condition::KeyAbsent,
                ),
                3 => keyed("k", &format!("key{}", i % 7), json!(null)),
                4 => commit("g", ["a", "b", "nope"][(i / 6 % 3) as usize], i % 5, None),
                _ => commit("g", "a", i % 4, Some(Some(Offset(i % 3)))),
            })
            .collect();
        let run = || {
            let mut s = State::default();
            let results: Vec<_> = cmds
                .iter()
                .enumerate()
                .map(|(i, c)| apply(&mut s, LogIndex(i as u64 + 1), c).result)
                .collect();
            (s, results)
        };
        let (state, results) = run();
        assert_eq!((state.clone(), results.clone()), run());
        let rejected = results.iter().filter(|r| r.rejection().is_some()).count();
        assert!(
            rejected > 0 && rejected < results.len(),
            "both kinds exercised"
        );
        assert!(!state.producers.is_empty() && !state.positions.is_empty());
    }

    fn stamped(topic_name: &str, timestamp_ms: u64) -> Command {
        let mut command = append(topic_name, 1);
        if let Command::Append {
            timestamp_ms: t, ..
        } = &mut command
        {
            *t = timestamp_ms;
        }
        command
    }

    #[test]
    fn timestamps_never_go_back_within_a_topic_even_if_a_leaders_clock_does() {
        let mut state = State::default();
        let t = TopicName::new("t").unwrap();
        apply(&mut state, LogIndex(1), &stamped("t", 1_000));
        assert_eq!(state.topics[&t].max_timestamp_ms, 1_000);
        // A new leader whose clock is behind: the record gets 1_000 again.
        apply(&mut state, LogIndex(2), &stamped("t", 900));
        assert_eq!(state.topics[&t].max_timestamp_ms, 1_000);
        apply(&mut state, LogIndex(3), &stamped("t", 1_200));
        assert_eq!(state.topics[&t].max_timestamp_ms, 1_200);
        // Another topic keeps its own clock.
        apply(&mut state, LogIndex(4), &stamped("u", 5));
        assert_eq!(
            state.topics[&TopicName::new("u").unwrap()].max_timestamp_ms,
            5
        );
    }

    #[test]
    fn an_append_places_its_records_at_their_offsets_stamped_with_the_topics_clock() {
        let mut state = State::default();
        let t = TopicName::new("t").unwrap();
        apply(&mut state, LogIndex(1), &stamped("t", 1_000));
        // A leader whose clock is behind: its records get the topic's 1_000.
        let mut command = append_records(
            "t",
            vec![record(Some("k"), json!("v")), record(None, json!(null))],
        );
        if let Command::Append { timestamp_ms, .. } = &mut command {
            *timestamp_ms = 900;
        }
        let outcome = apply(&mut state, LogIndex(2), &command);
        let placed = outcome.placed.expect("a fresh append places records");
        assert_eq!(placed.topic, t);
        let Command::Append { records, .. } = command else {
            unreachable!("built as an append")
        };
        let expected: Vec<Record> = records
            .iter()
            .zip([Offset(1), Offset(2)])
            .map(|(record, offset)| record.clone().at(offset, 1_000))
            .collect();
        assert_eq!(placed.records, expected);
        assert_eq!(
            outcome.result.offsets(),
            vec![Offset(1), Offset(2)],
            "the result names the offsets the records were placed at"
        );
    }

    #[test]
    fn only_a_fresh_append_places_records() {
        let mut state = State::default();
        let first = from_producer(append("t", 1), "p", 0);
        assert!(apply(&mut state, LogIndex(1), &first).placed.is_some());
        // A producer's retry, a rejected append, and commands without records.
        let nothing_placed = [
            first,
            only_if(append("t", 1), Condition::KeyAbsent),
            commit("g", "t", 1, None),
            put("t", TopicConfig::default()),
            delete("t"),
        ];
        for (command, index) in nothing_placed.iter().zip(2..) {
            let outcome = apply(&mut state, LogIndex(index), command);
            assert_eq!(outcome.placed, None, "{command:?} gave {}", outcome.result);
        }
    }

    fn put(topic_name: &str, config: TopicConfig) -> Command {
        Command::PutTopic {
            topic: TopicName::new(topic_name).unwrap(),
            config,
        }
    }

    fn delete(topic_name: &str) -> Command {
        Command::DeleteTopic {
            topic: TopicName::new(topic_name).unwrap(),
        }
    }

    #[test]
    fn put_topic_creates_an_empty_topic_or_changes_only_the_config() {
        let mut state = State::default();
        let t = TopicName::new("t").unwrap();
        let compact = TopicConfig::new(crate::Cleanup::Compact, None, None).unwrap();
        let r = apply(&mut state, LogIndex(1), &put("t", compact)).result;
        assert_eq!(
            r,
            CommandResult::TopicPut {
                log_index: LogIndex(1)
            }
        );
        assert_eq!(state.topics[&t].config, compact);
        assert_eq!(state.topics[&t].end_offset, Offset(0));

        apply(
            &mut state,
            LogIndex(2),
            &keyed("t", "k", serde_json::json!(1)),
        );
        apply(
            &mut state,
            LogIndex(3),
            &keyed("t", "k", serde_json::json!(2)),
        );
        apply(
            &mut state,
            LogIndex(4),
            &keyed("t", "j", serde_json::json!(1)),
        );
        apply(&mut state, LogIndex(5), &put("t", TopicConfig::default()));
        assert_eq!(state.topics[&t].config, TopicConfig::default());
        assert_eq!(state.topics[&t].end_offset, Offset(3), "records stay");
    }

    #[test]
    fn a_topic_made_by_its_first_append_has_the_default_config() {
        let mut state = State::default();
        apply(&mut state, LogIndex(1), &append("t", 1));
        let t = TopicName::new("t").unwrap();
        assert_eq!(state.topics[&t].config, TopicConfig::default());
    }

    #[test]
    fn delete_topic_forgets_offsets_keys_and_positions_and_the_name_starts_again_at_zero() {
        let mut state = State::default();
        apply(&mut state, LogIndex(1), &keyed("t", "k", json!(1)));
        apply(&mut state, LogIndex(2), &append("t", 2));
        apply(&mut state, LogIndex(3), &append("other", 1));
        apply(&mut state, LogIndex(4), &commit("g", "t", 2, None));
        apply(&mut state, LogIndex(5), &commit("g", "other", 1, None));
        let r = apply(&mut state, LogIndex(6), &delete("t")).result;
        assert_eq!(
            r,
            CommandResult::TopicDeleted {
                log_index: LogIndex(6),
                start_offset: Offset(0),
                end_offset: Offset(3),
            }
        );
        let t = TopicName::new("t").unwrap();
        assert!(!state.topics.contains_key(&t) && !state.keys.contains_key(&t));
        let g = GroupName::new("g").unwrap();
        assert_eq!(state.position(&g, &t), None);
        assert_eq!(
            state.position(&g, &TopicName::new("other").unwrap()),
            Some(Offset(1))
        );

        let again = apply(&mut state, LogIndex(7), &append("t", 1)).result;
        assert_eq!(again.offsets(), vec![Offset(0)]);
    }

    #[test]
    fn deleting_an_unknown_topic_is_rejected_and_changes_nothing() {
        let mut state = State::default();
        apply(&mut state, LogIndex(1), &append("a", 1));
        let before = state.clone();
        let r = apply(&mut state, LogIndex(2), &delete("nope")).result;
        assert!(matches!(
            r.rejection(),
            Some(Rejection::TopicNotFound { .. })
        ));
        assert_eq!(state.topics, before.topics);
    }

    #[test]
    fn no_command_creates_a_topic_past_the_limit_and_existing_topics_carry_on() {
        let mut state = State::default();
        for i in 0..MAX_TOPICS {
            let topic = TopicName::new(format!("t{i}")).unwrap();
            state.topics.insert(topic, TopicState::default());
        }
        state.last_applied = Some(LogIndex(1));
        let before = state.clone();
        for (i, command) in [
            append("one-too-many", 1),
            put("one-too-many", TopicConfig::default()),
        ]
        .iter()
        .enumerate()
        {
            let r = apply(&mut state, LogIndex(2 + i as u64), command).result;
            assert!(
                matches!(r.rejection(), Some(Rejection::TooManyTopics { limit, .. }) if *limit == MAX_TOPICS as u64),
                "{r}"
            );
        }
        assert_eq!(state.topics, before.topics, "nothing was created");
        // Existing topics still take appends and configs; a delete makes room.
        assert_eq!(
            apply(&mut state, LogIndex(4), &append("t0", 1))
                .result
                .offsets(),
            vec![Offset(0)]
        );
        assert!(
            apply(&mut state, LogIndex(5), &put("t1", TopicConfig::default()))
                .result
                .rejection()
                .is_none()
        );
        apply(&mut state, LogIndex(6), &delete("t2"));
        let r = apply(&mut state, LogIndex(7), &append("one-too-many", 1)).result;
        assert_eq!(r.offsets(), vec![Offset(0)]);
        assert_eq!(state.topics.len(), MAX_TOPICS);
    }

    #[test]
    fn a_result_reports_the_index_it_was_applied_at() {
        let mut state = State::default();
        let r = apply(&mut state, LogIndex(7), &append("a", 1)).result;
        assert_eq!(r.log_index(), LogIndex(7));
    }
}
