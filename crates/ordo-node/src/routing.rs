//! Routing a request to the leader, wherever it is: this node, a peer, or a
//! leader not yet elected; and the words of a leader's refusal.
//!
//! What is routed is a [`LeaderCall`], which says how it runs on the leader
//! and how it travels there: routing only finds the leader and calls it,
//! and never reaches back into the rooms that use it (`propose`, `reads`,
//! `membership`).
//!
//! Every failed attempt is classified by what it proves. *Unreachable*: the
//! leader could not be contacted, so nothing happened; wait for the cluster
//! to elect another. *Refused*: the leader answered that it cannot take the
//! request (no longer leader, or newly elected and its lease not yet
//! confirmed), so nothing happened; follow its hint or retry it shortly.
//! Anything else, including "may have happened", ends the routing.

use std::future::Future;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ForwardReason, ForwardToLeader};
use openraft::ServerState;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::error::NodeError;
use crate::node::Node;
use crate::peers::{PeerCall, PeerError, TransportError};
use crate::rpc::{self, RpcKind};
use crate::types::TypeConfig;
use crate::words;
use ordo_api::ErrorBody;
use ordo_core::NodeId;

/// Attempts per request; each failed one is certain nothing happened.
const MAX_ROUTE_ATTEMPTS: usize = 50;
/// Pause before asking a leader that refused (e.g. lease not yet confirmed
/// right after its election) again.
const REFUSED_RETRY_PAUSE: Duration = Duration::from_millis(5);

/// What only the leader can do: run in place when this node leads, else
/// sent to the leader as an RPC of kind [`LeaderCall::KIND`], whose
/// answering side ([`crate::rpc_answer`]) runs the same thing there. Each
/// room implements it beside its own work: a proposal in `propose`, the
/// read index in `reads`, a membership change in `membership`; routing
/// never calls back into them by name.
pub(crate) trait LeaderCall: Sync {
    /// What the leader answers.
    type Answer: DeserializeOwned + Send;
    /// The RPC that carries it to a leader elsewhere.
    const KIND: RpcKind;
    /// Lost on the way to the leader, it changed nothing (a read): a
    /// failed call is `Unavailable` rather than `OutcomeUnknown`.
    const CHANGES_NOTHING: bool = false;

    /// Runs it on this node, which believes it leads.
    fn run_here<'a>(
        &'a self,
        node: &'a Node,
    ) -> impl Future<Output = Result<Self::Answer, NodeError>> + Send + 'a;

    /// The body of its RPC.
    fn body(&self) -> Vec<u8>;

    /// The longest the leader may spend on it (a forwarding node waits
    /// this long for the answer, plus a margin).
    fn leader_time(&self, write_timeout: Duration) -> Duration {
        write_timeout
    }
}

/// The outcome of one attempt.
enum Attempt<T> {
    Done(Result<T, NodeError>),
    Unreachable(NodeError),
    Refused {
        hint: Option<NodeId>,
        error: NodeError,
    },
}

impl<T> Attempt<T> {
    fn from_reply(reply: Result<T, NodeError>) -> Attempt<T> {
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
    /// Runs `call` on the leader, retrying only attempts that certainly
    /// did nothing, until `leader_wait` runs out.
    pub(crate) async fn route<C: LeaderCall>(&self, call: &C) -> Result<C::Answer, NodeError> {
        let deadline = Instant::now() + self.config().leader_wait;
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
            let attempt = self.attempt(leader, call).await;
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

    /// One attempt at `call` on `leader`. Run here, it is awaited in
    /// place; forwarded, boxed, so that this future, and every future that
    /// awaits it (the request's, from axum's handler down), is the size of
    /// the call's own path on a leader and not of the forwarding too:
    /// futures are moved by copying all of them, and a request's was about
    /// 9 KB.
    async fn attempt<C: LeaderCall>(&self, leader: NodeId, call: &C) -> Attempt<C::Answer> {
        if leader == self.id() {
            return Attempt::from_reply(call.run_here(self).await);
        }
        Box::pin(self.attempt_on_peer(leader, call)).await
    }

    /// [`Node::attempt`] on a leader elsewhere: forwarded.
    async fn attempt_on_peer<C: LeaderCall>(&self, leader: NodeId, call: &C) -> Attempt<C::Answer> {
        let timeout = call.leader_time(self.config().write_timeout) + Duration::from_secs(1);
        let reply = self
            .call_leader::<C::Answer>(leader, C::KIND, call.body(), timeout)
            .await;
        // A lost request that changes nothing changed nothing.
        let reply = match reply {
            Err(Attempt::Done(Err(NodeError::OutcomeUnknown { reason }))) if C::CHANGES_NOTHING => {
                Ok(Err(NodeError::Unavailable { reason }))
            }
            other => other,
        };
        match reply {
            Ok(reply) => Attempt::from_reply(reply),
            Err(attempt) => attempt,
        }
    }

    /// Calls `kind` on the leader and decodes its reply (the leader's answer
    /// or its refusal); a transport failure
    /// is classified by whether the request may have arrived.
    async fn call_leader<T: DeserializeOwned>(
        &self,
        leader: NodeId,
        kind: RpcKind,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Result<T, NodeError>, Attempt<T>> {
        let Some(addr) = self.member_addr(leader) else {
            return Err(Attempt::Unreachable(NodeError::NoLeader {
                leader: Some(leader),
                reason: format!("leader {leader} has no known address"),
            }));
        };
        let bytes = self
            .transport()
            .call(PeerCall {
                addr: &addr,
                path: kind.path(),
                body,
                timeout,
            })
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
    fn leader_call_failed<T>(&self, leader: NodeId, addr: &str, error: PeerError) -> Attempt<T> {
        tracing::debug!(leader, %error, "calling the leader failed");
        let leader_at = format!("leader {leader} at {addr}");
        // The request may have arrived: its outcome is unknown.
        let may_have_happened =
            |reason: String| Attempt::Done(Err(NodeError::OutcomeUnknown { reason }));
        match error {
            PeerError::NoAnswer(TransportError::Unreachable { .. }) => {
                Attempt::Unreachable(NodeError::NoLeader {
                    leader: Some(leader),
                    reason: format!(
                        "{leader_at} cannot be reached; {}",
                        self.quorum_count().election_needs()
                    ),
                })
            }
            PeerError::NoAnswer(TransportError::Timeout { timeout, .. }) => {
                may_have_happened(format!(
                    "{leader_at} did not answer within {}",
                    words::duration(timeout)
                ))
            }
            PeerError::NoAnswer(TransportError::Broken { .. }) => may_have_happened(format!(
                "the connection to {leader_at} broke after the request was sent"
            )),
            PeerError::Status { status, body, .. } => {
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
                words::duration(self.config().leader_wait),
                self.quorum_count().election_needs()
            ),
        }
    }

    /// The refusal of a node that cannot take a leader's request, in words:
    /// it is not the leader, it is handing leadership over, or its quorum
    /// stopped acknowledging it (openraft's leader lease ran out). Nothing
    /// was done, so the caller may retry.
    pub(crate) fn not_leader(&self, refusal: &ForwardToLeader<TypeConfig>) -> NodeError {
        let reason = match refusal.reason {
            ForwardReason::NotLeader => "this node is no longer the leader".to_string(),
            ForwardReason::LeadershipTransfer => match refusal.leader_id {
                Some(to) => format!("leadership is being handed over to node {to}"),
                None => "leadership is being handed over".to_string(),
            },
            ForwardReason::LeaseExpired => {
                format!("the leader has lost its quorum: {}", self.quorum_count())
            }
        };
        NodeError::NoLeader {
            leader: refusal.leader_id,
            reason,
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
            .or_else(|| self.config().peers.get(&id).cloned())
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
            Instant::now() + Duration::from_millis(self.config().election_timeout_max_ms);
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
    use ordo_core::Append;

    /// A node whose Raft has stopped keeps its last leader in openraft's
    /// server metrics (only the full metrics say `Shutdown`): a write to
    /// it is refused as unavailable, certain to have done nothing, and is
    /// neither proposed nor forwarded.
    #[tokio::test]
    async fn a_write_to_a_stopped_node_is_unavailable() {
        let node = leading_alone().await;
        node.shutdown().await;

        let records = serde_json::from_value(serde_json::json!([{"value": 1}])).expect("a record");
        let append = Append {
            records,
            producer: None,
            condition: None,
        };
        let topic = "stopped".parse().expect("a topic name");
        match node.append(topic, append).await {
            Err(NodeError::Unavailable { reason }) => {
                assert!(reason.contains("shutting down"), "{reason}");
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
}
