//! Fetch: records from each partition's fetch offset, from the leader's
//! applied state, within the request's byte limits (at least one record
//! when there is one, as Kafka does), as one uncompressed batch per
//! partition. When there is less than `min_bytes`, the fetch waits up to
//! `max_wait_ms` (at most `MAX_READ_WAIT_MS`, like `wait_ms` over HTTP)
//! for a record to arrive in any of its partitions, holding one of the
//! listener's stream permits (none left: it answers at once).
//!
//! Only the leader serves fetches: a follower's applied state may lag the
//! offsets a client was given, and Kafka clients take an offset past the
//! end as a reason to reset their position. A follower answers
//! `NOT_LEADER_OR_FOLLOWER`, and the client asks Metadata where the
//! leader went. A new leader that has not yet applied all it committed
//! takes the read barrier before it calls an offset out of range.
//!
//! No fetch sessions (KIP-227): every answer has session id 0, so clients
//! send full fetches.

use std::time::Duration;

use bytes::BytesMut;
use futures::future::select_all;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use kafka_protocol::ResponseError;
use ordo_api::limits::MAX_READ_WAIT_MS;
use ordo_api::Consistency;
use ordo_core::{Offset, Record, TopicName};
use ordo_http::acl::{Permission, Resource};
use ordo_node::{NodeError, ReadRequest};

use crate::errors;
use crate::records;
use crate::session::Session;
use crate::Broker;

/// One partition's answer before it is encoded.
struct Read {
    topic: kafka_protocol::messages::TopicName,
    partition: i32,
    fetch_offset: i64,
    max_bytes: usize,
    outcome: Result<Found, ResponseError>,
}

struct Found {
    records: Vec<Record>,
    start_offset: Offset,
    end_offset: Offset,
}

impl Read {
    fn bytes(&self) -> usize {
        self.outcome.as_ref().map_or(0, |found| {
            found.records.iter().map(records::encoded_size).sum()
        })
    }

    /// Served, but nothing yet at its offset: worth waiting for.
    fn waiting(&self) -> bool {
        self.outcome
            .as_ref()
            .is_ok_and(|found| found.records.is_empty())
    }
}

pub(crate) async fn answer(
    broker: &Broker,
    session: &Session,
    request: FetchRequest,
    version: i16,
) -> FetchResponse {
    let leads = broker.leads();
    // Before v3 a fetch had no overall limit.
    let whole_budget = if version >= 3 && request.max_bytes > 0 {
        request.max_bytes as usize
    } else {
        usize::MAX
    };
    let mut budget = whole_budget;
    let mut reads = Vec::new();
    for topic in request.topics {
        for partition in topic.partitions {
            reads.push(Read {
                topic: topic.topic.clone(),
                partition: partition.partition,
                fetch_offset: partition.fetch_offset,
                max_bytes: partition.partition_max_bytes.max(0) as usize,
                outcome: Err(ResponseError::NotLeaderOrFollower),
            });
        }
    }
    if leads {
        read_all(broker, session, &mut reads, &mut budget).await;
        let total: usize = reads.iter().map(Read::bytes).sum();
        let wait =
            Duration::from_millis(request.max_wait_ms.clamp(0, MAX_READ_WAIT_MS as i32) as u64);
        if total < request.min_bytes.max(1) as usize
            && !wait.is_zero()
            && reads.iter().any(Read::waiting)
        {
            if let Ok(_permit) = broker.streams.try_acquire() {
                wait_for_any(broker, &reads, wait).await;
                budget = whole_budget;
                read_all(broker, session, &mut reads, &mut budget).await;
            }
        }
    }
    FetchResponse::default().with_responses(encode(reads))
}

async fn read_all(broker: &Broker, session: &Session, reads: &mut [Read], budget: &mut usize) {
    for read in reads.iter_mut() {
        let limit = read.max_bytes.min(*budget);
        read.outcome = read_partition(broker, session, read, limit).await;
        *budget = budget.saturating_sub(read.bytes());
    }
}

async fn read_partition(
    broker: &Broker,
    session: &Session,
    read: &Read,
    limit: usize,
) -> Result<Found, ResponseError> {
    let name = read.topic.0.as_str();
    if !session.may(broker, Permission::Read, Resource::Topic(name)) {
        return Err(ResponseError::TopicAuthorizationFailed);
    }
    let topic = TopicName::new(name).map_err(|_| ResponseError::UnknownTopicOrPartition)?;
    if read.partition != 0 {
        return Err(ResponseError::UnknownTopicOrPartition);
    }
    let from = u64::try_from(read.fetch_offset).map_err(|_| ResponseError::OffsetOutOfRange)?;
    let page = match page(broker, &topic, from, Consistency::Local).await {
        // Past this node's end: it may not have applied all the cluster
        // committed yet. Only the read barrier can say it is out of range.
        Err(NodeError::OffsetOutOfRange { .. }) => {
            page(broker, &topic, from, Consistency::Linearizable).await
        }
        other => other,
    }
    .map_err(|e| errors::node_error(&e))?;
    let state = broker
        .node
        .topic(&topic, Consistency::Local)
        .await
        .map_err(|e| errors::node_error(&e))?;
    let mut records = page.records;
    let mut bytes = 0;
    let keep = records
        .iter()
        .take_while(|record| {
            bytes += records::encoded_size(record);
            bytes <= limit
        })
        .count()
        // At least one record, whatever the limit (KIP-74).
        .max(1)
        .min(records.len());
    records.truncate(keep);
    Ok(Found {
        records,
        start_offset: state.start_offset,
        end_offset: page.end_offset.max(state.end_offset),
    })
}

async fn page(
    broker: &Broker,
    topic: &TopicName,
    from: u64,
    consistency: Consistency,
) -> Result<ordo_node::Page, NodeError> {
    broker
        .node
        .read_waiting(topic, &ReadRequest::starting_at(Offset(from), consistency))
        .await
}

/// Waits until any waiting partition has a record, or `wait` passes.
async fn wait_for_any(broker: &Broker, reads: &[Read], wait: Duration) {
    let waits: Vec<_> = reads
        .iter()
        .filter(|read| read.waiting())
        .filter_map(|read| {
            let topic = TopicName::new(read.topic.0.as_str()).ok()?;
            let request = ReadRequest {
                from: Offset(read.fetch_offset as u64),
                limit: Some(1),
                consistency: Consistency::Local,
                wait,
                min_log_index: None,
            };
            Some(Box::pin(async move {
                let _ = broker.node.wait_page(&topic, &request).await;
            }))
        })
        .collect();
    if waits.is_empty() {
        return;
    }
    let _ = tokio::time::timeout(wait, select_all(waits)).await;
}

fn encode(reads: Vec<Read>) -> Vec<FetchableTopicResponse> {
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for read in reads {
        let partition = partition_data(read.partition, read.fetch_offset, read.outcome);
        match topics.last_mut() {
            Some(last) if last.topic == read.topic => last.partitions.push(partition),
            _ => topics.push(
                FetchableTopicResponse::default()
                    .with_topic(read.topic)
                    .with_partitions(vec![partition]),
            ),
        }
    }
    topics
}

fn partition_data(
    partition: i32,
    fetch_offset: i64,
    outcome: Result<Found, ResponseError>,
) -> PartitionData {
    let data = PartitionData::default()
        .with_partition_index(partition)
        .with_aborted_transactions(Some(vec![]))
        .with_preferred_read_replica((-1).into());
    match outcome {
        Err(error) => data
            .with_error_code(error.code())
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1),
        Ok(found) => {
            let mut batch = BytesMut::new();
            if !found.records.is_empty() {
                if let Err(e) = records::encode_batch(&found.records, &mut batch) {
                    tracing::error!(fetch_offset, "kafka: records did not encode: {e}");
                    return data.with_error_code(ResponseError::UnknownServerError.code());
                }
            }
            let end = found.end_offset.0 as i64;
            data.with_high_watermark(end)
                .with_last_stable_offset(end)
                .with_log_start_offset(found.start_offset.0 as i64)
                .with_records(Some(batch.freeze()))
        }
    }
}
