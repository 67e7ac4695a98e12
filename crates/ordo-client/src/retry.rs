//! The retry budget: how many attempts and how much time a call may spend,
//! and the backoff between sweeps over the known nodes. Pure: no clock here.

use std::time::Duration;

/// Attempts per call, counting every node tried.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 30;
/// Pause after the first sweep in which every known node failed.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// Longest pause between sweeps; also caps a server's `Retry-After`.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Wall-clock budget for one call, across all its attempts: long enough to
/// ride out a leader election, short enough that a dead cluster is reported.
pub const DEFAULT_TOTAL_BUDGET: Duration = Duration::from_secs(10);

/// How hard a call tries before it reports the cluster unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts per call (at least 1).
    pub max_attempts: u32,
    /// Backoff after the first failed sweep; doubles after each further one.
    pub initial_backoff: Duration,
    /// Cap on a single backoff.
    pub max_backoff: Duration,
    /// Cap on the time a call spends, attempts and backoffs together.
    pub total_budget: Duration,
    /// How long a call keeps trying while no node has ever answered this
    /// client (every connection refused or timed out). A cluster that is
    /// starting may deserve the whole budget; a command-line call with a
    /// mistyped address deserves an answer at once ([`Duration::ZERO`]:
    /// one sweep over the known nodes).
    pub unreachable_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            total_budget: DEFAULT_TOTAL_BUDGET,
            unreachable_budget: DEFAULT_TOTAL_BUDGET,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries: for callers that handle failure themselves.
    pub fn no_retries() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// For one interactive command: the whole call, retries included, within
    /// `budget`, and a cluster that never answered reported after one sweep.
    pub fn interactive(budget: Duration) -> Self {
        RetryPolicy {
            total_budget: budget,
            unreachable_budget: Duration::ZERO,
            ..RetryPolicy::default()
        }
    }

    /// The pause before sweep number `sweep` (1 = the first repeat sweep),
    /// stretched to the server's `Retry-After` when it asked for longer, and
    /// never beyond `max_backoff`.
    pub fn backoff(&self, sweep: u32, retry_after: Option<Duration>) -> Duration {
        let doublings = sweep.saturating_sub(1).min(16);
        let exponential = self.initial_backoff.saturating_mul(1u32 << doublings);
        exponential
            .max(retry_after.unwrap_or(Duration::ZERO))
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, None), Duration::from_millis(50));
        assert_eq!(policy.backoff(2, None), Duration::from_millis(100));
        assert_eq!(policy.backoff(3, None), Duration::from_millis(200));
        assert_eq!(policy.backoff(100, None), policy.max_backoff);
    }

    #[test]
    fn retry_after_stretches_but_never_past_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.backoff(1, Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(30))),
            policy.max_backoff
        );
    }
}
