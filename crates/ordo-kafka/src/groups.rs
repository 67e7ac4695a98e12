//! Group coordination over the network: FindCoordinator names the Raft
//! leader; JoinGroup, SyncGroup, Heartbeat and LeaveGroup run the pure
//! [`Coordinator`] on the leader, which holds membership in memory (Kafka
//! keeps it in memory too, rebuilt by rejoining); DescribeGroups and
//! ListGroups show it, with groups that have only committed positions as
//! `Empty`. On any other node, and on a leader of an earlier term, every
//! group request is answered `NOT_COORDINATOR`: the client asks
//! FindCoordinator again and rejoins the new leader, and its committed
//! offsets, in the log, are all there.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    BrokerId, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
    ListGroupsResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use ordo_http::acl::{Permission, Resource};
use tokio::sync::oneshot;

use crate::coordinator::{
    Coordinator, CoordinatorConfig, Delivery, GroupState, Join, JoinAnswer, SyncAnswer,
};
use crate::errors;
use crate::session::Session;
use crate::Broker;

/// How often sessions and rebalance deadlines are checked.
const TICK: Duration = Duration::from_millis(100);
/// How much longer than its own timeout a waiting join or sync waits
/// before it gives up on the coordinator.
const WAIT_MARGIN: Duration = Duration::from_secs(5);

enum Answer {
    Join(JoinAnswer),
    Sync(SyncAnswer),
}

type Waiter = oneshot::Sender<Answer>;

/// The coordinator of the term this node leads in, if it leads.
pub(crate) struct Groups {
    inner: Mutex<Option<(String, Coordinator<Waiter>)>>,
}

impl Groups {
    pub fn new() -> Groups {
        Groups {
            inner: Mutex::new(None),
        }
    }

    /// Runs `f` on the coordinator of this node's term, if it leads; then
    /// delivers the answers it settled.
    fn with<R>(
        &self,
        broker: &Broker,
        f: impl FnOnce(&mut Coordinator<Waiter>, Instant) -> (R, Vec<Delivery<Waiter>>),
    ) -> Result<R, ResponseError> {
        let term = broker.node.current_term().to_string();
        let leads = broker.leads();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let stale = inner.as_ref().is_some_and(|(held, _)| *held != term) || !leads;
        if stale {
            if let Some((_, mut old)) = inner.take() {
                deliver(old.clear());
            }
        }
        if !leads {
            return Err(ResponseError::NotCoordinator);
        }
        let (_, coordinator) = inner.get_or_insert_with(|| {
            let prefix = format!("t{term}");
            (term, Coordinator::new(CoordinatorConfig::default(), prefix))
        });
        let (result, deliveries) = f(coordinator, Instant::now());
        drop(inner);
        deliver(deliveries);
        Ok(result)
    }
}

fn deliver(deliveries: Vec<Delivery<Waiter>>) {
    for delivery in deliveries {
        // A waiter whose connection ended is gone: nothing to tell.
        let _ = match delivery {
            Delivery::Join(waiter, answer) => waiter.send(Answer::Join(answer)),
            Delivery::Sync(waiter, answer) => waiter.send(Answer::Sync(answer)),
        };
    }
}

/// Checks sessions and deadlines every [`TICK`] while the listener runs.
pub(crate) fn tick_while_serving(broker: Weak<Broker>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(TICK).await;
            let Some(broker) = broker.upgrade() else {
                return;
            };
            let _ = broker.groups.with(&broker, |c, now| ((), c.tick(now)));
        }
    })
}

/// Whether a commit by this member may go ahead (see
/// [`Coordinator::check_commit`]).
pub(crate) fn check_commit(
    broker: &Broker,
    group: &str,
    member_id: &str,
    generation: i32,
) -> Result<(), ResponseError> {
    broker.groups.with(broker, |c, _| {
        (c.check_commit(group, member_id, generation), vec![])
    })?
}

pub(crate) async fn find_coordinator(
    broker: &Broker,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    // Key type 1 is a transaction coordinator: no transactions here.
    if request.key_type != 0 {
        return FindCoordinatorResponse::default()
            .with_error_code(ResponseError::CoordinatorNotAvailable.code())
            .with_node_id(BrokerId(-1))
            .with_error_message(Some(StrBytes::from_static_str("ordo has no transactions")));
    }
    match broker.leader().await {
        Some(leader) => FindCoordinatorResponse::default()
            .with_node_id(BrokerId(leader.id))
            .with_host(StrBytes::from_string(leader.host))
            .with_port(leader.port),
        None => FindCoordinatorResponse::default()
            .with_error_code(ResponseError::CoordinatorNotAvailable.code())
            .with_node_id(BrokerId(-1))
            .with_error_message(Some(StrBytes::from_static_str("no leader is known yet"))),
    }
}

fn may_use(broker: &Broker, session: &Session, group: &str) -> bool {
    session.may(broker, Permission::Groups, Resource::Group(group))
}

pub(crate) async fn join(
    broker: &Broker,
    session: &Session,
    request: JoinGroupRequest,
    client_id: String,
    version: i16,
) -> JoinGroupResponse {
    let group = request.group_id.0.as_str().to_owned();
    let refused = |error: ResponseError| {
        JoinGroupResponse::default()
            .with_error_code(error.code())
            .with_generation_id(-1)
            .with_protocol_name(Some(StrBytes::default()))
            .with_member_id(request.member_id.clone())
    };
    if !may_use(broker, session, &group) {
        return refused(ResponseError::GroupAuthorizationFailed);
    }
    let session_timeout = Duration::from_millis(request.session_timeout_ms.max(0) as u64);
    // v0 had no rebalance timeout: the session timeout served as both.
    let rebalance_timeout = if version >= 1 {
        Duration::from_millis(request.rebalance_timeout_ms.max(0) as u64)
    } else {
        session_timeout
    };
    let join = Join {
        group,
        member_id: request.member_id.as_str().to_owned(),
        client_id,
        client_host: session.client_host.clone(),
        session_timeout,
        rebalance_timeout,
        protocol_type: request.protocol_type.as_str().to_owned(),
        protocols: request
            .protocols
            .iter()
            .map(|p| (p.name.as_str().to_owned(), p.metadata.clone()))
            .collect(),
    };
    let (tx, rx) = oneshot::channel();
    if let Err(error) = broker
        .groups
        .with(broker, |c, now| ((), c.join(join, tx, now)))
    {
        return refused(error);
    }
    match tokio::time::timeout(rebalance_timeout + WAIT_MARGIN, rx).await {
        Ok(Ok(Answer::Join(JoinAnswer::Joined {
            generation,
            protocol_type,
            protocol,
            leader,
            member_id,
            members,
        }))) => JoinGroupResponse::default()
            .with_generation_id(generation)
            .with_protocol_type(Some(StrBytes::from_string(protocol_type)))
            .with_protocol_name(Some(StrBytes::from_string(protocol)))
            .with_leader(StrBytes::from_string(leader))
            .with_member_id(StrBytes::from_string(member_id))
            .with_members(
                members
                    .into_iter()
                    .map(|(id, metadata)| {
                        JoinGroupResponseMember::default()
                            .with_member_id(StrBytes::from_string(id))
                            .with_metadata(metadata)
                    })
                    .collect(),
            ),
        Ok(Ok(Answer::Join(JoinAnswer::Refused(error)))) => refused(error),
        // The coordinator went (leadership moved) or never answered.
        _ => refused(ResponseError::NotCoordinator),
    }
}

pub(crate) async fn sync(
    broker: &Broker,
    session: &Session,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let group = request.group_id.0.as_str().to_owned();
    let refused = |error: ResponseError| SyncGroupResponse::default().with_error_code(error.code());
    if !may_use(broker, session, &group) {
        return refused(ResponseError::GroupAuthorizationFailed);
    }
    let assignments: Vec<(String, Bytes)> = request
        .assignments
        .iter()
        .map(|a| (a.member_id.as_str().to_owned(), a.assignment.clone()))
        .collect();
    let (tx, rx) = oneshot::channel();
    let member = request.member_id.as_str();
    let generation = request.generation_id;
    if let Err(error) = broker.groups.with(broker, |c, now| {
        ((), c.sync(&group, member, generation, assignments, tx, now))
    }) {
        return refused(error);
    }
    // The longest a rebalance waits for the leader is its timeout; past
    // it the coordinator answers anyway.
    match tokio::time::timeout(Duration::from_secs(30 * 60), rx).await {
        Ok(Ok(Answer::Sync(SyncAnswer::Assigned {
            protocol_type,
            protocol,
            assignment,
        }))) => SyncGroupResponse::default()
            .with_protocol_type(Some(StrBytes::from_string(protocol_type)))
            .with_protocol_name(Some(StrBytes::from_string(protocol)))
            .with_assignment(assignment),
        Ok(Ok(Answer::Sync(SyncAnswer::Refused(error)))) => refused(error),
        _ => refused(ResponseError::NotCoordinator),
    }
}

pub(crate) async fn heartbeat(
    broker: &Broker,
    session: &Session,
    request: HeartbeatRequest,
) -> HeartbeatResponse {
    let group = request.group_id.0.as_str();
    let beat = if may_use(broker, session, group) {
        broker
            .groups
            .with(broker, |c, now| {
                (
                    c.heartbeat(
                        group,
                        request.member_id.as_str(),
                        request.generation_id,
                        now,
                    ),
                    vec![],
                )
            })
            .and_then(|beat| beat)
    } else {
        Err(ResponseError::GroupAuthorizationFailed)
    };
    HeartbeatResponse::default().with_error_code(errors::code(beat))
}

pub(crate) async fn leave(
    broker: &Broker,
    session: &Session,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let group = request.group_id.0.as_str();
    if !may_use(broker, session, group) {
        return LeaveGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    // v0-2 name one member; v3 on, a list.
    let members: Vec<String> = if request.members.is_empty() {
        vec![request.member_id.as_str().to_owned()]
    } else {
        request
            .members
            .iter()
            .map(|m| m.member_id.as_str().to_owned())
            .collect()
    };
    match broker.groups.with(broker, |c, now| {
        let (outcomes, deliveries) = c.leave(group, &members, now);
        (outcomes, deliveries)
    }) {
        Err(error) => LeaveGroupResponse::default().with_error_code(error.code()),
        Ok(outcomes) => {
            let top = if request.members.is_empty() {
                outcomes[0]
            } else {
                Ok(())
            };
            LeaveGroupResponse::default()
                .with_error_code(errors::code(top))
                .with_members(
                    members
                        .into_iter()
                        .zip(outcomes)
                        .filter(|_| !request.members.is_empty())
                        .map(|(id, error)| {
                            MemberResponse::default()
                                .with_member_id(StrBytes::from_string(id))
                                .with_error_code(errors::code(error))
                        })
                        .collect(),
                )
        }
    }
}

pub(crate) async fn describe(
    broker: &Broker,
    session: &Session,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let mut described = Vec::with_capacity(request.groups.len());
    for group_id in request.groups {
        let group = group_id.0.as_str().to_owned();
        let answer = DescribedGroup::default().with_group_id(group_id);
        if !may_use(broker, session, &group) {
            described.push(answer.with_error_code(ResponseError::GroupAuthorizationFailed.code()));
            continue;
        }
        let view = match broker
            .groups
            .with(broker, |c, _| (c.describe(&group), vec![]))
        {
            Ok(view) => view,
            Err(error) => {
                described.push(answer.with_error_code(error.code()));
                continue;
            }
        };
        let answer = match view {
            Some(view) => answer
                .with_group_state(StrBytes::from_static_str(view.state.name()))
                .with_protocol_type(StrBytes::from_string(view.protocol_type))
                .with_protocol_data(StrBytes::from_string(view.protocol))
                .with_members(
                    view.members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(StrBytes::from_string(m.member_id))
                                .with_client_id(StrBytes::from_string(m.client_id))
                                .with_client_host(StrBytes::from_string(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect(),
                ),
            None if has_positions(broker, &group) => answer
                .with_group_state(StrBytes::from_static_str(GroupState::Empty.name()))
                .with_protocol_type(StrBytes::from_static_str("consumer")),
            None => answer.with_group_state(StrBytes::from_static_str("Dead")),
        };
        described.push(answer);
    }
    DescribeGroupsResponse::default().with_groups(described)
}

fn has_positions(broker: &Broker, group: &str) -> bool {
    ordo_core::GroupName::new(group)
        .is_ok_and(|name| !broker.node.state_machine().group_lag(&name).is_empty())
}

pub(crate) async fn list(
    broker: &Broker,
    session: &Session,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    let active = match broker.groups.with(broker, |c, _| (c.list(), vec![])) {
        Ok(active) => active,
        Err(error) => return ListGroupsResponse::default().with_error_code(error.code()),
    };
    let mut groups: Vec<(String, String, &'static str)> = active
        .into_iter()
        .map(|(id, protocol_type, state)| (id, protocol_type, state.name()))
        .collect();
    for name in broker.node.state_machine().consumer_lag().into_keys() {
        if !groups.iter().any(|(id, _, _)| id == name.as_str()) {
            groups.push((
                name.as_str().to_owned(),
                "consumer".into(),
                GroupState::Empty.name(),
            ));
        }
    }
    let wanted = |state: &str| {
        request.states_filter.is_empty()
            || request
                .states_filter
                .iter()
                .any(|s| s.as_str().eq_ignore_ascii_case(state))
    };
    ListGroupsResponse::default().with_groups(
        groups
            .into_iter()
            .filter(|(id, _, state)| may_use(broker, session, id) && wanted(state))
            .map(|(id, protocol_type, state)| {
                ListedGroup::default()
                    .with_group_id(GroupId(StrBytes::from_string(id)))
                    .with_protocol_type(StrBytes::from_string(protocol_type))
                    .with_group_state(StrBytes::from_static_str(state))
            })
            .collect(),
    )
}

/// Keeps the listener's tick loop's handle beside the broker it serves.
pub(crate) fn start(broker: &Arc<Broker>) -> tokio::task::JoinHandle<()> {
    tick_while_serving(Arc::downgrade(broker))
}
