//! C6, appends are ordered in real time (DESIGN §4.3): for acknowledged appends
//! A and B to the same topic, if A completed before B was invoked, every offset
//! of A is below every offset of B. A pair sharing a value is one request and
//! its retry, which C2 checks, not two appends; it is skipped here. B counts
//! as invoked when the first attempt carrying any of its values was: a
//! producer's retry is answered with the offsets of whichever earlier attempt
//! was applied (`duplicate`), so its records were sent then.
//!
//! Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{list_some, Property, Violation};
use crate::history::{AckedAppend, History, OpKind};

pub fn check_append_order(history: &History) -> Vec<Violation> {
    // value → when an append carrying it was first invoked.
    let mut first_sent: BTreeMap<&str, Duration> = BTreeMap::new();
    for op in &history.ops {
        if let OpKind::Append { values, .. } = &op.kind {
            for value in values {
                let at = first_sent.entry(value).or_insert(op.invoked_at);
                *at = (*at).min(op.invoked_at);
            }
        }
    }
    let sent_at = |ack: &AckedAppend| {
        ack.values
            .iter()
            .filter_map(|value| first_sent.get(value.as_str()).copied())
            .min()
            .unwrap_or(ack.op.invoked_at)
    };
    let mut by_topic: BTreeMap<&str, Vec<AckedAppend>> = BTreeMap::new();
    for ack in history
        .acked_appends()
        .filter(|ack| !ack.offsets.is_empty())
    {
        by_topic.entry(ack.topic).or_default().push(ack);
    }
    let mut violations = Vec::new();
    for (topic, mut acks) in by_topic {
        acks.sort_by_key(|ack| (ack.op.completed_at, ack.op.id));
        // highest_before[k]: the highest offset among the first k acks to complete.
        let mut highest_before = vec![None];
        for ack in &acks {
            let highest = highest_before[highest_before.len() - 1];
            highest_before.push(max_offset(ack).max(highest));
        }
        for later in &acks {
            let completed_before = acks.partition_point(|a| a.op.completed_at < sent_at(later));
            let lowest = min_offset(later);
            if highest_before[completed_before] < Some(lowest) {
                continue;
            }
            let earlier: Vec<&AckedAppend> = acks[..completed_before]
                .iter()
                .filter(|a| max_offset(a) >= Some(lowest) && !shares_a_value(a, later))
                .collect();
            if earlier.is_empty() {
                continue;
            }
            let message = format!(
                "in topic {topic:?}, op {} was invoked at {:.3}s, after {} completed, \
                 yet got offset {lowest}, not above theirs",
                later.op.id,
                sent_at(later).as_secs_f64(),
                list_some(earlier.iter().map(|a| format!(
                    "op {} (offsets {:?}, completed {:.3}s)",
                    a.op.id,
                    a.offsets,
                    a.op.completed_at.as_secs_f64()
                )))
            );
            let ops = earlier.iter().map(|a| a.op).chain([later.op]);
            violations.push(Violation::new(Property::C6, message, ops));
        }
    }
    violations
}

fn max_offset(ack: &AckedAppend) -> Option<u64> {
    ack.offsets.iter().copied().max()
}

fn min_offset(ack: &AckedAppend) -> u64 {
    ack.offsets.iter().copied().min().unwrap_or(u64::MAX)
}

fn shares_a_value(a: &AckedAppend, b: &AckedAppend) -> bool {
    a.values.iter().any(|value| b.values.contains(value))
}

#[cfg(test)]
mod tests {
    use super::super::check_all;
    use super::super::test_support::*;
    use super::*;
    use crate::history::{HistoryBuilder, Outcome};

    #[test]
    fn sequential_appends_with_rising_offsets_pass() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        h.append(
            2,
            2,
            ms(20)..ms(30),
            "t",
            &["b", "c"],
            Outcome::ack(&[1, 2], 2),
        );
        h.append(3, 3, ms(40)..ms(50), "t", &["d"], Outcome::ack(&[3], 3));
        assert_eq!(check_append_order(&h.build()), vec![]);
    }

    #[test]
    fn concurrent_appends_may_take_either_order() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(30), "t", &["a"], Outcome::ack(&[1], 2));
        h.append(2, 2, ms(10)..ms(20), "t", &["b"], Outcome::ack(&[0], 1));
        assert_eq!(check_append_order(&h.build()), vec![]);
    }

    #[test]
    fn appends_to_different_topics_are_not_ordered_against_each_other() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[5], 1));
        h.append(2, 2, ms(20)..ms(30), "u", &["b"], Outcome::ack(&[0], 2));
        assert_eq!(check_append_order(&h.build()), vec![]);
    }

    #[test]
    fn a_retry_acknowledged_again_at_the_same_offsets_is_not_an_ordering_violation() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        h.append(1, 2, ms(20)..ms(30), "t", &["a"], Outcome::ack(&[0], 1));
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_duplicate_ack_of_a_retry_takes_the_time_of_the_first_attempt() {
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
        h.append(2, 2, ms(5)..ms(15), "t", &["b"], Outcome::ack(&[1], 2));
        h.produce(
            1,
            3,
            ms(20)..ms(30),
            "t",
            ("p1", 0),
            &["a"],
            Outcome::duplicate(&[0], 1),
        );
        assert_eq!(check_append_order(&h.build()), vec![]);
    }

    #[test]
    fn append_sent_after_an_ack_but_given_a_lower_offset_is_reported_naming_both() {
        let mut h = HistoryBuilder::new();
        let first = h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[1], 2));
        let second = h.append(2, 2, ms(20)..ms(30), "t", &["b"], Outcome::ack(&[0], 1));
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C6]);
        assert_eq!(violations[0].ops, vec![first, second]);
    }
}
