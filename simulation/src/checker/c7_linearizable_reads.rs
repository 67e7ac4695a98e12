//! C7, linearizable reads (DESIGN §4.4): a successful `Linearizable` read R
//! sees every append acknowledged before R was invoked. For each acknowledged
//! append A to R's topic with `A.completed_at < R.invoked_at`:
//! - every offset of A is below `R.end_offset`, and
//! - where R's page has a record at an offset of A, it holds A's value there.
//!
//! `Local` reads may lag (DESIGN §3), so they are not checked here.
//!
//! Pure.

use std::collections::BTreeMap;

use super::{list_some, Property, Violation};
use crate::history::{AckedAppend, Consistency, History};

/// A topic's acknowledged appends, indexed for the two questions C7 asks.
#[derive(Default)]
struct TopicAcks<'h> {
    /// In completion order.
    by_completion: Vec<AckedAppend<'h>>,
    /// `highest_before[k]`: the highest offset among the first k to complete.
    highest_before: Vec<Option<u64>>,
    /// offset → the acks that claimed it, with the value each claimed.
    at_offset: BTreeMap<u64, Vec<(AckedAppend<'h>, &'h str)>>,
}

pub fn check_linearizable_reads(history: &History) -> Vec<Violation> {
    let mut by_topic: BTreeMap<&str, TopicAcks> = BTreeMap::new();
    for ack in history.acked_appends() {
        let topic = by_topic.entry(ack.topic).or_default();
        topic.by_completion.push(ack);
        for (offset, value) in ack.offsets.iter().zip(ack.values) {
            topic
                .at_offset
                .entry(*offset)
                .or_default()
                .push((ack, value));
        }
    }
    for topic in by_topic.values_mut() {
        topic
            .by_completion
            .sort_by_key(|ack| (ack.op.completed_at, ack.op.id));
        topic.highest_before = vec![None];
        for ack in &topic.by_completion {
            let highest = topic.highest_before[topic.highest_before.len() - 1];
            topic
                .highest_before
                .push(ack.offsets.iter().copied().max().max(highest));
        }
    }

    let mut violations = Vec::new();
    let reads = history
        .successful_reads()
        .filter(|read| read.consistency == Consistency::Linearizable);
    for read in reads {
        let Some(acks) = by_topic.get(read.topic) else {
            continue;
        };
        let acked_before = |a: &AckedAppend| a.op.completed_at < read.op.invoked_at;
        let describe = |a: &AckedAppend| {
            format!(
                "op {} (offsets {:?}, completed {:.3}s)",
                a.op.id,
                a.offsets,
                a.op.completed_at.as_secs_f64()
            )
        };

        let count_before = acks.by_completion.partition_point(acked_before);
        if acks.highest_before[count_before] >= Some(read.end_offset) {
            let unseen: Vec<&AckedAppend> = acks.by_completion[..count_before]
                .iter()
                .filter(|a| a.offsets.iter().any(|offset| *offset >= read.end_offset))
                .collect();
            let message = format!(
                "linearizable read op {} of topic {:?}, invoked {:.3}s, returned end_offset {} \
                 and so missed appends acknowledged before it: {}",
                read.op.id,
                read.topic,
                read.op.invoked_at.as_secs_f64(),
                read.end_offset,
                list_some(unseen.iter().map(|a| describe(a)))
            );
            let ops = unseen.iter().map(|a| a.op).chain([read.op]);
            violations.push(Violation::new(Property::C7, message, ops));
        }

        let mut overwritten = Vec::new();
        for (offset, there) in read.records {
            for (a, value) in acks.at_offset.get(offset).into_iter().flatten() {
                if acked_before(a) && there != value {
                    overwritten.push((a, *offset, *value, there));
                }
            }
        }
        if !overwritten.is_empty() {
            let message = format!(
                "linearizable read op {} of topic {:?} shows other values at offsets \
                 acknowledged before it: {}",
                read.op.id,
                read.topic,
                list_some(overwritten.iter().map(|(a, offset, value, there)| format!(
                    "offset {offset} has {there:?}, not {value:?} of {}",
                    describe(a)
                )))
            );
            let ops = overwritten.iter().map(|(a, ..)| a.op).chain([read.op]);
            violations.push(Violation::new(Property::C7, message, ops));
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
    fn a_read_that_sees_every_earlier_ack_passes() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        h.read_linearizable(
            2,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a")], 1),
        );
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_read_concurrent_with_an_append_may_miss_it() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(25), "t", &["a"], Outcome::ack(&[0], 1));
        h.read_linearizable(2, 2, ms(20)..ms(30), "t", 0, Outcome::read_ok(&[], 0));
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_page_that_starts_after_the_acked_offset_need_not_show_it() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b"],
            Outcome::ack(&[0, 1], 1),
        );
        h.read_linearizable(
            2,
            2,
            ms(20)..ms(30),
            "t",
            1,
            Outcome::read_ok(&[(1, "b")], 2),
        );
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_lagging_local_read_after_a_linearizable_read_is_not_a_violation() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        h.read_linearizable(
            2,
            1,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a")], 1),
        );
        h.read_local(2, 3, ms(40)..ms(50), "t", 0, Outcome::read_ok(&[], 0));
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_read_missing_an_earlier_ack_is_reported_naming_both() {
        let mut h = HistoryBuilder::new();
        let ack = h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        let read = h.read_linearizable(2, 2, ms(20)..ms(30), "t", 0, Outcome::read_ok(&[], 0));
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C7]);
        assert_eq!(violations[0].ops, vec![ack, read]);
        assert!(violations[0].message.contains("returned end_offset 0"));
    }

    #[test]
    fn a_read_showing_another_value_at_an_acked_offset_is_reported() {
        let mut h = HistoryBuilder::new();
        let ack = h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        h.append(
            3,
            3,
            ms(0)..ms(10),
            "t",
            &["b"],
            Outcome::unknown("timeout"),
        );
        let read = h.read_linearizable(
            2,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "b")], 1),
        );
        let history = h.build();
        let violations = check_linearizable_reads(&history);
        assert_eq!(properties(&violations), vec![Property::C7]);
        assert_eq!(violations[0].ops, vec![ack, read]);
        assert!(violations[0]
            .message
            .contains("offset 0 has \"b\", not \"a\""));
        // The same two ops also break C1; check_all reports both.
        assert_eq!(
            properties(&check_all(&history)),
            vec![Property::C1, Property::C7]
        );
    }
}
