//! The Kafka group membership protocol, as a state machine with no I/O
//! and no clock of its own (every call is given `now`): members join,
//! the coordinator waits for every known member to rejoin (or for the
//! rebalance timeout), picks a leader and a protocol, hands the leader the
//! members, takes its assignment and hands each member its part; members
//! heartbeat, and one that stops (past its session timeout) or leaves
//! starts a new rebalance. A waiting request is a `W` (the listener's: a
//! channel to its connection; the tests': a number), handed back in a
//! [`Delivery`] with its answer when the answer is known.
//!
//! The states are Kafka's: `Empty`, `PreparingRebalance` (joins are being
//! gathered), `CompletingRebalance` (waiting for the leader's
//! assignment), `Stable`. Simplifications, each safe for clients: a
//! member's every JoinGroup starts a rebalance (Kafka skips it for a
//! follower whose metadata did not change); the protocol is the leader's
//! most preferred one that every member supports (Kafka takes a vote);
//! a JoinGroup without a member id is given one at once (no
//! `MEMBER_ID_REQUIRED` round trip); static membership
//! (`group.instance.id`) is not kept.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;

/// The coordinator's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// How long a new group waits for more members before its first
    /// rebalance completes (Kafka's `group.initial.rebalance.delay.ms`).
    pub initial_rebalance_delay: Duration,
    /// The session timeouts a member may ask for (Kafka's
    /// `group.min.session.timeout.ms` and `group.max.session.timeout.ms`).
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            initial_rebalance_delay: Duration::from_millis(300),
            min_session_timeout: Duration::from_millis(1_000),
            max_session_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// A group's state, as DescribeGroups and ListGroups name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// A JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub group: String,
    /// Empty for a member joining for the first time.
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    /// Name and metadata, most preferred first.
    pub protocols: Vec<(String, Bytes)>,
}

/// The answer to a JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinAnswer {
    Joined {
        generation: i32,
        protocol_type: String,
        protocol: String,
        leader: String,
        member_id: String,
        /// Every member's id and metadata for the leader; empty for the
        /// others.
        members: Vec<(String, Bytes)>,
    },
    Refused(ResponseError),
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncAnswer {
    Assigned {
        protocol_type: String,
        protocol: String,
        assignment: Bytes,
    },
    Refused(ResponseError),
}

/// An answer for a waiting request.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<W> {
    Join(W, JoinAnswer),
    Sync(W, SyncAnswer),
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

struct Member<W> {
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    last_seen: Instant,
    join_waiter: Option<W>,
    sync_waiter: Option<W>,
}

struct Group<W> {
    state: GroupState,
    generation: i32,
    protocol_type: String,
    protocol: String,
    leader: String,
    members: BTreeMap<String, Member<W>>,
    /// PreparingRebalance: when it completes with the members that
    /// rejoined; CompletingRebalance: by when the leader must assign.
    deadline: Option<Instant>,
}

impl<W> Group<W> {
    fn new() -> Self {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: String::new(),
            protocol: String::new(),
            leader: String::new(),
            members: BTreeMap::new(),
            deadline: None,
        }
    }

    fn longest_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }
}

/// Every group this node coordinates; see the module's documentation.
pub struct Coordinator<W> {
    config: CoordinatorConfig,
    groups: BTreeMap<String, Group<W>>,
    /// Member ids are `<client id>-<prefix>-<n>`: the prefix tells one
    /// coordinator's ids from another's (the listener gives its term).
    member_prefix: String,
    next_member: u64,
}

impl<W> Coordinator<W> {
    pub fn new(config: CoordinatorConfig, member_prefix: impl Into<String>) -> Self {
        Coordinator {
            config,
            groups: BTreeMap::new(),
            member_prefix: member_prefix.into(),
            next_member: 0,
        }
    }

    /// A JoinGroup; its answer is delivered once the rebalance completes
    /// (or at once, if refused).
    pub fn join(&mut self, join: Join, waiter: W, now: Instant) -> Vec<Delivery<W>> {
        let refuse = |waiter, error| vec![Delivery::Join(waiter, JoinAnswer::Refused(error))];
        if join.group.is_empty() {
            return refuse(waiter, ResponseError::InvalidGroupId);
        }
        if join.session_timeout < self.config.min_session_timeout
            || join.session_timeout > self.config.max_session_timeout
        {
            return refuse(waiter, ResponseError::InvalidSessionTimeout);
        }
        if join.protocols.is_empty() {
            return refuse(waiter, ResponseError::InconsistentGroupProtocol);
        }
        let member_id = if join.member_id.is_empty() {
            self.next_member += 1;
            format!(
                "{}-{}-{}",
                join.client_id, self.member_prefix, self.next_member
            )
        } else {
            join.member_id.clone()
        };
        let group = self
            .groups
            .entry(join.group.clone())
            .or_insert_with(Group::new);
        if !join.member_id.is_empty() && !group.members.contains_key(&member_id) {
            return refuse(waiter, ResponseError::UnknownMemberId);
        }
        let others_agree = group
            .members
            .iter()
            .filter(|(id, _)| **id != member_id)
            .all(|(_, other)| {
                other
                    .protocols
                    .iter()
                    .any(|(name, _)| join.protocols.iter().any(|(mine, _)| mine == name))
            });
        let same_type = group.members.is_empty() || group.protocol_type == join.protocol_type;
        if !same_type || !others_agree {
            return refuse(waiter, ResponseError::InconsistentGroupProtocol);
        }
        let mut deliveries = Vec::new();
        let was_empty = group.members.is_empty();
        group.protocol_type = join.protocol_type;
        let member = group.members.entry(member_id).or_insert_with(|| Member {
            client_id: join.client_id.clone(),
            client_host: join.client_host.clone(),
            session_timeout: join.session_timeout,
            rebalance_timeout: join.rebalance_timeout,
            protocols: Vec::new(),
            assignment: Bytes::new(),
            last_seen: now,
            join_waiter: None,
            sync_waiter: None,
        });
        member.session_timeout = join.session_timeout;
        member.rebalance_timeout = join.rebalance_timeout;
        member.protocols = join.protocols;
        member.last_seen = now;
        if let Some(earlier) = member.join_waiter.replace(waiter) {
            deliveries.push(Delivery::Join(
                earlier,
                JoinAnswer::Refused(ResponseError::RebalanceInProgress),
            ));
        }
        let delay = if was_empty {
            Some(self.config.initial_rebalance_delay)
        } else {
            None
        };
        prepare_rebalance(group, now, delay, &mut deliveries);
        try_complete(group, now, &mut deliveries);
        deliveries
    }

    /// A SyncGroup; the leader's carries the assignment. Answered once the
    /// leader's has arrived.
    pub fn sync(
        &mut self,
        group_id: &str,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        waiter: W,
        now: Instant,
    ) -> Vec<Delivery<W>> {
        let refuse = |waiter, error| vec![Delivery::Sync(waiter, SyncAnswer::Refused(error))];
        let Some(group) = self.groups.get_mut(group_id) else {
            return refuse(waiter, ResponseError::UnknownMemberId);
        };
        let Some(member) = group.members.get_mut(member_id) else {
            return refuse(waiter, ResponseError::UnknownMemberId);
        };
        member.last_seen = now;
        if generation != group.generation {
            return refuse(waiter, ResponseError::IllegalGeneration);
        }
        match group.state {
            GroupState::Empty | GroupState::PreparingRebalance => {
                refuse(waiter, ResponseError::RebalanceInProgress)
            }
            GroupState::Stable => vec![Delivery::Sync(waiter, assigned(group, member_id))],
            GroupState::CompletingRebalance => {
                let mut deliveries = Vec::new();
                if let Some(earlier) = member.sync_waiter.replace(waiter) {
                    deliveries.push(Delivery::Sync(
                        earlier,
                        SyncAnswer::Refused(ResponseError::RebalanceInProgress),
                    ));
                }
                if member_id == group.leader {
                    let mut assignments: BTreeMap<String, Bytes> =
                        assignments.into_iter().collect();
                    for (id, member) in group.members.iter_mut() {
                        member.assignment = assignments.remove(id).unwrap_or_default();
                    }
                    group.state = GroupState::Stable;
                    group.deadline = None;
                    let ids: Vec<String> = group.members.keys().cloned().collect();
                    for id in ids {
                        let answer = assigned(group, &id);
                        if let Some(waiter) = group
                            .members
                            .get_mut(&id)
                            .and_then(|m| m.sync_waiter.take())
                        {
                            deliveries.push(Delivery::Sync(waiter, answer));
                        }
                    }
                }
                deliveries
            }
        }
    }

    /// A Heartbeat: what its answer's error code is.
    pub fn heartbeat(
        &mut self,
        group_id: &str,
        member_id: &str,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Err(ResponseError::UnknownMemberId);
        };
        let Some(member) = group.members.get_mut(member_id) else {
            return Err(ResponseError::UnknownMemberId);
        };
        member.last_seen = now;
        if generation != group.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        match group.state {
            GroupState::PreparingRebalance => Err(ResponseError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// A LeaveGroup: each member's outcome, and the answers it settles.
    pub fn leave(
        &mut self,
        group_id: &str,
        member_ids: &[String],
        now: Instant,
    ) -> (Vec<Result<(), ResponseError>>, Vec<Delivery<W>>) {
        let mut deliveries = Vec::new();
        let Some(group) = self.groups.get_mut(group_id) else {
            return (
                vec![Err(ResponseError::UnknownMemberId); member_ids.len()],
                deliveries,
            );
        };
        let mut outcomes = Vec::with_capacity(member_ids.len());
        let mut removed = false;
        for id in member_ids {
            match group.members.remove(id) {
                Some(member) => {
                    settle_removed(member, &mut deliveries);
                    outcomes.push(Ok(()));
                    removed = true;
                }
                None => outcomes.push(Err(ResponseError::UnknownMemberId)),
            }
        }
        if removed {
            prepare_rebalance(group, now, None, &mut deliveries);
            try_complete(group, now, &mut deliveries);
        }
        self.forget_empty(group_id);
        (outcomes, deliveries)
    }

    /// Time passing: members past their session timeout are removed,
    /// rebalances past their deadline complete (or start again, if the
    /// leader never assigned).
    pub fn tick(&mut self, now: Instant) -> Vec<Delivery<W>> {
        let mut deliveries = Vec::new();
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            let Some(group) = self.groups.get_mut(&id) else {
                continue;
            };
            let expired: Vec<String> = group
                .members
                .iter()
                .filter(|(_, m)| {
                    m.join_waiter.is_none() && now.duration_since(m.last_seen) > m.session_timeout
                })
                .map(|(id, _)| id.clone())
                .collect();
            for member in &expired {
                if let Some(member) = group.members.remove(member) {
                    settle_removed(member, &mut deliveries);
                }
            }
            let late = group.deadline.is_some_and(|deadline| now >= deadline);
            if !expired.is_empty() || (group.state == GroupState::CompletingRebalance && late) {
                prepare_rebalance(group, now, None, &mut deliveries);
            }
            try_complete(group, now, &mut deliveries);
            self.forget_empty(&id);
        }
        deliveries
    }

    /// Whether a commit by `member_id` at `generation` may go ahead: from a
    /// member of the current generation, or (generation -1, no member) for
    /// a group that has no members (a consumer that assigns itself).
    pub fn check_commit(
        &self,
        group_id: &str,
        member_id: &str,
        generation: i32,
    ) -> Result<(), ResponseError> {
        let group = self.groups.get(group_id);
        if generation < 0 && member_id.is_empty() {
            return match group {
                Some(group) if !group.members.is_empty() => Err(ResponseError::UnknownMemberId),
                _ => Ok(()),
            };
        }
        let Some(group) = group else {
            return Err(ResponseError::UnknownMemberId);
        };
        if !group.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation != group.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        if group.state == GroupState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// A group as DescribeGroups shows it; `None` if it has no members.
    pub fn describe(&self, group_id: &str) -> Option<GroupView> {
        let group = self.groups.get(group_id)?;
        Some(GroupView {
            state: group.state,
            protocol_type: group.protocol_type.clone(),
            protocol: group.protocol.clone(),
            members: group
                .members
                .iter()
                .map(|(id, m)| MemberView {
                    member_id: id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: protocol_metadata(m, &group.protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        })
    }

    /// Every group with members: its id, protocol type and state.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        self.groups
            .iter()
            .map(|(id, g)| (id.clone(), g.protocol_type.clone(), g.state))
            .collect()
    }

    /// Ends every group (this node no longer coordinates): each waiting
    /// request is answered `NOT_COORDINATOR`.
    pub fn clear(&mut self) -> Vec<Delivery<W>> {
        let mut deliveries = Vec::new();
        for (_, group) in std::mem::take(&mut self.groups) {
            for (_, member) in group.members {
                if let Some(waiter) = member.join_waiter {
                    deliveries.push(Delivery::Join(
                        waiter,
                        JoinAnswer::Refused(ResponseError::NotCoordinator),
                    ));
                }
                if let Some(waiter) = member.sync_waiter {
                    deliveries.push(Delivery::Sync(
                        waiter,
                        SyncAnswer::Refused(ResponseError::NotCoordinator),
                    ));
                }
            }
        }
        deliveries
    }

    fn forget_empty(&mut self, group_id: &str) {
        if self
            .groups
            .get(group_id)
            .is_some_and(|g| g.members.is_empty())
        {
            self.groups.remove(group_id);
        }
    }
}

/// Starts a rebalance, unless one is being gathered already: waiting syncs
/// are told to rejoin. `delay`: a new group's wait for more members.
fn prepare_rebalance<W>(
    group: &mut Group<W>,
    now: Instant,
    delay: Option<Duration>,
    deliveries: &mut Vec<Delivery<W>>,
) {
    if group.state == GroupState::PreparingRebalance {
        return;
    }
    for member in group.members.values_mut() {
        if let Some(waiter) = member.sync_waiter.take() {
            deliveries.push(Delivery::Sync(
                waiter,
                SyncAnswer::Refused(ResponseError::RebalanceInProgress),
            ));
        }
    }
    group.state = GroupState::PreparingRebalance;
    group.deadline = Some(now + delay.unwrap_or_else(|| group.longest_rebalance_timeout()));
}

/// Completes a rebalance being gathered once every member has rejoined
/// (after a new group's initial delay), or at its deadline without those
/// that did not.
fn try_complete<W>(group: &mut Group<W>, now: Instant, deliveries: &mut Vec<Delivery<W>>) {
    if group.state != GroupState::PreparingRebalance {
        return;
    }
    let deadline_passed = group.deadline.is_none_or(|deadline| now >= deadline);
    let all_joined = group.members.values().all(|m| m.join_waiter.is_some());
    let in_initial_delay = group.generation == 0 && !deadline_passed;
    if !(deadline_passed || (all_joined && !in_initial_delay)) {
        return;
    }
    let absent: Vec<String> = group
        .members
        .iter()
        .filter(|(_, m)| m.join_waiter.is_none())
        .map(|(id, _)| id.clone())
        .collect();
    for id in absent {
        if let Some(member) = group.members.remove(&id) {
            settle_removed(member, deliveries);
        }
    }
    group.generation += 1;
    if group.members.is_empty() {
        group.state = GroupState::Empty;
        group.deadline = None;
        group.protocol.clear();
        group.leader.clear();
        return;
    }
    if !group.members.contains_key(&group.leader) {
        group.leader = group.members.keys().next().cloned().unwrap_or_default();
    }
    let leader = &group.members[&group.leader];
    group.protocol = leader
        .protocols
        .iter()
        .map(|(name, _)| name)
        .find(|name| {
            group
                .members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
        })
        .cloned()
        .unwrap_or_default();
    group.state = GroupState::CompletingRebalance;
    group.deadline = Some(now + group.longest_rebalance_timeout());
    let everyone: Vec<(String, Bytes)> = group
        .members
        .iter()
        .map(|(id, m)| (id.clone(), protocol_metadata(m, &group.protocol)))
        .collect();
    for (id, member) in group.members.iter_mut() {
        if let Some(waiter) = member.join_waiter.take() {
            deliveries.push(Delivery::Join(
                waiter,
                JoinAnswer::Joined {
                    generation: group.generation,
                    protocol_type: group.protocol_type.clone(),
                    protocol: group.protocol.clone(),
                    leader: group.leader.clone(),
                    member_id: id.clone(),
                    members: if *id == group.leader {
                        everyone.clone()
                    } else {
                        Vec::new()
                    },
                },
            ));
        }
    }
}

fn protocol_metadata<W>(member: &Member<W>, protocol: &str) -> Bytes {
    member
        .protocols
        .iter()
        .find(|(name, _)| name == protocol)
        .map(|(_, metadata)| metadata.clone())
        .unwrap_or_default()
}

fn assigned<W>(group: &Group<W>, member_id: &str) -> SyncAnswer {
    SyncAnswer::Assigned {
        protocol_type: group.protocol_type.clone(),
        protocol: group.protocol.clone(),
        assignment: group
            .members
            .get(member_id)
            .map(|m| m.assignment.clone())
            .unwrap_or_default(),
    }
}

/// A member's waiting requests, once it is out of the group.
fn settle_removed<W>(member: Member<W>, deliveries: &mut Vec<Delivery<W>>) {
    if let Some(waiter) = member.join_waiter {
        deliveries.push(Delivery::Join(
            waiter,
            JoinAnswer::Refused(ResponseError::UnknownMemberId),
        ));
    }
    if let Some(waiter) = member.sync_waiter {
        deliveries.push(Delivery::Sync(
            waiter,
            SyncAnswer::Refused(ResponseError::UnknownMemberId),
        ));
    }
}

#[cfg(test)]
mod tests;
