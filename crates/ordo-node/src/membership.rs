//! Membership changes and leadership transfer: `POST /v1/cluster/nodes`,
//! `DELETE /v1/cluster/nodes/{id}`, `POST /v1/cluster/leader`.
//!
//! Any node accepts them and routes them to the leader like a write; the
//! leader checks them against [`crate::membership_rules`] and then drives
//! openraft. A change is proposed only while the membership is still the one
//! it was checked against (`Precondition::LastMembershipLogId`), so two
//! concurrent changes cannot both pass a check that only one of them may.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::raft::{ClientWriteResponse, Precondition};
use openraft::type_config::alias::CommittedLeaderIdOf;
use openraft::{BasicNode, ChangeMembers, ServerState};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::{raft_stopped, NodeError};
use crate::membership_rules::{self as rules, AddPlan, MembershipError, MembershipView};
use crate::node::Node;
use crate::routing::LeaderCall;
use crate::rpc::{self, RpcKind};
use crate::types::TypeConfig;
use crate::words;
use ordo_api::limits::DEFAULT_CATCH_UP_TIMEOUT_MS;
use ordo_api::{AddNodeRequest, Member, MembershipResponse};
use ordo_core::NodeId;

/// How long a leadership transfer may take before the answer says its
/// outcome is unknown (an election normally takes well under a second).
pub const TRANSFER_LEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What only the leader can do to the membership; travels to it from a
/// follower as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipOp {
    Add(AddNodeRequest),
    Remove { id: NodeId, force: bool },
    TransferLeader { to: Option<NodeId> },
}

/// A membership op: run by [`Node::membership_local`] on the leader,
/// forwarded to it as a `Membership` RPC from anywhere else.
impl LeaderCall for MembershipOp {
    type Answer = MembershipResponse;
    const KIND: RpcKind = RpcKind::Membership;

    async fn run_here(&self, node: &Node) -> Result<MembershipResponse, NodeError> {
        node.membership_local(self.clone()).await
    }

    fn body(&self) -> Vec<u8> {
        rpc::encode(self)
    }

    /// The longest the leader may spend on this op (a forwarding follower
    /// waits this long for the answer, plus a margin).
    fn leader_time(&self, write_timeout: Duration) -> Duration {
        match self {
            MembershipOp::Add(request) => {
                // Adding the learner, waiting for it, then the two entries
                // (joint, uniform) that promote it.
                let catch_up = request
                    .catch_up_timeout_ms
                    .unwrap_or(DEFAULT_CATCH_UP_TIMEOUT_MS);
                Duration::from_millis(catch_up) + write_timeout * 2
            }
            MembershipOp::Remove { .. } => write_timeout,
            MembershipOp::TransferLeader { .. } => TRANSFER_LEADER_TIMEOUT,
        }
    }
}

impl Node {
    /// Adds node `id` as a learner, waits for it to catch up with the
    /// leader's log (`catch_up_timeout_ms`), then makes it a voter.
    pub async fn add_node(&self, request: AddNodeRequest) -> Result<MembershipResponse, NodeError> {
        self.route_membership(MembershipOp::Add(request)).await
    }

    /// Removes voter or learner `id` from the membership.
    pub async fn remove_node(
        &self,
        id: NodeId,
        force: bool,
    ) -> Result<MembershipResponse, NodeError> {
        self.route_membership(MembershipOp::Remove { id, force })
            .await
    }

    /// Hands leadership to voter `to` (or the most caught-up other voter)
    /// and answers once this node sees it lead.
    pub async fn transfer_leader(
        &self,
        to: Option<NodeId>,
    ) -> Result<MembershipResponse, NodeError> {
        self.route_membership(MembershipOp::TransferLeader { to })
            .await
    }

    async fn route_membership(&self, op: MembershipOp) -> Result<MembershipResponse, NodeError> {
        self.route(&op).await
    }

    /// Runs `op` on this node, which must be the leader.
    pub(crate) async fn membership_local(
        &self,
        op: MembershipOp,
    ) -> Result<MembershipResponse, NodeError> {
        self.ensure_leader()?;
        match op {
            MembershipOp::Add(request) => self.add_local(request).await,
            MembershipOp::Remove { id, force } => self.remove_local(id, force).await,
            MembershipOp::TransferLeader { to } => self.transfer_local(to).await,
        }
    }

    async fn add_local(&self, request: AddNodeRequest) -> Result<MembershipResponse, NodeError> {
        let AddNodeRequest {
            id,
            addr,
            force,
            catch_up_timeout_ms,
        } = request;
        let (view, membership_log_id) = self.membership_view();
        let plan = rules::plan_add(&view, id, &addr, force, catch_up_timeout_ms)?;
        let added_at = match plan {
            AddPlan::NewLearner => {
                tracing::info!(node = id, %addr, "adding a learner");
                let add = self.raft().add_learner(id, BasicNode::new(&addr), false);
                self.membership_write(add).await?.log_id.index()
            }
            AddPlan::ResumeLearner => membership_log_id.map_or(0, |l| l.index()),
        };
        let catch_up =
            Duration::from_millis(catch_up_timeout_ms.unwrap_or(DEFAULT_CATCH_UP_TIMEOUT_MS));
        self.wait_caught_up(id, &addr, added_at, catch_up).await?;

        // Checked again: the membership may have changed while we waited.
        let (view, membership_log_id) = self.membership_view();
        if !view.nodes.contains_key(&id) {
            return Err(MembershipError::NodeNotFound { id }.into());
        }
        if !view.voters.contains(&id) {
            rules::check_voter_count(view.voters.len(), view.voters.len() + 1, force)?;
            tracing::info!(node = id, "promoting a caught-up learner to voter");
            let promote = self.raft().change_membership_if(
                ChangeMembers::AddVoterIds(BTreeSet::from([id])),
                false,
                [Precondition::LastMembershipLogId {
                    last_membership_log_id: membership_log_id,
                }],
            );
            self.membership_write(promote).await?;
        }
        Ok(self.membership_response())
    }

    async fn remove_local(&self, id: NodeId, force: bool) -> Result<MembershipResponse, NodeError> {
        let (view, membership_log_id) = self.membership_view();
        rules::check_remove(&view, id, force)?;
        let change = if view.voters.contains(&id) {
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        tracing::info!(node = id, "removing a member");
        // `retain: false`: a removed voter leaves the cluster rather than
        // staying on as a learner. A removed leader steps down by itself
        // once the change commits (openraft's `removed_leader_step_down`).
        let remove = self.raft().change_membership_if(
            change,
            false,
            [Precondition::LastMembershipLogId {
                last_membership_log_id: membership_log_id,
            }],
        );
        self.membership_write(remove).await?;
        Ok(self.membership_response())
    }

    async fn transfer_local(&self, to: Option<NodeId>) -> Result<MembershipResponse, NodeError> {
        let (view, _) = self.membership_view();
        let matched: BTreeMap<NodeId, Option<u64>> = {
            let metrics = self.raft().metrics();
            let metrics = metrics.borrow_watched();
            metrics
                .replication
                .iter()
                .flatten()
                .map(|(id, log_id)| (*id, log_id.as_ref().map(|l| l.index())))
                .collect()
        };
        let target = rules::transfer_target(&view, self.id(), to, &matched)?;
        if target == self.id() {
            return Ok(self.membership_response());
        }
        tracing::info!(to = target, "handing over leadership");
        self.raft()
            .trigger()
            .transfer_leader(target)
            .await
            .map_err(|fatal| NodeError::Unavailable {
                reason: raft_stopped(&fatal),
            })?;
        let deadline = Instant::now() + TRANSFER_LEADER_TIMEOUT;
        let mut metrics = self.raft().metrics();
        loop {
            if metrics.borrow_and_update().current_leader == Some(target) {
                return Ok(self.membership_response());
            }
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => {
                    return Err(NodeError::Unavailable {
                        reason: "this node is shutting down".into(),
                    })
                }
                Err(_) => {
                    return Err(NodeError::OutcomeUnknown {
                        reason: format!(
                            "node {target} did not take over within {}",
                            words::duration(TRANSFER_LEADER_TIMEOUT)
                        ),
                    })
                }
            }
        }
    }

    /// Waits until learner `id` (at `addr`) holds the entry that added it
    /// (`added_at`) and is close behind the leader's last entry.
    async fn wait_caught_up(
        &self,
        id: NodeId,
        addr: &str,
        added_at: u64,
        timeout: Duration,
    ) -> Result<(), NodeError> {
        let deadline = Instant::now() + timeout;
        let mut metrics = self.raft().metrics();
        loop {
            let (matched, last_log_index) = {
                let m = metrics.borrow_and_update();
                if m.state != ServerState::Leader {
                    return Err(NodeError::NoLeader {
                        leader: m.current_leader.filter(|l| *l != m.id),
                        reason: "leadership changed while the new node caught up".into(),
                    });
                }
                // The metrics may not show the entry that added the node
                // yet (they trail the write's answer); only a membership at
                // or after it that lacks the node means it was removed.
                let seen_index = m.membership_config.log_id().as_ref().map(|l| l.index());
                if seen_index >= Some(added_at)
                    && m.membership_config.membership().get_node(&id).is_none()
                {
                    return Err(MembershipError::NodeNotFound { id }.into());
                }
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id))
                    .and_then(|l| l.as_ref().map(|l| l.index()));
                (matched, m.last_log_index)
            };
            if rules::caught_up(matched, last_log_index, added_at) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => {
                    return Err(NodeError::Unavailable {
                        reason: "this node is shutting down".into(),
                    })
                }
                Err(_) => {
                    return Err(MembershipError::CatchUpTimeout {
                        id,
                        addr: addr.to_string(),
                        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                        matched,
                        last_log_index,
                    }
                    .into())
                }
            }
        }
    }

    /// Awaits a membership write (bounded by the write timeout) and says
    /// what its failure means for the caller.
    async fn membership_write(
        &self,
        write: impl std::future::Future<
            Output = Result<
                ClientWriteResponse<TypeConfig>,
                RaftError<TypeConfig, ClientWriteError<TypeConfig>>,
            >,
        >,
    ) -> Result<ClientWriteResponse<TypeConfig>, NodeError> {
        let timeout = self.config().write_timeout;
        let result = match tokio::time::timeout(timeout, write).await {
            Ok(result) => result,
            Err(_) => {
                return Err(NodeError::OutcomeUnknown {
                    reason: format!(
                        "the membership change was not committed within {} ({})",
                        words::duration(timeout),
                        self.quorum_count()
                    ),
                })
            }
        };
        result.map_err(|e| match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => self.not_leader(&f),
            RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
                self.change_refused(e)
            }
            // Another change got in between the check and the proposal.
            RaftError::APIError(ClientWriteError::PreconditionFailed(_)) => {
                MembershipError::ChangeInProgress.into()
            }
            RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)) => {
                NodeError::OutcomeUnknown {
                    reason: "leadership changed after the membership change was proposed".into(),
                }
            }
            RaftError::Fatal(fatal) => NodeError::OutcomeUnknown {
                reason: raft_stopped(&fatal),
            },
        })
    }

    /// openraft's refusal of a membership change, in words; the membership
    /// rules checked beforehand leave few of these possible.
    fn change_refused(
        &self,
        refusal: ChangeMembershipError<CommittedLeaderIdOf<TypeConfig>, NodeId>,
    ) -> NodeError {
        tracing::debug!(%refusal, "openraft refused a membership change");
        match refusal {
            ChangeMembershipError::InProgress(_) => MembershipError::ChangeInProgress.into(),
            ChangeMembershipError::LearnerNotFound(e) => {
                MembershipError::NodeNotFound { id: e.node_id }.into()
            }
            ChangeMembershipError::UncommittedLeaderLog(_) => NodeError::Unavailable {
                reason: format!(
                    "the leader has not yet committed an entry of its own term: it was just \
                     elected, or it cannot reach a quorum ({}); try again in a moment",
                    self.quorum_count()
                ),
            },
            ChangeMembershipError::EmptyMembership(_) => NodeError::InvalidRequest {
                reason: "the change would leave the cluster without voters".into(),
            },
            ChangeMembershipError::UnsupportedMembershipTransition(_) => {
                NodeError::InvalidRequest {
                    reason: "this change cannot be made in one step: add or remove one node at \
                             a time"
                        .into(),
                }
            }
            ChangeMembershipError::NodeMetadataChanged(e) => NodeError::InvalidRequest {
                reason: format!(
                    "node {} is already a member at another address: remove it first",
                    e.node_id
                ),
            },
        }
    }

    fn ensure_leader(&self) -> Result<(), NodeError> {
        match self.current_leader() {
            Some(leader) if leader == self.id() => Ok(()),
            leader => Err(NodeError::NoLeader {
                leader,
                reason: format!("node {} is not the leader", self.id()),
            }),
        }
    }

    /// The effective membership (possibly not yet committed) and its log id.
    fn membership_view(
        &self,
    ) -> (
        MembershipView,
        Option<openraft::type_config::alias::LogIdOf<TypeConfig>>,
    ) {
        let metrics = self.raft().metrics();
        let metrics = metrics.borrow_watched();
        let stored = &metrics.membership_config;
        let membership = stored.membership();
        let view = MembershipView {
            voters: membership.voter_ids().collect(),
            nodes: membership
                .nodes()
                .map(|(id, node)| (*id, node.addr.clone()))
                .collect(),
            changing: membership.get_joint_config().len() > 1,
        };
        (view, *stored.log_id())
    }

    /// The membership and leader as this node sees them now.
    fn membership_response(&self) -> MembershipResponse {
        let (view, _) = self.membership_view();
        let members: Vec<Member> = view
            .nodes
            .iter()
            .map(|(id, addr)| Member {
                id: *id,
                addr: addr.clone(),
                voter: view.voters.contains(id),
            })
            .collect();
        MembershipResponse {
            // A leader that just removed itself leads no more.
            leader: self.current_leader().filter(|l| view.nodes.contains_key(l)),
            members,
            warning: rules::voter_count_warning(view.voters.len()),
        }
    }
}
