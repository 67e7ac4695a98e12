//! ListOffsets: a partition's earliest offset (timestamp -2), its latest
//! (-1: the end, where the next record goes), or the first offset whose
//! record is stamped at or after a timestamp (ordo's search by time; -1
//! when there is none), as the leader sees them after its read barrier.
//! A follower answers `NOT_LEADER_OR_FOLLOWER`, as for a fetch.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;
use ordo_api::Consistency;
use ordo_core::TopicName;
use ordo_http::acl::{Permission, Resource};
use ordo_node::ReadRequest;

use crate::errors;
use crate::session::Session;
use crate::Broker;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

pub(crate) async fn answer(
    broker: &Broker,
    session: &Session,
    request: ListOffsetsRequest,
    _version: i16,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in topic.partitions {
            let response = ListOffsetsPartitionResponse::default()
                .with_partition_index(partition.partition_index)
                .with_leader_epoch(-1);
            let response = match offset(
                broker,
                session,
                topic.name.0.as_str(),
                partition.partition_index,
                partition.timestamp,
            )
            .await
            {
                Ok((offset, timestamp)) => response.with_offset(offset).with_timestamp(timestamp),
                Err(error) => response
                    .with_error_code(error.code())
                    .with_offset(-1)
                    .with_timestamp(-1),
            };
            partitions.push(response);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// The offset asked for, and the timestamp of its record (-1 for the ends).
async fn offset(
    broker: &Broker,
    session: &Session,
    name: &str,
    partition: i32,
    timestamp: i64,
) -> Result<(i64, i64), ResponseError> {
    if !session.may(broker, Permission::Read, Resource::Topic(name)) {
        return Err(ResponseError::TopicAuthorizationFailed);
    }
    let topic = TopicName::new(name).map_err(|_| ResponseError::UnknownTopicOrPartition)?;
    if partition != 0 {
        return Err(ResponseError::UnknownTopicOrPartition);
    }
    if !broker.leads() {
        return Err(ResponseError::NotLeaderOrFollower);
    }
    let state = broker
        .node
        .topic(&topic, Consistency::Linearizable)
        .await
        .map_err(|e| errors::node_error(&e))?;
    match timestamp {
        LATEST => Ok((state.end_offset.0 as i64, -1)),
        EARLIEST => Ok((state.start_offset.0 as i64, -1)),
        at if at >= 0 => {
            let found = broker
                .node
                .offset_for_timestamp(&topic, at as u64, Consistency::Local)
                .await
                .map_err(|e| errors::node_error(&e))?;
            if found >= state.end_offset {
                return Ok((-1, -1));
            }
            // The found record's own timestamp, as Kafka answers.
            let page = broker
                .node
                .read_waiting(
                    &topic,
                    &ReadRequest {
                        limit: Some(1),
                        ..ReadRequest::starting_at(found, Consistency::Local)
                    },
                )
                .await
                .map_err(|e| errors::node_error(&e))?;
            let record = page.records.first();
            Ok((
                record.map_or(found.0 as i64, |r| r.offset.0 as i64),
                record.map_or(-1, |r| r.timestamp_ms as i64),
            ))
        }
        // -3 (the record with the largest timestamp, Kafka 3.0) is not
        // served at these versions; anything else is no timestamp.
        _ => Err(ResponseError::InvalidRequest),
    }
}
