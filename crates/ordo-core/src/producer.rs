//! Idempotent producers (DESIGN §4.5): a producer numbers its appends
//! 0, 1, 2, …; the replicated producer table remembers each producer's last
//! append, so a retry of it (after a timeout, a leader change or a restart)
//! is answered with the original offsets instead of appending again.
//!
//! A producer may instead number its appends as Kafka's idempotent
//! producers do ([`Numbering::Records`]): by the records sent before each,
//! with a resend of any of its last five appends answered as it was.
//!
//! Pure: the rule is [`check_sequence`], which `apply` consults before
//! anything else about an append, and [`record_append`] keeps the table.

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

/// How a producer numbers its appends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Numbering {
    /// ordo's own: the producer's appends are numbered 0, 1, 2, …, and a
    /// retry of its last append is answered with that append's offsets.
    #[default]
    Appends,
    /// Kafka's idempotent producers: an append's `seq` is the number of
    /// records the producer sent before it (to this topic), wrapping from
    /// `i32::MAX` to 0, and a resend of any of its last
    /// [`PRODUCER_RETRY_WINDOW`] appends is answered with that append's
    /// offsets. Not offered over HTTP.
    Records,
}

impl Numbering {
    /// Whether this is the default, which the wire form leaves out.
    pub fn is_appends(&self) -> bool {
        *self == Numbering::Appends
    }
}

/// How many of a producer's latest appends a resend may repeat under
/// [`Numbering::Records`]: Kafka's broker keeps the same five.
pub const PRODUCER_RETRY_WINDOW: usize = 5;

/// Where `Records` sequence numbers wrap: Kafka's are non-negative `i32`s.
const RECORDS_SEQ_MODULUS: u64 = 1 << 31;

/// Who sent an append, and which of its appends this is. On the wire:
/// `{"id": "checkout-7", "seq": 41}` (`"numbering": "records"` is added
/// only for Kafka numbering, so ordo's own form is unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    pub id: ProducerId,
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Numbering::is_appends")]
    pub numbering: Numbering,
}

impl Producer {
    /// `id`'s append number `seq`, in ordo's own numbering.
    pub fn new(id: ProducerId, seq: u64) -> Producer {
        Producer {
            id,
            seq,
            numbering: Numbering::Appends,
        }
    }

    /// `id`'s append whose first record is its record number `seq` (Kafka's
    /// `base_sequence`).
    pub fn records(id: ProducerId, seq: u64) -> Producer {
        Producer {
            id,
            seq,
            numbering: Numbering::Records,
        }
    }
}

/// The producer table's entry for one producer: its last append that was
/// applied (rejected appends are not recorded, so they use up no `seq`),
/// and, for a producer that numbers records, the appends before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerState {
    pub last_seq: u64,
    /// The topic of the last append; a retry must name the same one.
    pub topic: TopicName,
    pub first_offset: Offset,
    pub count: u64,
    /// The log index of the original append (a retry answers with it).
    pub log_index: LogIndex,
    /// `Records` numbering only: the producer's appends before the last,
    /// oldest first, at most `PRODUCER_RETRY_WINDOW - 1` of them (a resend
    /// of any of them is answered with its offsets). Empty, and absent from
    /// the stored form, for `Appends` numbering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<ProducerAppend>,
}

/// One of a producer's earlier appends, as a resend of it is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerAppend {
    pub seq: u64,
    pub topic: TopicName,
    pub first_offset: Offset,
    pub count: u64,
    pub log_index: LogIndex,
}

impl ProducerState {
    /// The appends a resend may repeat, oldest first, the last one last.
    fn window(&self) -> impl Iterator<Item = ProducerAppend> + '_ {
        self.earlier
            .iter()
            .cloned()
            .chain(std::iter::once(self.last_append()))
    }

    fn last_append(&self) -> ProducerAppend {
        ProducerAppend {
            seq: self.last_seq,
            topic: self.topic.clone(),
            first_offset: self.first_offset,
            count: self.count,
            log_index: self.log_index,
        }
    }
}

/// What the original append answered, for a retry to answer alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Original {
    pub(crate) first_offset: Offset,
    pub(crate) count: u64,
    pub(crate) log_index: LogIndex,
}

/// What the producer table makes of an append's `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sequence {
    /// The producer's next append: decide it on its merits.
    Next,
    /// A retry of one of the producer's appends: answer as it was answered.
    Retry(Original),
}

/// The sequence rule, by the producer's numbering. Either way a new
/// producer starts at seq 0, a retry must name the same topic as the
/// original, and anything that is neither the next append nor a retry is
/// refused (appending it could lose or duplicate an append).
pub(crate) fn check_sequence(
    table: &BTreeMap<ProducerId, ProducerState>,
    producer: &Producer,
    topic: &TopicName,
) -> Result<Sequence, Rejection> {
    let Some(last) = table.get(&producer.id) else {
        return match producer.seq {
            0 => Ok(Sequence::Next),
            _ => Err(Rejection::SequenceSkipped { expected: 0 }),
        };
    };
    match producer.numbering {
        Numbering::Appends => check_append_number(last, producer.seq, topic),
        Numbering::Records => check_record_number(last, producer.seq, topic),
    }
}

/// `Appends`: each append is `last_seq + 1`; `last_seq` again is a retry
/// of the last append.
fn check_append_number(
    last: &ProducerState,
    seq: u64,
    topic: &TopicName,
) -> Result<Sequence, Rejection> {
    if seq == last.last_seq {
        if &last.topic != topic {
            return Err(Rejection::SequenceReused {
                seq: last.last_seq,
                topic: last.topic.clone(),
            });
        }
        return Ok(Sequence::Retry(original(&last.last_append())));
    }
    if seq < last.last_seq {
        return Err(Rejection::SequenceWentBack {
            last_seq: last.last_seq,
        });
    }
    // `last_seq + 1` cannot overflow here: `seq > last_seq`.
    let expected = last.last_seq + 1;
    if seq > expected {
        return Err(Rejection::SequenceSkipped { expected });
    }
    Ok(Sequence::Next)
}

/// `Records` (Kafka's rule): the next append's seq is `last_seq + count`,
/// wrapping at 2^31; the seq of any append in the window is a resend of
/// it. Everything else is Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER, which
/// ordo answers as `SequenceSkipped` with the seq it expected: with
/// wrapping sequences "ahead" and "behind" cannot be told apart, and
/// `expected` is what the producer needs either way.
fn check_record_number(
    last: &ProducerState,
    seq: u64,
    topic: &TopicName,
) -> Result<Sequence, Rejection> {
    let expected = next_record_seq(last.last_seq, last.count);
    if let Some(sent) = last.window().find(|sent| sent.seq == seq) {
        // The next seq can equal an old one only after 2^31 records; the
        // window then holds appends long since answered, so it is new.
        if seq != expected {
            if sent.topic != *topic {
                return Err(Rejection::SequenceReused {
                    seq,
                    topic: sent.topic,
                });
            }
            return Ok(Sequence::Retry(original(&sent)));
        }
    }
    if seq != expected {
        return Err(Rejection::SequenceSkipped { expected });
    }
    Ok(Sequence::Next)
}

/// Kafka's next base sequence after an append of `count` records at `seq`.
fn next_record_seq(seq: u64, count: u64) -> u64 {
    (seq % RECORDS_SEQ_MODULUS + count % RECORDS_SEQ_MODULUS) % RECORDS_SEQ_MODULUS
}

fn original(sent: &ProducerAppend) -> Original {
    Original {
        first_offset: sent.first_offset,
        count: sent.count,
        log_index: sent.log_index,
    }
}

/// Records `producer`'s applied append in the table: the new last append,
/// and for `Records` numbering the window of those before it (the oldest
/// dropped past [`PRODUCER_RETRY_WINDOW`]). `Appends` numbering keeps only
/// the last, as it always has.
pub(crate) fn record_append(
    table: &mut BTreeMap<ProducerId, ProducerState>,
    producer: &Producer,
    sent: ProducerAppend,
) {
    let earlier = match (producer.numbering, table.remove(&producer.id)) {
        (Numbering::Records, Some(previous)) => {
            let mut window: Vec<ProducerAppend> = previous.window().collect();
            let excess = window.len().saturating_sub(PRODUCER_RETRY_WINDOW - 1);
            window.drain(..excess);
            window
        }
        _ => Vec::new(),
    };
    debug_assert!(earlier.len() < PRODUCER_RETRY_WINDOW);
    table.insert(
        producer.id.clone(),
        ProducerState {
            last_seq: sent.seq,
            topic: sent.topic,
            first_offset: sent.first_offset,
            count: sent.count,
            log_index: sent.log_index,
            earlier,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        append_n, appended, from_kafka_producer, from_producer, keyed, only_if, rejected, topic,
        Log,
    };
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
            earlier: Vec::new(),
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

    fn duplicate(first_offset: u64, count: u64, log_index: u64) -> CommandResult {
        CommandResult::Appended {
            first_offset: Offset(first_offset),
            count,
            log_index: LogIndex(log_index),
            duplicate: true,
        }
    }

    /// A log where Kafka producer "k" sent batches of 2, 3, 1, 4 and 2
    /// records to "t" (seqs 0, 2, 5, 6, 10; offsets 0, 2, 5, 6, 10; log
    /// indexes 1 to 5).
    fn five_kafka_batches() -> Log {
        let mut log = Log::default();
        let mut seq = 0;
        for (i, n) in [2, 3, 1, 4, 2].into_iter().enumerate() {
            assert_eq!(
                log.apply(from_kafka_producer(append_n("t", n), "k", seq)),
                appended(seq, n as u64, i as u64 + 1)
            );
            seq += n as u64;
        }
        log
    }

    #[test]
    fn a_kafka_producer_numbers_records_so_each_batch_starts_where_the_last_ended() {
        let mut log = five_kafka_batches();
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 1), "k", 12)),
            appended(12, 1, 6)
        );
    }

    #[test]
    fn a_new_kafka_producer_must_start_at_seq_zero() {
        let mut log = Log::default();
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 1), "k", 5)),
            rejected(1, Rejection::SequenceSkipped { expected: 0 })
        );
        assert!(log.state.producers.is_empty());
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 1), "k", 0)),
            appended(0, 1, 2)
        );
    }

    #[test]
    fn a_resend_of_any_of_the_last_five_batches_is_answered_with_its_own_offsets() {
        let mut log = five_kafka_batches();
        let before = log.state.clone();
        // The 3rd-last batch: 1 record at seq 5, offset 5, log index 3.
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 1), "k", 5)),
            duplicate(5, 1, 3)
        );
        // The oldest one kept and the last one.
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 2), "k", 0)),
            duplicate(0, 2, 1)
        );
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 2), "k", 10)),
            duplicate(10, 2, 5)
        );
        assert_eq!(log.state.topics, before.topics, "a resend appends nothing");
        assert_eq!(log.state.producers, before.producers);
    }

    #[test]
    fn a_batch_older_than_the_last_five_is_out_of_order() {
        let mut log = five_kafka_batches();
        // A sixth batch pushes the first (seq 0) out of the window.
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 1), "k", 12)),
            appended(12, 1, 6)
        );
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 2), "k", 0)),
            rejected(7, Rejection::SequenceSkipped { expected: 13 })
        );
        // The second batch is still in the window.
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 3), "k", 2)),
            duplicate(2, 3, 2)
        );
        let kept = &log.state.producers[&ProducerId::new("k").expect("valid")];
        assert_eq!(kept.earlier.len(), PRODUCER_RETRY_WINDOW - 1);
    }

    #[test]
    fn a_kafka_seq_that_is_neither_next_nor_a_resend_is_refused_with_the_expected_seq() {
        let mut log = five_kafka_batches();
        let before = log.state.clone();
        // Ahead of the next (12), inside a batch (3 is the middle of seq 2's
        // batch of 3), and far behind: all out of order.
        for (seq, index) in [(13, 6), (3, 7), (1, 8), (u64::MAX, 9)] {
            assert_eq!(
                log.apply(from_kafka_producer(append_n("t", 1), "k", seq)),
                rejected(index, Rejection::SequenceSkipped { expected: 12 }),
                "seq {seq}"
            );
        }
        assert_eq!(log.state.topics, before.topics);
        assert_eq!(log.state.producers, before.producers);
    }

    #[test]
    fn a_kafka_resend_to_another_topic_is_refused() {
        let mut log = five_kafka_batches();
        assert_eq!(
            log.apply(from_kafka_producer(append_n("u", 1), "k", 5)),
            rejected(
                6,
                Rejection::SequenceReused {
                    seq: 5,
                    topic: topic("t")
                }
            )
        );
        assert!(!log.state.topics.contains_key(&topic("u")));
    }

    #[test]
    fn kafka_sequences_wrap_from_i32_max_to_zero() {
        let mut log = Log::default();
        let near_end = ProducerState {
            last_seq: i32::MAX as u64 - 1,
            topic: topic("t"),
            first_offset: Offset(0),
            count: 1,
            log_index: LogIndex(0),
            earlier: Vec::new(),
        };
        log.state
            .producers
            .insert(ProducerId::new("k").expect("valid"), near_end);
        // seqs 2^31-1 and 0 belong to this batch of 2; the next starts at 1.
        let last = i32::MAX as u64;
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 2), "k", last)),
            appended(0, 2, 1)
        );
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 1), "k", last + 2)),
            rejected(2, Rejection::SequenceSkipped { expected: 1 })
        );
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 1), "k", 1)),
            appended(2, 1, 3)
        );
        // The batch that wrapped can still be resent.
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 2), "k", last)),
            duplicate(0, 2, 1)
        );
    }

    #[test]
    fn after_two_to_the_31_records_a_kafka_seq_is_next_even_if_the_window_holds_it() {
        let mut log = Log::default();
        let one_lap = 1u64 << 31;
        // Batches of 2^30 records, as counted: 0, 2^30, then 0 again is next.
        log.state.producers.insert(
            ProducerId::new("k").expect("valid"),
            ProducerState {
                last_seq: one_lap / 2,
                topic: topic("t"),
                first_offset: Offset(10),
                count: one_lap / 2,
                log_index: LogIndex(2),
                earlier: vec![ProducerAppend {
                    seq: 0,
                    topic: topic("t"),
                    first_offset: Offset(0),
                    count: one_lap / 2,
                    log_index: LogIndex(1),
                }],
            },
        );
        assert_eq!(
            log.apply(from_kafka_producer(append_n("t", 1), "k", 0)),
            appended(0, 1, 1)
        );
    }

    #[test]
    fn an_ordo_producer_keeps_only_its_last_append() {
        let mut log = Log::default();
        for seq in 0..3 {
            log.apply(from_producer(append_n("t", 1), "p", seq));
        }
        let kept = &log.state.producers[&ProducerId::new("p").expect("valid")];
        assert!(kept.earlier.is_empty());
        assert_eq!(
            log.apply(from_producer(append_n("t", 1), "p", 1)),
            rejected(4, Rejection::SequenceWentBack { last_seq: 2 })
        );
    }

    #[test]
    fn numbering_is_left_out_of_the_wire_form_unless_it_is_records() {
        let ordo = Producer::new(ProducerId::new("p").expect("valid"), 3);
        assert_eq!(
            serde_json::to_value(&ordo).expect("encodes"),
            json!({"id": "p", "seq": 3})
        );
        let kafka = Producer::records(ProducerId::new("k").expect("valid"), 3);
        let text = serde_json::to_value(&kafka).expect("encodes");
        assert_eq!(text, json!({"id": "k", "seq": 3, "numbering": "records"}));
        assert_eq!(
            serde_json::from_value::<Producer>(text).expect("decodes"),
            kafka
        );
        assert!(serde_json::from_value::<Producer>(
            json!({"id": "k", "seq": 3, "numbering": "batches"})
        )
        .is_err());
    }

    #[test]
    fn producer_state_stored_before_kafka_numbering_still_decodes() {
        let old =
            json!({"last_seq": 4, "topic": "t", "first_offset": 7, "count": 2, "log_index": 9});
        let state: ProducerState = serde_json::from_value(old.clone()).expect("decodes");
        assert!(state.earlier.is_empty());
        assert_eq!(serde_json::to_value(&state).expect("encodes"), old);
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
