//! C8, a client's reads never go backwards. A client is sequential, so its
//! successful reads of a topic, in completion order, form one stream; a pair
//! (earlier E, later L) counts only if E completed no later than L was invoked.
//! - L `Linearizable`: `L.end_offset >= E.end_offset` for every earlier E, of
//!   either consistency. A `Local` read shows only applied, hence committed,
//!   records, and a linearizable read sees everything committed before it began.
//! - L `Local`: compared only with the client's latest earlier `Local` read
//!   from the same node, and skipped if that node crashed or restarted between
//!   the two (it may have lost applied state it had not flushed). A local read
//!   after a linearizable one, or from another node, may lag (DESIGN §3).
//!
//! Pure.

use std::collections::BTreeMap;

use super::{list_some, Property, Violation};
use crate::history::{Consistency, History, SuccessfulRead};

pub fn check_monotonic_reads(history: &History) -> Vec<Violation> {
    let mut streams: BTreeMap<(u32, &str), Vec<SuccessfulRead>> = BTreeMap::new();
    for read in history.successful_reads() {
        streams
            .entry((read.op.client, read.topic))
            .or_default()
            .push(read);
    }
    let mut violations = Vec::new();
    for ((client, topic), mut reads) in streams {
        reads.sort_by_key(|r| (r.op.completed_at, r.op.invoked_at, r.op.id));
        for (position, later) in reads.iter().enumerate() {
            let done_before = reads.partition_point(|r| r.op.completed_at <= later.op.invoked_at);
            let earlier = &reads[..position.min(done_before)];
            let went_back: Vec<&SuccessfulRead> = match later.consistency {
                Consistency::Linearizable => earlier
                    .iter()
                    .filter(|e| e.end_offset > later.end_offset)
                    .collect(),
                Consistency::Local => earlier
                    .iter()
                    .rev()
                    .find(|e| e.consistency == Consistency::Local && e.op.node == later.op.node)
                    .filter(|e| e.end_offset > later.end_offset)
                    .filter(|e| {
                        !history.crashed_or_restarted_between(
                            later.op.node,
                            e.op.invoked_at,
                            later.op.completed_at,
                        )
                    })
                    .into_iter()
                    .collect(),
            };
            if went_back.is_empty() {
                continue;
            }
            let message = format!(
                "client {client}'s {:?} read op {} of topic {topic:?} from node {} returned \
                 end_offset {}, below its earlier {}",
                later.consistency,
                later.op.id,
                later.op.node,
                later.end_offset,
                list_some(went_back.iter().map(|e| format!(
                    "{:?} read op {} (node {}, end_offset {})",
                    e.consistency, e.op.id, e.op.node, e.end_offset
                )))
            );
            let ops = went_back.iter().map(|e| e.op).chain([later.op]);
            violations.push(Violation::new(Property::C8, message, ops));
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

    /// Two records "a", "b" at offsets 0 and 1, acknowledged before any read.
    fn two_records_acked() -> HistoryBuilder {
        let mut h = HistoryBuilder::new();
        h.append(
            9,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b"],
            Outcome::ack(&[0, 1], 1),
        );
        h
    }

    #[test]
    fn rising_reads_pass_and_other_clients_are_not_compared() {
        let mut h = two_records_acked();
        h.read_local(
            1,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a")], 1),
        );
        h.read_local(
            1,
            2,
            ms(30)..ms(40),
            "t",
            1,
            Outcome::read_ok(&[(1, "b")], 2),
        );
        h.read_linearizable(1, 3, ms(40)..ms(50), "t", 2, Outcome::read_ok(&[], 2));
        h.read_local(2, 3, ms(50)..ms(60), "t", 0, Outcome::read_ok(&[], 0));
        assert_eq!(check_monotonic_reads(&h.build()), vec![]);
    }

    #[test]
    fn a_linearizable_read_going_backwards_is_reported_naming_both() {
        let mut h = HistoryBuilder::new();
        h.append(
            9,
            1,
            ms(0)..ms(100),
            "t",
            &["a", "b"],
            Outcome::unknown("timeout"),
        );
        let first = h.read_linearizable(1, 1, ms(20)..ms(30), "t", 0, Outcome::read_ok(&[], 2));
        let second = h.read_linearizable(1, 2, ms(30)..ms(40), "t", 0, Outcome::read_ok(&[], 1));
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C8]);
        assert_eq!(violations[0].ops, vec![first, second]);
    }

    #[test]
    fn a_linearizable_read_below_an_earlier_local_read_is_reported() {
        let mut h = HistoryBuilder::new();
        h.append(
            9,
            1,
            ms(0)..ms(100),
            "t",
            &["a"],
            Outcome::unknown("timeout"),
        );
        let local = h.read_local(
            1,
            3,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a")], 1),
        );
        let lin = h.read_linearizable(1, 1, ms(30)..ms(40), "t", 0, Outcome::read_ok(&[], 0));
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C8]);
        assert_eq!(violations[0].ops, vec![local, lin]);
    }

    #[test]
    fn a_local_read_may_lag_an_earlier_linearizable_read_or_another_node() {
        let mut h = two_records_acked();
        h.read_linearizable(1, 1, ms(20)..ms(30), "t", 0, Outcome::read_ok(&[], 2));
        h.read_local(1, 2, ms(30)..ms(40), "t", 0, Outcome::read_ok(&[], 2));
        h.read_local(1, 3, ms(40)..ms(50), "t", 0, Outcome::read_ok(&[], 0));
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_local_read_going_backwards_on_the_same_node_is_reported() {
        let mut h = two_records_acked();
        let first = h.read_local(1, 2, ms(20)..ms(30), "t", 0, Outcome::read_ok(&[], 2));
        let second = h.read_local(1, 2, ms(30)..ms(40), "t", 0, Outcome::read_ok(&[], 1));
        let violations = check_all(&h.build());
        assert_eq!(properties(&violations), vec![Property::C8]);
        assert_eq!(violations[0].ops, vec![first, second]);
    }

    #[test]
    fn a_local_read_going_backwards_across_a_restart_of_its_node_is_skipped() {
        let mut h = two_records_acked();
        h.read_local(1, 2, ms(20)..ms(30), "t", 0, Outcome::read_ok(&[], 2));
        h.crash(ms(32), 2).restart(ms(35), 2);
        h.read_local(1, 2, ms(40)..ms(50), "t", 0, Outcome::read_ok(&[], 1));
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_restart_of_another_node_does_not_excuse_going_backwards() {
        let mut h = two_records_acked();
        h.read_local(1, 2, ms(20)..ms(30), "t", 0, Outcome::read_ok(&[], 2));
        h.crash(ms(32), 3).restart(ms(35), 3);
        h.read_local(1, 2, ms(40)..ms(50), "t", 0, Outcome::read_ok(&[], 1));
        assert_eq!(properties(&check_all(&h.build())), vec![Property::C8]);
    }
}
