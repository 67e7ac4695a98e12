//! Internal node-to-node RPCs: their paths and their encoding, used by both
//! the calling side ([`crate::network`], forwarding in `routing`) and the
//! answering side ([`crate::node::Node::handle_rpc`], in `rpc_answer`).
//!
//! Messages are JSON, except an AppendEntries request, which is binary
//! ([`crate::append_wire`]; JSON from an older leader is still taken), and
//! a snapshot chunk, which is a JSON header line followed by raw snapshot
//! bytes (no base64 inflation of large payloads).
//! A snapshot travels in chunks of [`SNAPSHOT_CHUNK_BYTES`], one message
//! each, in order; the receiver writes them to a file as they come and
//! installs the snapshot when the last one arrives. Neither side holds a
//! whole snapshot in memory, and each message has its own timeout.

use openraft::errors::RaftError;
use openraft::raft::{AppendEntriesRequest, SnapshotResponse};
use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::append_wire;
use crate::error::NodeError;
use crate::types::TypeConfig;
use ordo_api::MembershipResponse;
use ordo_core::{Command, CommandResult, LogIndex};

/// The internal endpoints, each a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcKind {
    AppendEntries,
    Vote,
    PreVote,
    Snapshot,
    /// A follower hands a client's command to the leader.
    Forward,
    /// A follower asks the leader for a read index (follower reads).
    ReadIndex,
    /// A follower hands a membership change or leadership transfer to the
    /// leader.
    Membership,
    /// The leader hands over leadership (openraft's transfer-leader message).
    TransferLeader,
    /// Any node asks another where its Kafka listener is (`kafka_brokers`).
    KafkaAddress,
    /// Any node asks another for its own view of itself (`cluster_view`).
    NodeStatus,
    /// Any node asks another for its newest events (`cluster_view`).
    Events,
}

impl RpcKind {
    pub const ALL: [RpcKind; 11] = [
        RpcKind::AppendEntries,
        RpcKind::Vote,
        RpcKind::PreVote,
        RpcKind::Snapshot,
        RpcKind::Forward,
        RpcKind::ReadIndex,
        RpcKind::Membership,
        RpcKind::TransferLeader,
        RpcKind::KafkaAddress,
        RpcKind::NodeStatus,
        RpcKind::Events,
    ];

    /// The kind's byte in a [`crate::raft_stream`] frame.
    pub fn code(self) -> u8 {
        match self {
            RpcKind::AppendEntries => 1,
            RpcKind::Vote => 2,
            RpcKind::PreVote => 3,
            RpcKind::Snapshot => 4,
            RpcKind::Forward => 5,
            RpcKind::ReadIndex => 6,
            RpcKind::Membership => 7,
            RpcKind::TransferLeader => 8,
            RpcKind::KafkaAddress => 9,
            RpcKind::NodeStatus => 10,
            RpcKind::Events => 11,
        }
    }

    pub fn from_code(code: u8) -> Option<RpcKind> {
        RpcKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The kind whose endpoint is `path`.
    pub fn from_path(path: &str) -> Option<RpcKind> {
        RpcKind::ALL.into_iter().find(|kind| kind.path() == path)
    }

    /// Raft's own messages, which go over a peer's [`crate::raft_stream`]:
    /// small, frequent, and safe to send twice (a repeated AppendEntries
    /// or vote changes nothing). Snapshot chunks, forwarded commands and
    /// the rest go as requests of their own.
    pub fn streamed(self) -> bool {
        matches!(
            self,
            RpcKind::AppendEntries | RpcKind::Vote | RpcKind::PreVote | RpcKind::TransferLeader
        )
    }

    pub fn path(self) -> &'static str {
        match self {
            RpcKind::AppendEntries => "/raft/append",
            RpcKind::Vote => "/raft/vote",
            RpcKind::PreVote => "/raft/pre-vote",
            RpcKind::Snapshot => "/raft/snapshot",
            RpcKind::Forward => "/raft/forward",
            RpcKind::ReadIndex => "/raft/read-index",
            RpcKind::Membership => "/raft/membership",
            RpcKind::TransferLeader => "/raft/transfer-leader",
            RpcKind::KafkaAddress => "/raft/kafka-address",
            RpcKind::NodeStatus => "/raft/node-status",
            RpcKind::Events => "/raft/events",
        }
    }
}

/// The answer to a forwarded command.
pub type ForwardReply = Result<CommandResult, NodeError>;
/// The answer to a read-index request: the leader's read log index.
pub type ReadIndexReply = Result<LogIndex, NodeError>;
/// The answer to a forwarded membership change or leadership transfer.
pub type MembershipReply = Result<MembershipResponse, NodeError>;
/// Where the answering node's Kafka listener is (`HOST:PORT`); `None` if
/// it has none.
pub type KafkaAddressReply = Option<String>;
/// What the answering node says of itself.
pub type NodeStatusReply = crate::status::OwnView;
/// The answering node's own newest events, oldest first.
pub type EventsReply = Vec<ordo_api::Event>;

/// How many of its newest events the answering node is asked for.
#[derive(Serialize, Deserialize)]
pub struct EventsRequest {
    pub limit: usize,
}

#[derive(Serialize, Deserialize)]
pub struct ForwardRequest {
    pub command: Command,
}

/// How many snapshot bytes one message carries.
pub const SNAPSHOT_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// What comes before a snapshot chunk's bytes.
#[derive(Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub vote: VoteOf<TypeConfig>,
    pub meta: SnapshotMetaOf<TypeConfig>,
    /// Where this chunk starts in the snapshot.
    pub offset: u64,
    /// The snapshot's whole length: the chunk that reaches it is the last.
    pub total: u64,
}

/// The answer to one snapshot chunk.
#[derive(Serialize, Deserialize)]
pub enum SnapshotReply {
    /// Stored; send the next chunk.
    Accepted,
    /// That was the last chunk; this is what installing the snapshot said.
    Installed(Result<SnapshotResponse<TypeConfig>, RaftError<TypeConfig>>),
    /// The chunk did not continue the snapshot being received, or could not
    /// be stored: the sender starts over from the first chunk.
    StartOver(String),
}

#[derive(Debug, thiserror::Error)]
#[error("malformed RPC message: {0}")]
pub struct DecodeError(String);

impl DecodeError {
    pub fn new(detail: impl Into<String>) -> Self {
        DecodeError(detail.into())
    }
}

pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).expect("RPC messages are plain data and always serialize")
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError(e.to_string()))
}

/// An AppendEntries request in either form a leader may send it in.
pub fn decode_append_entries(
    bytes: &[u8],
) -> Result<AppendEntriesRequest<TypeConfig>, DecodeError> {
    match bytes.first() {
        Some(&append_wire::TAG) => append_wire::decode(bytes),
        _ => decode(bytes),
    }
}

pub fn encode_snapshot(header: &SnapshotHeader, data: &[u8]) -> Vec<u8> {
    let mut out = encode(header);
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

pub fn decode_snapshot(bytes: &[u8]) -> Result<(SnapshotHeader, Vec<u8>), DecodeError> {
    // JSON never contains a raw newline outside strings in serde_json's
    // compact output, so the first newline ends the header.
    let split = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| DecodeError("snapshot message has no header line".into()))?;
    let header = decode(&bytes[..split])?;
    Ok((header, bytes[split + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_round_trips_with_binary_data() {
        let header = SnapshotHeader {
            vote: openraft::Vote::new(3, 1),
            meta: Default::default(),
            offset: 0,
            total: 5,
        };
        let data = vec![0u8, b'\n', 255, 10, 13];
        let (back, back_data) = decode_snapshot(&encode_snapshot(&header, &data)).unwrap();
        assert_eq!(back.meta, header.meta);
        assert_eq!(back_data, data);
    }

    #[test]
    fn paths_are_distinct() {
        let mut paths: Vec<_> = RpcKind::ALL.iter().map(|k| k.path()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), RpcKind::ALL.len());
    }
}
