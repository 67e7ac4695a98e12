//! C10, a key is claimed once (DESIGN §4.6): of the appends that claim a key
//! with `"condition": {"key_absent": true}`, at most one is acknowledged, and
//! every live node's final log holds exactly one record with that key when a
//! claim was acknowledged (the winner's value) or refused with
//! `condition_failed` (the server saw a live record, so one was committed),
//! none when every claim failed definitively, and never more than one (the
//! workload never deletes a key, so a second record is a second winner). A
//! `condition_failed` naming the key's latest offset names the record the
//! final logs hold.
//!
//! A record's key is not in the final logs: it is the key of the append that
//! sent its value (values are unique across the run). Pure.

use std::collections::BTreeMap;

use super::{list_some, Property, Violation};
use crate::history::{Current, History, NodeId, Op, OpKind, Outcome};

/// node → the (offset, value) records of one key in that node's final log.
type Held<'h> = BTreeMap<NodeId, Vec<(u64, &'h str)>>;

pub fn check_claims(history: &History) -> Vec<Violation> {
    // (topic, key) → the claims of it; value → (topic, key) of its claim.
    let mut claims: BTreeMap<(&str, &str), Vec<&Op>> = BTreeMap::new();
    let mut key_of: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for op in &history.ops {
        if let OpKind::Append {
            topic,
            values,
            key: Some(key),
            key_absent: true,
            ..
        } = &op.kind
        {
            claims.entry((topic, key)).or_default().push(op);
            for value in values {
                key_of.insert(value, (topic, key));
            }
        }
    }
    // (topic, key) → node → that node's records of the key.
    let mut held: BTreeMap<(&str, &str), Held> = BTreeMap::new();
    for (node, topics) in &history.final_logs {
        for (topic, records) in topics {
            for (offset, value) in records {
                if let Some(claimed) = key_of.get(value.as_str()) {
                    if claimed.0 == topic {
                        held.entry(*claimed)
                            .or_default()
                            .entry(*node)
                            .or_default()
                            .push((*offset, value));
                    }
                }
            }
        }
    }

    let mut violations = Vec::new();
    for ((topic, key), ops) in claims {
        let winners: Vec<(&Op, &str, u64)> = ops
            .iter()
            .filter_map(|op| match (&op.kind, &op.outcome) {
                (OpKind::Append { values, .. }, Outcome::AppendOk { offsets, .. }) => {
                    Some((*op, values[0].as_str(), offsets[0]))
                }
                _ => None,
            })
            .collect();
        if winners.len() > 1 {
            let message = format!(
                "{} claims of key {key:?} in topic {topic:?} were acknowledged: {}",
                winners.len(),
                list_some(
                    winners
                        .iter()
                        .map(|(op, value, offset)| format!("op {} ({value:?} at {offset})", op.id))
                )
            );
            violations.push(Violation::new(
                Property::C10,
                message,
                winners.iter().map(|w| w.0),
            ));
        }
        let refused: Vec<(&Op, Option<u64>)> = ops
            .iter()
            .filter_map(|op| match &op.outcome {
                Outcome::Rejected {
                    code,
                    current: Current::KeyLastOffset(at),
                } if code == "condition_failed" => Some((*op, *at)),
                _ => None,
            })
            .collect();
        let all_failed = ops.iter().all(|op| op.outcome.nothing_appended());
        let must_hold = !winners.is_empty() || !refused.is_empty();
        let no_records = BTreeMap::new();
        let held_by_node = held.get(&(topic, key)).unwrap_or(&no_records);
        let mut problems = Vec::new();
        for node in history.final_logs.keys() {
            let records = held_by_node
                .get(node)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let found = list_some(
                records
                    .iter()
                    .map(|(offset, value)| format!("{value:?} at {offset}")),
            );
            let problem = if records.len() > 1 {
                Some(format!("holds {} records of it: {found}", records.len()))
            } else if records.is_empty() && must_hold {
                Some(format!(
                    "holds none, though {}",
                    if winners.is_empty() {
                        "a claim was refused because the key was taken"
                    } else {
                        "a claim was acknowledged"
                    }
                ))
            } else if !records.is_empty() && all_failed {
                Some(format!("holds {found}, though every claim failed"))
            } else if let (Some((op, value, offset)), Some(record)) =
                (winners.first(), records.first())
            {
                (record.1 != *value || record.0 != *offset).then(|| {
                    format!(
                        "holds {found}, not the winner op {}'s {value:?} at {offset}",
                        op.id
                    )
                })
            } else if let Some(record) = records.first() {
                refused
                    .iter()
                    .find(|(_, at)| *at != Some(record.0))
                    .map(|(op, at)| {
                        format!(
                            "holds {found}, but op {} was refused naming the key's latest offset {at:?}",
                            op.id
                        )
                    })
            } else {
                None
            };
            if let Some(problem) = problem {
                problems.push(format!("node {node} {problem}"));
            }
        }
        if !problems.is_empty() {
            let message = format!(
                "key {key:?} of topic {topic:?} is not held once in the final logs: {}",
                problems.join("; ")
            );
            // The acknowledged and refused claims, or, if none, every claim.
            let decided: Vec<&Op> = ops
                .iter()
                .filter(|op| {
                    matches!(
                        op.outcome,
                        Outcome::AppendOk { .. } | Outcome::Rejected { .. }
                    )
                })
                .copied()
                .collect();
            let cited = if decided.is_empty() { &ops } else { &decided };
            violations.push(Violation::new(
                Property::C10,
                message,
                cited.iter().copied(),
            ));
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

    fn taken(at: u64) -> Outcome {
        Outcome::rejected("condition_failed", Current::KeyLastOffset(Some(at)))
    }

    #[test]
    fn one_winner_the_rest_refused_and_the_winner_in_every_log_passes() {
        let mut h = HistoryBuilder::new();
        h.claim(
            1,
            1,
            ms(0)..ms(10),
            "c",
            "k",
            "a",
            Outcome::unknown("timeout"),
        );
        h.claim(2, 2, ms(0)..ms(10), "c", "k", "b", Outcome::ack(&[0], 3));
        h.claim(3, 3, ms(20)..ms(30), "c", "k", "c", taken(0));
        for node in 1..=3 {
            h.final_log(node, "c", &[(0, "b")]);
        }
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn an_unknown_claim_may_win_or_not() {
        for log in [&[(0, "a")][..], &[][..]] {
            let mut h = HistoryBuilder::new();
            h.claim(1, 1, ms(0)..ms(10), "c", "k", "a", Outcome::unknown("504"));
            h.final_log(1, "c", log);
            assert_eq!(check_claims(&h.build()), vec![]);
        }
    }

    #[test]
    fn two_acknowledged_claims_of_one_key_are_reported() {
        let mut h = HistoryBuilder::new();
        let a = h.claim(1, 1, ms(0)..ms(10), "c", "k", "a", Outcome::ack(&[0], 3));
        let b = h.claim(2, 2, ms(0)..ms(10), "c", "k", "b", Outcome::ack(&[1], 4));
        h.final_log(1, "c", &[(0, "a"), (1, "b")]);
        let violations = check_claims(&h.build());
        assert_eq!(properties(&violations), vec![Property::C10, Property::C10]);
        assert_eq!(violations[0].ops, vec![a, b]);
        assert!(violations[0].message.contains("2 claims of key \"k\""));
        assert!(violations[1].message.contains("holds 2 records of it"));
    }

    #[test]
    fn a_refused_claim_with_the_key_missing_from_the_log_is_reported() {
        let mut h = HistoryBuilder::new();
        h.claim(
            1,
            1,
            ms(0)..ms(10),
            "c",
            "k",
            "a",
            Outcome::unknown("timeout"),
        );
        let refused = h.claim(2, 2, ms(20)..ms(30), "c", "k", "b", taken(0));
        h.final_log(1, "c", &[]);
        let violations = check_claims(&h.build());
        assert_eq!(properties(&violations), vec![Property::C10]);
        assert_eq!(violations[0].ops, vec![refused]);
        assert!(violations[0].message.contains("holds none"));
    }

    #[test]
    fn a_log_holding_a_loser_instead_of_the_winner_is_reported() {
        let mut h = HistoryBuilder::new();
        h.claim(1, 1, ms(0)..ms(10), "c", "k", "a", Outcome::ack(&[0], 3));
        h.claim(
            2,
            2,
            ms(0)..ms(10),
            "c",
            "k",
            "b",
            Outcome::unknown("timeout"),
        );
        h.final_log(1, "c", &[(0, "b")]);
        let violations = check_claims(&h.build());
        assert_eq!(properties(&violations), vec![Property::C10]);
        assert!(violations[0]
            .message
            .contains("not the winner op 1's \"a\" at 0"));
    }

    #[test]
    fn a_refusal_naming_another_offset_than_the_record_is_reported() {
        let mut h = HistoryBuilder::new();
        h.claim(
            1,
            1,
            ms(0)..ms(10),
            "c",
            "k",
            "a",
            Outcome::unknown("timeout"),
        );
        h.claim(2, 2, ms(20)..ms(30), "c", "k", "b", taken(7));
        h.final_log(1, "c", &[(0, "a")]);
        let violations = check_claims(&h.build());
        assert_eq!(properties(&violations), vec![Property::C10]);
        assert!(violations[0].message.contains("latest offset Some(7)"));
    }

    #[test]
    fn a_record_of_a_key_whose_claims_all_failed_is_reported() {
        let mut h = HistoryBuilder::new();
        h.claim(1, 1, ms(0)..ms(10), "c", "k", "a", Outcome::failed("503"));
        h.final_log(1, "c", &[(0, "a")]);
        let violations = check_claims(&h.build());
        assert_eq!(properties(&violations), vec![Property::C10]);
        assert!(violations[0].message.contains("every claim failed"));
    }
}
