//! `GET /v1/events`' wire types: what the members saw happen (elections,
//! membership changes, snapshots, cleanup passes, storage trouble), each
//! member's own recent events merged by time.

use serde::{Deserialize, Serialize};

use crate::cluster::Member;
#[cfg(feature = "openapi")]
use crate::openapi::schema;
use ordo_core::{NodeId, TopicName};

/// `GET /v1/events` query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// Most events to return, the newest (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = u64, minimum = 1, maximum = 1000))]
    pub limit: Option<usize>,
    /// Only the answering node's own events with a `seq` above this; the
    /// other members' events are not filtered (their `seq`s count their
    /// own events). To follow the whole cluster, poll without it and drop
    /// the `(node_id, seq)` pairs already seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
}

/// `GET /v1/events`: the newest events of every member that answered,
/// oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventList {
    pub events: Vec<Event>,
}

/// Something one node saw happen. A node keeps its last 1000 in memory
/// (lost when it restarts), numbered by `seq` from 1 since its start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The node that saw it.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub node_id: NodeId,
    /// Increases by one with each event of that node.
    pub seq: u64,
    /// When, by that node's clock (ms since the Unix epoch).
    pub at_ms: u64,
    pub kind: EventKind,
    /// That node's term then.
    pub term: u64,
    /// What happened, in a sentence.
    pub message: String,
    /// The fields that go with its kind.
    #[serde(flatten)]
    pub detail: EventDetail,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The node learned of a leader for a new term (`leader`).
    LeaderElected,
    /// The node stopped knowing a leader (`leader`: the one it knew).
    LeaderLost,
    /// The committed membership changed (`members`: the new one).
    MembershipChanged,
    /// The node built a snapshot of its state (`log_index`: its last entry).
    SnapshotBuilt,
    /// The node installed a snapshot from the leader (`log_index`).
    SnapshotInstalled,
    /// A compaction pass removed records (`topic`, `removed_records`,
    /// `removed_bytes`, `log_index`).
    Compaction,
    /// A retention pass removed records (as `compaction`).
    Retention,
    /// The node's storage failed (`error`); it exits to be restarted.
    StorageFailed,
    /// Free disk space fell below the reserve (`free_bytes`,
    /// `reserve_bytes`): the node takes no new data.
    DiskBelowReserve,
    /// Free disk space is above the reserve again.
    DiskRecovered,
}

/// The structured fields of an [`Event`], each present only with the
/// kinds that have it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub leader: Option<NodeId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::TopicName>))]
    pub topic: Option<TopicName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_records: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The shape the console reads: the kind's fields beside the common
    /// ones, and none of the other kinds' fields.
    #[test]
    fn an_event_is_one_flat_object_with_its_kinds_fields_only() {
        let event = Event {
            node_id: 2,
            seq: 17,
            at_ms: 1_795_771_158_004,
            kind: EventKind::Retention,
            term: 3,
            message: "retention removed 20 records".into(),
            detail: EventDetail {
                topic: Some(TopicName::new("logins").unwrap()),
                removed_records: Some(20),
                removed_bytes: Some(191),
                log_index: Some(39),
                ..EventDetail::default()
            },
        };
        let wire = json!({
            "node_id": 2, "seq": 17, "at_ms": 1_795_771_158_004_u64, "kind": "retention",
            "term": 3, "message": "retention removed 20 records",
            "topic": "logins", "removed_records": 20, "removed_bytes": 191, "log_index": 39,
        });
        assert_eq!(serde_json::to_value(&event).unwrap(), wire);
        assert_eq!(serde_json::from_value::<Event>(wire).unwrap(), event);
    }
}
