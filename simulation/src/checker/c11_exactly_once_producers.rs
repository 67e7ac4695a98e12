//! C11, an idempotent producer's append lands exactly once (DESIGN §4.5): all
//! attempts of one producer `(id, seq)` carry the same records (the workload
//! guarantees it), so
//! - every acknowledged attempt reports the same offsets and log index (a
//!   retry is answered with the original's);
//! - a `duplicate` acknowledgement follows an earlier attempt of that seq;
//! - every live node's final log holds each record of the seq at most once,
//!   and exactly once if an attempt was acknowledged;
//! - once `(id, seq)` is acknowledged, the server never answers a later
//!   attempt of that producer as if seq were not applied (a
//!   `sequence_out_of_order` whose expected seq is at most seq, or whose last
//!   seq is below it).
//!
//! Pure.

use std::collections::BTreeMap;

use super::{list_some, Property, Violation};
use crate::history::{Current, History, Op, OpKind, Outcome};

pub fn check_exactly_once_producers(history: &History) -> Vec<Violation> {
    // (id, seq) → every attempt, in history order.
    let mut attempts: BTreeMap<(&str, u64), Vec<&Op>> = BTreeMap::new();
    for op in &history.ops {
        if let OpKind::Append {
            producer: Some((id, seq)),
            ..
        } = &op.kind
        {
            attempts.entry((id, *seq)).or_default().push(op);
        }
    }
    let mut violations = Vec::new();
    for (&(id, seq), ops) in &attempts {
        let acks: Vec<(&Op, &Vec<u64>, u64, bool)> = ops
            .iter()
            .filter_map(|op| match &op.outcome {
                Outcome::AppendOk {
                    offsets,
                    log_index,
                    duplicate,
                } => Some((*op, offsets, *log_index, *duplicate)),
                _ => None,
            })
            .collect();
        if acks
            .iter()
            .any(|(_, offsets, index, _)| (*offsets, *index) != (acks[0].1, acks[0].2))
        {
            let message = format!(
                "producer {id:?} seq {seq} was acknowledged at different places: {}",
                list_some(acks.iter().map(|(op, offsets, index, _)| format!(
                    "op {} offsets {offsets:?} log_index {index}",
                    op.id
                )))
            );
            violations.push(Violation::new(
                Property::C11,
                message,
                acks.iter().map(|a| a.0),
            ));
        }
        for (op, _, _, duplicate) in &acks {
            if *duplicate && !ops.iter().any(|o| o.invoked_at < op.invoked_at) {
                let message = format!(
                    "producer {id:?} seq {seq}: op {} was answered as a duplicate, \
                     but no earlier attempt of that seq was sent",
                    op.id
                );
                violations.push(Violation::new(Property::C11, message, [*op]));
            }
        }
        let OpKind::Append { topic, values, .. } = &ops[0].kind else {
            continue;
        };
        let mut problems = Vec::new();
        for (node, topics) in &history.final_logs {
            let log = topics
                .get(topic.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            for value in values {
                let found: Vec<u64> = log
                    .iter()
                    .filter(|(_, v)| v == value)
                    .map(|(offset, _)| *offset)
                    .collect();
                if found.len() > 1 {
                    problems.push(format!(
                        "{value:?} at {} offsets {found:?} on node {node}",
                        found.len()
                    ));
                } else if found.is_empty() && !acks.is_empty() {
                    problems.push(format!("{value:?} missing on node {node}"));
                }
            }
        }
        if !problems.is_empty() {
            let message = format!(
                "producer {id:?} seq {seq} (topic {topic:?}, {} attempts, {}) is not in the \
                 final logs exactly once: {}",
                ops.len(),
                if acks.is_empty() {
                    "none acknowledged"
                } else {
                    "acknowledged"
                },
                list_some(problems)
            );
            violations.push(Violation::new(Property::C11, message, ops.iter().copied()));
        }
    }
    violations.extend(forgotten_seqs(&attempts));
    violations
}

/// Sequence refusals, sent after `(id, seq)` was acknowledged, that treat
/// `seq` as never applied.
fn forgotten_seqs<'h>(attempts: &BTreeMap<(&'h str, u64), Vec<&'h Op>>) -> Vec<Violation> {
    let mut by_producer: BTreeMap<&str, Vec<(u64, &Op)>> = BTreeMap::new();
    for (&(id, seq), ops) in attempts {
        for op in ops {
            by_producer.entry(id).or_default().push((seq, op));
        }
    }
    let mut violations = Vec::new();
    for (id, ops) in by_producer {
        for &(seq, acked) in &ops {
            if !matches!(acked.outcome, Outcome::AppendOk { .. }) {
                continue;
            }
            for &(_, later) in &ops {
                if later.invoked_at <= acked.completed_at {
                    continue;
                }
                let Outcome::Rejected { code, current } = &later.outcome else {
                    continue;
                };
                let forgot = code == "sequence_out_of_order"
                    && match current {
                        Current::ExpectedSeq(expected) => *expected <= seq,
                        Current::LastSeq { seq: last, .. } => *last < seq,
                        _ => false,
                    };
                if forgot {
                    let message = format!(
                        "producer {id:?} seq {seq} was acknowledged (op {}), yet op {}, \
                         sent later, was refused with {current:?}, as if it was not applied",
                        acked.id, later.id
                    );
                    violations.push(Violation::new(Property::C11, message, [acked, later]));
                }
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::super::check_all;
    use super::super::test_support::*;
    use super::*;
    use crate::history::{HistoryBuilder, Outcome};

    #[test]
    fn a_retry_after_a_timeout_answered_as_a_duplicate_passes() {
        let mut h = HistoryBuilder::new();
        h.produce(
            1,
            1,
            ms(0)..ms(10),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::unknown("timeout"),
        );
        h.produce(
            1,
            2,
            ms(20)..ms(30),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::duplicate(&[0], 4),
        );
        h.produce(
            1,
            2,
            ms(40)..ms(50),
            "t",
            ("p1", 1),
            &["b"],
            Outcome::ack(&[1], 5),
        );
        for node in 1..=3 {
            h.final_log(node, "t", &[(0, "a"), (1, "b")]);
        }
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn attempts_acknowledged_at_different_offsets_are_reported() {
        let mut h = HistoryBuilder::new();
        let a = h.produce(
            1,
            1,
            ms(0)..ms(10),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::ack(&[0], 4),
        );
        let b = h.produce(
            1,
            2,
            ms(20)..ms(30),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::duplicate(&[1], 5),
        );
        let violations = check_exactly_once_producers(&h.build());
        assert_eq!(properties(&violations), vec![Property::C11]);
        assert_eq!(violations[0].ops, vec![a, b]);
        assert!(violations[0].message.contains("at different places"));
    }

    #[test]
    fn a_retry_appended_a_second_time_is_reported() {
        let mut h = HistoryBuilder::new();
        h.produce(
            1,
            1,
            ms(0)..ms(10),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::unknown("timeout"),
        );
        h.produce(
            1,
            2,
            ms(20)..ms(30),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::ack(&[1], 5),
        );
        h.final_log(1, "t", &[(0, "a"), (1, "a")]);
        let violations = check_exactly_once_producers(&h.build());
        assert_eq!(properties(&violations), vec![Property::C11]);
        assert!(violations[0]
            .message
            .contains("\"a\" at 2 offsets [0, 1] on node 1"));
    }

    #[test]
    fn an_acknowledged_seq_missing_from_a_log_is_reported() {
        let mut h = HistoryBuilder::new();
        h.produce(
            1,
            1,
            ms(0)..ms(10),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::ack(&[0], 4),
        );
        h.final_log(2, "t", &[]);
        let violations = check_exactly_once_producers(&h.build());
        assert_eq!(properties(&violations), vec![Property::C11]);
        assert!(violations[0].message.contains("\"a\" missing on node 2"));
    }

    #[test]
    fn a_duplicate_answer_to_a_first_attempt_is_reported() {
        let mut h = HistoryBuilder::new();
        let a = h.produce(
            1,
            1,
            ms(0)..ms(10),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::duplicate(&[0], 4),
        );
        let violations = check_exactly_once_producers(&h.build());
        assert_eq!(properties(&violations), vec![Property::C11]);
        assert_eq!(violations[0].ops, vec![a]);
    }

    #[test]
    fn a_refusal_forgetting_an_acknowledged_seq_is_reported_and_a_true_one_is_not() {
        let mut h = HistoryBuilder::new();
        let acked = h.produce(
            1,
            1,
            ms(0)..ms(10),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::ack(&[0], 4),
        );
        h.produce(
            1,
            1,
            ms(20)..ms(30),
            "t",
            ("p1", 2),
            &["c"],
            Outcome::rejected("sequence_out_of_order", Current::ExpectedSeq(1)),
        );
        let forgot = h.produce(
            1,
            2,
            ms(40)..ms(50),
            "t",
            ("p1", 2),
            &["c"],
            Outcome::rejected("sequence_out_of_order", Current::ExpectedSeq(0)),
        );
        let violations = check_exactly_once_producers(&h.build());
        assert_eq!(properties(&violations), vec![Property::C11]);
        assert_eq!(violations[0].ops, vec![acked, forgot]);
    }
}
