//! Small helpers the checker's tests share: millisecond times, the set of
//! properties a list of violations names, and requests to a work queue.

use std::time::Duration;

use super::{Property, Violation};
use crate::history::{ClaimedJob, HistoryBuilder, Outcome, QueueRequest, QueueView};

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// The properties named by `violations`, in order, with repeats.
pub fn properties(violations: &[Violation]) -> Vec<Property> {
    violations.iter().map(|v| v.property).collect()
}

/// The topic of the queue the queue checks' tests make (`HistoryBuilder::queue`).
pub const QUEUE: &str = "q";

/// A claim of `QUEUE` at `at` ms (answered 5 ms later) for `lease_ms`,
/// handing out `jobs` at `log_index`.
pub fn claim_jobs(
    h: &mut HistoryBuilder,
    at: u64,
    lease_ms: u64,
    jobs: &[ClaimedJob],
    log_index: u64,
) -> u64 {
    let outcome = Outcome::claimed(jobs, log_index);
    h.job_request(
        1,
        ms(at)..ms(at + 5),
        QUEUE,
        QueueRequest::claim(lease_ms),
        outcome,
    )
}

/// An ack, nack or extend of `QUEUE` at `at` ms (answered 5 ms later).
pub fn job_op(h: &mut HistoryBuilder, at: u64, request: QueueRequest, outcome: Outcome) -> u64 {
    h.job_request(2, ms(at)..ms(at + 5), QUEUE, request, outcome)
}

/// Every node shows `QUEUE` drained at `end`, with `acked` acked and `dead`
/// dead-lettered.
pub fn show_drained(h: &mut HistoryBuilder, end: u64, acked: u64, dead: u64) {
    for node in 1..=3 {
        h.final_queue(
            node,
            QUEUE,
            QueueView {
                floor: end,
                end,
                pending: 0,
                in_flight: 0,
                acked,
                dead_lettered: dead,
            },
        );
    }
}
