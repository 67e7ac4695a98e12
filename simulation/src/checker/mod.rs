//! The history checker: pure functions from a `History` to the violations of
//! ordo's guarantees (DESIGN §4) that it proves. One file per property; this
//! module owns the shared `Violation` type and `check_all`.
//!
//! Pure: no I/O, no runtime. A check reports only what the history proves: an
//! operation whose outcome is `Unknown` may or may not have happened, so it is
//! never evidence that something happened, nor that something did not.

mod c10_claims;
mod c11_exactly_once_producers;
mod c12_compaction;
mod c13_storage_integrity;
mod c14_jobs_done_once;
mod c15_exclusive_leases;
mod c16_key_order;
mod c1_one_value_per_offset;
mod c2_no_duplicates;
mod c3_no_lost_acks;
mod c4_no_phantom_records;
mod c5_no_gaps;
mod c6_append_order;
mod c7_linearizable_reads;
mod c8_monotonic_reads;
mod c9_convergence;
mod liveness;
mod observations;
mod queue_jobs;
mod summary;

#[cfg(test)]
mod test_support;

use std::fmt;

use crate::history::{History, Op};

pub use c10_claims::check_claims;
pub use c11_exactly_once_producers::check_exactly_once_producers;
pub use c12_compaction::check_compaction;
pub use c13_storage_integrity::check_storage_integrity;
pub use c14_jobs_done_once::check_jobs_done_once;
pub use c15_exclusive_leases::check_exclusive_leases;
pub use c16_key_order::check_key_order;
pub use c1_one_value_per_offset::check_one_value_per_offset;
pub use c2_no_duplicates::check_no_duplicates;
pub use c3_no_lost_acks::check_no_lost_acks;
pub use c4_no_phantom_records::check_no_phantom_records;
pub use c5_no_gaps::check_no_gaps;
pub use c6_append_order::check_append_order;
pub use c7_linearizable_reads::check_linearizable_reads;
pub use c8_monotonic_reads::check_monotonic_reads;
pub use c9_convergence::check_convergence;
pub use liveness::check_liveness;
pub use summary::summary;

/// A violation cites at most this many operations in full; the rest by count.
/// One bad offset can be seen by thousands of reads, and a report a person
/// cannot read helps nobody.
pub const MAX_OPS_SHOWN: usize = 8;

/// The guarantee a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Property {
    C1,
    C2,
    C3,
    C4,
    C5,
    C6,
    C7,
    C8,
    C9,
    C10,
    C11,
    C12,
    C13,
    C14,
    C15,
    C16,
    Liveness,
}

impl Property {
    /// The guarantee, in a few words.
    pub fn promise(self) -> &'static str {
        match self {
            Property::C1 => "one value per (topic, offset)",
            Property::C2 => "no duplicated record",
            Property::C3 => "no acknowledged append lost",
            Property::C4 => "no record that was never sent (or whose append failed)",
            Property::C5 => "no gaps in offsets",
            Property::C6 => "appends are ordered in real time",
            Property::C7 => "linearizable reads see every earlier acknowledged append",
            Property::C8 => "a client's reads never go backwards",
            Property::C9 => "all nodes converge to the same log",
            Property::C10 => "a key is claimed once",
            Property::C11 => "a producer's append lands exactly once",
            Property::C12 => "compaction keeps exactly the latest record of each key",
            Property::C13 => "a node's storage fails only after an injected I/O error",
            Property::C14 => "every job is acked or dead-lettered exactly once",
            Property::C15 => "no two live leases on one job",
            Property::C16 => "a key's jobs are handed out one at a time, in order",
            Property::Liveness => "appends succeed within a bound after faults heal",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self, self.promise())
    }
}

/// One proven breach of a guarantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub property: Property,
    pub message: String,
    /// Ids of the offending operations, ascending, without repeats.
    pub ops: Vec<u64>,
    /// The first `MAX_OPS_SHOWN` of those operations in full, for the report.
    pub evidence: Vec<Op>,
}

impl Violation {
    /// A violation citing `ops` (in any order, repeats allowed).
    pub fn new<'h>(
        property: Property,
        message: String,
        ops: impl IntoIterator<Item = &'h Op>,
    ) -> Violation {
        let mut cited: Vec<&Op> = ops.into_iter().collect();
        cited.sort_by_key(|op| op.id);
        cited.dedup_by_key(|op| op.id);
        Violation {
            property,
            message,
            ops: cited.iter().map(|op| op.id).collect(),
            evidence: cited.into_iter().take(MAX_OPS_SHOWN).cloned().collect(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} violated: {}", self.property, self.message)?;
        for op in &self.evidence {
            write!(f, "\n    {op}")?;
        }
        let unshown = self.ops.len() - self.evidence.len();
        if unshown > 0 {
            write!(f, "\n    … and {unshown} more ops")?;
        }
        Ok(())
    }
}

/// Every check, in property order.
pub fn check_all(history: &History) -> Vec<Violation> {
    let checks: [fn(&History) -> Vec<Violation>; 17] = [
        check_one_value_per_offset,
        check_no_duplicates,
        check_no_lost_acks,
        check_no_phantom_records,
        check_no_gaps,
        check_append_order,
        check_linearizable_reads,
        check_monotonic_reads,
        check_convergence,
        check_claims,
        check_exactly_once_producers,
        check_compaction,
        check_storage_integrity,
        check_jobs_done_once,
        check_exclusive_leases,
        check_key_order,
        check_liveness,
    ];
    checks.iter().flat_map(|check| check(history)).collect()
}

/// `items` joined by ", ", at most `MAX_OPS_SHOWN` of them, then a count of the rest.
fn list_some(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    let mut text = items
        .iter()
        .take(MAX_OPS_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_OPS_SHOWN {
        text.push_str(&format!(" and {} more", items.len() - MAX_OPS_SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::history::{HistoryBuilder, Outcome};

    #[test]
    fn a_clean_run_has_no_violations() {
        let mut h = HistoryBuilder::new();
        h.append(
            1,
            1,
            ms(0)..ms(10),
            "t",
            &["a", "b"],
            Outcome::ack(&[0, 1], 2),
        );
        h.read_linearizable(
            2,
            2,
            ms(20)..ms(30),
            "t",
            0,
            Outcome::read_ok(&[(0, "a"), (1, "b")], 2),
        );
        h.liveness(ms(40), Some(ms(45)), ms(100));
        for node in 1..=3 {
            h.final_log(node, "t", &[(0, "a"), (1, "b")]);
        }
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn violation_report_names_property_message_and_ops_in_full() {
        let mut h = HistoryBuilder::new();
        let a = h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 2));
        let history = h.build();
        let violation = Violation::new(Property::C3, "lost".to_string(), &history.ops);
        assert_eq!(violation.ops, vec![a]);
        assert_eq!(
            violation.to_string(),
            "C3 (no acknowledged append lost) violated: lost\n    \
             op 1: client 1 → node 1, 0.000s..0.010s, append \"t\" [\"a\"] → ok offsets [0] log_index 2"
        );
    }

    #[test]
    fn violation_report_cites_a_bounded_number_of_ops() {
        let mut h = HistoryBuilder::new();
        for i in 0..(MAX_OPS_SHOWN as u64 + 3) {
            h.read_local(1, 1, ms(i)..ms(i), "t", 0, Outcome::read_ok(&[], 0));
        }
        let history = h.build();
        let violation = Violation::new(Property::C8, "many".to_string(), &history.ops);
        assert_eq!(violation.ops.len(), MAX_OPS_SHOWN + 3);
        assert_eq!(violation.evidence.len(), MAX_OPS_SHOWN);
        assert!(violation.to_string().ends_with("… and 3 more ops"));
    }
}
