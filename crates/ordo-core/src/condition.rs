//! Conditional appends (DESIGN §4.6): an append that lands only if the topic
//! or one key is as the producer last saw it. Evaluated by `apply` against
//! the state at the append's own log index, so of two concurrent claims the
//! one ordered first decides, on every replica alike.
//!
//! Pure: the per-topic key index ([`KeyIndex`]) and [`check_condition`],
//! which answers what a failed condition found ([`Current`]); `apply` turns
//! that into the rejection.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

use crate::ids::Offset;
use crate::record::NewRecord;
use crate::topic_state::TopicState;

/// A precondition on an append. On the wire (and in the Raft log):
/// `{"expected_offset": 12}`, `{"key_absent": true}` or `{"key_last_offset": 10}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConditionRepr", into = "ConditionRepr")]
pub enum Condition {
    /// The topic's next offset (its end offset) must be this one: nothing
    /// was appended since the producer looked.
    ExpectedOffset(Offset),
    /// The append's key has no live record (none, or its latest is a
    /// tombstone). Every record of the append must carry that one key.
    KeyAbsent,
    /// The append's key's latest record (tombstone or not) is at this
    /// offset. Every record of the append must carry that one key.
    KeyLastOffset(Offset),
}

impl Condition {
    /// True for the conditions about the append's key.
    pub fn is_about_key(self) -> bool {
        matches!(self, Condition::KeyAbsent | Condition::KeyLastOffset(_))
    }
}

/// What a failed condition found instead, for the rejection (and the 409
/// body) to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Current {
    /// The topic's next offset (0 for a topic that does not exist yet).
    NextOffset(Offset),
    /// The offset of the key's latest record, tombstone or not; `None` if
    /// the key has no record.
    KeyLastOffset(Option<Offset>),
    /// The append's records do not all carry one key, so no key condition
    /// can hold (`validate_append` refuses such an append at the edge).
    NoSingleKey,
}

/// What the key index knows about one key of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    /// The offset of the key's latest record.
    pub last_offset: Offset,
    /// False if that record is a tombstone (a `null` value).
    pub live: bool,
    /// That record's timestamp: when a tombstone's grace began.
    #[serde(default)]
    pub timestamp_ms: u64,
}

/// One topic's key index: every key that ever had a record, and its latest.
pub type KeyIndex = BTreeMap<String, KeyState>;

/// The one key every record of `records` carries, if there is one (and at
/// least one record).
pub fn single_key(records: &[NewRecord]) -> Option<&str> {
    let key = records.first()?.key.as_deref()?;
    records
        .iter()
        .all(|record| record.key.as_deref() == Some(key))
        .then_some(key)
}

/// Checks `condition` for an append of `records` to a topic in the state
/// `topic` (`None`: it does not exist yet) with key index `keys`. A failed
/// condition answers what it found instead, for `apply`'s rejection.
pub(crate) fn check_condition(
    condition: Condition,
    topic: Option<&TopicState>,
    keys: Option<&KeyIndex>,
    records: &[NewRecord],
) -> Result<(), Current> {
    let key_state = |key: &str| keys.and_then(|index| index.get(key)).copied();
    match condition {
        Condition::ExpectedOffset(expected) => {
            let next = topic.map_or(Offset(0), |topic| topic.end_offset);
            if next == expected {
                Ok(())
            } else {
                Err(Current::NextOffset(next))
            }
        }
        Condition::KeyAbsent => {
            let Some(key) = single_key(records) else {
                return Err(Current::NoSingleKey);
            };
            match key_state(key) {
                Some(state) if state.live => Err(Current::KeyLastOffset(Some(state.last_offset))),
                _ => Ok(()),
            }
        }
        Condition::KeyLastOffset(expected) => {
            let Some(key) = single_key(records) else {
                return Err(Current::NoSingleKey);
            };
            let last = key_state(key).map(|state| state.last_offset);
            if last == Some(expected) {
                Ok(())
            } else {
                Err(Current::KeyLastOffset(last))
            }
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::ExpectedOffset(offset) => write!(f, "expected_offset {offset}"),
            Condition::KeyAbsent => f.write_str("key_absent"),
            Condition::KeyLastOffset(offset) => write!(f, "key_last_offset {offset}"),
        }
    }
}

impl fmt::Display for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Current::NextOffset(offset) => write!(f, "the next offset is {offset}"),
            Current::KeyLastOffset(Some(offset)) => {
                write!(f, "the key's latest record is at offset {offset}")
            }
            Current::KeyLastOffset(None) => f.write_str("the key has no record"),
            Current::NoSingleKey => f.write_str("the records do not all carry one key"),
        }
    }
}

/// The wire form: one field named after the condition.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ConditionRepr {
    ExpectedOffset(Offset),
    KeyAbsent(bool),
    KeyLastOffset(Offset),
}

#[derive(Debug, thiserror::Error)]
#[error("key_absent can only be true")]
struct KeyAbsentMustBeTrue;

impl TryFrom<ConditionRepr> for Condition {
    type Error = KeyAbsentMustBeTrue;
    fn try_from(repr: ConditionRepr) -> Result<Self, Self::Error> {
        match repr {
            ConditionRepr::ExpectedOffset(offset) => Ok(Condition::ExpectedOffset(offset)),
            ConditionRepr::KeyAbsent(true) => Ok(Condition::KeyAbsent),
            ConditionRepr::KeyAbsent(false) => Err(KeyAbsentMustBeTrue),
            ConditionRepr::KeyLastOffset(offset) => Ok(Condition::KeyLastOffset(offset)),
        }
    }
}

impl From<Condition> for ConditionRepr {
    fn from(condition: Condition) -> Self {
        match condition {
            Condition::ExpectedOffset(offset) => ConditionRepr::ExpectedOffset(offset),
            Condition::KeyAbsent => ConditionRepr::KeyAbsent(true),
            Condition::KeyLastOffset(offset) => ConditionRepr::KeyLastOffset(offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        append, append_n, appended, from_producer, keyed, only_if, record, rejected, topic, Log,
    };
    use crate::{CommandResult, LogIndex, Rejection};
    use serde_json::json;

    fn failed(log_index: u64, condition: Condition, current: Current) -> CommandResult {
        rejected(log_index, Rejection::ConditionFailed { condition, current })
    }

    #[test]
    fn expected_offset_holds_only_at_the_topics_end() {
        let mut log = Log::default();
        let at = |offset| Condition::ExpectedOffset(Offset(offset));
        // A topic that does not exist yet ends at 0.
        assert_eq!(
            log.apply(only_if(append_n("t", 1), at(1))),
            failed(1, at(1), Current::NextOffset(Offset(0)))
        );
        assert!(
            log.state.topics.is_empty(),
            "a failed append creates nothing"
        );
        assert_eq!(
            log.apply(only_if(append_n("t", 2), at(0))),
            appended(0, 2, 2)
        );
        assert_eq!(
            log.apply(only_if(append_n("t", 1), at(0))),
            failed(3, at(0), Current::NextOffset(Offset(2)))
        );
        assert_eq!(
            log.apply(only_if(append_n("t", 1), at(2))),
            appended(2, 1, 4)
        );
    }

    #[test]
    fn key_absent_holds_for_a_new_key_and_after_a_tombstone_but_not_for_a_live_key() {
        let mut log = Log::default();
        let claim = |value| only_if(keyed("users", "jane", value), Condition::KeyAbsent);
        assert_eq!(log.apply(claim(json!("a"))), appended(0, 1, 1));
        assert_eq!(
            log.apply(claim(json!("b"))),
            failed(
                2,
                Condition::KeyAbsent,
                Current::KeyLastOffset(Some(Offset(0)))
            )
        );
        // A `null` value with the key is a tombstone: the key is free again.
        assert_eq!(
            log.apply(keyed("users", "jane", json!(null))),
            appended(1, 1, 3)
        );
        assert_eq!(log.apply(claim(json!("c"))), appended(2, 1, 4));
        // Keys are per topic.
        assert_eq!(
            log.apply(only_if(
                keyed("other", "jane", json!(1)),
                Condition::KeyAbsent
            )),
            appended(0, 1, 5)
        );
    }

    #[test]
    fn key_last_offset_holds_only_at_the_keys_latest_record_tombstone_or_not() {
        let mut log = Log::default();
        let update = |offset| {
            only_if(
                keyed("users", "jane", json!("v")),
                Condition::KeyLastOffset(Offset(offset)),
            )
        };
        assert_eq!(
            log.apply(update(0)),
            failed(
                1,
                Condition::KeyLastOffset(Offset(0)),
                Current::KeyLastOffset(None)
            )
        );
        log.apply(keyed("users", "jane", json!(1))); // offset 0
        log.apply(keyed("users", "joe", json!(1))); // offset 1: another key
        assert_eq!(
            log.apply(update(1)),
            failed(
                4,
                Condition::KeyLastOffset(Offset(1)),
                Current::KeyLastOffset(Some(Offset(0)))
            )
        );
        assert_eq!(log.apply(update(0)), appended(2, 1, 5));
        log.apply(keyed("users", "jane", json!(null))); // offset 3
        assert_eq!(log.apply(update(3)), appended(4, 1, 7));
    }

    #[test]
    fn of_two_concurrent_key_absent_claims_of_one_key_the_first_in_the_log_wins() {
        let mut log = Log::default();
        let claim = |who: &str| {
            only_if(
                keyed("usernames", "jane", json!({"owner": who})),
                Condition::KeyAbsent,
            )
        };
        // Both producers saw no "jane"; the log orders their claims.
        let first = log.apply(claim("alice"));
        let second = log.apply(claim("bob"));
        assert_eq!(first, appended(0, 1, 1));
        assert_eq!(
            second,
            failed(
                2,
                Condition::KeyAbsent,
                Current::KeyLastOffset(Some(Offset(0)))
            )
        );
        assert_eq!(log.state.topics[&topic("usernames")].end_offset, Offset(1));
    }

    #[test]
    fn a_retry_of_a_conditional_append_that_won_answers_its_success() {
        let mut log = Log::default();
        let claim = from_producer(
            only_if(keyed("usernames", "jane", json!(1)), Condition::KeyAbsent),
            "p",
            0,
        );
        assert_eq!(log.apply(claim.clone()), appended(0, 1, 1));
        // Judged again, the claim would fail on its own record.
        assert_eq!(
            log.apply(claim),
            CommandResult::Appended {
                first_offset: Offset(0),
                count: 1,
                log_index: LogIndex(1),
                duplicate: true,
            }
        );
    }

    #[test]
    fn a_key_condition_without_one_shared_key_fails() {
        let mut log = Log::default();
        for records in [
            vec![],
            vec![record(None, json!(1))],
            vec![record(Some("a"), json!(1)), record(Some("b"), json!(1))],
        ] {
            for condition in [Condition::KeyAbsent, Condition::KeyLastOffset(Offset(0))] {
                let result = log.apply(only_if(append("t", records.clone()), condition));
                assert_eq!(
                    result.rejection(),
                    Some(&Rejection::ConditionFailed {
                        condition,
                        current: Current::NoSingleKey
                    })
                );
            }
        }
        assert!(log.state.topics.is_empty());
    }

    #[test]
    fn every_keyed_append_updates_the_key_index_and_the_last_record_of_a_key_wins() {
        let mut log = Log::default();
        log.apply(append(
            "t",
            vec![
                record(Some("a"), json!(1)),
                record(None, json!(2)),
                record(Some("b"), json!(3)),
                record(Some("a"), json!(null)),
            ],
        ));
        let index = &log.state.keys[&topic("t")];
        assert_eq!(
            index.get("a"),
            Some(&KeyState {
                last_offset: Offset(3),
                live: false,
                timestamp_ms: 1,
            })
        );
        assert_eq!(
            index.get("b"),
            Some(&KeyState {
                last_offset: Offset(2),
                live: true,
                timestamp_ms: 1,
            })
        );
        assert_eq!(index.len(), 2);
        log.apply(append_n("keyless", 3));
        assert!(!log.state.keys.contains_key(&topic("keyless")));
    }
}
