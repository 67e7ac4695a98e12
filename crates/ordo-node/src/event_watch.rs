//! What records a node's events (see `events`): [`Events`], the node's
//! log behind a lock, and the watch over Raft's metrics that turns what
//! they show changing into events: a leader for a new term, no leader any
//! more, a new committed membership, a snapshot built. Every other kind is
//! recorded where its work is done (`topics` for cleanup passes,
//! `rpc_answer` for snapshot installs, `disk_space`, `storage_fault`).

use std::sync::{Mutex, Weak};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;

use crate::events::EventLog;
use crate::node::Node;
use crate::status::members_of;
use ordo_api::{Event, EventDetail, EventKind, Member};
use ordo_core::NodeId;

/// How often the watch looks at the snapshot (its index is in Raft's full
/// metrics, which change on nearly every turn of the core: looked at, not
/// waited on).
pub const SNAPSHOT_LOOK_EVERY: Duration = Duration::from_secs(1);

/// A node's events and the one fact the watch needs that metrics lack.
#[derive(Debug)]
pub(crate) struct Events {
    log: Mutex<EventLog>,
    /// The last snapshot index this node installed from its leader: its
    /// install is recorded as such, so the watch does not call it built.
    installed_snapshot: Mutex<Option<u64>>,
}

impl Events {
    pub(crate) fn new(node_id: NodeId) -> Self {
        Events {
            log: Mutex::new(EventLog::new(node_id)),
            installed_snapshot: Mutex::new(None),
        }
    }

    /// The newest `limit` events with a `seq` above `after`, oldest first.
    pub(crate) fn recent(&self, limit: usize, after: Option<u64>) -> Vec<Event> {
        self.log
            .lock()
            .expect("never poisoned: no panics held")
            .recent(limit, after)
    }

    /// Says that the snapshot up to `index` is being installed from the
    /// leader (before it shows in the metrics).
    pub(crate) fn installing_snapshot(&self, index: u64) {
        *self
            .installed_snapshot
            .lock()
            .expect("never poisoned: no panics held") = Some(index);
    }

    fn installed_snapshot(&self) -> Option<u64> {
        *self
            .installed_snapshot
            .lock()
            .expect("never poisoned: no panics held")
    }
}

impl Node {
    /// Records an event at this node's clock and term.
    pub(crate) fn record_event(&self, kind: EventKind, message: String, detail: EventDetail) {
        self.record_event_in(self.current_term().0, kind, message, detail);
    }

    fn record_event_in(&self, term: u64, kind: EventKind, message: String, detail: EventDetail) {
        let at_ms = (self.config().clock)();
        self.events()
            .log
            .lock()
            .expect("never poisoned: no panics held")
            .record(at_ms, term, kind, message, detail);
    }

    /// What the watch compares: this node's Raft state now.
    fn seen(&self) -> Seen {
        let (term, leader, members) = {
            let server = self.raft().server_metrics();
            let server = server.borrow_watched();
            let members = members_of(server.committed_membership_config.membership());
            (server.vote.leader_id.term, server.current_leader, members)
        };
        let snapshot_index = self
            .raft()
            .metrics()
            .borrow_watched()
            .snapshot
            .map(|l| l.index);
        Seen {
            term,
            leader,
            members,
            snapshot_index,
        }
    }
}

/// Records the changes `node`'s Raft metrics show until the node is gone or
/// its Raft stopped. What it sees first is where it starts, not news.
pub(crate) async fn watch(node: Weak<Node>) {
    let Some((mut server, mut before)) = node
        .upgrade()
        .map(|n| (n.raft().server_metrics(), n.seen()))
    else {
        return;
    };
    loop {
        let stopped = tokio::select! {
            changed = server.changed() => changed.is_err(),
            () = tokio::time::sleep(SNAPSHOT_LOOK_EVERY) => false,
        };
        let Some(node) = node.upgrade() else { return };
        let now = node.seen();
        let installed = node.events().installed_snapshot();
        for change in changes(&before, &now, installed) {
            log(node.id(), &change);
            node.record_event_in(now.term, change.kind, change.message, change.detail);
        }
        before = now;
        if stopped || node.is_shut_down() {
            return;
        }
    }
}

/// Logs a change, at info unless the binary's leader counter
/// (`metrics::count_leader_changes`) already does.
fn log(node: NodeId, change: &Change) {
    match change.kind {
        EventKind::LeaderElected => tracing::debug!(node, "{}", change.message),
        _ => tracing::info!(node, "{}", change.message),
    }
}

/// This node's Raft state as the watch last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    term: u64,
    leader: Option<NodeId>,
    /// The committed membership.
    members: Vec<Member>,
    snapshot_index: Option<u64>,
}

/// An event the watch found, before it is numbered and stamped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    kind: EventKind,
    message: String,
    detail: EventDetail,
}

/// The events between two looks at the Raft state; `installed` is the last
/// snapshot installed from the leader (not built here).
fn changes(before: &Seen, now: &Seen, installed: Option<u64>) -> Vec<Change> {
    let mut found = Vec::new();
    if let (Some(leader), None) = (before.leader, now.leader) {
        found.push(Change {
            kind: EventKind::LeaderLost,
            message: format!(
                "no leader known any more (node {leader} led term {}); now in term {}",
                before.term, now.term
            ),
            detail: EventDetail {
                leader: Some(leader),
                ..EventDetail::default()
            },
        });
    }
    // One leader per term at most: a new (term, leader) is a new leader.
    if let Some(leader) = now
        .leader
        .filter(|_| (now.term, now.leader) != (before.term, before.leader))
    {
        found.push(Change {
            kind: EventKind::LeaderElected,
            message: format!("node {leader} is the leader for term {}", now.term),
            detail: EventDetail {
                leader: Some(leader),
                ..EventDetail::default()
            },
        });
    }
    if now.members != before.members {
        found.push(Change {
            kind: EventKind::MembershipChanged,
            message: format!("the membership is now {}", in_words(&now.members)),
            detail: EventDetail {
                members: Some(now.members.clone()),
                ..EventDetail::default()
            },
        });
    }
    if let Some(index) = now
        .snapshot_index
        .filter(|i| now.snapshot_index != before.snapshot_index && Some(*i) != installed)
    {
        found.push(Change {
            kind: EventKind::SnapshotBuilt,
            message: format!("built a snapshot of the state up to log index {index}"),
            detail: EventDetail {
                log_index: Some(index),
                ..EventDetail::default()
            },
        });
    }
    found
}

/// "voters 1, 2, 3 and learner 4".
fn in_words(members: &[Member]) -> String {
    let ids = |voter: bool| -> Vec<String> {
        members
            .iter()
            .filter(|m| m.voter == voter)
            .map(|m| m.id.to_string())
            .collect()
    };
    let (voters, learners) = (ids(true), ids(false));
    let mut words = format!(
        "{} {}",
        if voters.len() == 1 { "voter" } else { "voters" },
        voters.join(", ")
    );
    if !learners.is_empty() {
        words.push_str(&format!(
            " and {} {}",
            if learners.len() == 1 {
                "learner"
            } else {
                "learners"
            },
            learners.join(", ")
        ));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: NodeId, voter: bool) -> Member {
        Member {
            id,
            addr: format!("n{id}:1"),
            voter,
        }
    }

    fn seen(term: u64, leader: Option<NodeId>) -> Seen {
        Seen {
            term,
            leader,
            members: vec![member(1, true), member(2, true), member(3, true)],
            snapshot_index: Some(10),
        }
    }

    fn kinds(changes: &[Change]) -> Vec<EventKind> {
        changes.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn nothing_changed_is_no_event() {
        assert!(changes(&seen(3, Some(1)), &seen(3, Some(1)), None).is_empty());
        assert!(changes(&seen(3, None), &seen(3, None), None).is_empty());
    }

    #[test]
    fn a_leader_lost_then_a_new_one_elected_in_a_higher_term() {
        let lost = changes(&seen(3, Some(1)), &seen(4, None), None);
        assert_eq!(kinds(&lost), vec![EventKind::LeaderLost]);
        assert_eq!(lost[0].detail.leader, Some(1));
        let elected = changes(&seen(4, None), &seen(4, Some(2)), None);
        assert_eq!(kinds(&elected), vec![EventKind::LeaderElected]);
        assert_eq!(elected[0].detail.leader, Some(2));
        assert_eq!(elected[0].message, "node 2 is the leader for term 4");
        // Both between two looks.
        let both = changes(&seen(3, Some(1)), &seen(5, Some(1)), None);
        assert_eq!(kinds(&both), vec![EventKind::LeaderElected]);
    }

    #[test]
    fn a_new_membership_is_listed_in_full() {
        let before = seen(3, Some(1));
        let mut now = before.clone();
        now.members.push(member(4, false));
        let found = changes(&before, &now, None);
        assert_eq!(kinds(&found), vec![EventKind::MembershipChanged]);
        assert_eq!(found[0].detail.members.as_ref(), Some(&now.members));
        assert_eq!(
            found[0].message,
            "the membership is now voters 1, 2, 3 and learner 4"
        );
    }

    #[test]
    fn a_new_snapshot_is_built_unless_it_was_installed() {
        let before = seen(3, Some(1));
        let mut now = before.clone();
        now.snapshot_index = Some(20);
        let built = changes(&before, &now, Some(10));
        assert_eq!(kinds(&built), vec![EventKind::SnapshotBuilt]);
        assert_eq!(built[0].detail.log_index, Some(20));
        assert!(changes(&before, &now, Some(20)).is_empty());
    }
}
