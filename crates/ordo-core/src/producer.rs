//! Idempotent producers (DESIGN §4.5): a producer numbers its appends
//! 0, 1, 2, …; the replicated producer table remembers each producer's last
//! append, so a retry of it (after a timeout, a leader change or a restart)
//! is answered with the original offsets instead of appending again.
//!
//! Pure: the rule is [`check_sequence`], which `apply` consults before
//! anything else about an append.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::ids::{LogIndex, Offset};
use crate::limits::MAX_PRODUCER_ID_BYTES;
use crate::rejection::Rejection;
use crate::topic::TopicName;

/// A producer's identity, chosen by the producer: 1 to 128 bytes of
/// printable ASCII without whitespace (so it is also a safe log field and
/// store key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProducerId(String);

/// Why a string is not a valid producer id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerIdError {
    #[error("producer id is empty")]
    Empty,
    #[error("producer id is {len} bytes long; the limit is {MAX_PRODUCER_ID_BYTES}")]
    TooLong { len: usize },
    #[error("producer id contains {found:?}; only printable ASCII without spaces is allowed")]
    InvalidChar { found: char },
}

impl ProducerId {
    pub fn new(id: impl Into<String>) -> Result<Self, ProducerIdError> {
        let id = id.into();
        if id.is_empty() {
            return Err(ProducerIdError::Empty);
        }
        if let Some(found) = id.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(ProducerIdError::InvalidChar { found });
        }
        // All characters are ASCII from here, so bytes == characters.
        if id.len() > MAX_PRODUCER_ID_BYTES {
            return Err(ProducerIdError::TooLong { len: id.len() });
        }
        Ok(ProducerId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProducerId {
    type Err = ProducerIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProducerId::new(s)
    }
}

impl TryFrom<String> for ProducerId {
    type Error = ProducerIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ProducerId::new(s)
    }
}

impl From<ProducerId> for String {
    fn from(id: ProducerId) -> String {
        id.0
    }
}

impl fmt::Display for ProducerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who sent an append, and which of its appends this is. On the wire:
/// `{"id": "checkout-7", "seq": 41}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    pub id: ProducerId,
    pub seq: u64,
}

/// The producer table's entry for one producer: its last append that was
/// applied (rejected appends are not recorded, so they use up no `seq`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerState {
    pub last_seq: u64,
    /// The topic of the last append; a retry must name the same one.
    pub topic: TopicName,
    pub first_offset: Offset,
    pub count: u64,
    /// The log index of the original append (a retry answers with it).
    pub log_index: LogIndex,
}

/// What the producer table makes of an append's `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sequence<'a> {
    /// The producer's next append: decide it on its merits.
    Next,
    /// A retry of the producer's last append: answer as it was answered.
    Retry(&'a ProducerState),
}

/// The sequence rule. A new producer starts at seq 0; then each append is
/// `last_seq + 1`; `last_seq` again is a retry of the last append, to the
/// same topic; anything else is refused (appending it could lose or
/// duplicate an append).
pub(crate) fn check_sequence<'a>(
    table: &'a BTreeMap<ProducerId, ProducerState>,
    producer: &Producer,
    topic: &TopicName,
) -> Result<Sequence<'a>, Rejection> {
    let Some(last) = table.get(&producer.id) else {
        return match producer.seq {
            0 => Ok(Sequence::Next),
            _ => Err(Rejection::SequenceSkipped { expected: 0 }),
        };
    };
    if producer.seq == last.last_seq {
        if &last.topic != topic {
            return Err(Rejection::SequenceReused {
                seq: last.last_seq,
                topic: last.topic.clone(),
            });
        }
        return Ok(Sequence::Retry(last));
    }
    if producer.seq < last.last_seq {
        return Err(Rejection::SequenceWentBack {
            last_seq: last.last_seq,
        });
    }
    // `last_seq + 1` cannot overflow here: `seq > last_seq`.
    let expected = last.last_seq + 1;
    if producer.seq > expected {
        return Err(Rejection::SequenceSkipped { expected });
    }
    Ok(Sequence::Next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{append_n, appended, from_producer, keyed, only_if, rejected, topic, Log};
    use crate::{CommandResult, Condition};
    use serde_json::json;

    #[test]
    fn a_retry_of_the_last_append_returns_its_original_offsets_and_appends_nothing() {
        let mut log = Log::default();
        log.apply(append_n("t", 2));
        assert_eq!(
            log.apply(from_producer(append_n("t", 3), "p", 0)),
            appended(2, 3, 2)
        );
        log.apply(append_n("t", 1)); // someone else's append in between
        let retry = log.apply(from_producer(append_n("t", 3), "p", 0));
        assert_eq!(
            retry,
            CommandResult::Appended {
                first_offset: Offset(2),
                count: 3,
                log_index: LogIndex(2),
                duplicate: true,
            }
        );
        assert_eq!(log.state.topics[&topic("t")].end_offset, Offset(6));
        // The retry answered; the producer's next append is still seq 1.
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "p", 1)),
            appended(6, 1, 5)
        );
    }

    #[test]
    fn a_new_producer_must_start_at_seq_zero() {
        let mut log = Log::default();
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "p", 1)),
            rejected(1, Rejection::SequenceSkipped { expected: 0 })
        );
        assert!(
            log.state.topics.is_empty(),
            "a rejected append creates nothing"
        );
        assert!(log.state.producers.is_empty());
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "p", 0)),
            appended(0, 1, 2)
        );
    }

    #[test]
    fn a_sequence_that_goes_back_or_skips_ahead_is_rejected_and_appends_nothing() {
        let mut log = Log::default();
        for seq in 0..3 {
            log.apply(from_producer(append_n("t", 1), "p", seq));
        }
        let before = log.state.clone();
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "p", 0)),
            rejected(4, Rejection::SequenceWentBack { last_seq: 2 })
        );
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "p", 4)),
            rejected(5, Rejection::SequenceSkipped { expected: 3 })
        );
        // Rejected commands use up their log index, and nothing else.
        assert_eq!(log.state.last_applied, Some(LogIndex(5)));
        assert_eq!(log.state.topics, before.topics);
        assert_eq!(log.state.producers, before.producers);
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "p", 3)),
            appended(3, 1, 6)
        );
    }

    #[test]
    fn producers_are_numbered_independently() {
        let mut log = Log::default();
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "a", 0)),
            appended(0, 1, 1)
        );
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "b", 0)),
            appended(1, 1, 2)
        );
        assert_eq!(
            log.apply(from_producer(append_n("u", 1), "a", 1)),
            appended(0, 1, 3)
        );
        assert_eq!(log.state.producers.len(), 2);
    }

    #[test]
    fn the_last_seq_sent_to_another_topic_is_not_a_retry() {
        let mut log = Log::default();
        log.apply(from_producer(append_n("t", 1), "p", 0));
        assert_eq!(
            log.apply(from_producer(append_n("u", 1), "p", 0)),
            rejected(
                2,
                Rejection::SequenceReused {
                    seq: 0,
                    topic: topic("t")
                }
            )
        );
        assert!(!log.state.topics.contains_key(&topic("u")));
    }

    #[test]
    fn a_rejected_conditional_append_uses_up_no_seq() {
        let mut log = Log::default();
        log.apply(keyed("users", "jane", json!(1)));
        let claim = only_if(keyed("users", "jane", json!(2)), Condition::KeyAbsent);
        assert!(matches!(
            log.apply(from_producer(claim, "p", 0)),
            CommandResult::Rejected {
                rejection: Rejection::ConditionFailed { .. },
                ..
            }
        ));
        assert!(log.state.producers.is_empty());
        // The producer's next append is still its first.
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "p", 0)),
            appended(0, 1, 3)
        );
    }

    #[test]
    fn the_highest_seq_is_a_retry_not_an_overflow() {
        let mut log = Log::default();
        let last = ProducerState {
            last_seq: u64::MAX,
            topic: topic("t"),
            first_offset: Offset(0),
            count: 1,
            log_index: LogIndex(1),
        };
        log.state
            .producers
            .insert(ProducerId::new("p").expect("valid"), last);
        let retry = log.apply(from_producer(append_n("t", 1), "p", u64::MAX));
        assert!(matches!(
            retry,
            CommandResult::Appended {
                duplicate: true,
                ..
            }
        ));
    }

    #[test]
    fn producer_ids_are_printable_ascii_without_spaces() {
        for ok in ["p", "checkout-7", "a:b/c@d!", &"x".repeat(128)] {
            assert!(ProducerId::new(ok).is_ok(), "{ok:?} should be valid");
        }
        assert_eq!(ProducerId::new(""), Err(ProducerIdError::Empty));
        assert_eq!(
            ProducerId::new("x".repeat(129)),
            Err(ProducerIdError::TooLong { len: 129 })
        );
        assert_eq!(
            ProducerId::new("a b"),
            Err(ProducerIdError::InvalidChar { found: ' ' })
        );
        assert_eq!(
            ProducerId::new("tab\there"),
            Err(ProducerIdError::InvalidChar { found: '\t' })
        );
        assert_eq!(
            ProducerId::new("é"),
            Err(ProducerIdError::InvalidChar { found: 'é' })
        );
    }

    #[test]
    fn a_producer_reads_from_json_as_the_api_sends_it() {
        let producer: Producer =
            serde_json::from_str(r#"{"id": "checkout-7", "seq": 41}"#).expect("valid");
        assert_eq!(producer.id.as_str(), "checkout-7");
        assert_eq!(producer.seq, 41);
        assert!(serde_json::from_str::<Producer>(r#"{"id": "a b", "seq": 1}"#).is_err());
        assert!(serde_json::from_str::<Producer>(r#"{"id": "p", "seq": -1}"#).is_err());
        assert!(serde_json::from_str::<Producer>(r#"{"id": "p", "seq": 1, "x": 0}"#).is_err());
    }
}
