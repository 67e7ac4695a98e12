//! Whether this node's disk syncs slowly: the flusher hands every flush's
//! duration to [`SlowSyncs`], which counts them by windows of
//! [`SLOW_SYNC_WINDOW`], and a window whose 99th percentile is above
//! [`SLOW_SYNC_P99`] ends with one warning (as etcd warns on a slow
//! fdatasync): at most one a window, however many flushes were slow. The
//! durations themselves are in `ordo_storage_flush_seconds`.
//!
//! The percentile needs no samples kept: a window's p99 is above the
//! threshold exactly when more than 1 % of its flushes took longer.

use std::fmt;
use std::time::{Duration, Instant};

/// A window's 99th percentile of flush time above this is warned about.
/// A healthy SSD syncs in well under a millisecond (the `make bench`
/// machine: about 150 µs); etcd asks for a p99 under 10 ms.
pub const SLOW_SYNC_P99: Duration = Duration::from_millis(50);

/// How long each window of flushes lasts.
pub const SLOW_SYNC_WINDOW: Duration = Duration::from_secs(60);

/// The flushes of the current window, as counts.
#[derive(Debug)]
pub(crate) struct SlowSyncs {
    started: Instant,
    flushes: u64,
    slow: u64,
    slowest: Duration,
}

/// A window whose p99 was above [`SLOW_SYNC_P99`]: what its warning says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlowWindow {
    pub flushes: u64,
    pub slow: u64,
    pub slowest: Duration,
    pub lasted: Duration,
}

impl SlowSyncs {
    pub(crate) fn new(now: Instant) -> SlowSyncs {
        SlowSyncs {
            started: now,
            flushes: 0,
            slow: 0,
            slowest: Duration::ZERO,
        }
    }

    /// Counts a flush that took `took` and ended at `now`. Once a window
    /// has lasted [`SLOW_SYNC_WINDOW`], it ends with this flush: the
    /// answer is the warning to give if its p99 was above the threshold,
    /// and the next flush starts a new window.
    pub(crate) fn record(&mut self, took: Duration, now: Instant) -> Option<SlowWindow> {
        self.flushes += 1;
        if took > SLOW_SYNC_P99 {
            self.slow += 1;
        }
        self.slowest = self.slowest.max(took);
        let lasted = now.saturating_duration_since(self.started);
        if lasted < SLOW_SYNC_WINDOW {
            return None;
        }
        let window = SlowWindow {
            flushes: self.flushes,
            slow: self.slow,
            slowest: self.slowest,
            lasted,
        };
        *self = SlowSyncs::new(now);
        (window.slow * 100 > window.flushes).then_some(window)
    }
}

impl fmt::Display for SlowWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "disk syncs are slow: {} of {} flushes of the Raft log in the last {} s took over {} ms \
             (p99 above it; the slowest {} ms); every append waits for one",
            self.slow,
            self.flushes,
            self.lasted.as_secs(),
            SLOW_SYNC_P99.as_millis(),
            self.slowest.as_millis(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_micros(150);
    const SLOW: Duration = Duration::from_millis(80);

    /// `fast` fast and `slow` slow flushes spread over one window, the
    /// last of them after it has lasted its length: what that one answers.
    fn window(fast: u64, slow: u64) -> Option<SlowWindow> {
        let start = Instant::now();
        let mut syncs = SlowSyncs::new(start);
        let total = fast + slow;
        let step = SLOW_SYNC_WINDOW / u32::try_from(total).unwrap();
        for i in 1..total {
            let took = if i <= slow { SLOW } else { FAST };
            let answer = syncs.record(took, start + step * u32::try_from(i).unwrap());
            assert_eq!(answer, None, "flush {i} ended no window");
        }
        syncs.record(FAST, start + SLOW_SYNC_WINDOW)
    }

    #[test]
    fn a_window_with_more_than_one_percent_slow_is_warned_about_once_it_ends() {
        let warned = window(990, 11).expect("11 slow flushes of 1,001");
        assert_eq!(warned.flushes, 1_001);
        assert_eq!(warned.slow, 11);
        assert_eq!(warned.slowest, SLOW);
        assert_eq!(warned.lasted, SLOW_SYNC_WINDOW);
        let said = warned.to_string();
        assert!(
            said.contains("11 of 1001 flushes") && said.contains("over 50 ms"),
            "{said}"
        );
    }

    #[test]
    fn one_percent_slow_or_less_is_not() {
        assert_eq!(window(990, 10), None, "exactly 1 %: p99 is not above");
        assert_eq!(window(1_000, 0), None);
    }

    #[test]
    fn each_window_counts_afresh() {
        let start = Instant::now();
        let mut syncs = SlowSyncs::new(start);
        assert!(syncs.record(SLOW, start + SLOW_SYNC_WINDOW).is_some());
        // The next window: one slow flush of 200 is not 1 %.
        let next = start + SLOW_SYNC_WINDOW;
        for i in 1..200u32 {
            let took = if i == 1 { SLOW } else { FAST };
            assert_eq!(
                syncs.record(took, next + Duration::from_millis(i.into())),
                None
            );
        }
        assert_eq!(syncs.record(FAST, next + SLOW_SYNC_WINDOW), None);
    }
}
