//! openraft's network, written once over any [`Transport`].

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::errors::RaftError;
use openraft::errors::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft::BasicNode;
use serde::{de::DeserializeOwned, Serialize};

use crate::append_wire;
use crate::peer_log::PeerLog;
use crate::peers::{PeerCall, PeerError, Peers, TransportError};
use crate::replication_gather::{self, GATHER_YIELDS};
use crate::rpc::{self, RpcKind, SnapshotHeader, SnapshotReply, SNAPSHOT_CHUNK_BYTES};
use crate::types::{LogStore, SnapshotData, TypeConfig};
use openraft::base::{BoxFuture, BoxStream};
use openraft::raft::StreamAppendResult;
use openraft::OptionalSend;
use ordo_core::NodeId;

type RpcResult<T> = Result<T, RPCError<TypeConfig>>;

/// The least time a message carrying entries gets for its answer.
/// openraft gives every replication message three quarters of a heartbeat
/// interval (37.5 ms by default), the same as a heartbeat; but a follower
/// answers entries only once they are durable, and on a slow disk (or in
/// a debug build, or with a large batch of a follower catching up) that
/// takes longer. Each such message then timed out and was sent again, and
/// a follower could stay behind for good. A heartbeat keeps openraft's
/// timeout: the leader's lease rests on those.
pub const MIN_ENTRIES_TIMEOUT: Duration = Duration::from_secs(2);
/// What openraft's `stream_append` yields per message.
type StreamAppendItem = Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>;

/// Makes one [`PeerClient`] per target node.
pub struct NetworkFactory {
    pub(crate) id: NodeId,
    pub(crate) transport: Arc<dyn Peers>,
    /// One for all clients: openraft makes several per peer.
    pub(crate) peer_log: Arc<PeerLog>,
    /// This node's log, for what it has purged.
    pub(crate) log_store: LogStore,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            id: self.id,
            target,
            addr: node.addr.clone(),
            transport: self.transport.clone(),
            peer_log: self.peer_log.clone(),
            log_store: self.log_store.clone(),
            purpose: Purpose::Messages,
        }
    }

    /// openraft's heartbeat worker sends through `stream_append` too, so
    /// its client is marked apart: a heartbeat after a purged entry is what
    /// keeps a follower that waits for a snapshot in touch with its leader
    /// (refused, the follower reports "leader has not reached this node"
    /// and its `/readyz` stays 503 until the snapshot is in).
    async fn new_heartbeat_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            purpose: Purpose::Heartbeats,
            ..self.new_client(target, node).await
        }
    }
}

/// What openraft uses a [`PeerClient`] for, which decides whether
/// [`PeerClient::stale_replication`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Votes, transfers, snapshots, and replication until `stream_append`.
    Messages,
    /// openraft's replication stream (`stream_append` called on a client
    /// not made for heartbeats).
    Replication,
    /// The heartbeat worker's client (`new_heartbeat_client`).
    Heartbeats,
}

/// Raft RPCs to one peer.
pub struct PeerClient {
    id: NodeId,
    target: NodeId,
    addr: String,
    transport: Arc<dyn Peers>,
    peer_log: Arc<PeerLog>,
    log_store: LogStore,
    purpose: Purpose,
}

/// A message that failed: what openraft is told, and why in words, for
/// the log.
struct Failure {
    error: RPCError<TypeConfig>,
    reason: String,
}

/// The remote `RaftError` a peer answers is Fatal: it is shutting down,
/// its storage failed, or its disk space is below its reserve.
fn shutting_down(fatal: RaftError<TypeConfig>) -> Failure {
    let reason = match &fatal {
        RaftError::Fatal(stop) => match crate::storage_fault::failure_of(&Err(stop.clone())) {
            Some(cause) => format!("it takes no messages: {cause}"),
            None => "it is shutting down".to_string(),
        },
        RaftError::APIError(_) => "it is shutting down".to_string(),
    };
    Failure {
        error: RPCError::Unreachable(Unreachable::new(&fatal)),
        reason,
    }
}

/// How a message went, as [`crate::peer_log::MessageWatch::settle`] takes it.
fn outcome<T>(result: &Result<T, Failure>) -> Result<(), &str> {
    match result {
        Ok(_) => Ok(()),
        Err(failure) => Err(&failure.reason),
    }
}

fn into_streaming(error: RPCError<TypeConfig>) -> StreamingError<TypeConfig> {
    match error {
        RPCError::Timeout(t) => StreamingError::Timeout(t),
        RPCError::Unreachable(u) => StreamingError::Unreachable(u),
        RPCError::Network(n) => StreamingError::Network(n),
        RPCError::RemoteError(r) => StreamingError::Network(NetworkError::new(&r)),
    }
}

impl PeerClient {
    /// A replication message that would tell the peer nothing: no entries,
    /// after a `prev_log_id` this node has purged the entries behind.
    ///
    /// openraft's replication stream keeps the range it was sending across
    /// a failed message and a snapshot sent meanwhile (0.10.0-alpha.37);
    /// once the leader purges that range, each read of it comes back empty
    /// (`LogStore::limited_get_log_entries` never skips a purged start),
    /// openraft sends it as a heartbeat, the peer accepts it, and the
    /// stream asks again every 10 ms without end: a wiped follower rebuilt
    /// from a snapshot then never gets the entries after it. Refused here
    /// as a failed message instead, openraft drops the stale range and
    /// decides again from the peer's progress (the entries after its
    /// snapshot, or another snapshot).
    fn stale_replication(
        &self,
        request: &AppendEntriesRequest<TypeConfig>,
    ) -> Option<RPCError<TypeConfig>> {
        if self.purpose != Purpose::Replication || !request.entries.is_empty() {
            return None;
        }
        let purged = self.log_store.last_purged_index().ok().flatten()?;
        let follows = request.prev_log_id.as_ref().map(|prev| prev.index());
        if follows.is_some_and(|prev| prev >= purged) {
            return None;
        }
        let e = io::Error::other(format!(
            "the stream was to resume after {}, which this node purged (through {purged})",
            follows.map_or("the start".to_string(), |prev| prev.to_string())
        ));
        tracing::debug!(peer = self.target, error = %e, "replication resumes afresh");
        Some(RPCError::Network(NetworkError::new(&e)))
    }

    fn to_rpc_error(&self, action: RPCTypes, e: PeerError) -> RPCError<TypeConfig> {
        match e {
            PeerError::NoAnswer(TransportError::Timeout { timeout, .. }) => {
                RPCError::Timeout(Timeout {
                    action,
                    id: self.id,
                    target: self.target,
                    timeout,
                })
            }
            _ if e.not_sent() => RPCError::Unreachable(Unreachable::new(&e)),
            _ => RPCError::Network(NetworkError::new(&e)),
        }
    }

    /// Sends `body` to `path` on the peer and decodes its answer.
    async fn exchange<Reply: DeserializeOwned>(
        &self,
        action: RPCTypes,
        path: &'static str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        let bytes = self
            .transport
            .call(PeerCall {
                addr: &self.addr,
                path,
                body,
                timeout,
            })
            .await
            .map_err(|e| Failure {
                reason: e.cause(),
                error: self.to_rpc_error(action, e),
            })?;
        rpc::decode(&bytes).map_err(|e| Failure {
            reason: format!("its answer could not be decoded: {e}"),
            error: RPCError::Network(NetworkError::new(&e)),
        })
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        kind: RpcKind,
        action: RPCTypes,
        request: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp> {
        self.send(kind, action, rpc::encode(request), option.soft_ttl())
            .await
    }

    /// Sends the encoded request `body` and decodes the answer.
    async fn send<Resp: DeserializeOwned>(
        &self,
        kind: RpcKind,
        action: RPCTypes,
        body: Vec<u8>,
        timeout: Duration,
    ) -> RpcResult<Resp> {
        let watch = self
            .peer_log
            .watch(self.target, &self.addr, kind.path(), timeout);
        let result = self
            .exchange(action, kind.path(), body, timeout)
            .await
            .and_then(|reply: Result<Resp, RaftError<TypeConfig>>| reply.map_err(shutting_down));
        watch.settle(outcome(&result));
        result.map_err(|failure| failure.error)
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<TypeConfig>> {
        if let Some(stale) = self.stale_replication(&request) {
            return Err(stale);
        }
        let timeout = match request.entries.is_empty() {
            true => option.soft_ttl(),
            false => option.soft_ttl().max(MIN_ENTRIES_TIMEOUT),
        };
        let body =
            append_wire::encode(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.send(
            RpcKind::AppendEntries,
            RPCTypes::AppendEntries,
            body,
            timeout,
        )
        .await
    }

    /// openraft's own sequential stream, with this client marked as the
    /// one replication uses (see [`PeerClient::stale_replication`]), each
    /// request gathered (see [`replication_gather`]).
    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<'s, Result<BoxStream<'s, StreamAppendItem>, RPCError<TypeConfig>>>
    where
        S: futures::Stream<Item = AppendEntriesRequest<TypeConfig>>
            + OptionalSend
            + Unpin
            + 'static,
    {
        if self.purpose == Purpose::Messages {
            self.purpose = Purpose::Replication;
        }
        let input = replication_gather::gather_before_each(input, GATHER_YIELDS);
        openraft::network::stream_append_sequential(self, input, option)
    }

    async fn vote(
        &mut self,
        request: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<TypeConfig>> {
        self.call(RpcKind::Vote, RPCTypes::Vote, &request, &option)
            .await
    }

    async fn pre_vote(
        &mut self,
        request: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<TypeConfig>> {
        self.call(RpcKind::PreVote, RPCTypes::Vote, &request, &option)
            .await
    }

    /// A leader handing over leadership (`POST /v1/cluster/leader`, or a
    /// leader removed from the membership stepping down) tells every node.
    async fn transfer_leader(
        &mut self,
        request: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<TransferLeaderResponse<TypeConfig>> {
        self.call(
            RpcKind::TransferLeader,
            RPCTypes::TransferLeader,
            &request,
            &option,
        )
        .await
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, SnapshotData>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let mut cancel = std::pin::pin!(cancel);
        let total = snapshot.snapshot.len();
        let mut offset = 0;
        loop {
            // A file read of a few MiB, mostly from the page cache.
            let chunk = snapshot
                .snapshot
                .read_chunk(offset, SNAPSHOT_CHUNK_BYTES)
                .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
            let header = SnapshotHeader {
                vote,
                meta: snapshot.meta.clone(),
                offset,
                total,
            };
            let path = RpcKind::Snapshot.path();
            let watch = self
                .peer_log
                .watch(self.target, &self.addr, path, option.hard_ttl());
            let send = self.exchange::<SnapshotReply>(
                RPCTypes::InstallSnapshot,
                path,
                rpc::encode_snapshot(&header, &chunk),
                option.hard_ttl(),
            );
            let result = tokio::select! {
                biased;
                closed = &mut cancel => return Err(StreamingError::Closed(closed)),
                result = send => result,
            };
            let result = match result {
                Ok(SnapshotReply::Installed(Err(fatal))) => Err(shutting_down(fatal)),
                result => result,
            };
            watch.settle(outcome(&result));
            let reply = result.map_err(|failure| into_streaming(failure.error))?;
            offset += chunk.len() as u64;
            match reply {
                SnapshotReply::Accepted if offset < total && !chunk.is_empty() => {}
                SnapshotReply::Accepted => {
                    let e = io::Error::other(
                        "the peer took the last snapshot chunk but did not install it",
                    );
                    return Err(StreamingError::Network(NetworkError::new(&e)));
                }
                // Always Ok: a Fatal answer (the peer is shutting down)
                // failed above.
                SnapshotReply::Installed(reply) => {
                    return reply.map_err(|fatal| into_streaming(shutting_down(fatal).error))
                }
                SnapshotReply::StartOver(reason) => {
                    let e =
                        io::Error::other(format!("the peer refused a snapshot chunk: {reason}"));
                    return Err(StreamingError::Network(NetworkError::new(&e)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
