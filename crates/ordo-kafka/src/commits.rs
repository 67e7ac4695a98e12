//! Committed offsets: OffsetCommit sets the group's ordo position in each
//! topic through the log (so a committed offset survives any failover, and
//! reads over HTTP as the group's position), after the coordinator checked
//! the member and its generation; OffsetFetch reads the positions back
//! (-1 where the group has none). Kafka's per-offset metadata string is
//! not kept. Both are the coordinator's, the leader's.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    TopicName as KafkaTopic,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use ordo_api::Consistency;
use ordo_core::{GroupName, Offset, TopicName};
use ordo_http::acl::{Permission, Resource};
use ordo_node::NodeError;

use crate::errors;
use crate::groups;
use crate::session::Session;
use crate::Broker;

pub(crate) async fn commit(
    broker: &Broker,
    session: &Session,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let group_id = request.group_id.0.as_str();
    let checked = check_group(broker, session, group_id).and_then(|group| {
        groups::check_commit(
            broker,
            group_id,
            request.member_id.as_str(),
            request.generation_id_or_member_epoch,
        )
        .map(|()| group)
    });
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in topic.partitions {
            let outcome = match &checked {
                Err(error) => Err(*error),
                Ok(group) => {
                    commit_one(
                        broker,
                        session,
                        group,
                        topic.name.0.as_str(),
                        partition.partition_index,
                        partition.committed_offset,
                    )
                    .await
                }
            };
            partitions.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(partition.partition_index)
                    .with_error_code(errors::code(outcome)),
            );
        }
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    OffsetCommitResponse::default().with_topics(topics)
}

/// The group, if its name is one ordo takes and the client may use it, on
/// the node that coordinates it.
fn check_group(
    broker: &Broker,
    session: &Session,
    group: &str,
) -> Result<GroupName, ResponseError> {
    if !session.may(broker, Permission::Groups, Resource::Group(group)) {
        return Err(ResponseError::GroupAuthorizationFailed);
    }
    if !broker.leads() {
        return Err(ResponseError::NotCoordinator);
    }
    GroupName::new(group).map_err(|_| ResponseError::InvalidGroupId)
}

fn check_topic(
    broker: &Broker,
    session: &Session,
    topic: &str,
    partition: i32,
) -> Result<TopicName, ResponseError> {
    if !session.may(broker, Permission::Read, Resource::Topic(topic)) {
        return Err(ResponseError::TopicAuthorizationFailed);
    }
    if partition != 0 {
        return Err(ResponseError::UnknownTopicOrPartition);
    }
    TopicName::new(topic).map_err(|_| ResponseError::UnknownTopicOrPartition)
}

async fn commit_one(
    broker: &Broker,
    session: &Session,
    group: &GroupName,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<(), ResponseError> {
    let topic = check_topic(broker, session, topic, partition)?;
    let offset = u64::try_from(offset).map_err(|_| ResponseError::OffsetOutOfRange)?;
    broker
        .node
        .commit_offset(group.clone(), topic, Offset(offset), None)
        .await
        .map(|_| ())
        .map_err(|e| errors::node_error(&e))
}

pub(crate) async fn fetch(
    broker: &Broker,
    session: &Session,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let group = match check_group(broker, session, request.group_id.0.as_str()) {
        Ok(group) => group,
        // Before v2 an error could only be told per partition.
        Err(error) if version < 2 => {
            return OffsetFetchResponse::default().with_topics(
                request
                    .topics
                    .unwrap_or_default()
                    .into_iter()
                    .map(|topic| {
                        let partitions = topic
                            .partition_indexes
                            .iter()
                            .map(|&index| fetched(index, Err(error)))
                            .collect();
                        OffsetFetchResponseTopic::default()
                            .with_name(topic.name)
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        }
        Err(error) => return OffsetFetchResponse::default().with_error_code(error.code()),
    };
    // Every position the group has is as fresh as the leader's last
    // commit once the barrier is taken.
    let wanted: Vec<(KafkaTopic, Vec<i32>)> = match request.topics {
        Some(topics) => topics
            .into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect(),
        None => match broker
            .node
            .consumer_group(&group, Consistency::Linearizable)
            .await
        {
            Ok(positions) => positions
                .into_keys()
                .filter(|t| session.may(broker, Permission::Read, Resource::Topic(t.as_str())))
                .map(|t| {
                    (
                        KafkaTopic(StrBytes::from_string(t.as_str().to_owned())),
                        vec![0],
                    )
                })
                .collect(),
            Err(NodeError::GroupNotFound { .. }) => vec![],
            Err(e) => {
                return OffsetFetchResponse::default()
                    .with_error_code(errors::node_error(&e).code())
            }
        },
    };
    let mut topics = Vec::with_capacity(wanted.len());
    for (name, partitions) in wanted {
        let mut answers = Vec::with_capacity(partitions.len());
        for index in partitions {
            let position = match check_topic(broker, session, name.0.as_str(), index) {
                Err(error) => Err(error),
                Ok(topic) => match broker
                    .node
                    .consumer_offset(&group, &topic, Consistency::Linearizable)
                    .await
                {
                    Ok(offset) => Ok(offset.0 as i64),
                    Err(NodeError::PositionNotFound { .. }) => Ok(-1),
                    Err(e) => Err(errors::node_error(&e)),
                },
            };
            answers.push(fetched(index, position));
        }
        topics.push(
            OffsetFetchResponseTopic::default()
                .with_name(name)
                .with_partitions(answers),
        );
    }
    OffsetFetchResponse::default().with_topics(topics)
}

fn fetched(index: i32, position: Result<i64, ResponseError>) -> OffsetFetchResponsePartition {
    let answer = OffsetFetchResponsePartition::default()
        .with_partition_index(index)
        .with_committed_leader_epoch(-1)
        .with_metadata(Some(StrBytes::default()));
    match position {
        Ok(offset) => answer.with_committed_offset(offset),
        Err(error) => answer
            .with_committed_offset(-1)
            .with_error_code(error.code()),
    }
}
