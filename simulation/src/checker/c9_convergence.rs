//! C9, nodes converge (DESIGN §4.7): after the run settles, every node's final
//! log of every topic is identical. Each node is compared with the lowest node
//! id; a missing topic counts as an empty log. A violation names the topic,
//! the two nodes and the first offset where they differ, and cites the appends
//! that sent the differing values.
//!
//! Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::{Property, Violation};
use crate::history::{History, NodeId, Op, OpKind};

pub fn check_convergence(history: &History) -> Vec<Violation> {
    let Some(reference) = history.final_logs.keys().next().copied() else {
        return Vec::new();
    };
    let topics: BTreeSet<&str> = history
        .final_logs
        .values()
        .flat_map(|topics| topics.keys().map(String::as_str))
        .collect();
    let mut violations = Vec::new();
    for topic in topics {
        let expected = log_of(history, reference, topic);
        for node in history.final_logs.keys().filter(|node| **node != reference) {
            let actual = log_of(history, *node, topic);
            let Some(offset) = first_difference(&expected, &actual) else {
                continue;
            };
            let (ours, theirs) = (expected.get(&offset), actual.get(&offset));
            let message = format!(
                "topic {topic:?}: node {reference} and node {node} first differ at offset \
                 {offset}: node {reference} has {}, node {node} has {}",
                describe(ours),
                describe(theirs)
            );
            let values: Vec<&str> = ours.into_iter().chain(theirs).copied().collect();
            violations.push(Violation::new(
                Property::C9,
                message,
                senders(history, topic, &values),
            ));
        }
    }
    violations
}

fn log_of<'h>(history: &'h History, node: NodeId, topic: &str) -> BTreeMap<u64, &'h str> {
    history
        .final_logs
        .get(&node)
        .and_then(|topics| topics.get(topic))
        .map(|records| {
            records
                .iter()
                .map(|(offset, value)| (*offset, value.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

fn first_difference(a: &BTreeMap<u64, &str>, b: &BTreeMap<u64, &str>) -> Option<u64> {
    a.keys()
        .chain(b.keys())
        .copied()
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .find(|offset| a.get(offset) != b.get(offset))
}

fn describe(value: Option<&&str>) -> String {
    match value {
        Some(value) => format!("{value:?}"),
        None => "nothing".to_string(),
    }
}

/// The appends, of any outcome, that sent any of `values` to `topic`.
fn senders<'h>(history: &'h History, topic: &str, values: &[&str]) -> Vec<&'h Op> {
    history
        .ops
        .iter()
        .filter(|op| match &op.kind {
            OpKind::Append {
                topic: sent_to,
                values: sent,
                ..
            } => sent_to == topic && sent.iter().any(|v| values.contains(&v.as_str())),
            OpKind::Read { .. } | OpKind::Queue { .. } => false,
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
    fn identical_final_logs_pass_even_without_a_topic_on_any_node() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        for node in 1..=3 {
            h.final_log(node, "t", &[(0, "a")]);
        }
        h.final_log(2, "empty", &[]);
        assert_eq!(check_convergence(&h.build()), vec![]);
    }

    #[test]
    fn a_node_missing_the_tail_of_a_topic_is_reported_with_the_first_differing_offset() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a"],
            Outcome::unknown("timeout"),
        );
        let tail = h.append(
            1,
            1,
            ms(10)..ms(20),
            "t",
            &["b"],
            Outcome::unknown("timeout"),
        );
        h.final_log(1, "t", &[(0, "a"), (1, "b")]);
        h.final_log(2, "t", &[(0, "a"), (1, "b")]);
        h.final_log(3, "t", &[(0, "a")]);
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C9]);
        assert_eq!(violations[0].ops, vec![tail]);
        assert_eq!(
            violations[0].message,
            "topic \"t\": node 1 and node 3 first differ at offset 1: \
             node 1 has \"b\", node 3 has nothing"
        );
    }
}
