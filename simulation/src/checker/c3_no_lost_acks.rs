//! C3, no acknowledged append lost: every value of an acknowledged append is in
//! every node's final log, at the offset the ack gave it. One violation per
//! node that lacks any. Nothing is checked when the harness recorded no final
//! logs.
//!
//! Pure.

use std::collections::BTreeMap;

use super::{list_some, Property, Violation};
use crate::history::{History, NodeId, Op};

pub fn check_no_lost_acks(history: &History) -> Vec<Violation> {
    let mut lost_by_node: BTreeMap<NodeId, Vec<(&Op, String)>> = BTreeMap::new();
    for (node, topics) in &history.final_logs {
        let held: BTreeMap<(&str, u64), &str> = topics
            .iter()
            .flat_map(|(topic, records)| {
                records
                    .iter()
                    .map(move |(offset, value)| ((topic.as_str(), *offset), value.as_str()))
            })
            .collect();
        // Compaction removes superseded records by design: C12.
        for ack in history
            .acked_appends()
            .filter(|ack| !history.is_compacted(ack.topic))
        {
            for (offset, value) in ack.offsets.iter().zip(ack.values) {
                let found = match held.get(&(ack.topic, *offset)) {
                    Some(there) if there == value => continue,
                    Some(there) => format!("holds {there:?} there"),
                    None => "has nothing there".to_string(),
                };
                let what = format!(
                    "{value:?} at topic {:?} offset {offset} (acked to op {}; node {found})",
                    ack.topic, ack.op.id
                );
                lost_by_node.entry(*node).or_default().push((ack.op, what));
            }
        }
    }
    lost_by_node
        .into_iter()
        .map(|(node, lost)| {
            let message = format!(
                "node {node}'s final log lacks {} acknowledged record(s): {}",
                lost.len(),
                list_some(lost.iter().map(|(_, what)| what.clone()))
            );
            Violation::new(Property::C3, message, lost.iter().map(|(op, _)| *op))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::check_all;
    use super::super::test_support::*;
    use super::*;
    use crate::history::{HistoryBuilder, Outcome};

    #[test]
    fn acknowledged_appends_in_every_final_log_pass() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b"],
            Outcome::ack(&[0, 1], 1),
        );
        for node in 1..=3 {
            h.final_log(node, "t", &[(0, "a"), (1, "b")]);
        }
        assert_eq!(check_no_lost_acks(&h.build()), vec![]);
    }

    #[test]
    fn without_final_logs_nothing_is_checked() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn an_unknown_append_may_be_absent_from_the_final_logs() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a"],
            Outcome::unknown("connection lost"),
        );
        for node in 1..=3 {
            h.final_log(node, "t", &[]);
        }
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn acknowledged_append_lost_on_every_node_is_reported_per_node() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        let lost = h.append(1, 1, ms(10)..ms(20), "t", &["b"], Outcome::ack(&[1], 2));
        for node in 1..=3 {
            h.final_log(node, "t", &[(0, "a")]);
        }
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C3; 3]);
        for (violation, node) in violations.iter().zip(1..=3) {
            assert_eq!(violation.ops, vec![lost]);
            assert!(violation.message.starts_with(&format!(
                "node {node}'s final log lacks 1 acknowledged record(s): \"b\" at topic \"t\" offset 1"
            )));
        }
    }
}
