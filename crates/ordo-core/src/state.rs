//! The pure state machine: `apply(&mut State, LogIndex, Command)`.
//!
//! Offsets are assigned here and nowhere else, in the order commands are
//! applied, which is log order; so offset order is log order on every replica.
//! `State` holds only the metadata needed to decide (each topic's next
//! offset); the store persists the records themselves, at the offsets the
//! result names, in the same atomic batch as the new `State`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::command::{Command, CommandResult};
use crate::ids::{LogIndex, Offset};
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub topics: BTreeMap<TopicName, TopicState>,
    pub last_applied: Option<LogIndex>,
}

/// Applies one committed command. Must be called exactly once per log index,
/// in increasing index order.
pub fn apply(state: &mut State, index: LogIndex, command: &Command) -> CommandResult {
    debug_assert!(
        state.last_applied.is_none_or(|last| last < index),
        "log index {index} applied after {:?}",
        state.last_applied
    );
    state.last_applied = Some(index);
    match command {
        Command::Append { topic, records, .. } => {
            let topic_state = state.topics.entry(topic.clone()).or_default();
            let first_offset = topic_state.end_offset;
            let count = records.len() as u64;
            topic_state.end_offset = Offset(first_offset.0 + count);
            CommandResult::Appended {
                first_offset,
                count,
                log_index: index,
            }
        }
    }
}

/// Records that an entry without a command (blank or membership) was applied.
pub fn apply_noop(state: &mut State, index: LogIndex) -> CommandResult {
    state.last_applied = Some(index);
    CommandResult::Noop { log_index: index }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::NewRecord;

    fn append(topic: &str, n: usize) -> Command {
        Command::Append {
            topic: TopicName::new(topic).unwrap(),
            records: (0..n)
                .map(|i| NewRecord {
                    key: None,
                    value: serde_json::json!(i),
                    headers: Default::default(),
                })
                .collect(),
            timestamp_ms: 1,
        }
    }

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
    fn the_same_commands_give_the_same_state_on_every_replica() {
        let cmds: Vec<_> = (0..50)
            .map(|i| append(["a", "b", "c"][i % 3], i % 4))
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
        assert_eq!(run(), run());
    }

    #[test]
    fn a_result_reports_the_index_it_was_applied_at() {
        let mut state = State::default();
        let r = apply(&mut state, LogIndex(7), &append("a", 1));
        assert_eq!(r.log_index(), LogIndex(7));
    }
}
