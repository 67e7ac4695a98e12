//! Whether this node is in touch with a quorum, and so ready to serve: the
//! rule behind `/readyz`, the `quorum`, `ready` and `health` fields of
//! `GET /v1/cluster`, and the words of every "no quorum" answer.
//!
//! openraft keeps a leader that lost its quorum in the leader role (nothing
//! with a higher term reaches it to depose it); it only stops taking writes
//! once its lease runs out. So the role alone says nothing about whether a
//! node can serve. What does: on the leader, when a majority of the voters
//! last acknowledged it (openraft's `last_quorum_acked`, renewed by every
//! heartbeat round); on a follower or learner, when the leader last reached
//! it ([`LeaderContact`], stamped as AppendEntries arrive). Either goes
//! stale after [`NodeConfig::quorum_timeout`](crate::NodeConfig::quorum_timeout).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::type_config::alias::InstantOf;
use openraft::{Instant as _, RaftMetrics, ServerState};

use crate::node::Node;
use crate::types::TypeConfig;
use crate::words;
use ordo_core::{LogIndex, NodeId};

type Instant = InstantOf<TypeConfig>;

/// When a leader last reached this node: the last AppendEntries (entries
/// or a heartbeat) it accepted.
#[derive(Debug, Default)]
pub(crate) struct LeaderContact(Mutex<Option<Instant>>);

impl LeaderContact {
    pub(crate) fn record(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    fn last(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How many voters a node reaches, against how many a quorum needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumCount {
    pub node: NodeId,
    /// Voters `node` heard from within the quorum timeout, itself
    /// included; `None` where it cannot know (only a leader hears from
    /// every voter).
    pub reached: Option<usize>,
    pub voters: usize,
}

impl QuorumCount {
    pub fn needed(&self) -> usize {
        self.voters / 2 + 1
    }

    /// What an election takes, for a node that knows of no leader.
    pub fn election_needs(&self) -> String {
        format!(
            "a leader election needs {} of the {} voters running and in reach of each other",
            self.needed(),
            self.voters
        )
    }
}

impl fmt::Display for QuorumCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (needed, voters) = (self.needed(), self.voters);
        match self.reached {
            Some(reached) => write!(
                f,
                "node {} reaches {reached} of {voters} voters, {needed} needed for a quorum",
                self.node
            ),
            None => write!(f, "a quorum is {needed} of the {voters} voters"),
        }
    }
}

/// Why a node is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// This node's storage failed (see `storage_fault`): it serves nothing
    /// until its process is started again.
    StorageFailed {
        cause: String,
    },
    ShuttingDown,
    /// The data dir's free space is below the reserve: the node takes no
    /// new data until space returns (see `disk_space`).
    BelowReserve {
        space: String,
    },
    /// Not in any membership yet: a node started to join, not yet added.
    NoMembership,
    /// No leader is known: an election is under way, or no majority of the
    /// voters can hold one.
    NoLeader {
        quorum: QuorumCount,
    },
    /// This node leads, but no quorum acknowledged it within the timeout.
    LeaderWithoutQuorum {
        quorum: QuorumCount,
        acked_ago: Option<Duration>,
    },
    /// The leader this node knows of has not reached it within the timeout.
    LeaderOutOfReach {
        leader: NodeId,
        contact_ago: Option<Duration>,
        timeout: Duration,
        quorum: QuorumCount,
    },
    /// Behind what it knows to be committed.
    CatchingUp {
        applied: Option<LogIndex>,
        committed: LogIndex,
    },
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::StorageFailed { cause } => write!(
                f,
                "storage failed: {cause}; this node serves nothing until it is started again \
                 (it exits for its supervisor to restart it)"
            ),
            NotReady::ShuttingDown => write!(f, "this node is shutting down"),
            NotReady::BelowReserve { space } => write!(
                f,
                "disk space low: {space}; it refuses appends and new entries until space returns"
            ),
            NotReady::NoMembership => write!(
                f,
                "not a member of a cluster yet: add it on the leader (POST /v1/cluster/nodes) \
                 or form a cluster (POST /v1/cluster/init)"
            ),
            NotReady::NoLeader { quorum } => write!(
                f,
                "no leader: none is known to this node; {}",
                quorum.election_needs()
            ),
            NotReady::LeaderWithoutQuorum {
                quorum,
                acked_ago: Some(ago),
            } => write!(
                f,
                "no quorum: {quorum}; a quorum last acknowledged this leader {} ago",
                words::duration(*ago)
            ),
            NotReady::LeaderWithoutQuorum {
                quorum,
                acked_ago: None,
            } => write!(
                f,
                "no quorum: {quorum}; none has acknowledged this leader yet"
            ),
            NotReady::LeaderOutOfReach {
                leader,
                contact_ago: Some(ago),
                timeout,
                quorum,
            } => write!(
                f,
                "no quorum: leader {leader} last reached this node {} ago (more than {}); {}",
                words::duration(*ago),
                words::duration(*timeout),
                quorum.election_needs()
            ),
            NotReady::LeaderOutOfReach {
                leader,
                contact_ago: None,
                quorum,
                ..
            } => write!(
                f,
                "no quorum: leader {leader} has not reached this node since it started; {}",
                quorum.election_needs()
            ),
            NotReady::CatchingUp {
                applied: Some(applied),
                committed,
            } => write!(
                f,
                "catching up: applied log index {applied} of {committed} committed"
            ),
            NotReady::CatchingUp {
                applied: None,
                committed,
            } => write!(
                f,
                "catching up: applied none of the {committed} committed log entries"
            ),
        }
    }
}

/// A node's health: whether it is in touch with a quorum, since when, and
/// whether it is ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub quorum: bool,
    /// How long ago this node last knew a quorum was behind the leader
    /// (see `ClusterStatus::quorum_contact_age_ms`).
    pub quorum_contact_age: Option<Duration>,
    pub not_ready: Option<NotReady>,
}

impl Health {
    /// Ready: in touch with a quorum, and has applied all it knows to be
    /// committed.
    pub fn is_ready(&self) -> bool {
        self.not_ready.is_none()
    }

    /// `ok`, or why not ready.
    pub fn summary(&self) -> String {
        self.not_ready
            .as_ref()
            .map_or_else(|| "ok".to_string(), ToString::to_string)
    }
}

/// What health is judged on, read from one node's metrics at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observation {
    state: ServerState,
    leader: Option<NodeId>,
    quorum: QuorumCount,
    /// The voters are this node alone.
    self_quorum: bool,
    /// On the leader: since a quorum last acknowledged it.
    quorum_acked_ago: Option<Duration>,
    /// Since a leader last reached this node.
    leader_contact_ago: Option<Duration>,
    applied: Option<LogIndex>,
    committed: Option<LogIndex>,
    /// Why this node's storage failed, if it did.
    storage_failure: Option<String>,
    /// The free space it has, when below its reserve.
    below_reserve: Option<String>,
}

fn judge(seen: &Observation, timeout: Duration) -> Health {
    let fresh = |ago: Option<Duration>| ago.is_some_and(|ago| ago <= timeout);
    if let Some(cause) = &seen.storage_failure {
        return Health {
            quorum: false,
            quorum_contact_age: None,
            not_ready: Some(NotReady::StorageFailed {
                cause: cause.clone(),
            }),
        };
    }
    let (quorum, quorum_contact_age, cut_off) = match (seen.state, seen.leader) {
        (ServerState::Shutdown, _) => (false, None, Some(NotReady::ShuttingDown)),
        _ if seen.quorum.voters == 0 => (false, None, Some(NotReady::NoMembership)),
        (ServerState::Leader, _) if seen.self_quorum => (true, Some(Duration::ZERO), None),
        (ServerState::Leader, _) => {
            let ago = seen.quorum_acked_ago;
            let lost = NotReady::LeaderWithoutQuorum {
                quorum: seen.quorum,
                acked_ago: ago,
            };
            (fresh(ago), ago, (!fresh(ago)).then_some(lost))
        }
        (_, None) => {
            let lost = NotReady::NoLeader {
                quorum: seen.quorum,
            };
            (false, seen.leader_contact_ago, Some(lost))
        }
        (_, Some(leader)) => {
            let ago = seen.leader_contact_ago;
            let lost = NotReady::LeaderOutOfReach {
                leader,
                contact_ago: ago,
                timeout,
                quorum: seen.quorum,
            };
            (fresh(ago), ago, (!fresh(ago)).then_some(lost))
        }
    };
    let catching_up = match (seen.applied, seen.committed) {
        (applied, Some(committed)) if applied < Some(committed) => {
            Some(NotReady::CatchingUp { applied, committed })
        }
        _ => None,
    };
    // The node's own disk outranks the cluster's reasons: it lasts until an
    // operator acts, where "no quorum yet" after an election passes by
    // itself (and a leader below its reserve hands over, so it is often
    // such a new leader that is asked).
    let low_space = seen
        .below_reserve
        .clone()
        .filter(|_| seen.state != ServerState::Shutdown)
        .map(|space| NotReady::BelowReserve { space });
    Health {
        quorum,
        quorum_contact_age,
        not_ready: low_space.or(cut_off).or(catching_up),
    }
}

impl Node {
    /// Whether this node is in touch with a quorum and ready to serve.
    pub fn health(&self) -> Health {
        let metrics = self.raft().metrics();
        let metrics = metrics.borrow_watched();
        self.health_of(&metrics)
    }

    /// [`Node::health`] from metrics the caller already holds.
    pub(crate) fn health_of(&self, metrics: &RaftMetrics<TypeConfig>) -> Health {
        let now = Instant::now();
        let ago = |then: Instant| now.saturating_duration_since(then);
        let voters: BTreeSet<NodeId> = metrics.membership_config.membership().voter_ids().collect();
        let seen = Observation {
            state: metrics.state,
            leader: metrics.current_leader,
            quorum: self.quorum_count_of(metrics, &voters, now),
            self_quorum: voters.len() == 1 && voters.contains(&metrics.id),
            quorum_acked_ago: metrics.last_quorum_acked.map(|t| ago(*t)),
            leader_contact_ago: self.leader_contact().last().map(ago),
            applied: metrics.last_applied.map(|l| LogIndex(l.index)),
            committed: metrics.cluster_committed.map(|l| LogIndex(l.index)),
            storage_failure: self.storage_failure_in(&metrics.running_state),
            below_reserve: self.disk_space().below_reserve().map(|s| s.to_string()),
        };
        judge(&seen, self.config().quorum_timeout())
    }

    /// How many voters this node reaches now, for the words of a "no
    /// quorum" or "no leader" answer.
    pub(crate) fn quorum_count(&self) -> QuorumCount {
        let metrics = self.raft().metrics();
        let metrics = metrics.borrow_watched();
        let voters = metrics.membership_config.membership().voter_ids().collect();
        self.quorum_count_of(&metrics, &voters, Instant::now())
    }

    /// On the leader, the voters it heard from within the quorum timeout
    /// (from the acknowledgement times openraft keeps per follower).
    fn quorum_count_of(
        &self,
        metrics: &RaftMetrics<TypeConfig>,
        voters: &BTreeSet<NodeId>,
        now: Instant,
    ) -> QuorumCount {
        let timeout = self.config().quorum_timeout();
        let reached = metrics.heartbeat.as_ref().map(|acked| {
            voters
                .iter()
                .filter(|id| {
                    **id == metrics.id
                        || acked
                            .get(id)
                            .copied()
                            .flatten()
                            .is_some_and(|at| now.saturating_duration_since(*at) <= timeout)
                })
                .count()
        });
        QuorumCount {
            node: metrics.id,
            reached,
            voters: voters.len(),
        }
    }
}

#[cfg(test)]
mod tests;
