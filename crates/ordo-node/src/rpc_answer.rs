//! The answering side of the internal RPCs: what a node does with a
//! message from another node, whether it came as a request of its own
//! (`/raft/*`) or on a Raft stream (`raft_stream::answer`). Raft's messages
//! go to openraft; a forwarded command, a read index or a membership change
//! runs here as it would for a client of this node; where this node's Kafka
//! listener is comes from its config, its own view and events from
//! `cluster_view`.

use openraft::async_runtime::WatchReceiver;
use openraft::errors::RaftError;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};

use crate::error::NodeError;
use crate::membership::MembershipOp;
use crate::node::Node;
use crate::rpc::{
    self, DecodeError, ForwardReply, ForwardRequest, MembershipReply, ReadIndexReply, RpcKind,
    SnapshotHeader, SnapshotReply,
};
use crate::types::TypeConfig;

impl Node {
    /// Answers an internal RPC from another node. Only a malformed message
    /// is an error; Raft and node errors travel inside the encoded reply.
    pub async fn handle_rpc(&self, kind: RpcKind, body: &[u8]) -> Result<Vec<u8>, DecodeError> {
        // A core stopped by a storage failure answers nothing, and openraft
        // logs an error for every Raft message sent to it (about 20 a
        // second): the sender hears of the failure here instead. Each of
        // these replies is a `Result` with a `RaftError`, whose `Err` is
        // encoded the same whatever its `Ok` type.
        let raft_message = matches!(
            kind,
            RpcKind::AppendEntries | RpcKind::Vote | RpcKind::PreVote | RpcKind::TransferLeader
        );
        if raft_message {
            if let Some(fatal) = self.failed_core() {
                return Ok(rpc::encode(&Err::<(), _>(RaftError::<TypeConfig>::Fatal(
                    fatal,
                ))));
            }
        }
        Ok(match kind {
            RpcKind::AppendEntries => {
                self.answer_append_entries(rpc::decode_append_entries(body)?)
                    .await
            }
            RpcKind::Vote => rpc::encode(&self.raft().vote(rpc::decode(body)?).await),
            RpcKind::PreVote => rpc::encode(&self.raft().pre_vote(rpc::decode(body)?).await),
            RpcKind::Snapshot => {
                let (header, chunk) = rpc::decode_snapshot(body)?;
                rpc::encode(&self.answer_snapshot_chunk(header, &chunk).await)
            }
            RpcKind::Forward => {
                let request: ForwardRequest = rpc::decode(body)?;
                rpc::encode(&self.answer_forward(request).await)
            }
            RpcKind::ReadIndex => {
                let reply: ReadIndexReply = self.local_read_index().await;
                rpc::encode(&reply)
            }
            RpcKind::Membership => {
                let op: MembershipOp = rpc::decode(body)?;
                let reply: MembershipReply = self.membership_local(op).await;
                rpc::encode(&reply)
            }
            RpcKind::TransferLeader => {
                let reply = self.raft().handle_transfer_leader(rpc::decode(body)?).await;
                rpc::encode(&reply.map_err(RaftError::<TypeConfig>::Fatal))
            }
            RpcKind::KafkaAddress => rpc::encode(&self.kafka_address_reply()),
            RpcKind::NodeStatus => rpc::encode(&self.node_status_reply()),
            RpcKind::Events => rpc::encode(&self.events_reply(&rpc::decode(body)?)),
        })
    }

    /// A leader's entries (or heartbeat), to openraft; encoded, as the
    /// refusal of a follower low on space is not openraft's own answer.
    async fn answer_append_entries(&self, request: AppendEntriesRequest<TypeConfig>) -> Vec<u8> {
        // Below half its reserve a follower takes no new entries
        // (see `disk_space`); the leader retries, and heartbeats
        // still reach it.
        let carries_entries = !request.entries.is_empty();
        if carries_entries {
            if let Some(space) = self.disk_space().below_follower_floor() {
                let reply: Result<AppendEntriesResponse<TypeConfig>, _> =
                    Err(RaftError::<TypeConfig>::Fatal(low_space(&space)));
                return rpc::encode(&reply);
            }
        }
        let reply = self.raft().append_entries(request).await;
        // Any answer but "your term is over" means a current leader
        // reached this node.
        if reply
            .as_ref()
            .is_ok_and(|r| !matches!(r, AppendEntriesResponse::HigherVote(_)))
        {
            self.leader_contact().record();
        }
        let appended = reply.as_ref().is_ok_and(|r| {
            matches!(
                r,
                AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_)
            )
        });
        if carries_entries && appended {
            self.snapshots().abandon();
        }
        rpc::encode(&reply)
    }

    /// One chunk of a snapshot from the leader: stored, and with the last
    /// one the snapshot installed.
    async fn answer_snapshot_chunk(&self, header: SnapshotHeader, chunk: &[u8]) -> SnapshotReply {
        let vote = header.vote;
        if let Some(space) = self.disk_space().below_follower_floor() {
            return SnapshotReply::StartOver(format!(
                "node {} takes no snapshot while its disk space is low: {space}",
                self.id()
            ));
        }
        match self
            .snapshots()
            .receive(self.state_machine(), header, chunk)
            .await
        {
            Ok(None) => SnapshotReply::Accepted,
            Ok(Some(snapshot)) => {
                let data = snapshot.snapshot.clone();
                let index = snapshot.meta.last_log_id.map(|l| l.index);
                if let Some(index) = index {
                    self.events().installing_snapshot(index);
                }
                let installed = self
                    .raft()
                    .install_full_snapshot(vote, snapshot)
                    .await
                    .map_err(RaftError::<TypeConfig>::Fatal);
                if let Err(e) = self.state_machine().discard_unused_snapshot(&data) {
                    tracing::warn!(error = %e, "could not delete a snapshot not installed");
                }
                if let (Ok(_), Some(index)) = (&installed, index) {
                    let message =
                        format!("installed a snapshot from the leader up to log index {index}");
                    tracing::info!(node = self.id(), "{message}");
                    let detail = ordo_api::EventDetail {
                        log_index: Some(index),
                        ..Default::default()
                    };
                    self.record_event(ordo_api::EventKind::SnapshotInstalled, message, detail);
                }
                SnapshotReply::Installed(installed)
            }
            Err(reason) => SnapshotReply::StartOver(reason),
        }
    }

    /// A command a follower forwarded: proposed here if this node leads.
    async fn answer_forward(&self, request: ForwardRequest) -> ForwardReply {
        if self.current_leader() == Some(self.id()) {
            self.propose_local(request.command).await
        } else {
            Err(NodeError::NoLeader {
                leader: self.current_leader(),
                reason: format!("node {} is not the leader", self.id()),
            })
        }
    }

    /// Why the Raft core stopped, once this node's storage failed.
    fn failed_core(&self) -> Option<openraft::errors::Fatal<TypeConfig>> {
        self.storage_failure()?;
        self.raft()
            .metrics()
            .borrow_watched()
            .running_state
            .clone()
            .err()
    }
}

/// What a follower below its reserve answers a leader's entries with: an
/// error the leader takes as "cannot take messages now" and retries.
fn low_space(space: &crate::disk_space::SpaceReading) -> openraft::errors::Fatal<TypeConfig> {
    let refusal = std::io::Error::other(format!("disk space low: {space}"));
    openraft::errors::Fatal::StorageError(openraft::StorageError::from_io_error(
        openraft::ErrorSubject::Logs,
        openraft::ErrorVerb::Write,
        refusal,
    ))
}
