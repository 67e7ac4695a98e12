//! C5, no gaps: offsets are contiguous.
//! - Each final log of each topic holds exactly offsets 0, 1, …, n-1 in order
//!   (topics start at offset 0: the simulation runs no retention).
//! - Each successful read's records are at offsets `from`, `from`+1, … and
//!   every one is below the read's `end_offset`.
//! - Each ack gives its values contiguous offsets `o`, `o`+1, …, one per value
//!   (DESIGN §3: a request's records are appended contiguously, in order).
//!
//! Pure.

use super::{Property, Violation};
use crate::history::History;

pub fn check_no_gaps(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (node, topics) in &history.final_logs {
        // Compaction leaves gaps by design: C12.
        for (topic, records) in topics.iter().filter(|(t, _)| !history.is_compacted(t)) {
            let offsets = records.iter().map(|(offset, _)| *offset);
            if let Some((position, offset)) = first_break(0, offsets) {
                let message = format!(
                    "node {node}'s final log of topic {topic:?} has offset {offset} \
                     where offset {position} belongs"
                );
                violations.push(Violation::new(Property::C5, message, []));
            }
        }
    }
    for read in history.successful_reads() {
        let offsets = read.records.iter().map(|(offset, _)| *offset);
        let gaps_allowed = history.is_compacted(read.topic);
        let problem = if let Some((expected, offset)) =
            first_break(read.from, offsets).filter(|_| !gaps_allowed)
        {
            format!("has offset {offset} where offset {expected} belongs")
        } else if let Some((offset, _)) = read.records.iter().find(|(o, _)| *o >= read.end_offset) {
            format!(
                "has offset {offset}, not below its end_offset {}",
                read.end_offset
            )
        } else {
            continue;
        };
        let message = format!(
            "read op {} of topic {:?} from {} {problem}",
            read.op.id, read.topic, read.from
        );
        violations.push(Violation::new(Property::C5, message, [read.op]));
    }
    for ack in history.acked_appends() {
        let problem = if ack.offsets.len() != ack.values.len() {
            format!(
                "gives {} offsets for {} values",
                ack.offsets.len(),
                ack.values.len()
            )
        } else if let Some(first) = ack.offsets.first() {
            match first_break(*first, ack.offsets.iter().copied()) {
                Some((expected, offset)) => {
                    format!("has offset {offset} where offset {expected} belongs")
                }
                None => continue,
            }
        } else {
            continue;
        };
        let message = format!("ack of op {} {problem}", ack.op.id);
        violations.push(Violation::new(Property::C5, message, [ack.op]));
    }
    violations
}

/// The first `(expected, actual)` where `offsets` stops counting up by one from `start`.
fn first_break(start: u64, offsets: impl Iterator<Item = u64>) -> Option<(u64, u64)> {
    (start..)
        .zip(offsets)
        .find(|(expected, offset)| expected != offset)
}

#[cfg(test)]
mod tests {
    use super::super::check_all;
    use super::super::test_support::*;
    use super::*;
    use crate::history::{HistoryBuilder, Outcome};

    #[test]
    fn contiguous_logs_pages_and_acks_pass() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b", "c"],
            Outcome::ack(&[0, 1, 2], 1),
        );
        h.read_local(
            2,
            2,
            ms(20)..ms(30),
            "t",
            1,
            Outcome::read_ok(&[(1, "b"), (2, "c")], 3),
        );
        h.read_local(2, 2, ms(30)..ms(40), "t", 3, Outcome::read_ok(&[], 3));
        h.final_log(1, "t", &[(0, "a"), (1, "b"), (2, "c")]);
        assert_eq!(check_no_gaps(&h.build()), vec![]);
    }

    #[test]
    fn a_final_log_with_a_hole_is_reported_naming_node_and_offset() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b"],
            Outcome::unknown("timeout"),
        );
        h.final_log(2, "t", &[(0, "a"), (2, "b")]);
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C5]);
        assert_eq!(
            violations[0].message,
            "node 2's final log of topic \"t\" has offset 2 where offset 1 belongs"
        );
    }

    #[test]
    fn a_read_page_with_a_hole_is_reported_naming_the_read() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b", "c"],
            Outcome::unknown("timeout"),
        );
        let read = h.read_local(
            2,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a"), (2, "c")], 3),
        );
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C5]);
        assert_eq!(violations[0].ops, vec![read]);
    }

    #[test]
    fn a_read_page_not_starting_at_from_is_reported() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b"],
            Outcome::unknown("timeout"),
        );
        let read = h.read_local(
            2,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(1, "b")], 2),
        );
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C5]);
        assert_eq!(violations[0].ops, vec![read]);
    }

    #[test]
    fn a_record_at_or_past_end_offset_is_reported() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a"],
            Outcome::unknown("timeout"),
        );
        let read = h.read_local(
            2,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a")], 0),
        );
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C5]);
        assert_eq!(violations[0].ops, vec![read]);
        assert!(violations[0].message.contains("not below its end_offset 0"));
    }

    #[test]
    fn an_ack_with_non_contiguous_offsets_is_reported() {
        let mut h = HistoryBuilder::new();
        let ack = h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b"],
            Outcome::ack(&[0, 2], 3),
        );
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C5]);
        assert_eq!(violations[0].ops, vec![ack]);
    }
}
