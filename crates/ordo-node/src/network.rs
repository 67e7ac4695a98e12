//! openraft's network, written once over any [`Transport`].

use std::future::Future;
use std::io;
use std::sync::Arc;

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

use crate::rpc::{self, RpcKind, SnapshotHeader, SnapshotReply, SNAPSHOT_CHUNK_BYTES};
use crate::transport::{Transport, TransportError};
use crate::types::{SnapshotData, TypeConfig};
use ordo_core::NodeId;

type RpcResult<T> = Result<T, RPCError<TypeConfig>>;

/// Makes one [`PeerClient`] per target node.
pub struct NetworkFactory {
    pub(crate) id: NodeId,
    pub(crate) transport: Arc<dyn Transport>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            id: self.id,
            target,
            addr: node.addr.clone(),
            transport: self.transport.clone(),
        }
    }
}

/// Raft RPCs to one peer.
pub struct PeerClient {
    id: NodeId,
    target: NodeId,
    addr: String,
    transport: Arc<dyn Transport>,
}

impl PeerClient {
    fn to_rpc_error(&self, action: RPCTypes, e: TransportError) -> RPCError<TypeConfig> {
        match e {
            TransportError::Timeout { timeout, .. } => RPCError::Timeout(Timeout {
                action,
                id: self.id,
                target: self.target,
                timeout,
            }),
            TransportError::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&e)),
            TransportError::Broken { .. } | TransportError::Status { .. } => {
                RPCError::Network(NetworkError::new(&e))
            }
        }
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        kind: RpcKind,
        action: RPCTypes,
        request: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp> {
        let bytes = self
            .transport
            .call(
                &self.addr,
                kind.path(),
                rpc::encode(request),
                option.soft_ttl(),
            )
            .await
            .map_err(|e| self.to_rpc_error(action, e))?;
        let reply: Result<Resp, RaftError<TypeConfig>> =
            rpc::decode(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        // The only remote RaftError here is Fatal: the peer is shutting down.
        reply.map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<TypeConfig>> {
        self.call(
            RpcKind::AppendEntries,
            RPCTypes::AppendEntries,
            &request,
            &option,
        )
        .await
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
            let send = self.transport.call(
                &self.addr,
                RpcKind::Snapshot.path(),
                rpc::encode_snapshot(&header, &chunk),
                option.hard_ttl(),
            );
            let bytes = tokio::select! {
                biased;
                closed = &mut cancel => return Err(StreamingError::Closed(closed)),
                result = send => result.map_err(|e| match self.to_rpc_error(RPCTypes::InstallSnapshot, e) {
                    RPCError::Timeout(t) => StreamingError::Timeout(t),
                    RPCError::Unreachable(u) => StreamingError::Unreachable(u),
                    RPCError::Network(n) => StreamingError::Network(n),
                    RPCError::RemoteError(r) => StreamingError::Network(NetworkError::new(&r)),
                })?,
            };
            let reply: SnapshotReply =
                rpc::decode(&bytes).map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
            offset += chunk.len() as u64;
            match reply {
                SnapshotReply::Accepted if offset < total && !chunk.is_empty() => {}
                SnapshotReply::Accepted => {
                    let e = io::Error::other(
                        "the peer took the last snapshot chunk but did not install it",
                    );
                    return Err(StreamingError::Network(NetworkError::new(&e)));
                }
                // The only remote RaftError here is Fatal: the peer is shutting down.
                SnapshotReply::Installed(reply) => {
                    return reply.map_err(|e| StreamingError::Unreachable(Unreachable::new(&e)))
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
