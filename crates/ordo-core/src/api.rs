//! The HTTP API's wire types (contract v1), shared by the server and the
//! client so the two cannot drift apart.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::{LogIndex, NodeId, Offset};
use crate::record::{NewRecord, Record};

/// The header every response carries: the node id this node believes leads.
pub const LEADER_HEADER: &str = "ordo-leader";

/// `POST /v1/topics/{topic}/records`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    pub records: Vec<NewRecord>,
}

/// The answer to an acknowledged append: one offset per record, in order, and
/// the Raft log index of the entry that holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResponse {
    pub offsets: Vec<Offset>,
    pub log_index: LogIndex,
}

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Sees every append acknowledged before the read began (read index).
    #[default]
    Linearizable,
    /// Served from this node's applied state: may lag, never uncommitted.
    Local,
}

/// `GET /v1/topics/{topic}/records` query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    #[serde(default)]
    pub from: Offset,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub consistency: Consistency,
}

/// A page of records and where the next page starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadResponse {
    pub records: Vec<Record>,
    /// The offset to read from next (after the last record returned).
    pub next_offset: Offset,
    /// The topic's end: the offset the next appended record will get.
    pub end_offset: Offset,
}

/// `POST /v1/cluster/init`: with no members, the node's configured peers (or
/// the node alone) form the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    #[serde(default)]
    pub members: Option<BTreeMap<NodeId, String>>,
}

/// A cluster member as the membership config lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: NodeId,
    pub addr: String,
    pub voter: bool,
}

/// The leader's view of one follower's replication progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowerProgress {
    pub id: NodeId,
    /// Highest log index known to be replicated on the follower.
    pub matched_index: Option<u64>,
    /// `last_log_index - matched_index` on the leader.
    pub lag_entries: Option<u64>,
}

/// `GET /v1/cluster`: the whole node at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub node_id: NodeId,
    /// `leader`, `follower`, `candidate` or `learner`.
    pub role: String,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub members: Vec<Member>,
    pub last_log_index: Option<u64>,
    pub commit_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    /// The log is retained after this index; earlier entries live only in
    /// the snapshot (a node further behind is sent the snapshot).
    #[serde(default)]
    pub purged_index: Option<u64>,
    /// Present on the leader only.
    pub followers: Vec<FollowerProgress>,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `invalid_topic`.
    pub code: String,
    /// What was wrong, for a person.
    pub message: String,
    /// The leader this node knows of, when the error is about leadership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<NodeId>,
}
