//! The cluster as its members see themselves, for a page that can talk to
//! one node only (`GET /v1/cluster/nodes`, `GET /v1/events`): the node
//! that takes the request asks every other member of its membership
//! (voters and learners) with a `NodeStatus` or `Events` RPC, all at once,
//! each within [`MEMBER_ANSWER_TIMEOUT`] (so a silent member costs one
//! timeout, not one each), and adds its own answer without a call. The
//! answers are combined here by pure functions ([`node_views`],
//! `events::merge`); nothing is cached, nothing written.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::events;
use crate::node::Node;
use crate::peers::PeerCall;
use crate::rpc::{self, EventsReply, EventsRequest, NodeStatusReply, RpcKind};
use crate::status::OwnView;
use ordo_api::{Event, Member, NodeView};
use ordo_core::NodeId;

/// How long a member has to answer for itself.
pub const MEMBER_ANSWER_TIMEOUT: Duration = Duration::from_millis(500);

/// A member's answer, or why there was none, in words.
pub type Answer<T> = Result<T, String>;

impl Node {
    /// Every member, by id, as it answered for itself, with its lag as the
    /// current leader sees it.
    pub async fn cluster_nodes(&self) -> Vec<NodeView> {
        let own = self.own_view();
        let mut answers = self
            .ask_members::<NodeStatusReply>(&own.members, RpcKind::NodeStatus, Vec::new())
            .await;
        let (members, believed) = (own.members.clone(), own.leader);
        answers.insert(self.id(), Ok(own));
        node_views(&members, &answers, believed)
    }

    /// The newest `limit` events of every member that answered (this
    /// node's own only those after `after`), oldest first.
    pub async fn cluster_events(&self, limit: usize, after: Option<u64>) -> Vec<Event> {
        let own = self.events().recent(limit, after);
        let members = self.members();
        let asked = rpc::encode(&EventsRequest { limit });
        let theirs = self
            .ask_members::<EventsReply>(&members, RpcKind::Events, asked)
            .await;
        let answered = theirs.into_values().filter_map(Result::ok);
        events::merge(std::iter::once(own).chain(answered), limit)
    }

    /// Asks every member but this node the same question, all at once.
    async fn ask_members<T: DeserializeOwned>(
        &self,
        members: &[Member],
        kind: RpcKind,
        body: Vec<u8>,
    ) -> BTreeMap<NodeId, Answer<T>> {
        let asked = members.iter().filter(|m| m.id != self.id()).map(|member| {
            let call = PeerCall {
                addr: &member.addr,
                path: kind.path(),
                body: body.clone(),
                timeout: MEMBER_ANSWER_TIMEOUT,
            };
            async move {
                let answer = match self.transport().call(call).await {
                    Ok(bytes) => rpc::decode::<T>(&bytes).map_err(|e| e.to_string()),
                    Err(e) => Err(e.cause()),
                };
                if let Err(cause) = &answer {
                    // A console asks every few seconds: not worth more;
                    // Raft's replication logs a member's own troubles.
                    tracing::debug!(node = member.id, addr = %member.addr, %cause, ?kind,
                            "a member did not answer for itself");
                }
                (member.id, answer)
            }
        });
        futures::future::join_all(asked).await.into_iter().collect()
    }

    /// What this node answers a `NodeStatus` RPC.
    pub(crate) fn node_status_reply(&self) -> NodeStatusReply {
        self.own_view()
    }

    /// What this node answers an `Events` RPC: its own newest events.
    pub(crate) fn events_reply(&self, request: &EventsRequest) -> EventsReply {
        let limit = request.limit.min(events::EVENTS_KEPT);
        self.events().recent(limit, None)
    }
}

/// Each member's view, by id: its own answer's fields, or none with why,
/// and its lag from the answer of the leader of the highest term (0 for
/// that leader itself); of two in one term (never in one cluster), the
/// one `believed` by the node asking.
pub fn node_views(
    members: &[Member],
    answers: &BTreeMap<NodeId, Answer<OwnView>>,
    believed: Option<NodeId>,
) -> Vec<NodeView> {
    let leader = answers
        .values()
        .filter_map(|answer| answer.as_ref().ok())
        .filter(|view| view.role == "leader")
        .max_by_key(|view| (view.term, Some(view.node_id) == believed));
    let lag_of = |id: NodeId| -> Option<u64> {
        let leader = leader?;
        if leader.node_id == id {
            return Some(0);
        }
        leader
            .followers
            .iter()
            .find(|f| f.id == id)
            .and_then(|f| f.lag_entries)
    };
    let mut views: Vec<NodeView> = members
        .iter()
        .map(|member| {
            let answer = answers
                .get(&member.id)
                .cloned()
                .unwrap_or_else(|| Err("not asked".to_string()));
            let view = NodeView {
                id: member.id,
                addr: member.addr.clone(),
                voter: member.voter,
                reachable: answer.is_ok(),
                lag_entries: lag_of(member.id),
                ..NodeView::default()
            };
            match answer {
                Ok(own) => NodeView {
                    role: Some(own.role),
                    term: Some(own.term),
                    leader: own.leader,
                    last_log_index: own.last_log_index,
                    commit_index: own.commit_index,
                    last_applied_index: own.last_applied_index,
                    snapshot_index: own.snapshot_index,
                    health: Some(own.health),
                    ready: Some(own.ready),
                    ..view
                },
                Err(cause) => NodeView {
                    error: Some(cause),
                    ..view
                },
            }
        })
        .collect();
    views.sort_by_key(|view| view.id);
    views
}

#[cfg(test)]
mod tests;
