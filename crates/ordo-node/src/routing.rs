//! Routing a request to the leader, wherever it is: this node, a peer, or a
//! leader not yet elected.
//!
//! Every failed attempt is classified by what it proves. *Unreachable*: the
//! leader could not be contacted, so nothing happened; wait for the cluster
//! to elect another. *Refused*: the leader answered that it cannot take the
//! request (no longer leader, or newly elected and its lease not yet
//! confirmed), so nothing happened; follow its hint or retry it shortly.
//! Anything else, including "may have happened", ends the routing.

use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::ServerState;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::error::NodeError;
use crate::membership::MembershipOp;
use crate::node::Node;
use crate::rpc::{self, ForwardReply, ForwardRequest, MembershipReply, ReadIndexReply, RpcKind};
use crate::transport::TransportError;
use crate::words;
use ordo_api::{ErrorBody, MembershipResponse};
use ordo_core::{Command, CommandResult, NodeId};

/// Attempts per request; each failed one is certain nothing happened.
const MAX_ROUTE_ATTEMPTS: usize = 50;
/// Pause before asking a leader that refused (e.g. lease not yet confirmed
/// right after its election) again.
const REFUSED_RETRY_PAUSE: Duration = Duration::from_millis(5);

/// What only the leader can do.
#[derive(Debug)]
pub(crate) enum LeaderOp {
    Propose(Command),
    ReadIndex,
    Membership(MembershipOp),
}

#[derive(Debug)]
pub(crate) enum LeaderAnswer {
    Applied(CommandResult),
    ReadIndex(u64),
    Membership(MembershipResponse),
}

/// The outcome of one attempt.
enum Attempt {
    Done(Result<LeaderAnswer, NodeError>),
    Unreachable(NodeError),
    Refused {
        hint: Option<NodeId>,
        error: NodeError,
    },
}

impl Attempt {
    fn from_reply(reply: Result<LeaderAnswer, NodeError>) -> Attempt {
        match reply {
            Err(error @ NodeError::NoLeader { leader, .. }) => Attempt::Refused {
                hint: leader,
                error,
            },
            other => Attempt::Done(other),
        }
    }
}

impl Node {
    /// Runs `op` on the leader, retrying only attempts that certainly did
    /// nothing, until `leader_wait` runs out.
    pub(crate) async fn route(&self, op: LeaderOp) -> Result<LeaderAnswer, NodeError> {
        let deadline = Instant::now() + self.config.leader_wait;
        let mut avoid = None;
        let mut last_error = None;
        for _ in 0..MAX_ROUTE_ATTEMPTS {
            let leader = match self.known_leader(avoid) {
                Some(leader) => leader,
                None => match Box::pin(self.wait_for_leader(avoid, deadline)).await {
                    Ok(leader) => leader,
                    Err(error) => return Err(last_error.unwrap_or(error)),
                },
            };
            let attempt = self.attempt(leader, &op).await;
            match attempt {
                Attempt::Done(result) => return result,
                Attempt::Unreachable(error) => {
                    avoid = Some(leader);
                    last_error = Some(error);
                }
                Attempt::Refused { hint, error } => {
                    // A hint naming another node: wait until we see it too.
                    avoid = hint.filter(|h| *h != leader).map(|_| leader);
                    if avoid.is_none() {
                        let pause = (Instant::now() + REFUSED_RETRY_PAUSE).min(deadline);
                        tokio::time::sleep_until(pause).await;
                    }
                    last_error = Some(error);
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(last_error.unwrap_or_else(|| self.no_leader_elected()))
    }

    /// One attempt at `op` on `leader`. Only a proposal on this node, the
    /// path of every write a leader takes, is awaited in place; the other
    /// paths are boxed, so that this future, and every future that awaits
    /// it (the request's, from axum's handler down), is the size of that
    /// one path and not of the largest: futures are moved by copying all
    /// of them, and a request's was about 9 KB.
    async fn attempt(&self, leader: NodeId, op: &LeaderOp) -> Attempt {
        if leader == self.config.id {
            let reply = match op {
                LeaderOp::Propose(command) => self
                    .propose_local(command.clone())
                    .await
                    .map(LeaderAnswer::Applied),
                LeaderOp::ReadIndex => Box::pin(self.local_read_index())
                    .await
                    .map(LeaderAnswer::ReadIndex),
                LeaderOp::Membership(op) => Box::pin(self.membership_local(op.clone()))
                    .await
                    .map(LeaderAnswer::Membership),
            };
            return Attempt::from_reply(reply);
        }
        Box::pin(self.attempt_on_peer(leader, op)).await
    }

    /// [`Node::attempt`] on a leader elsewhere: forwarded.
    async fn attempt_on_peer(&self, leader: NodeId, op: &LeaderOp) -> Attempt {
        let timeout = self.config.write_timeout + Duration::from_secs(1);
        let reply = match op {
            LeaderOp::Propose(command) => {
                let request = ForwardRequest {
                    command: command.clone(),
                };
                self.call_leader::<ForwardReply>(
                    leader,
                    RpcKind::Forward,
                    rpc::encode(&request),
                    timeout,
                )
                .await
                .map(|reply| reply.map(LeaderAnswer::Applied))
            }
            LeaderOp::ReadIndex => self
                .call_leader::<ReadIndexReply>(leader, RpcKind::ReadIndex, Vec::new(), timeout)
                .await
                .map(|reply| reply.map(LeaderAnswer::ReadIndex))
                // A lost read-index request changed nothing.
                .or_else(|attempt| match attempt {
                    Attempt::Done(Err(NodeError::OutcomeUnknown { reason })) => {
                        Ok(Err(NodeError::Unavailable { reason }))
                    }
                    other => Err(other),
                }),
            LeaderOp::Membership(op) => {
                let timeout = op.leader_time(self.config.write_timeout) + Duration::from_secs(1);
                self.call_leader::<MembershipReply>(
                    leader,
                    RpcKind::Membership,
                    rpc::encode(op),
                    timeout,
                )
                .await
                .map(|reply| reply.map(LeaderAnswer::Membership))
            }
        };
        match reply {
            Ok(reply) => Attempt::from_reply(reply),
            Err(attempt) => attempt,
        }
    }

    /// Calls `kind` on the leader and decodes its reply; a transport failure
    /// is classified by whether the request may have arrived.
    async fn call_leader<T: DeserializeOwned>(
        &self,
        leader: NodeId,
        kind: RpcKind,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<T, Attempt> {
        let Some(addr) = self.member_addr(leader) else {
            return Err(Attempt::Unreachable(NodeError::NoLeader {
                leader: Some(leader),
                reason: format!("leader {leader} has no known address"),
            }));
        };
        let bytes = self
            .transport
            .call(&addr, kind.path(), body, timeout)
            .await
            .map_err(|e| self.leader_call_failed(leader, &addr, e))?;
        rpc::decode(&bytes).map_err(|e| {
            tracing::warn!(leader, error = %e, "an answer from the leader that does not decode");
            Attempt::Done(Err(NodeError::Internal {
                reason: format!(
                    "the answer of leader {leader} at {addr} could not be decoded (do all nodes \
                     run the same version of ordo?)"
                ),
            }))
        })
    }

    /// A failed call to the leader, classified by whether the request may
    /// have arrived, in words; the transport's own error goes to the log.
    fn leader_call_failed(&self, leader: NodeId, addr: &str, error: TransportError) -> Attempt {
        tracing::debug!(leader, %error, "calling the leader failed");
        let leader_at = format!("leader {leader} at {addr}");
        // The request may have arrived: its outcome is unknown.
        let may_have_happened =
            |reason: String| Attempt::Done(Err(NodeError::OutcomeUnknown { reason }));
        match error {
            TransportError::Unreachable { .. } => Attempt::Unreachable(NodeError::NoLeader {
                leader: Some(leader),
                reason: format!(
                    "{leader_at} cannot be reached; {}",
                    self.quorum_count().election_needs()
                ),
            }),
            TransportError::Timeout { timeout, .. } => may_have_happened(format!(
                "{leader_at} did not answer within {}",
                words::duration(timeout)
            )),
            TransportError::Broken { .. } => may_have_happened(format!(
                "the connection to {leader_at} broke after the request was sent"
            )),
            TransportError::Status { status, body, .. } => {
                let refusal = serde_json::from_str::<ErrorBody>(&body)
                    .map(|body| body.error.message)
                    .unwrap_or_else(|_| format!("HTTP {status}"));
                may_have_happened(format!("{leader_at} answered the request with: {refusal}"))
            }
        }
    }

    /// No leader known within `leader_wait`, in words.
    fn no_leader_elected(&self) -> NodeError {
        NodeError::NoLeader {
            leader: None,
            reason: format!(
                "none elected within {}; {}",
                words::duration(self.config.leader_wait),
                self.quorum_count().election_needs()
            ),
        }
    }

    fn member_addr(&self, id: NodeId) -> Option<String> {
        let metrics = self.raft().metrics();
        let metrics = metrics.borrow_watched();
        metrics
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone())
            .or_else(|| self.config.peers.get(&id).cloned())
    }

    /// The leader this node knows, unless it is `avoid` or the node has
    /// stopped: what [`Node::wait_for_leader`] answers at once, without its
    /// future (see [`Node::attempt`]). From the full metrics, as there: only
    /// they say `Shutdown` once Raft has stopped (the server metrics keep
    /// the last leader).
    fn known_leader(&self, avoid: Option<NodeId>) -> Option<NodeId> {
        let metrics = self.raft().metrics();
        let metrics = metrics.borrow_watched();
        metrics
            .current_leader
            .filter(|leader| Some(*leader) != avoid && metrics.state != ServerState::Shutdown)
    }

    /// Waits (until `deadline`) for a leader to be known; with `avoid`, for
    /// one other than that node, which could not be reached (a dead leader
    /// stays in our view until an election replaces it). After an election
    /// timeout without change, `avoid` is tried again: it may be back.
    async fn wait_for_leader(
        &self,
        avoid: Option<NodeId>,
        deadline: Instant,
    ) -> Result<NodeId, NodeError> {
        let retry_avoided_after =
            Instant::now() + Duration::from_millis(self.config.election_timeout_max_ms);
        let mut metrics = self.raft().metrics();
        loop {
            let (leader, state) = {
                let m = metrics.borrow_and_update();
                (m.current_leader, m.state)
            };
            if state == ServerState::Shutdown {
                return Err(NodeError::Unavailable {
                    reason: "node is shutting down".into(),
                });
            }
            if let Some(leader) = leader {
                if Some(leader) != avoid || Instant::now() >= retry_avoided_after {
                    return Ok(leader);
                }
            }
            let wake = if leader.is_some() {
                retry_avoided_after.min(deadline)
            } else {
                deadline
            };
            match tokio::time::timeout_at(wake, metrics.changed()).await {
                Ok(Ok(())) => continue,
                Err(_) if Instant::now() < deadline => continue,
                _ => return Err(self.no_leader_elected()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::leading_alone;
    use crate::NodeError;

    /// A node whose Raft has stopped keeps its last leader in openraft's
    /// server metrics (only the full metrics say `Shutdown`): a write to
    /// it is refused as unavailable, certain to have done nothing, and is
    /// neither proposed nor forwarded.
    #[tokio::test]
    async fn a_write_to_a_stopped_node_is_unavailable() {
        let node = leading_alone().await;
        node.shutdown().await;

        let request = serde_json::from_value(serde_json::json!({"records": [{"value": 1}]}))
            .expect("an append request");
        let topic = "stopped".parse().expect("a topic name");
        match node.append(topic, request).await {
            Err(NodeError::Unavailable { reason }) => {
                assert!(reason.contains("shutting down"), "{reason}");
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
}
