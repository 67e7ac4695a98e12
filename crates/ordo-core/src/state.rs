//! The pure state machine: `apply(&mut State, LogIndex, Command)`.
//!
//! Offsets are assigned here and nowhere else, in the order commands are
//! applied, which is log order; so offset order is log order on every replica.
//! Every decision is made here too: producer dedupe, conditions, position
//! commits. `State` holds only what deciding needs (each topic's next
//! offset, key index, the producer table, consumer positions); the store
//! persists the records themselves, at the offsets the result names, in the
//! same atomic batch as the changed parts of `State`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::command::{Command, CommandResult, Rejection};
use crate::condition::{check_condition, Condition, KeyIndex, KeyState};
use crate::consumer::{check_commit, GroupName, Positions};
use crate::ids::{LogIndex, Offset};
use crate::producer::{check_sequence, Producer, ProducerId, ProducerState, Sequence};
use crate::record::NewRecord;
use crate::topic::TopicName;

/// What the state machine knows about one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicState {
    /// The first offset still readable (0 until retention removes records).
    pub start_offset: Offset,
    /// The offset the next appended record will get.
    pub end_offset: Offset,
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

/// Applies one committed command. Must be called exactly once per log index,
/// in increasing index order. Total: every command gets a result, and a
/// rejected one changes nothing but the applied index (Raft has already
/// committed it, so it uses up its index on every replica alike).
pub fn apply(state: &mut State, index: LogIndex, command: &Command) -> CommandResult {
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
            producer,
            condition,
            ..
        } => state.append(index, topic, records, producer.as_ref(), *condition),
        Command::CommitOffset {
            group,
            topic,
            offset,
            expected,
        } => state.commit_offset(index, group, topic, *offset, *expected),
    };
    decided.unwrap_or_else(|rejection| CommandResult::Rejected {
        log_index: index,
        rejection,
    })
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
        producer: Option<&Producer>,
        condition: Option<Condition>,
    ) -> Result<CommandResult, Rejection> {
        if let Some(producer) = producer {
            if let Sequence::Retry(original) = check_sequence(&self.producers, producer, topic)? {
                return Ok(CommandResult::Appended {
                    first_offset: original.first_offset,
                    count: original.count,
                    log_index: original.log_index,
                    duplicate: true,
                });
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

        // Offsets are assigned here and nowhere else.
        let topic_state = self.topics.entry(topic.clone()).or_default();
        let first_offset = topic_state.end_offset;
        let count = records.len() as u64;
        topic_state.end_offset = Offset(first_offset.0 + count);

        for (record, offset) in records.iter().zip(first_offset.0..) {
            if let Some(key) = &record.key {
                let key_state = KeyState {
                    last_offset: Offset(offset),
                    live: !record.value.is_null(),
                };
                self.keys
                    .entry(topic.clone())
                    .or_default()
                    .insert(key.clone(), key_state);
            }
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
        Ok(CommandResult::Appended {
            first_offset,
            count,
            log_index: index,
            duplicate: false,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{append_n as append, commit, from_producer, keyed, only_if};
    use serde_json::json;

    #[test]
    fn offsets_start_at_zero_and_are_contiguous_per_topic() {
        let mut state = State::default();
        let a = apply(&mut state, LogIndex(1), &append("a", 3));
        let b = apply(&mut state, LogIndex(2), &append("a", 2));
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
        let b = apply(&mut state, LogIndex(2), &append("b", 1));
        let a = apply(&mut state, LogIndex(3), &append("a", 1));
        assert_eq!(b.offsets(), vec![Offset(0)]);
        assert_eq!(a.offsets(), vec![Offset(2)]);
    }

    #[test]
    fn noops_advance_the_applied_index_but_no_offsets() {
        let mut state = State::default();
        apply_noop(&mut state, LogIndex(1));
        let r = apply(&mut state, LogIndex(2), &append("a", 1));
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
                .map(|(i, c)| apply(&mut s, LogIndex(i as u64 + 1), c))
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

    #[test]
    fn a_result_reports_the_index_it_was_applied_at() {
        let mut state = State::default();
        let r = apply(&mut state, LogIndex(7), &append("a", 1));
        assert_eq!(r.log_index(), LogIndex(7));
    }
}
