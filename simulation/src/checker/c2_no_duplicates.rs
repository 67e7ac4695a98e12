//! C2, no duplicated record: no value is seen at two different offsets of its
//! topic, in acks, successful reads or final logs. Values are unique per
//! logical record, so a value at two offsets is one record appended twice (a
//! retry that was not deduplicated, or a replayed log entry).
//!
//! Pure.

use super::observations::{disagreements, Source};
use super::{list_some, Property, Violation};
use crate::history::History;

pub fn check_no_duplicates(history: &History) -> Vec<Violation> {
    let places = disagreements(history, |seen| (seen.topic, seen.value), |seen| seen.offset);
    places
        .into_iter()
        .map(|((topic, value), offsets)| {
            let described = offsets.iter().map(|(offset, sources)| {
                let who = list_some(sources.iter().map(Source::to_string));
                format!("offset {offset} ({who})")
            });
            let message = format!(
                "value {value:?} of topic {topic:?} is at {} offsets: {}",
                offsets.len(),
                described.collect::<Vec<_>>().join("; ")
            );
            let ops = offsets.values().flatten().filter_map(|source| source.op());
            Violation::new(Property::C2, message, ops)
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
    fn a_retried_append_deduplicated_to_the_same_offset_passes() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a"],
            Outcome::unknown("timeout"),
        );
        h.append(1, 2, ms(10)..ms(20), "t", &["a"], Outcome::ack(&[0], 1));
        h.read_linearizable(
            2,
            3,
            ms(30)..ms(40),
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
    fn a_retry_appended_twice_is_reported_naming_the_ack_and_the_read() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a"],
            Outcome::unknown("timeout"),
        );
        let retry = h.append(1, 2, ms(10)..ms(20), "t", &["a"], Outcome::ack(&[1], 2));
        let read = h.read_linearizable(
            2,
            3,
            ms(30)..ms(40),
            "t",
            0,
            Outcome::read_ok(&[(0, "a"), (1, "a")], 2),
        );
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C2]);
        assert_eq!(violations[0].ops, vec![retry, read]);
        assert!(violations[0]
            .message
            .contains("value \"a\" of topic \"t\" is at 2 offsets"));
    }
}
