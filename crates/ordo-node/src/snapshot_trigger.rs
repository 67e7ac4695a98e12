//! Snapshots by bytes: openraft snapshots every `snapshot_every_entries`
//! entries, which says little about size (an entry is one record or a
//! batch of a thousand). This task also asks for a snapshot once
//! `snapshot_every_bytes` of entries were appended to this node's log since
//! its last snapshot, so the log it keeps (purged behind each snapshot)
//! stays near that size whatever the entries hold. Every node runs it for
//! itself, followers too: each builds its own snapshots.

use std::sync::Weak;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;

use crate::node::Node;
use crate::types::LogStore;

/// How often the bytes appended are looked at.
const CHECK_INTERVAL: Duration = Duration::from_millis(200);

/// When a snapshot is due, from the bytes appended so far.
#[derive(Debug, Default)]
struct Due {
    /// The node's snapshot when last looked at (its last log index).
    snapshot: Option<u64>,
    /// Bytes appended when that snapshot was seen, or a snapshot was last
    /// asked for.
    since: u64,
}

impl Due {
    /// Whether to ask for a snapshot, seeing `snapshot` and `appended`
    /// bytes; counts from here again if so, or if a snapshot was made.
    fn check(&mut self, snapshot: Option<u64>, appended: u64, every: u64) -> bool {
        if snapshot != self.snapshot {
            self.snapshot = snapshot;
            self.since = appended;
            return false;
        }
        if appended.saturating_sub(self.since) < every {
            return false;
        }
        self.since = appended;
        true
    }
}

/// Runs until the node is gone or shut down.
pub(crate) async fn run(node: Weak<Node>, log: LogStore) {
    let Some(every) = node
        .upgrade()
        .map(|node| node.config().snapshot_every_bytes)
    else {
        return;
    };
    let mut ticks = tokio::time::interval(CHECK_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut due = Due::default();
    loop {
        ticks.tick().await;
        let Some(node) = node.upgrade() else { return };
        if node.is_shut_down() {
            return;
        }
        let metrics = node.raft().metrics();
        let snapshot = metrics.borrow_watched().snapshot.map(|log_id| log_id.index);
        if due.check(snapshot, log.bytes_appended(), every) {
            tracing::debug!(every_bytes = every, "snapshot due by bytes appended");
            if let Err(e) = node.raft().trigger().snapshot().await {
                tracing::debug!(error = %e, "snapshot not triggered");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_due_every_so_many_bytes_counted_from_the_last_one() {
        let mut due = Due::default();
        assert!(!due.check(None, 50, 100));
        assert!(due.check(None, 100, 100), "100 bytes since the start");
        assert!(!due.check(None, 150, 100), "counted from the request");
        // The snapshot it asked for is made: count from there.
        assert!(!due.check(Some(7), 190, 100));
        assert!(!due.check(Some(7), 289, 100));
        assert!(due.check(Some(7), 290, 100));
        // A snapshot made for another reason (the entry count) resets too.
        assert!(!due.check(Some(9), 295, 100));
        assert!(!due.check(Some(9), 394, 100));
        assert!(due.check(Some(9), 395, 100));
    }
}
