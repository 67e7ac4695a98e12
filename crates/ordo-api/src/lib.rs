//! ordo's HTTP contract (v1), shared by the server (`ordo-http`), the nodes
//! (which forward requests and answer with these bodies) and the client, so
//! that none of them can drift from the others.
//!
//! Map: the wire types by route family (`records`, `topics`, `consumers`,
//! `queues`, `cluster`, `events`), the body of every error (`error`), the header names
//! ([`LEADER_HEADER`] here, the secrets' in `secret`), the limits of a
//! request and the HTTP server's defaults (`limits`, which also re-exports
//! the log's own limits from `ordo_core::limits`), and, behind the `openapi`
//! feature, the OpenAPI schemas of the domain types the wire types carry
//! (`openapi`). The domain itself (records, commands, rules) is
//! `ordo-core`'s.

pub mod cluster;
pub mod consumers;
pub mod error;
pub mod events;
pub mod limits;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod queues;
pub mod records;
pub mod secret;
pub mod topics;

pub use cluster::{
    AddNodeRequest, ClusterNodes, ClusterStatus, FollowerProgress, InitRequest, Member,
    MembershipResponse, NodeView, Protections, RemoveNodeParams, StorageStatus,
    TransferLeaderRequest,
};
pub use consumers::{
    CommitOffsetRequest, CommitOffsetResponse, ConsumerGroup, ConsumerOffset, PositionParams,
    TopicPosition,
};
pub use error::{ErrorBody, ErrorDetail};
pub use events::{Event, EventDetail, EventKind, EventList, EventsParams};
pub use queues::{
    AckRequest, ClaimRequest, ClaimResponse, ExtendRequest, ExtendResponse, ExtendedLease, Job,
    JobLease, JobsDone, LeaseToken, NackRequest, PutQueueRequest, QueueInfo, QueueList,
    QueueSettings,
};
pub use records::{
    AppendRequest, AppendResponse, Consistency, ReadParams, ReadQuery, ReadResponse, StreamParams,
};
pub use topics::{CleanupResponse, OffsetForTime, OffsetForTimeParams, TopicInfo, TopicList};

/// The header every response carries: the node id this node believes leads.
pub const LEADER_HEADER: &str = "ordo-leader";
