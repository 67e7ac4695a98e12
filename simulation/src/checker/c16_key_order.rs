//! C16, per-key order (DESIGN §3c): in a queue `ordered_by_key`, a job is
//! handed out only once every earlier job with its key is done (acked or
//! dead-lettered), so a key's jobs run one at a time, in offset order.
//! Done is for good, so anything that shows an earlier job of the key still
//! unfinished at or after the claim that handed out a later one breaks it:
//! an answered claim handing the earlier job out at a later log index (or
//! in the same claim), or an answered ack, nack or extend of it applied
//! at a later log index (it held a lease then). A job's key is the one the
//! claims that handed it out report.
//!
//! Pure.

use std::collections::BTreeMap;

use super::queue_jobs::{queue_jobs, Lease, QueueJobs};
use super::{Property, Violation};
use crate::history::{History, Op};

pub fn check_key_order(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for jobs in queue_jobs(history)
        .iter()
        .filter(|jobs| jobs.spec.ordered_by_key)
    {
        // key → its jobs' offsets, ascending.
        let mut by_key: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for (offset, leases) in &jobs.leases {
            if let Some(key) = leases.iter().find_map(|l| l.job.key.as_deref()) {
                by_key.entry(key).or_default().push(*offset);
            }
        }
        for (key, offsets) in &by_key {
            for (i, later) in offsets.iter().enumerate() {
                for earlier in &offsets[..i] {
                    if let Some(v) = out_of_order(jobs, key, *earlier, *later) {
                        violations.push(v);
                    }
                }
            }
        }
    }
    violations
}

/// The first claim of `later` at which `earlier` (of the same key) was
/// provably not done, if any.
fn out_of_order(jobs: &QueueJobs, key: &str, earlier: u64, later: u64) -> Option<Violation> {
    for handed in jobs.leases_of(later) {
        if let Some((op, what, index)) = unfinished_after(jobs, earlier, handed) {
            let message = format!(
                "queue {} handed out job {later} (key {key:?}) by op {} at log index {}, while \
                 the earlier job {earlier} of that key was not done: op {}'s {what} of it at \
                 log index {index}",
                jobs.spec.name, handed.op.id, handed.log_index, op.id
            );
            return Some(Violation::new(Property::C16, message, [handed.op, op]));
        }
    }
    None
}

/// An answered request that shows job `earlier` unfinished at or after the
/// claim `handed`: (its op, what it did, its log index).
fn unfinished_after<'h>(
    jobs: &QueueJobs<'h>,
    earlier: u64,
    handed: &Lease<'h>,
) -> Option<(&'h Op, &'static str, u64)> {
    let claim = jobs
        .leases_of(earlier)
        .iter()
        .find(|l| l.log_index >= handed.log_index)
        .map(|l| (l.op, "claim", l.log_index));
    let settle = jobs.settles_of(earlier).iter().find_map(|s| {
        let index = s.applied_at().filter(|index| *index > handed.log_index)?;
        Some((s.op, s.kind.name(), index))
    });
    claim.or(settle)
}

#[cfg(test)]
mod tests {
    use super::super::check_all;
    use super::super::test_support::*;
    use super::*;
    use crate::history::{ClaimedJob, HistoryBuilder, Outcome, QueueRequest};

    /// Queue `q` over jobs "a" (key k) at 0, "b" (key k) at 1 and "c"
    /// (key j) at 2; `ordered`: by key.
    fn three_jobs(ordered: bool) -> HistoryBuilder {
        let mut h = HistoryBuilder::new();
        h.queue(QUEUE, 3, ordered);
        h.append(
            1,
            1,
            ms(0)..ms(5),
            QUEUE,
            &["a", "b", "c"],
            Outcome::ack(&[0, 1, 2], 1),
        );
        h
    }

    fn job(offset: u64, lease: &str) -> ClaimedJob {
        let (value, key) = [("a", "k"), ("b", "k"), ("c", "j")][offset as usize];
        ClaimedJob::new(offset, 1, lease, 10_000, value).keyed(key)
    }

    #[test]
    fn a_keys_jobs_one_after_another_beside_another_keys_pass() {
        let mut h = three_jobs(true);
        claim_jobs(&mut h, 10, 100, &[job(0, "l0"), job(2, "l1")], 10);
        let ack = QueueRequest::ack(&[(0, "l0"), (2, "l1")]);
        job_op(&mut h, 20, ack, Outcome::settled(11, &[]));
        claim_jobs(&mut h, 30, 100, &[job(1, "l2")], 12);
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_later_job_handed_out_while_an_earlier_one_of_its_key_is_in_flight_is_reported() {
        let mut h = three_jobs(true);
        claim_jobs(&mut h, 10, 100, &[job(0, "l0")], 10);
        let later = claim_jobs(&mut h, 20, 100, &[job(1, "l1")], 11);
        let ack = QueueRequest::ack(&[(0, "l0")]);
        let still_held = job_op(&mut h, 30, ack, Outcome::settled(12, &[]));
        let violations = check_key_order(&h.build());
        assert_eq!(properties(&violations), vec![Property::C16]);
        assert_eq!(violations[0].ops, vec![later, still_held]);
        assert_eq!(
            violations[0].message,
            "queue g/q handed out job 1 (key \"k\") by op 3 at log index 11, while the earlier \
             job 0 of that key was not done: op 4's ack of it at log index 12"
        );
    }

    #[test]
    fn two_jobs_of_one_key_in_one_claim_are_reported() {
        let mut h = three_jobs(true);
        claim_jobs(&mut h, 10, 100, &[job(0, "l0"), job(1, "l1")], 10);
        let violations = check_key_order(&h.build());
        assert_eq!(properties(&violations), vec![Property::C16]);
        assert!(violations[0]
            .message
            .ends_with("op 2's claim of it at log index 10"));
    }

    #[test]
    fn a_queue_not_ordered_by_key_may_run_a_keys_jobs_at_once() {
        let mut h = three_jobs(false);
        claim_jobs(&mut h, 10, 100, &[job(0, "l0"), job(1, "l1")], 10);
        assert_eq!(check_key_order(&h.build()), vec![]);
    }
}
