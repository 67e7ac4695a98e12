//! A worker's pure rules: when to extend a lease, what an ack or nack's
//! answer means for the next step (send it again, or what to report), and
//! which claim failures end the worker. No I/O and no clock here.

use std::time::Duration;

use ordo_api::JobsDone;

use crate::error::ClientError;
use crate::queues::lost_offsets;

/// Most sends of one ack or nack (the first and its retries).
pub const MAX_SETTLE_ATTEMPTS: u32 = 5;
/// Pause before sending an ack or nack again: long enough for a leader
/// election to get under way (as the producer's resend).
pub const SETTLE_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Shortest pause between two extends of one job's lease.
pub const MIN_EXTEND_INTERVAL: Duration = Duration::from_millis(10);

/// How often a running job's lease is extended: three times per lease, so
/// two extends in a row may fail (a leader election, a slow node) before it
/// runs out.
pub fn extend_interval(lease: Duration) -> Duration {
    (lease / 3).max(MIN_EXTEND_INTERVAL)
}

/// How an ack or nack ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// It took effect.
    Done(JobsDone),
    /// An earlier send's outcome was unknown, and a resend found the lease
    /// no longer held: the earlier send took effect, or the lease had
    /// already run out. Either way the job is not this worker's any more.
    SettledOrLost,
    /// The lease was no longer held when the first send arrived (it ran out
    /// and the job went back to the queue): nothing took effect.
    Lost,
    /// Could not be settled: the retries ran out, or the cluster refused
    /// it for another reason. The job goes back when its lease runs out,
    /// unless a send whose answer was lost took effect.
    Failed(ClientError),
}

/// What to do after one send of an ack or nack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Finish(Settlement),
    /// Send the same request again after [`SETTLE_RETRY_PAUSE`].
    Retry,
}

/// The sends of one ack or nack so far: how many, and whether one of them
/// may have taken effect.
#[derive(Debug, Default)]
pub struct SettleAttempts {
    sent: u32,
    uncertain: bool,
}

impl SettleAttempts {
    /// The next step after a send answered `result`.
    pub fn after(&mut self, result: Result<JobsDone, ClientError>) -> Step {
        self.sent += 1;
        let error = match result {
            Ok(done) => return Step::Finish(Settlement::Done(done)),
            Err(error) => error,
        };
        if lost_offsets(&error).is_some() {
            // All or nothing: a lost lease means this send changed nothing.
            return Step::Finish(match self.uncertain {
                true => Settlement::SettledOrLost,
                false => Settlement::Lost,
            });
        }
        let worth_resending = match &error {
            ClientError::OutcomeUnknown { .. } => {
                self.uncertain = true;
                true
            }
            // Certainly not applied (the call's own retries of a 503 ran
            // out): the lease may still be held once a leader is back.
            ClientError::Unavailable { .. } => true,
            _ => false,
        };
        if worth_resending && self.sent < MAX_SETTLE_ATTEMPTS {
            Step::Retry
        } else {
            Step::Finish(Settlement::Failed(error))
        }
    }
}

/// Whether a failed claim ends the worker: a definite refusal (the queue
/// is gone, the caller may not use it, the request is out of bounds) would
/// be refused again. Anything else (no leader, a node down, an unknown
/// outcome) is waited out.
pub fn claim_failure_is_fatal(error: &ClientError) -> bool {
    match error {
        ClientError::Api { status, .. } => (400..500).contains(status),
        ClientError::InvalidAddr { .. } | ClientError::Setup { .. } => true,
        ClientError::Unavailable { .. }
        | ClientError::OutcomeUnknown { .. }
        | ClientError::Decode { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_core::{LogIndex, Offset};

    fn done() -> JobsDone {
        JobsDone {
            log_index: LogIndex(4),
            dead_lettered: vec![Offset(2)],
        }
    }

    fn unknown() -> ClientError {
        ClientError::OutcomeUnknown {
            addr: "http://127.0.0.1:7001".into(),
            reason: "timed out".into(),
        }
    }

    fn unavailable() -> ClientError {
        ClientError::Unavailable {
            attempts: 3,
            elapsed_ms: 10_000,
            answer: None,
            last_error: "could not reach 127.0.0.1:7001".into(),
        }
    }

    fn refused(status: u16, code: &str) -> ClientError {
        ClientError::Api {
            status,
            code: code.into(),
            message: String::new(),
            leader: None,
            current: (code == "lease_lost").then(|| serde_json::json!({"offsets": [2]})),
        }
    }

    #[test]
    fn a_lease_is_extended_three_times_per_lease() {
        assert_eq!(
            extend_interval(Duration::from_secs(30)),
            Duration::from_secs(10)
        );
        assert_eq!(
            extend_interval(Duration::from_millis(2_100)),
            Duration::from_millis(700)
        );
        assert_eq!(extend_interval(Duration::ZERO), MIN_EXTEND_INTERVAL);
    }

    #[test]
    fn a_lost_lease_after_an_unknown_outcome_is_settled_or_lost() {
        let mut attempts = SettleAttempts::default();
        assert_eq!(attempts.after(Err(unknown())), Step::Retry);
        assert_eq!(
            attempts.after(Err(refused(409, "lease_lost"))),
            Step::Finish(Settlement::SettledOrLost)
        );
    }

    #[test]
    fn a_lost_lease_on_the_first_send_is_lost() {
        let mut attempts = SettleAttempts::default();
        assert_eq!(
            attempts.after(Err(refused(409, "lease_lost"))),
            Step::Finish(Settlement::Lost)
        );
        // A send that certainly did nothing does not make a later lost
        // lease uncertain.
        let mut attempts = SettleAttempts::default();
        assert_eq!(attempts.after(Err(unavailable())), Step::Retry);
        assert_eq!(
            attempts.after(Err(refused(409, "lease_lost"))),
            Step::Finish(Settlement::Lost)
        );
    }

    #[test]
    fn a_resend_that_succeeds_is_done() {
        let mut attempts = SettleAttempts::default();
        assert_eq!(attempts.after(Err(unknown())), Step::Retry);
        assert_eq!(
            attempts.after(Ok(done())),
            Step::Finish(Settlement::Done(done()))
        );
    }

    #[test]
    fn resends_stop_after_the_last_attempt_or_a_refusal() {
        let mut attempts = SettleAttempts::default();
        for _ in 1..MAX_SETTLE_ATTEMPTS {
            assert_eq!(attempts.after(Err(unknown())), Step::Retry);
        }
        assert_eq!(
            attempts.after(Err(unknown())),
            Step::Finish(Settlement::Failed(unknown()))
        );
        let mut attempts = SettleAttempts::default();
        let gone = refused(404, "queue_not_found");
        assert_eq!(
            attempts.after(Err(gone.clone())),
            Step::Finish(Settlement::Failed(gone))
        );
    }

    #[test]
    fn only_definite_refusals_end_a_worker() {
        assert!(claim_failure_is_fatal(&refused(404, "queue_not_found")));
        assert!(claim_failure_is_fatal(&refused(403, "forbidden")));
        assert!(!claim_failure_is_fatal(&refused(500, "internal")));
        assert!(!claim_failure_is_fatal(&unknown()));
        assert!(!claim_failure_is_fatal(&unavailable()));
    }
}
