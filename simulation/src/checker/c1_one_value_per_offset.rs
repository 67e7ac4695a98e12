//! C1, one value per (topic, offset): across every acknowledged append (an ack
//! of values `v_i` at offsets `o_i` claims `v_i` is at `o_i`), every successful
//! read and every final log, no (topic, offset) is seen holding two different
//! values. Offsets are assigned once, in log order, and never reused.
//!
//! Pure.

use super::observations::{disagreements, Source};
use super::{list_some, Property, Violation};
use crate::history::History;

pub fn check_one_value_per_offset(history: &History) -> Vec<Violation> {
    let claims = disagreements(history, |seen| (seen.topic, seen.offset), |seen| seen.value);
    claims
        .into_iter()
        .map(|((topic, offset), values)| {
            let described = values.iter().map(|(value, sources)| {
                let who = list_some(sources.iter().map(Source::to_string));
                format!("{value:?} ({who})")
            });
            let message = format!(
                "topic {topic:?} offset {offset} holds {} different values: {}",
                values.len(),
                described.collect::<Vec<_>>().join("; ")
            );
            let ops = values.values().flatten().filter_map(|source| source.op());
            Violation::new(Property::C1, message, ops)
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
    fn reads_acks_and_final_logs_that_agree_on_each_offset_pass() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        h.append(2, 2, ms(0)..ms(10), "u", &["b"], Outcome::ack(&[0], 2));
        h.read_local(
            3,
            3,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a")], 1),
        );
        h.final_log(1, "t", &[(0, "a")])
            .final_log(1, "u", &[(0, "b")]);
        assert_eq!(check_one_value_per_offset(&h.build()), vec![]);
    }

    #[test]
    fn read_showing_another_value_at_an_acked_offset_is_reported_naming_both_ops() {
        let mut h = HistoryBuilder::new();
        let ack = h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        // "b" was sent, so the read showing it breaks only C1, not C4.
        h.append(
            2,
            2,
            ms(0)..ms(10),
            "t",
            &["b"],
            Outcome::unknown("timeout"),
        );
        let read = h.read_local(
            3,
            3,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "b")], 1),
        );
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C1]);
        assert_eq!(violations[0].ops, vec![ack, read]);
        assert!(violations[0]
            .message
            .contains("topic \"t\" offset 0 holds 2 different values"));
    }

    #[test]
    fn two_final_logs_disagreeing_on_an_offset_are_reported() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a"],
            Outcome::unknown("timeout"),
        );
        h.append(
            2,
            2,
            ms(0)..ms(10),
            "t",
            &["b"],
            Outcome::unknown("timeout"),
        );
        h.final_log(1, "t", &[(0, "a")])
            .final_log(2, "t", &[(0, "b")]);
        let violations = check_one_value_per_offset(&h.build());
        assert_eq!(properties(&violations), vec![Property::C1]);
        assert!(violations[0].message.contains("final log of node 1"));
        assert!(violations[0].message.contains("final log of node 2"));
    }

    #[test]
    fn a_claim_handing_out_another_value_than_the_log_holds_is_reported() {
        let mut h = HistoryBuilder::new();
        h.queue("q", 1, false);
        h.append(1, 1, ms(0)..ms(10), "q", &["a"], Outcome::ack(&[0], 1));
        let request = crate::history::QueueRequest::claim(100);
        let job = crate::history::ClaimedJob::new(0, 1, "l0", 100, "b");
        let claim = h.job_request(2, ms(20)..ms(30), "q", request, Outcome::claimed(&[job], 2));
        let violations = check_one_value_per_offset(&h.build());
        assert_eq!(properties(&violations), vec![Property::C1]);
        assert_eq!(violations[0].ops, vec![1, claim]);
        assert!(violations[0].message.contains("(job claim op 2)"));
    }
}
