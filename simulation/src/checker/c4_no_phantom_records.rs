//! C4, no record that was never sent: every value a successful read or a final
//! log shows at a topic was the value of an append to that topic that did not
//! fail. An append with an `Unknown` outcome may or may not have happened, so
//! its values may appear or not; an append that `Failed` was promised by the
//! server to have appended nothing, so its values appearing when every append
//! of them (the first try and any retries) failed is a violation of this same
//! property: a record that, by the server's own word, nobody sent. A work
//! queue's dead-letter topic holds copies of the queue's jobs, which nobody
//! appends to it: its values are judged as sent to the queue's topic.
//!
//! Pure.

use std::collections::BTreeMap;

use super::observations::{shown_records, Source};
use super::{list_some, Property, Violation};
use crate::history::{History, Op, OpKind};

/// value → every (topic, append op) that sent it.
type Senders<'h> = BTreeMap<&'h str, Vec<(&'h str, &'h Op)>>;

pub fn check_no_phantom_records(history: &History) -> Vec<Violation> {
    let mut senders: Senders = BTreeMap::new();
    for op in &history.ops {
        if let OpKind::Append { topic, values, .. } = &op.kind {
            for value in values {
                senders.entry(value).or_default().push((topic, op));
            }
        }
    }
    // Reads repeat the same records many times: judge each (topic, value)
    // once, and gather who showed it only when it is a phantom.
    let mut verdicts: BTreeMap<(&str, &str), bool> = BTreeMap::new();
    let mut phantoms: BTreeMap<(&str, &str), Vec<Source>> = BTreeMap::new();
    for seen in shown_records(history) {
        let key = (seen.topic, seen.value);
        let phantom = *verdicts.entry(key).or_insert_with(|| {
            sent_to(&senders, (sent_topic(history, seen.topic), seen.value))
                .iter()
                .all(|op| op.outcome.nothing_appended())
        });
        if phantom {
            phantoms.entry(key).or_default().push(seen.source);
        }
    }

    let mut violations = Vec::new();
    for ((topic, value), sources) in phantoms {
        let all_senders = senders.get(value).map(Vec::as_slice).unwrap_or_default();
        let to_topic = sent_to(&senders, (sent_topic(history, topic), value));
        let where_shown = list_some(sources.iter().map(Source::to_string));
        let message = if let Some(op) = to_topic.first() {
            format!(
                "value {value:?} appeared in topic {topic:?} ({where_shown}) \
                 but every append of it failed, so the server promised it was not appended \
                 (first: op {})",
                op.id
            )
        } else if let Some((other_topic, op)) = all_senders.first() {
            format!(
                "value {value:?} appeared in topic {topic:?} ({where_shown}) \
                 but was sent only to topic {other_topic:?} (first: op {})",
                op.id
            )
        } else {
            format!(
                "value {value:?} appeared in topic {topic:?} ({where_shown}) but was never sent"
            )
        };
        let cited_senders: Vec<&Op> = if to_topic.is_empty() {
            all_senders.iter().map(|(_, op)| *op).collect()
        } else {
            to_topic
        };
        let ops = cited_senders
            .into_iter()
            .chain(sources.iter().filter_map(|source| source.op()));
        violations.push(Violation::new(Property::C4, message, ops));
    }
    violations
}

/// The topic a value shown in `topic` was appended to: a dead letter's
/// was appended to its queue's topic.
fn sent_topic<'h>(history: &'h History, topic: &'h str) -> &'h str {
    history.dead_letters_of(topic).unwrap_or(topic)
}

/// The appends, of any outcome, that sent `value` to `topic`.
fn sent_to<'h>(senders: &Senders<'h>, (topic, value): (&str, &str)) -> Vec<&'h Op> {
    senders
        .get(value)
        .into_iter()
        .flatten()
        .filter(|(sent_to, _)| *sent_to == topic)
        .map(|(_, op)| *op)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::check_all;
    use super::super::test_support::*;
    use super::*;
    use crate::history::{HistoryBuilder, Outcome};

    #[test]
    fn a_value_of_an_unknown_append_may_appear() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::unknown("504"));
        h.read_local(
            2,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a")], 1),
        );
        for node in 1..=3 {
            h.final_log(node, "t", &[(0, "a")]);
        }
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_failed_append_retried_with_unknown_outcome_may_appear() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a"],
            Outcome::failed("503 no leader"),
        );
        h.append(
            1,
            1,
            ms(10)..ms(20),
            "t",
            &["a"],
            Outcome::unknown("timeout"),
        );
        h.final_log(1, "t", &[(0, "a")]);
        assert_eq!(check_no_phantom_records(&h.build()), vec![]);
    }

    #[test]
    fn a_refused_producer_attempt_whose_retry_was_acked_or_unknown_may_appear() {
        use crate::history::Current;
        for retry in [Outcome::ack(&[0], 2), Outcome::unknown("timeout")] {
            let mut h = HistoryBuilder::new();
            h.produce(
                1,
                1,
                ms(0)..ms(10),
                "t",
                ("p1", 1),
                &["a"],
                Outcome::rejected("sequence_out_of_order", Current::ExpectedSeq(0)),
            );
            h.produce(1, 2, ms(10)..ms(20), "t", ("p1", 1), &["a"], retry);
            h.final_log(1, "t", &[(0, "a")]);
            assert_eq!(check_no_phantom_records(&h.build()), vec![]);
        }
    }

    #[test]
    fn a_value_whose_every_attempt_was_refused_is_reported() {
        use crate::history::Current;
        let mut h = HistoryBuilder::new();
        h.claim(
            1,
            1,
            ms(0)..ms(10),
            "t",
            "k",
            "a",
            Outcome::rejected("condition_failed", Current::KeyLastOffset(Some(0))),
        );
        h.final_log(1, "t", &[(0, "a")]);
        let violations = check_no_phantom_records(&h.build());
        assert_eq!(properties(&violations), vec![Property::C4]);
    }

    #[test]
    fn a_value_that_was_never_sent_is_reported_naming_the_read() {
        let mut h = HistoryBuilder::new();
        let read = h.read_local(
            1,
            1,
            ms(0)..ms(10),
            "t",
            0,
            Outcome::read_ok(&[(0, "z")], 1),
        );
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C4]);
        assert_eq!(violations[0].ops, vec![read]);
        assert!(violations[0].message.ends_with("but was never sent"));
    }

    #[test]
    fn a_value_of_a_failed_append_that_appears_is_reported_naming_both_ops() {
        let mut h = HistoryBuilder::new();
        let failed = h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::failed("409"));
        let read = h.read_linearizable(
            2,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a")], 1),
        );
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C4]);
        assert_eq!(violations[0].ops, vec![failed, read]);
        assert!(violations[0].message.contains("every append of it failed"));
    }

    #[test]
    fn a_value_in_a_topic_it_was_not_sent_to_is_reported() {
        let mut h = HistoryBuilder::new();
        let sent = h.append(
            1,
            1,
            ms(0)..ms(10),
            "u",
            &["a"],
            Outcome::unknown("timeout"),
        );
        h.final_log(1, "t", &[(0, "a")]);
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C4]);
        assert_eq!(violations[0].ops, vec![sent]);
        assert!(violations[0]
            .message
            .contains(&format!("was sent only to topic \"u\" (first: op {sent})")));
    }

    #[test]
    fn a_dead_letter_counts_as_sent_to_its_queue_topic_and_nowhere_else() {
        let mut h = HistoryBuilder::new();
        h.queue("q", 1, false);
        h.append(1, 1, ms(0)..ms(10), "q", &["a"], Outcome::ack(&[0], 1));
        let stray = h.append(1, 1, ms(0)..ms(10), "u", &["b"], Outcome::ack(&[0], 2));
        h.final_log(1, "q", &[(0, "a")])
            .final_log(1, "u", &[(0, "b")])
            .final_log(1, "q.dlq", &[(0, "a"), (1, "b")]);
        let violations = check_no_phantom_records(&h.build());
        assert_eq!(properties(&violations), vec![Property::C4]);
        assert_eq!(violations[0].ops, vec![stray]);
        assert!(violations[0]
            .message
            .starts_with("value \"b\" appeared in topic \"q.dlq\""));
    }
}
