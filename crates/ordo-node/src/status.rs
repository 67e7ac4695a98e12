//! The cluster status view (`GET /v1/cluster`), built from Raft metrics.

use openraft::async_runtime::WatchReceiver;
use openraft::ServerState;

use crate::node::Node;
use std::collections::BTreeMap;

use ordo_api::{ClusterStatus, FollowerProgress, Member, StorageStatus, TopicPosition};
use ordo_core::TopicName;
use ordo_store::GroupLag;

impl Node {
    pub fn status(&self) -> ClusterStatus {
        let metrics = self.raft().metrics().borrow_watched().clone();
        let health = self.health_of(&metrics);
        let membership = metrics.membership_config.membership();
        let voters: Vec<_> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, node)| Member {
                id: *id,
                addr: node.addr.clone(),
                voter: voters.contains(id),
            })
            .collect();
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
        let failure = self.storage_failure();
        let role = match metrics.state {
            _ if failure.is_some() => "failed",
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Candidate => "candidate",
            ServerState::Learner => "learner",
            ServerState::Shutdown => "shutdown",
        };
        ClusterStatus {
            node_id: metrics.id,
            role: role.to_string(),
            leader: metrics.current_leader.filter(|_| failure.is_none()),
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
