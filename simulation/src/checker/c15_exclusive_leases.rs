//! C15, no two live leases on one job (DESIGN §3c): a job is held by one
//! worker at a time.
//! - Two answered claims that hand out the same job have lease intervals
//!   `[lease_expires_ms - lease_ms, lease_expires_ms)` that do not overlap,
//!   the earlier one's end moved by each answered extend of it applied
//!   before the later claim. These are the queue's clock (the leader's
//!   stamp, which never goes back within a queue, whichever node stamps
//!   it), so they compare across leaders even when the nodes' clocks differ.
//!   A nack gives a job back before its lease ends: a pair is left out when
//!   a nack of the earlier lease was applied before the later claim (or, its
//!   outcome unknown, may have been), and when an extend of it with an
//!   unknown outcome may have moved its end. An ack applied before the
//!   later claim is C14's (a done job handed out again).
//! - Once a claim handed the job out again, the earlier lease is lost: no
//!   ack, nack or extend of it is applied after that claim (by log index).
//!
//! Pure.

use super::queue_jobs::{queue_jobs, Effect, Lease, QueueJobs, Settle, SettleKind};
use super::{Property, Violation};
use crate::history::History;

pub fn check_exclusive_leases(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for jobs in queue_jobs(history) {
        for (offset, leases) in &jobs.leases {
            let settles = jobs.settles_of(*offset);
            for (i, earlier) in leases.iter().enumerate() {
                for later in &leases[i + 1..] {
                    if let Some(v) = overlap(&jobs, *offset, earlier, later, settles) {
                        violations.push(v);
                    }
                }
            }
            stale_uses(&jobs, *offset, settles, &mut violations);
        }
    }
    violations
}

/// `earlier` and `later` (by log index) lease one job at once, if provably.
fn overlap(
    jobs: &QueueJobs,
    offset: u64,
    earlier: &Lease,
    later: &Lease,
    settles: &[Settle],
) -> Option<Violation> {
    let of_earlier = || settles.iter().filter(|s| s.lease == earlier.job.lease);
    let before_later = |s: &Settle| match s.effect {
        Effect::Applied(index) => index < later.log_index,
        Effect::Maybe => s.op.invoked_at < later.op.completed_at,
        Effect::None => false,
    };
    let ended_early = of_earlier().any(|s| {
        before_later(s)
            && match (s.kind, s.effect) {
                (SettleKind::Nack, _) | (SettleKind::Ack, Effect::Applied(_)) => true,
                (SettleKind::Extend, effect) => effect == Effect::Maybe,
                (SettleKind::Ack, _) => false,
            }
    });
    if ended_early {
        return None;
    }
    let extended = of_earlier()
        .filter(|s| s.kind == SettleKind::Extend)
        .filter_map(|s| Some((s.applied_at()?, s.expires_ms?, s)))
        .filter(|(index, _, _)| *index < later.log_index)
        .max_by_key(|(index, _, _)| *index);
    let (end_ms, extended_by) = match extended {
        Some((_, expires_ms, settle)) => (expires_ms, Some(settle.op)),
        None => (earlier.job.lease_expires_ms, None),
    };
    if later.start_ms() >= end_ms {
        return None;
    }
    let extension = extended_by
        .map(|op| format!(" (as extended by op {})", op.id))
        .unwrap_or_default();
    let message = format!(
        "job {offset} of queue {} was handed out by op {} (log index {}) under {} from {} \
         while {} from op {} (log index {}) was live until {end_ms}{extension}",
        jobs.spec.name,
        later.op.id,
        later.log_index,
        later.job.lease,
        later.start_ms(),
        earlier.job.lease,
        earlier.op.id,
        earlier.log_index,
    );
    let ops = [earlier.op, later.op].into_iter().chain(extended_by);
    Some(Violation::new(Property::C15, message, ops))
}

/// Answered acks, nacks and extends of a lease on `offset` applied after a
/// later claim handed the job out again.
fn stale_uses(jobs: &QueueJobs, offset: u64, settles: &[Settle], violations: &mut Vec<Violation>) {
    for settle in settles {
        let (Some(applied), Some(own)) = (settle.applied_at(), jobs.lease(offset, settle.lease))
        else {
            continue;
        };
        let moved_on = jobs
            .leases_of(offset)
            .iter()
            .find(|l| l.log_index > own.log_index && l.log_index < applied);
        if let Some(next) = moved_on {
            let message = format!(
                "job {offset} of queue {}: op {}'s {} of {} was applied at log index {applied}, \
                 after op {} handed the job out again under {} at log index {}",
                jobs.spec.name,
                settle.op.id,
                settle.kind.name(),
                settle.lease,
                next.op.id,
                next.job.lease,
                next.log_index
            );
            violations.push(Violation::new(
                Property::C15,
                message,
                [own.op, next.op, settle.op],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::check_all;
    use super::super::test_support::*;
    use super::*;
    use crate::history::{ClaimedJob, HistoryBuilder, Outcome, QueueRequest};

    /// Queue `q` (3 deliveries) over job "a" at offset 0.
    fn one_job() -> HistoryBuilder {
        let mut h = HistoryBuilder::new();
        h.queue(QUEUE, 3, false);
        h.append(1, 1, ms(0)..ms(5), QUEUE, &["a"], Outcome::ack(&[0], 1));
        h
    }

    fn job(delivery: u32, lease: &str, expires_ms: u64) -> ClaimedJob {
        ClaimedJob::new(0, delivery, lease, expires_ms, "a")
    }

    #[test]
    fn a_job_handed_out_again_once_its_lease_ended_passes() {
        let mut h = one_job();
        claim_jobs(&mut h, 10, 100, &[job(1, "l0", 1_100)], 10);
        // The queue's clock stamped the second claim at 1100: the end of the first.
        claim_jobs(&mut h, 200, 100, &[job(2, "l1", 1_200)], 20);
        let ack = QueueRequest::ack(&[(0, "l1")]);
        job_op(&mut h, 210, ack, Outcome::settled(21, &[]));
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn a_job_handed_out_while_its_lease_is_live_is_reported() {
        let mut h = one_job();
        let first = claim_jobs(&mut h, 10, 100, &[job(1, "l0", 1_100)], 10);
        let second = claim_jobs(&mut h, 50, 100, &[job(2, "l1", 1_150)], 20);
        let violations = check_exclusive_leases(&h.build());
        assert_eq!(properties(&violations), vec![Property::C15]);
        assert_eq!(violations[0].ops, vec![first, second]);
        assert_eq!(
            violations[0].message,
            "job 0 of queue g/q was handed out by op 3 (log index 20) under l1 from 1050 \
             while l0 from op 2 (log index 10) was live until 1100"
        );
    }

    #[test]
    fn an_extend_moves_the_end_of_the_lease() {
        let mut h = one_job();
        claim_jobs(&mut h, 10, 100, &[job(1, "l0", 1_100)], 10);
        let extend = QueueRequest::extend(&[(0, "l0")], 100);
        let extended = job_op(&mut h, 60, extend, Outcome::extended(11, &[(0, 1_160)]));
        claim_jobs(&mut h, 200, 100, &[job(2, "l1", 1_200)], 20);
        let violations = check_exclusive_leases(&h.build());
        assert_eq!(properties(&violations), vec![Property::C15]);
        assert!(violations[0].ops.contains(&extended));
        assert!(violations[0]
            .message
            .ends_with("was live until 1160 (as extended by op 3)"));
    }

    #[test]
    fn a_nack_before_the_next_claim_ends_the_lease_early_even_if_its_outcome_is_unknown() {
        for outcome in [Outcome::settled(11, &[]), Outcome::unknown("504")] {
            let mut h = one_job();
            claim_jobs(&mut h, 10, 100, &[job(1, "l0", 1_100)], 10);
            job_op(&mut h, 20, QueueRequest::nack(&[(0, "l0")]), outcome);
            claim_jobs(&mut h, 30, 100, &[job(2, "l1", 1_130)], 20);
            assert_eq!(check_exclusive_leases(&h.build()), vec![]);
        }
    }

    #[test]
    fn an_answered_ack_of_a_lease_after_the_job_moved_on_is_reported() {
        let mut h = one_job();
        claim_jobs(&mut h, 10, 100, &[job(1, "l0", 1_100)], 10);
        let moved_on = claim_jobs(&mut h, 200, 100, &[job(2, "l1", 1_200)], 20);
        let ack = QueueRequest::ack(&[(0, "l0")]);
        let stale = job_op(&mut h, 210, ack, Outcome::settled(21, &[]));
        let refused = QueueRequest::ack(&[(0, "l0")]);
        job_op(&mut h, 220, refused, Outcome::lease_lost(&[0]));
        let violations = check_exclusive_leases(&h.build());
        assert_eq!(properties(&violations), vec![Property::C15]);
        assert_eq!(violations[0].ops, vec![2, moved_on, stale]);
        assert!(violations[0]
            .message
            .contains("op 4's ack of l0 was applied at log index 21, after op 3"));
    }
}
