//! The cluster routes' wire types: init, membership changes, leadership
//! transfer, and a node's status (its role, positions, followers' progress,
//! consumer lag and storage).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::consumers::TopicPosition;
#[cfg(feature = "openapi")]
use crate::openapi::schema;
use ordo_core::{GroupName, NodeId, TopicName};

/// `POST /v1/cluster/init`: with no members, the node's configured peers (or
/// the node alone) form the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    #[serde(default)]
    pub members: Option<BTreeMap<NodeId, String>>,
}

/// `POST /v1/cluster/nodes`: add node `id` at `addr` as a learner, wait
/// for it to catch up, then make it a voter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddNodeRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = u64, minimum = 1))]
    pub id: NodeId,
    /// `host:port` the other nodes reach it at.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[^/\s]+:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})$"
        )
    )]
    pub addr: String,
    /// Make the change even if it leaves a fragile cluster (fewer than 3
    /// voters).
    #[serde(default)]
    pub force: bool,
    /// How long to wait for the new node to catch up before promoting it
    /// (default `DEFAULT_CATCH_UP_TIMEOUT_MS`, at most
    /// `MAX_CATCH_UP_TIMEOUT_MS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 600_000))]
    pub catch_up_timeout_ms: Option<u64>,
}

/// `DELETE /v1/cluster/nodes/{id}` query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct RemoveNodeParams {
    /// Make the change even if it leaves a fragile cluster.
    #[serde(default)]
    pub force: bool,
}

/// `POST /v1/cluster/leader`: hand leadership to voter `id`, or (without
/// one) to the voter the leader knows to be most up to date.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransferLeaderRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub id: Option<NodeId>,
}

/// The answer to a membership change or a leadership transfer: the
/// membership and leader after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub leader: Option<NodeId>,
    /// Voters and learners (`voter: false`), by id.
    pub members: Vec<Member>,
    /// Something the operator should know about the new membership (an
    /// even number of voters tolerates no more failures than one fewer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A cluster member as the membership config lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub id: NodeId,
    pub addr: String,
    pub voter: bool,
}

/// The leader's view of one follower's replication progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowerProgress {
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub id: NodeId,
    /// Highest log index known to be replicated on the follower.
    pub matched_index: Option<u64>,
    /// `last_log_index - matched_index` on the leader.
    pub lag_entries: Option<u64>,
}

/// `GET /v1/cluster`: the whole node at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterStatus {
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub node_id: NodeId,
    /// `leader`, `follower`, `candidate` or `learner`; `failed` once this
    /// node's storage failed (`storage.failure` says why; its `leader` is
    /// then `null`), `shutdown` while it stops.
    pub role: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
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
    /// True while this node is in touch with a quorum: on the leader, a
    /// majority of the voters acknowledged it within the quorum timeout
    /// (twice the maximum election timeout: 400 ms by default); on a
    /// follower or learner, the leader reached it within that time. A
    /// leader without a quorum still has the role `leader` (nothing has
    /// replaced it in its own eyes) but refuses writes and linearizable
    /// reads with 503.
    #[serde(default)]
    pub quorum: bool,
    /// Milliseconds since this node last knew a quorum was behind the
    /// leader: on the leader, since a majority of the voters last
    /// acknowledged it (0 where it is the only voter); on a follower or
    /// learner, since the leader last reached it. `null` if never (no
    /// leader known, or none has reached this node since it started).
    #[serde(default)]
    pub quorum_contact_age_ms: Option<u64>,
    /// What `/readyz` answers: true when it is 200.
    #[serde(default)]
    pub ready: bool,
    /// `ok` when ready, else why not, in words (the message of `/readyz`'s
    /// 503), e.g. `no quorum: this node reaches 1 of 3 voters, 2 needed
    /// for a quorum; a quorum last acknowledged it 5.2 s ago`.
    #[serde(default)]
    pub health: String,
    /// Every consumer group's position, topic end and lag in each topic it
    /// committed a position in, from this node's applied state.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<schema::GroupName, BTreeMap<schema::TopicName, TopicPosition>>))]
    pub consumers: BTreeMap<GroupName, BTreeMap<TopicName, TopicPosition>>,
    /// Every work queue's counts and oldest pending job's age, from this
    /// node's applied state.
    #[serde(default)]
    pub queues: Vec<crate::queues::QueueInfo>,
    /// This node's storage: whether it failed.
    #[serde(default)]
    pub storage: StorageStatus,
    /// Which of this node's protections are on.
    #[serde(default)]
    pub protections: Protections,
}

/// The `protections` of a node's status: what guards its port (never a
/// secret, only whether one is set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Protections {
    /// HTTPS for clients and peers alike (`--tls-cert`).
    pub tls: bool,
    /// Whether clients must present a certificate: `none`, `optional` or
    /// `required`; `null` without TLS.
    pub client_auth: Option<String>,
    /// Raft messages must come from a peer with a certificate the
    /// cluster's CA signed.
    pub peer_certificates: bool,
    /// Raft messages must carry the cluster secret.
    pub cluster_secret: bool,
    /// The client API needs a principal (`--acl-file` or the API token).
    pub principals: bool,
    /// The node listens beyond loopback without TLS or a cluster secret,
    /// as `--insecure` allowed.
    pub insecure: bool,
}

/// The `storage` of a node's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageStatus {
    /// Why this node's storage failed (a write or fsync error, e.g. `No
    /// space left on device`), once it has: the node then serves nothing
    /// and exits for its supervisor to start it again. `null` while its
    /// storage works.
    pub failure: Option<String>,
    /// Free bytes on the data dir's volume, last sampled (every 0.5 s);
    /// `null` where not watched (an in-memory store).
    #[serde(default)]
    pub free_bytes: Option<u64>,
    /// The volume's size.
    #[serde(default)]
    pub total_bytes: Option<u64>,
    /// The free-space reserve (`--min-free-bytes`): below it the node
    /// takes no new data (507 `insufficient_storage` on appends).
    #[serde(default)]
    pub reserve_bytes: Option<u64>,
    /// True while free space is below the reserve.
    #[serde(default)]
    pub below_reserve: bool,
}

/// `GET /v1/cluster/nodes`: every member, each as it sees itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterNodes {
    /// Voters and learners, by id.
    pub nodes: Vec<NodeView>,
}

/// One member of the membership as it answered for itself (asked by the
/// node that took the request, within 500 ms), with its replication lag
/// as the current leader sees it. The fields of its own view are `null`
/// when it did not answer (`reachable: false`, `error` says why).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeView {
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub id: NodeId,
    /// `host:port` the members reach it at.
    pub addr: String,
    /// False for a learner.
    pub voter: bool,
    /// Whether it answered.
    pub reachable: bool,
    /// Why it did not answer, in words; `null` when it did.
    pub error: Option<String>,
    /// As in `GET /v1/cluster`: `leader`, `follower`, `candidate`,
    /// `learner`, `failed` or `shutdown`.
    pub role: Option<String>,
    pub term: Option<u64>,
    /// The leader it believes in.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub leader: Option<NodeId>,
    pub last_log_index: Option<u64>,
    pub commit_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    /// `ok` when ready, else why not (as `GET /v1/cluster`'s `health`).
    pub health: Option<String>,
    /// What its `/readyz` answers: true when it is 200.
    pub ready: Option<bool>,
    /// Log entries it lacks, from the current leader's progress (0 for the
    /// leader itself); `null` when no leader answered or the leader has no
    /// progress for it yet.
    pub lag_entries: Option<u64>,
}
