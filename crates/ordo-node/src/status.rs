//! The cluster status view (`GET /v1/cluster`), built from Raft metrics,
//! and the part of it a node tells other nodes about itself ([`OwnView`]).

use openraft::async_runtime::WatchReceiver;
use openraft::{BasicNode, Membership, ServerState};
use serde::{Deserialize, Serialize};

use crate::node::Node;
use std::collections::BTreeMap;

use ordo_api::{ClusterStatus, FollowerProgress, Member, StorageStatus, TopicPosition};
use ordo_core::{NodeId, TopicName};
use ordo_store::GroupLag;

/// Every member of `membership`, voters and learners, as the API lists
/// them.
pub(crate) fn members_of(membership: &Membership<NodeId, BasicNode>) -> Vec<Member> {
    let voters: Vec<NodeId> = membership.voter_ids().collect();
    membership
        .nodes()
        .map(|(id, node)| Member {
            id: *id,
            addr: node.addr.clone(),
            voter: voters.contains(id),
        })
        .collect()
}

/// What a node says of itself: its role, term, leader, log indexes,
/// health and, on the leader, its followers' progress. `GET /v1/cluster`
/// shows it with more (consumers, queues, storage); a member answers it to
/// a `NodeStatus` RPC (`cluster_view`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnView {
    pub node_id: NodeId,
    pub role: String,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub members: Vec<Member>,
    pub last_log_index: Option<u64>,
    pub commit_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub followers: Vec<FollowerProgress>,
    pub quorum: bool,
    pub quorum_contact_age_ms: Option<u64>,
    pub ready: bool,
    pub health: String,
}

impl Node {
    /// Every member of the Raft membership, voters and learners, with the
    /// address its RPCs go to (read from the metrics, nothing else built).
    pub(crate) fn members(&self) -> Vec<Member> {
        let metrics = self.raft().metrics();
        let metrics = metrics.borrow_watched();
        members_of(metrics.membership_config.membership())
    }

    pub fn status(&self) -> ClusterStatus {
        let own = self.own_view();
        let failure = self.storage_failure();
        ClusterStatus {
            node_id: own.node_id,
            role: own.role,
            leader: own.leader,
            term: own.term,
            members: own.members,
            last_log_index: own.last_log_index,
            commit_index: own.commit_index,
            last_applied_index: own.last_applied_index,
            snapshot_index: own.snapshot_index,
            purged_index: own.purged_index,
            followers: own.followers,
            quorum: own.quorum,
            quorum_contact_age_ms: own.quorum_contact_age_ms,
            ready: own.ready,
            health: own.health,
            consumers: self
                .state_machine()
                .consumer_lag()
                .into_iter()
                .map(|(group, lags)| (group, topic_positions(lags)))
                .collect(),
            queues: self.queue_infos(),
            storage: {
                let space = self.disk_space().reading();
                StorageStatus {
                    failure,
                    free_bytes: space.map(|s| s.free_bytes),
                    total_bytes: space.map(|s| s.total_bytes),
                    reserve_bytes: space.map(|s| s.reserve_bytes),
                    below_reserve: space.is_some_and(|s| s.below_reserve),
                }
            },
            // The HTTP layer knows what guards the port, and says.
            protections: Default::default(),
        }
    }

    /// This node's own view, from its Raft metrics.
    pub fn own_view(&self) -> OwnView {
        let metrics = self.raft().metrics().borrow_watched().clone();
        let health = self.health_of(&metrics);
        let members = members_of(metrics.membership_config.membership());
        let followers = metrics
            .replication
            .iter()
            .flatten()
            .filter(|(id, _)| **id != metrics.id)
            .map(|(id, matched)| {
                let matched_index = matched.as_ref().map(|l| l.index);
                FollowerProgress {
                    id: *id,
                    matched_index,
                    lag_entries: metrics
                        .last_log_index
                        .map(|last| last.saturating_sub(matched_index.unwrap_or(0))),
                }
            })
            .collect();
        let failed = self.storage_failure().is_some();
        let role = match metrics.state {
            _ if failed => "failed",
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Candidate => "candidate",
            ServerState::Learner => "learner",
            ServerState::Shutdown => "shutdown",
        };
        OwnView {
            node_id: metrics.id,
            role: role.to_string(),
            leader: metrics.current_leader.filter(|_| !failed),
            term: metrics.current_term,
            members,
            last_log_index: metrics.last_log_index,
            commit_index: metrics.local_committed.map(|l| l.index),
            last_applied_index: metrics.last_applied.map(|l| l.index),
            snapshot_index: metrics.snapshot.map(|l| l.index),
            purged_index: metrics.purged.map(|l| l.index),
            followers,
            quorum: health.quorum,
            quorum_contact_age_ms: health
                .quorum_contact_age
                .map(|age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX)),
            ready: health.is_ready(),
            health: health.summary(),
        }
    }
}

/// A group's lag in each topic, as the API shows it.
pub fn topic_positions(lags: BTreeMap<TopicName, GroupLag>) -> BTreeMap<TopicName, TopicPosition> {
    lags.into_iter()
        .map(|(topic, lag)| {
            let position = TopicPosition {
                offset: lag.offset,
                end_offset: lag.end_offset,
                lag_records: lag.lag_records,
            };
            (topic, position)
        })
        .collect()
}
