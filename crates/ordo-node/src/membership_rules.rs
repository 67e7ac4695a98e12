//! Pure: which membership changes ordo allows, on plain data. No Raft, no
//! I/O; `membership` runs these checks on the leader before it proposes.
//!
//! The rule that matters: a cluster of fewer than [`MIN_SAFE_VOTERS`]
//! voters cannot lose a single node and keep a quorum (two voters are worse
//! than one: either failing stops both), so a change that leaves fewer is
//! refused unless forced. An even number of voters is allowed with a
//! warning: 4 voters tolerate one failure, as 3 do, but refusing it would
//! make every single-step grow from 3 to 5 (and shrink back) need `force`,
//! which would make `force` meaningless.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use ordo_api::limits::MAX_CATCH_UP_TIMEOUT_MS;
use ordo_core::NodeId;

use crate::words;

/// Fewest voters that survive the loss of one node.
pub const MIN_SAFE_VOTERS: usize = 3;
/// A learner is promoted once it is at most this many entries behind the
/// leader's last log index: close enough that the joint configuration that
/// makes it a voter commits without waiting on it.
pub const MAX_PROMOTION_LAG_ENTRIES: u64 = 100;

/// The membership as the leader sees it, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembershipView {
    pub voters: BTreeSet<NodeId>,
    /// Every member, voter or learner, with its address.
    pub nodes: BTreeMap<NodeId, String>,
    /// A joint configuration: a change is still under way.
    pub changing: bool,
}

/// Why a membership change or leadership transfer was refused. Each refusal
/// changed nothing, except [`MembershipError::CatchUpTimeout`], which left
/// the new node a learner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum MembershipError {
    #[error("invalid membership change: {reason}")]
    Invalid { reason: String },
    #[error("node {id} is already a member (at {addr}, as a {role})")]
    AlreadyMember {
        id: NodeId,
        addr: String,
        role: String,
    },
    #[error("node {id} is not a member of the cluster")]
    NodeNotFound { id: NodeId },
    #[error(
        "this change would leave {voters_after} voter(s); a cluster of fewer than \
         {MIN_SAFE_VOTERS} voters cannot lose a node and keep a quorum (send force to do it anyway)"
    )]
    Fragile {
        voters_before: usize,
        voters_after: usize,
    },
    #[error("node {id} is the only voter; a cluster needs at least one")]
    LastVoter { id: NodeId },
    #[error("node {id} is a learner; only a voter can lead")]
    NotAVoter { id: NodeId },
    #[error("no other voter to hand leadership to")]
    NoTransferTarget,
    #[error("a membership change is under way; try again when it is done")]
    ChangeInProgress,
    #[error("{}", catch_up_timeout_message(*.id, .addr, *.timeout_ms, *.matched, *.last_log_index))]
    CatchUpTimeout {
        id: NodeId,
        /// Empty in the answer of a leader from before the field existed.
        #[serde(default)]
        addr: String,
        timeout_ms: u64,
        /// The last log index the leader knows the node holds.
        matched: Option<u64>,
        /// The leader's last log index.
        last_log_index: Option<u64>,
    },
}

/// Why node `id` is still a learner after `timeout_ms`, how far it got and
/// what to do about it.
fn catch_up_timeout_message(
    id: NodeId,
    addr: &str,
    timeout_ms: u64,
    matched: Option<u64>,
    last_log_index: Option<u64>,
) -> String {
    let node = if addr.is_empty() {
        format!("node {id}")
    } else {
        format!("node {id} at {addr}")
    };
    let leader_has = last_log_index.unwrap_or(0);
    let progress = match matched {
        None | Some(0) => format!(
            "it has replicated nothing of the leader's {leader_has} log entries (is it running \
             and reachable from the leader?)"
        ),
        Some(matched) => format!(
            "it has replicated {matched} of the leader's {leader_has} log entries, and is \
             promoted once it is within {MAX_PROMOTION_LAG_ENTRIES} of the end"
        ),
    };
    format!(
        "{node} has not caught up within {}: {progress}. It stays a learner: send the same add \
         again to keep waiting, or remove it (DELETE /v1/cluster/nodes/{id})",
        words::duration(Duration::from_millis(timeout_ms))
    )
}

/// What adding a node takes from the current membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddPlan {
    /// Not a member yet: add it as a learner first.
    NewLearner,
    /// Already a learner at the same address (an earlier add timed out
    /// waiting for it): wait for it and promote it.
    ResumeLearner,
}

/// Checks adding `id` at `addr` as a voter.
pub fn plan_add(
    view: &MembershipView,
    id: NodeId,
    addr: &str,
    force: bool,
    catch_up_timeout_ms: Option<u64>,
) -> Result<AddPlan, MembershipError> {
    if id == 0 {
        return Err(invalid("node ids are positive integers"));
    }
    if !is_host_port(addr) {
        return Err(invalid(format!(
            "address '{addr}' is not host:port (e.g. 10.0.0.4:7001)"
        )));
    }
    if catch_up_timeout_ms.is_some_and(|ms| ms > MAX_CATCH_UP_TIMEOUT_MS) {
        return Err(invalid(format!(
            "catch_up_timeout_ms is at most {MAX_CATCH_UP_TIMEOUT_MS}"
        )));
    }
    if view.changing {
        return Err(MembershipError::ChangeInProgress);
    }
    let plan = match view.nodes.get(&id) {
        None => AddPlan::NewLearner,
        Some(existing) if existing == addr && !view.voters.contains(&id) => AddPlan::ResumeLearner,
        Some(existing) => {
            return Err(MembershipError::AlreadyMember {
                id,
                addr: existing.clone(),
                role: role(view, id).to_string(),
            })
        }
    };
    check_voter_count(view.voters.len(), view.voters.len() + 1, force)?;
    Ok(plan)
}

/// Checks removing `id` (a voter or a learner).
pub fn check_remove(view: &MembershipView, id: NodeId, force: bool) -> Result<(), MembershipError> {
    if !view.nodes.contains_key(&id) {
        return Err(MembershipError::NodeNotFound { id });
    }
    if view.changing {
        return Err(MembershipError::ChangeInProgress);
    }
    if !view.voters.contains(&id) {
        return Ok(());
    }
    if view.voters.len() == 1 {
        return Err(MembershipError::LastVoter { id });
    }
    check_voter_count(view.voters.len(), view.voters.len() - 1, force)
}

/// The fragile-cluster rule: going from `before` to `after` voters is
/// refused, unless forced, whenever `after` is below [`MIN_SAFE_VOTERS`],
/// even when growing (1 to 2: two voters are less available than one).
pub fn check_voter_count(before: usize, after: usize, force: bool) -> Result<(), MembershipError> {
    if after < MIN_SAFE_VOTERS && !force {
        return Err(MembershipError::Fragile {
            voters_before: before,
            voters_after: after,
        });
    }
    Ok(())
}

/// What an operator should hear about a cluster of `voters` voters.
pub fn voter_count_warning(voters: usize) -> Option<String> {
    if voters < MIN_SAFE_VOTERS {
        Some(format!(
            "{voters} voter(s) cannot lose a node and keep a quorum; add voters to reach {MIN_SAFE_VOTERS}"
        ))
    } else if voters & 1 == 0 {
        Some(format!(
            "{voters} voters tolerate {} failure(s), no more than {} voters do; add or remove one",
            (voters - 1) / 2,
            voters - 1
        ))
    } else {
        None
    }
}

/// The voter to hand leadership to: `requested` if it is a voter (the
/// leader itself means nothing to do), else the other voter the leader
/// knows to be furthest along (`matched`: each follower's matched log
/// index), the lowest id on a tie.
pub fn transfer_target(
    view: &MembershipView,
    leader: NodeId,
    requested: Option<NodeId>,
    matched: &BTreeMap<NodeId, Option<u64>>,
) -> Result<NodeId, MembershipError> {
    if let Some(id) = requested {
        if !view.nodes.contains_key(&id) {
            return Err(MembershipError::NodeNotFound { id });
        }
        if !view.voters.contains(&id) {
            return Err(MembershipError::NotAVoter { id });
        }
        return Ok(id);
    }
    view.voters
        .iter()
        .filter(|&&id| id != leader)
        // max_by_key keeps the last of equals; reversed ids make it the lowest.
        .max_by_key(|&&id| (matched.get(&id).copied().flatten(), std::cmp::Reverse(id)))
        .copied()
        .ok_or(MembershipError::NoTransferTarget)
}

/// True once a learner that has at least `min_index` (the entry that added
/// it) is within [`MAX_PROMOTION_LAG_ENTRIES`] of the leader's last entry.
pub fn caught_up(matched: Option<u64>, last_log_index: Option<u64>, min_index: u64) -> bool {
    match matched {
        Some(matched) if matched >= min_index => {
            last_log_index.unwrap_or(0).saturating_sub(matched) <= MAX_PROMOTION_LAG_ENTRIES
        }
        _ => false,
    }
}

fn role(view: &MembershipView, id: NodeId) -> &'static str {
    if view.voters.contains(&id) {
        "voter"
    } else {
        "learner"
    }
}

fn invalid(reason: impl Into<String>) -> MembershipError {
    MembershipError::Invalid {
        reason: reason.into(),
    }
}

/// `host:port` with a non-empty host and a port number (no scheme, no path).
fn is_host_port(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains('/')
                && !host.chars().any(char::is_whitespace)
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests;
