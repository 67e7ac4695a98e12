//! C12, compaction keeps the latest record of each key: in a compacted
//! topic, every node's final log holds, for each key written with an
//! acknowledged append, a record of that key at or after the highest
//! acknowledged offset of the key (the latest is never removed, whatever
//! passes ran under whatever faults). When a final pass was acknowledged
//! after the last append (`History::compacted_at_end`), each key has exactly
//! one record left: every superseded one is gone.
//!
//! A record's key is not in the final logs: it is the key of the append that
//! sent its value (values are unique across the run). Pure.

use std::collections::BTreeMap;

use super::{list_some, Property, Violation};
use crate::history::History;

pub fn check_compaction(history: &History) -> Vec<Violation> {
    let key_of = history.keys_of_values();
    // topic → key → (highest acknowledged offset, the ops that acked it).
    let mut latest_acked: BTreeMap<&str, BTreeMap<&str, (u64, Vec<&crate::history::Op>)>> =
        BTreeMap::new();
    for ack in history.acked_appends() {
        if !history.is_compacted(ack.topic) {
            continue;
        }
        for (offset, value) in ack.offsets.iter().zip(ack.values) {
            let Some(key) = key_of.get(value.as_str()) else {
                continue;
            };
            let entry = latest_acked
                .entry(ack.topic)
                .or_default()
                .entry(key)
                .or_insert((*offset, Vec::new()));
            if *offset > entry.0 {
                *entry = (*offset, Vec::new());
            }
            if *offset == entry.0 {
                entry.1.push(ack.op);
            }
        }
    }

    let mut violations = Vec::new();
    for (node, topics) in &history.final_logs {
        for (topic, records) in topics.iter().filter(|(t, _)| history.is_compacted(t)) {
            // key → offsets of its records in this node's final log.
            let mut held: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
            for (offset, value) in records {
                let key = key_of.get(value.as_str()).copied().unwrap_or("(no key)");
                held.entry(key).or_default().push(*offset);
            }
            let acked = latest_acked.get(topic.as_str());
            for (key, (offset, ops)) in acked.into_iter().flatten() {
                let newest = held.get(key).and_then(|offsets| offsets.last());
                if newest.is_none_or(|newest| newest < offset) {
                    let message = format!(
                        "node {node}'s final log of compacted topic {topic:?} lost key {key:?}: \
                         its latest acknowledged record is at offset {offset}, the log's \
                         newest of the key is {newest:?}"
                    );
                    violations.push(Violation::new(Property::C12, message, ops.iter().copied()));
                }
            }
            if history.compacted_at_end {
                let kept_twice: Vec<_> = held
                    .iter()
                    .filter(|(_, offsets)| offsets.len() > 1)
                    .collect();
                if !kept_twice.is_empty() {
                    let message = format!(
                        "node {node}'s final log of compacted topic {topic:?}, after a final \
                         pass, still holds superseded records: {}",
                        list_some(
                            kept_twice
                                .iter()
                                .map(|(key, offsets)| format!("key {key:?} at {offsets:?}"))
                        )
                    );
                    violations.push(Violation::new(Property::C12, message, []));
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

    /// Key "a" written at 0 and 2, "b" at 1; 2's outcome unknown to the client.
    fn writes(h: &mut HistoryBuilder) {
        h.keyed(1, 1, ms(0)..ms(10), "p", "a", "a0", Outcome::ack(&[0], 3));
        h.keyed(2, 2, ms(0)..ms(10), "p", "b", "b0", Outcome::ack(&[1], 4));
        h.keyed(
            3,
            3,
            ms(20)..ms(30),
            "p",
            "a",
            "a1",
            Outcome::unknown("504"),
        );
    }

    #[test]
    fn the_latest_of_each_key_with_gaps_passes_every_check() {
        let mut h = HistoryBuilder::new();
        writes(&mut h);
        h.compacted("p", true);
        for node in 1..=3 {
            h.final_log(node, "p", &[(1, "b0"), (2, "a1")]);
        }
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn before_a_final_pass_superseded_records_may_stay() {
        let mut h = HistoryBuilder::new();
        writes(&mut h);
        h.compacted("p", false);
        h.final_log(1, "p", &[(0, "a0"), (1, "b0"), (2, "a1")]);
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_lost_latest_record_is_reported() {
        let mut h = HistoryBuilder::new();
        writes(&mut h);
        let b = h.keyed(1, 1, ms(40)..ms(50), "p", "b", "b1", Outcome::ack(&[3], 6));
        h.compacted("p", false);
        h.final_log(1, "p", &[(1, "b0"), (2, "a1")]);
        let violations = check_compaction(&h.build());
        assert_eq!(properties(&violations), vec![Property::C12]);
        assert_eq!(violations[0].ops, vec![b]);
        assert!(violations[0].message.contains("lost key \"b\""));
    }

    #[test]
    fn a_superseded_record_left_after_a_final_pass_is_reported() {
        let mut h = HistoryBuilder::new();
        writes(&mut h);
        h.compacted("p", true);
        h.final_log(2, "p", &[(0, "a0"), (1, "b0"), (2, "a1")]);
        let violations = check_compaction(&h.build());
        assert_eq!(properties(&violations), vec![Property::C12]);
        assert!(violations[0].message.contains("key \"a\" at [0, 2]"));
    }
}
