//! Produce: each partition's record batches appended to the topic, each
//! batch one ordo append, acknowledged once a majority has it durably,
//! whatever `acks` asks (`acks=1` and `acks=0` are served as `-1`: an
//! `acks=0` request is still appended durably, only not answered, as Kafka
//! answers it). A follower forwards the append to the leader (ordo routes
//! writes there in one hop), so a client whose metadata is stale keeps
//! producing through a leader change; Metadata names the leader, so
//! clients normally send to it directly.
//!
//! An idempotent producer's batch (producer id ≥ 0) is an append by the
//! ordo idempotent producer `kafka-<id>-<epoch>-<topic>` numbered by
//! records, Kafka's sequence rule: a resend of any of its last five
//! batches is answered with that batch's original base offset and
//! appends nothing; a batch out of sequence is `OUT_OF_ORDER_SEQUENCE_NUMBER`.

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use ordo_core::limits::MAX_PRODUCER_ID_BYTES;
use ordo_core::{Append, Producer, ProducerId, TopicName};
use ordo_http::acl::{Permission, Resource};
use sha2::{Digest, Sha256};

use crate::errors;
use crate::records::{self, ProducerSequence, RecordsError};
use crate::session::Session;
use crate::Broker;

pub(crate) async fn answer(
    broker: &Broker,
    session: &Session,
    request: ProduceRequest,
) -> ProduceResponse {
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let transactional = request.transactional_id.is_some();
    for topic_data in request.topic_data {
        let name = topic_data.name.0.as_str().to_owned();
        let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
        for partition in topic_data.partition_data {
            let outcome = if transactional {
                Err(Refused::from(RecordsError::Transactional))
            } else {
                produce_partition(broker, session, &name, partition.index, partition.records).await
            };
            partitions.push(partition_response(partition.index, outcome));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_partition_responses(partitions),
        );
    }
    ProduceResponse::default().with_responses(responses)
}

/// A partition's refusal: its error code and, where it helps, a message.
pub(crate) struct Refused {
    pub error: ResponseError,
    pub message: Option<String>,
}

impl From<ResponseError> for Refused {
    fn from(error: ResponseError) -> Self {
        Refused {
            error,
            message: None,
        }
    }
}

impl From<RecordsError> for Refused {
    fn from(e: RecordsError) -> Self {
        let error = match e {
            RecordsError::OldFormat { .. } => ResponseError::UnsupportedForMessageFormat,
            RecordsError::Corrupt(_) => ResponseError::CorruptMessage,
            RecordsError::Transactional
            | RecordsError::BatchSize { .. }
            | RecordsError::InvalidRecord(_) => ResponseError::InvalidRecord,
        };
        Refused {
            error,
            message: Some(e.to_string()),
        }
    }
}

/// Appends one partition's batches; answers the first one's base offset.
async fn produce_partition(
    broker: &Broker,
    session: &Session,
    topic: &str,
    partition: i32,
    bytes: Option<bytes::Bytes>,
) -> Result<i64, Refused> {
    if !session.may(broker, Permission::Append, Resource::Topic(topic)) {
        return Err(ResponseError::TopicAuthorizationFailed.into());
    }
    let name =
        TopicName::new(topic).map_err(|_| Refused::from(ResponseError::InvalidTopicException))?;
    if partition != 0 {
        return Err(ResponseError::UnknownTopicOrPartition.into());
    }
    let batches = records::decode_batches(bytes.unwrap_or_default())?;
    let mut base_offset = None;
    for batch in batches {
        let producer = match batch.producer {
            None => None,
            Some(sequence) => Some(
                ordo_producer(&sequence, topic).ok_or(ResponseError::InvalidProducerIdMapping)?,
            ),
        };
        let append = Append {
            records: batch.records,
            producer,
            condition: None,
        };
        let appended = broker
            .node
            .append(name.clone(), append)
            .await
            .map_err(|e| Refused {
                error: errors::node_error(&e),
                message: Some(e.to_string()),
            })?;
        base_offset.get_or_insert(appended.first_offset.0 as i64);
    }
    Ok(base_offset.unwrap_or(-1))
}

/// The ordo producer that a Kafka producer's batches to `topic` are
/// appended as: its id names the Kafka producer id, epoch and topic (a
/// hash of them where that would pass ordo's limit), since Kafka numbers a
/// producer's batches per partition and per epoch.
pub(crate) fn ordo_producer(sequence: &ProducerSequence, topic: &str) -> Option<Producer> {
    let plain = format!("kafka-{}-{}-{topic}", sequence.producer_id, sequence.epoch);
    let id = if plain.len() <= MAX_PRODUCER_ID_BYTES {
        plain
    } else {
        let digest = Sha256::digest(plain.as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("kafka-{}-{}-#{hex}", sequence.producer_id, sequence.epoch)
    };
    // Printable ASCII: digits, `-`, `#`, hex and a topic name's
    // `[A-Za-z0-9._-]`, within the length checked above.
    let id = ProducerId::new(id).ok()?;
    Some(Producer::records(
        id,
        u64::from(sequence.base_sequence.max(0) as u32),
    ))
}

fn partition_response(index: i32, outcome: Result<i64, Refused>) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default()
        .with_index(index)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1);
    match outcome {
        Ok(base_offset) => response.with_base_offset(base_offset),
        Err(refused) => {
            if refused.error != ResponseError::NotLeaderOrFollower {
                tracing::debug!(error = ?refused.error, message = ?refused.message, "kafka: produce refused");
            }
            response
                .with_error_code(refused.error.code())
                .with_base_offset(-1)
                .with_error_message(refused.message.map(StrBytes::from_string))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kafka_producer_is_an_ordo_producer_per_epoch_and_topic() {
        let sequence = ProducerSequence {
            producer_id: 7,
            epoch: 0,
            base_sequence: 40,
        };
        let producer = ordo_producer(&sequence, "orders").unwrap();
        assert_eq!(producer.id.as_str(), "kafka-7-0-orders");
        assert_eq!(producer.seq, 40);
        assert_eq!(producer.numbering, ordo_core::Numbering::Records);
        let long = "t".repeat(249);
        let hashed = ordo_producer(&sequence, &long).unwrap();
        assert!(hashed.id.as_str().len() <= MAX_PRODUCER_ID_BYTES);
        assert_ne!(
            hashed.id,
            ordo_producer(&sequence, &"u".repeat(249)).unwrap().id
        );
        let next_epoch = ProducerSequence {
            epoch: 1,
            ..sequence
        };
        assert_ne!(
            ordo_producer(&next_epoch, "orders").unwrap().id,
            producer.id
        );
    }
}
