//! Pure: which outcomes of the Raft messages to one peer are worth a log
//! line. A leader sends each peer about 20 messages a second (heartbeats
//! and appends), so a dead peer fails them all; [`Reachability`] turns that
//! stream into a few [`Notice`]s: the first failure, a count every
//! [`SUMMARY_INTERVAL`] while it lasts, and the first answer after it.
//! Every decision takes the time as a parameter, so it is tested without a
//! clock or a runtime; [`crate::peer_log`] does the logging.

use std::time::{Duration, Instant};

use ordo_core::NodeId;

/// Warnings about one peer are at most this often: a peer that stays
/// unreachable is reported again with the count of messages that failed
/// since, and a flaky one (failing and answering by turns) is reported
/// once per interval, not once per failure.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(30);
/// A node's peers may not be up yet when it starts (a cluster's nodes start
/// one after another, and a peer's port accepts connections before it
/// serves): failures to a peer never reached are expected this long after
/// the start, and only noted at debug level.
pub const START_UP_GRACE: Duration = Duration::from_secs(10);

/// What to log about a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// (debug) The first failure to a peer not reached since this node
    /// started, within [`START_UP_GRACE`]: it is likely still starting.
    NotUpYet,
    /// (warn) The peer is unreachable: the first failure after it answered,
    /// or after the start-up grace. `failed` (counting this one) is more
    /// than 1 when failures were held back, over the last `over`.
    Unreachable { failed: u64, over: Duration },
    /// (warn) The peer is still unreachable, `failed` messages over `over`
    /// since the last warning.
    StillUnreachable { failed: u64, over: Duration },
    /// (info) The peer answered, `after` its first failure in a reported
    /// outage.
    ReachableAgain { after: Duration },
}

/// A failure no line has reported yet.
#[derive(Debug, Clone, Copy)]
struct Unreported {
    count: u64,
    since: Instant,
}

/// A run of failures with no answer in between.
#[derive(Debug, Clone, Copy)]
struct Outage {
    since: Instant,
    /// A warning was written during it, so its end gets a line too.
    reported: bool,
}

/// What one node knows about reaching one peer.
#[derive(Debug, Clone)]
pub struct Reachability {
    node_started: Instant,
    /// The peer has answered since this node started.
    reached: bool,
    outage: Option<Outage>,
    last_warning: Option<Instant>,
    unreported: Option<Unreported>,
}

impl Reachability {
    /// A peer of a node that started at `node_started`.
    pub fn new(node_started: Instant) -> Self {
        Reachability {
            node_started,
            reached: false,
            outage: None,
            last_warning: None,
            unreported: None,
        }
    }

    /// A message to the peer failed at `now`.
    pub fn failed(&mut self, now: Instant) -> Option<Notice> {
        let outage = *self.outage.get_or_insert(Outage {
            since: now,
            reported: false,
        });
        let unreported = self.unreported.get_or_insert(Unreported {
            count: 0,
            since: now,
        });
        unreported.count += 1;
        let unreported = *unreported;
        let starting_up = now.saturating_duration_since(self.node_started) < START_UP_GRACE;
        if !self.reached && starting_up {
            return (unreported.count == 1).then_some(Notice::NotUpYet);
        }
        let warned_lately = self
            .last_warning
            .is_some_and(|at| now.saturating_duration_since(at) < SUMMARY_INTERVAL);
        if warned_lately {
            return None;
        }
        let over = now.saturating_duration_since(self.last_warning.unwrap_or(unreported.since));
        let failed = unreported.count;
        self.last_warning = Some(now);
        self.unreported = None;
        self.outage = Some(Outage {
            reported: true,
            ..outage
        });
        Some(if outage.reported {
            Notice::StillUnreachable { failed, over }
        } else {
            Notice::Unreachable { failed, over }
        })
    }

    /// The peer answered a message at `now`.
    pub fn answered(&mut self, now: Instant) -> Option<Notice> {
        if !self.reached {
            // Failures before the first answer were the peer starting up.
            self.unreported = None;
        }
        self.reached = true;
        match self.outage.take() {
            Some(outage) if outage.reported => Some(Notice::ReachableAgain {
                after: now.saturating_duration_since(outage.since),
            }),
            _ => None,
        }
    }
}

impl Notice {
    /// The notice as one line of words about peer `peer` at `addr`;
    /// `reason` is why the last message failed ("connection refused").
    pub fn line(&self, peer: NodeId, addr: &str, reason: &str) -> String {
        match *self {
            Notice::NotUpYet => {
                format!("peer {peer} at {addr} is not reachable yet, likely still starting: {reason}")
            }
            Notice::Unreachable { failed, over } if failed > 1 => format!(
                "peer {peer} at {addr} is unreachable: {reason} ({failed} failed messages in the last {})",
                human(over)
            ),
            Notice::Unreachable { .. } => {
                format!("peer {peer} at {addr} is unreachable: {reason}")
            }
            Notice::StillUnreachable { failed, over } => format!(
                "peer {peer} at {addr} still unreachable: {failed} failed messages in the last {} (the last: {reason})",
                human(over)
            ),
            Notice::ReachableAgain { after } => {
                format!("peer {peer} at {addr} is reachable again (after {})", human(after))
            }
        }
    }
}

/// `47 s`, `1.5 s`, `120 ms`: a duration as an operator reads it.
pub fn human(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 10.0 {
        format!("{} s", seconds.round())
    } else if seconds >= 1.0 {
        format!("{:.1} s", seconds)
    } else {
        format!("{} ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer of a node that started long enough ago to be past its
    /// start-up grace, and the time "now" for the test's clock.
    fn past_start_up() -> (Reachability, Instant) {
        let started = Instant::now();
        let mut peer = Reachability::new(started);
        let now = started + START_UP_GRACE;
        assert_eq!(peer.answered(now), None);
        (peer, now)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_first_failure_after_answers_is_reported_at_once() {
        let (mut peer, now) = past_start_up();
        assert_eq!(
            peer.failed(now),
            Some(Notice::Unreachable {
                failed: 1,
                over: Duration::ZERO
            })
        );
    }

    #[test]
    fn failures_after_the_first_are_counted_not_reported_until_the_interval_passes() {
        let (mut peer, t0) = past_start_up();
        peer.failed(t0);
        for i in 1..=300 {
            assert_eq!(peer.failed(t0 + Duration::from_millis(i * 99)), None);
        }
        assert_eq!(
            peer.failed(t0 + SUMMARY_INTERVAL),
            Some(Notice::StillUnreachable {
                failed: 301,
                over: SUMMARY_INTERVAL
            })
        );
        // The next summary counts from the last.
        assert_eq!(peer.failed(t0 + secs(45)), None);
        assert_eq!(
            peer.failed(t0 + secs(61)),
            Some(Notice::StillUnreachable {
                failed: 2,
                over: secs(31)
            })
        );
    }

    #[test]
    fn the_first_answer_after_a_reported_outage_is_reported_with_its_length() {
        let (mut peer, t0) = past_start_up();
        peer.failed(t0);
        peer.failed(t0 + secs(40));
        assert_eq!(
            peer.answered(t0 + secs(47)),
            Some(Notice::ReachableAgain { after: secs(47) })
        );
        assert_eq!(peer.answered(t0 + secs(48)), None);
        // A new outage much later is reported at once again.
        assert!(matches!(
            peer.failed(t0 + secs(200)),
            Some(Notice::Unreachable { failed: 1, .. })
        ));
    }

    #[test]
    fn a_flaky_peer_is_reported_once_per_interval_with_its_failures_counted() {
        let (mut peer, t0) = past_start_up();
        assert!(peer.failed(t0).is_some());
        assert!(peer.answered(t0 + secs(1)).is_some());
        // Failing and answering by turns: no line per failure, and no
        // "reachable again" for outages no line reported.
        for s in 2..20 {
            assert_eq!(peer.failed(t0 + secs(s)), None);
            assert_eq!(
                peer.answered(t0 + secs(s) + Duration::from_millis(100)),
                None
            );
        }
        assert_eq!(
            peer.failed(t0 + secs(32)),
            Some(Notice::Unreachable {
                failed: 19,
                over: secs(32)
            })
        );
        assert_eq!(
            peer.answered(t0 + secs(33)),
            Some(Notice::ReachableAgain { after: secs(1) })
        );
    }

    #[test]
    fn a_peer_not_yet_up_at_start_up_is_noted_once_at_debug_level() {
        let started = Instant::now();
        let mut peer = Reachability::new(started);
        assert_eq!(peer.failed(started), Some(Notice::NotUpYet));
        assert_eq!(peer.failed(started + secs(1)), None);
        assert_eq!(peer.answered(started + secs(2)), None);
        // Reached once, its next failure is an outage like any other, even
        // within the grace.
        assert!(matches!(
            peer.failed(started + secs(3)),
            Some(Notice::Unreachable { failed: 1, .. })
        ));
    }

    #[test]
    fn a_peer_never_reached_is_reported_when_the_start_up_grace_ends() {
        let started = Instant::now();
        let mut peer = Reachability::new(started);
        peer.failed(started + secs(1));
        for s in 2..10 {
            assert_eq!(peer.failed(started + secs(s)), None);
        }
        assert_eq!(
            peer.failed(started + START_UP_GRACE),
            Some(Notice::Unreachable {
                failed: 10,
                over: secs(9)
            })
        );
        assert_eq!(
            peer.answered(started + secs(20)),
            Some(Notice::ReachableAgain { after: secs(19) })
        );
    }

    #[test]
    fn notices_read_as_one_line_of_words() {
        let addr = "127.0.0.1:7002";
        let refused = "connection refused";
        let line = |notice: Notice| notice.line(2, addr, refused);
        assert_eq!(
            line(Notice::Unreachable {
                failed: 1,
                over: Duration::ZERO
            }),
            "peer 2 at 127.0.0.1:7002 is unreachable: connection refused"
        );
        assert_eq!(
            line(Notice::StillUnreachable {
                failed: 312,
                over: secs(30)
            }),
            "peer 2 at 127.0.0.1:7002 still unreachable: 312 failed messages in the last 30 s \
             (the last: connection refused)"
        );
        assert_eq!(
            line(Notice::ReachableAgain { after: secs(47) }),
            "peer 2 at 127.0.0.1:7002 is reachable again (after 47 s)"
        );
        assert_eq!(
            line(Notice::Unreachable {
                failed: 19,
                over: secs(32)
            }),
            "peer 2 at 127.0.0.1:7002 is unreachable: connection refused \
             (19 failed messages in the last 32 s)"
        );
    }

    #[test]
    fn durations_read_in_units_an_operator_expects() {
        assert_eq!(human(Duration::from_millis(120)), "120 ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human(Duration::from_millis(47_400)), "47 s");
    }
}
