//! What a node logs about reaching its peers. Every failed Raft message is
//! a debug line; per peer, [`Reachability`] picks the few worth more: a
//! warning when it becomes unreachable, one every 30 s while it stays so,
//! an info line when it answers again. These replace openraft's own
//! warning per failed message (a Debug dump of the error, about 20 a
//! second for a dead peer), which the binary filters out with
//! [`replaces_openraft_warning`].

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ordo_core::NodeId;

use crate::reachability::{Notice, Reachability};

/// The reachability of every peer a node sends Raft messages to, shared
/// by all of openraft's clients for them (heartbeats, replication, votes).
pub struct PeerLog {
    node_started: Instant,
    peers: Mutex<HashMap<NodeId, Reachability>>,
}

impl Default for PeerLog {
    fn default() -> Self {
        PeerLog {
            node_started: now(),
            peers: Mutex::default(),
        }
    }
}

impl PeerLog {
    /// Watches one message to `peer` at `addr` on `path`, sent with
    /// `deadline`, until [`MessageWatch::settle`] says how it went.
    pub fn watch<'a>(
        &'a self,
        peer: NodeId,
        addr: &'a str,
        path: &'static str,
        deadline: Duration,
    ) -> MessageWatch<'a> {
        MessageWatch {
            log: self,
            peer,
            addr,
            path,
            deadline,
            sent: now(),
            settled: false,
        }
    }

    /// `outcome`: the peer answered, or the reason the message failed.
    fn record(&self, peer: NodeId, addr: &str, outcome: Result<(), &str>) {
        let now = now();
        let notice = {
            let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
            let peer = peers
                .entry(peer)
                .or_insert_with(|| Reachability::new(self.node_started));
            match outcome {
                Ok(()) => peer.answered(now),
                Err(_) => peer.failed(now),
            }
        };
        let Some(notice) = notice else { return };
        let line = notice.line(peer, addr, outcome.err().unwrap_or_default());
        match notice {
            Notice::NotUpYet => tracing::debug!("{line}"),
            Notice::Unreachable { .. } | Notice::StillUnreachable { .. } => {
                tracing::warn!("{line}")
            }
            Notice::ReachableAgain { .. } => tracing::info!("{line}"),
        }
    }
}

/// One message to a peer until its outcome is known. Dropped unsettled
/// after its deadline, it failed: openraft stopped waiting for the answer
/// (a drop before the deadline is a cancel, which says nothing of the peer).
pub struct MessageWatch<'a> {
    log: &'a PeerLog,
    peer: NodeId,
    addr: &'a str,
    path: &'static str,
    deadline: Duration,
    sent: Instant,
    settled: bool,
}

impl MessageWatch<'_> {
    /// `outcome`: the peer answered, or the reason in words the message
    /// failed ("connection refused").
    pub fn settle(mut self, outcome: Result<(), &str>) {
        self.settled = true;
        if let Err(reason) = outcome {
            tracing::debug!(
                "{} to peer {} at {} failed: {reason}",
                self.path,
                self.peer,
                self.addr
            );
        }
        self.log.record(self.peer, self.addr, outcome);
    }
}

impl Drop for MessageWatch<'_> {
    fn drop(&mut self) {
        if !self.settled && now().saturating_duration_since(self.sent) >= self.deadline {
            let reason = format!("no answer within {:?}", self.deadline);
            self.log.record(self.peer, self.addr, Err(&reason));
        }
    }
}

/// Tokio's clock, which the simulation controls.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// openraft's warnings, by module and a piece of their text, that say one
/// Raft message to a peer failed: each is a [`PeerLog`] debug line now, and
/// counted into its warnings. Checked against openraft 0.10.0-alpha.37's
/// source; its other warnings are not here and still appear.
const REPLACED_OPENRAFT_WARNINGS: &[(&str, &str)] = &[
    // "HeartbeatWorker(id=1, target=2) failed to send a heartbeat: {res:?}"
    (
        "openraft::core::heartbeat::worker",
        " failed to send a heartbeat: ",
    ),
    // "ReplicationCore recv RPCError: {err}, when:(…); sending error to RaftCore"
    ("openraft::replication", "ReplicationCore recv RPCError: "),
    // The same error again, when RaftCore receives it: "update progress error: {err}"
    (
        "openraft::engine::handler::replication_handler",
        "update progress error: ",
    ),
    // "timeout while requesting {vote|pre-vote}: …", "while requesting {…}, error: …"
    ("openraft::core::raft_core", "while requesting "),
    // "timeout sending transfer_leader: …", "error sending transfer_leader: …"
    ("openraft::core::raft_core", " sending transfer_leader: "),
];

/// Whether an openraft warning from module `target` saying `message` is
/// one [`PeerLog`] replaces.
pub fn replaces_openraft_warning(target: &str, message: &str) -> bool {
    REPLACED_OPENRAFT_WARNINGS
        .iter()
        .any(|&(module, text)| target == module && message.contains(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openraft_warnings_about_one_failed_message_are_replaced() {
        for (target, message) in [
            (
                "openraft::core::heartbeat::worker",
                "HeartbeatWorker(id=1, target=3) failed to send a heartbeat: \
                 Ok(Err(Unreachable(Unreachable { source: BoxedErrorSource { .. } })))",
            ),
            (
                "openraft::replication",
                "ReplicationCore recv RPCError: Unreachable node: peer 127.0.0.1:7002 \
                 unreachable: connection refused, when:(stream-replication); sending error to RaftCore",
            ),
            (
                "openraft::engine::handler::replication_handler",
                "update progress error: timeout after 37.5ms when AppendEntries 1->2",
            ),
            (
                "openraft::core::raft_core",
                "while requesting pre-vote, error: timeout after 75ms when Vote 2->3, target: 3",
            ),
            (
                "openraft::core::raft_core",
                "timeout while requesting vote: timeout after 100ms when Vote 1->3",
            ),
            (
                "openraft::core::raft_core",
                "error sending transfer_leader: Unreachable node: …, target: 2",
            ),
        ] {
            assert!(replaces_openraft_warning(target, message), "{message}");
        }
    }

    #[test]
    fn other_openraft_warnings_still_appear() {
        for (target, message) in [
            (
                "openraft::core::heartbeat::worker",
                "HeartbeatWorker(id=1, target=3) heartbeat stream returned no response",
            ),
            (
                "openraft::core::raft_core",
                "A message will be ignored because this node is no longer Leader: …",
            ),
            (
                "openraft::replication::stream_state",
                "limited_get_log_entries(3, 9) returned empty; this violates the API contract …",
            ),
            (
                "openraft::replication::snapshot_transmitter",
                "failed to get snapshot from state machine: …",
            ),
            // The right words from another module are not the same warning.
            ("openraft::raft", "while requesting vote, error: …"),
        ] {
            assert!(!replaces_openraft_warning(target, message), "{message}");
        }
    }

    #[test]
    fn a_message_dropped_after_its_deadline_failed_and_one_dropped_before_was_cancelled() {
        let log = PeerLog::default();
        let deadline = Duration::from_millis(50);
        drop(log.watch(2, "127.0.0.1:7002", "/raft/append", deadline));
        let mut watch = log.watch(3, "127.0.0.1:7003", "/raft/append", deadline);
        watch.sent -= deadline;
        drop(watch);
        let peers = log.peers.lock().unwrap();
        assert!(!peers.contains_key(&2), "a cancel says nothing of the peer");
        assert!(peers.contains_key(&3), "a message past its deadline failed");
    }
}
