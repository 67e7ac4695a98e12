//! The HTTP API's wire types (contract v1), shared by the server and the
//! client so the two cannot drift apart.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::condition::Condition;
use crate::consumer::GroupName;
use crate::ids::{LogIndex, NodeId, Offset};
use crate::producer::Producer;
use crate::record::{NewRecord, Record};
use crate::topic::TopicName;
use crate::topic_config::TopicConfig;

/// The header every response carries: the node id this node believes leads.
pub const LEADER_HEADER: &str = "ordo-leader";

/// `POST /v1/topics/{topic}/records`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// Appended atomically, at contiguous offsets, in this order.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 10_000))]
    pub records: Vec<NewRecord>,
    /// Makes the append idempotent: a retry with the same id and seq is
    /// answered with the original offsets and appends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<Producer>,
    /// Makes the append conditional: if it does not hold, 409 and nothing
    /// is appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

/// The answer to an acknowledged append: one offset per record, in order, and
/// the Raft log index of the entry that holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppendResponse {
    pub offsets: Vec<Offset>,
    pub log_index: LogIndex,
    /// True when this was a producer's retry of an append already applied:
    /// the offsets and log index are the original's, and nothing was appended.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// `GET /v1/topics/{topic}/records` query as the server parses it: a
/// [`ReadParams`] plus how long the read may wait. A separate type so that
/// `ReadParams` literals stay valid; [`ReadQuery::params`] gives the read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    #[serde(default)]
    pub from: Offset,
    /// Most records to return (default and most: 1000; fewer if their
    /// values pass 4 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = u64, minimum = 1, maximum = 1000))]
    pub limit: Option<usize>,
    #[serde(default)]
    pub consistency: Consistency,
    /// Long-poll: if no record at or after `from` exists yet, wait up to
    /// this long (at most `limits::MAX_READ_WAIT_MS`) for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = u64, maximum = 30_000))]
    pub wait_ms: Option<u64>,
    /// Read-your-writes: first wait (at most `limits::MIN_LOG_INDEX_WAIT_MS`)
    /// until this node has applied this log index (an append's `log_index`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = LogIndex))]
    pub min_log_index: Option<LogIndex>,
}

impl ReadQuery {
    /// The read itself, without the waits.
    pub fn params(&self) -> ReadParams {
        ReadParams {
            from: self.from,
            limit: self.limit,
            consistency: self.consistency,
        }
    }
}

impl From<ReadParams> for ReadQuery {
    fn from(params: ReadParams) -> Self {
        ReadQuery {
            from: params.from,
            limit: params.limit,
            consistency: params.consistency,
            wait_ms: None,
            min_log_index: None,
        }
    }
}

/// `GET /v1/topics/{topic}/stream` query parameters. A `Last-Event-ID`
/// header (SSE reconnect) wins over `from`: the stream resumes after it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    #[serde(default)]
    pub from: Offset,
}

/// A page of records and where the next page starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadResponse {
    pub records: Vec<Record>,
    /// The offset to read from next (after the last record returned).
    pub next_offset: Offset,
    /// The topic's end: the offset the next appended record will get.
    pub end_offset: Offset,
}

/// `GET /v1/consumers/{group}/offsets/{topic}`, `GET /v1/consumers/{group}`,
/// `GET /v1/topics` and `GET /v1/topics/{topic}` query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct PositionParams {
    #[serde(default)]
    pub consistency: Consistency,
}

/// A consumer group's position in one topic: the next offset it will read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsumerOffset {
    pub offset: Offset,
}

/// `PUT /v1/consumers/{group}/offsets/{topic}`. `expected` absent sets the
/// position unconditionally; `null` sets it only if the group has none yet;
/// an offset sets it only if that is the group's position now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommitOffsetRequest {
    pub offset: Offset,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::command::present_field"
    )]
    pub expected: Option<Option<Offset>>,
}

/// The answer to a committed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitOffsetResponse {
    pub offset: Offset,
    pub log_index: LogIndex,
}

/// `GET /v1/consumers/{group}`: the group's position in every topic it
/// committed one for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsumerGroup {
    pub group: GroupName,
    pub topics: BTreeMap<TopicName, TopicPosition>,
}

/// One topic's position, end and lag for a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicPosition {
    /// The next offset the group will read.
    pub offset: Offset,
    /// The offset the next appended record will get.
    pub end_offset: Offset,
    /// Records appended that the group has not read: `end_offset - offset`.
    pub lag_records: u64,
}

/// One topic as `GET|PUT /v1/topics/{topic}` and `GET /v1/topics` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicInfo {
    pub topic: TopicName,
    pub config: TopicConfig,
    /// The first offset still readable.
    pub start_offset: Offset,
    /// The offset the next appended record will get.
    pub end_offset: Offset,
    /// How many records the topic holds (fewer than `end_offset -
    /// start_offset` once compaction removed some).
    #[serde(default)]
    pub records: u64,
    /// Their total size (key, value as JSON and headers): what
    /// `retention_bytes` bounds.
    #[serde(default)]
    pub bytes: u64,
}

/// `POST /v1/topics/{topic}/compact`: what one cleanup pass removed, and
/// the topic after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CleanupResponse {
    pub topic: TopicInfo,
    pub removed_records: u64,
    pub removed_bytes: u64,
    pub log_index: LogIndex,
}

/// `GET /v1/topics`: every topic, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicList {
    pub topics: Vec<TopicInfo>,
}

/// `GET /v1/topics/{topic}/offsets` query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct OffsetForTimeParams {
    pub timestamp_ms: u64,
    #[serde(default)]
    pub consistency: Consistency,
}

/// The answer to a search by time: the first offset whose record's
/// `timestamp_ms` is at or after the one asked for (the end offset if none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OffsetForTime {
    pub offset: Offset,
}

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
    pub consumers: BTreeMap<GroupName, BTreeMap<TopicName, TopicPosition>>,
    /// This node's storage: whether it failed.
    #[serde(default)]
    pub storage: StorageStatus,
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

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `invalid_topic`.
    pub code: String,
    /// What was wrong, for a person.
    pub message: String,
    /// The leader this node knows of, when the error is about leadership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub leader: Option<NodeId>,
    /// What a failed compare found instead, when the error is a conflict:
    /// `condition_failed` carries `{"next_offset": N}` or
    /// `{"key_last_offset": N | null}`; `position_conflict` carries
    /// `{"offset": N | null}`; `sequence_out_of_order` carries
    /// `{"expected_seq": N}` or `{"last_seq": N}` (and the `topic` that seq
    /// went to, if another one); `offset_gone` (410) carries
    /// `{"start_offset": N}`, the first offset still readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<serde_json::Value>,
}
