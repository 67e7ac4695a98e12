//! Metadata: the brokers (every node whose Kafka address is known), and
//! each topic as one partition, 0, led by the Raft leader and replicated
//! on every voter. A topic named by a producer that may create topics
//! (`allow_auto_topic_creation`) is shown before it exists, led by the
//! leader: its first produce creates it, as an append over HTTP does. The
//! list of every topic shows only those the client may read.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use ordo_api::Consistency;
use ordo_http::acl::{Permission, Resource};

use crate::broker::BrokerAddress;
use crate::errors;
use crate::session::Session;
use crate::Broker;

/// The cluster id clients see.
pub(crate) const CLUSTER_ID: &str = "ordo";

pub(crate) async fn answer(
    broker: &Broker,
    session: &Session,
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let brokers = broker.brokers().await;
    let leader = broker
        .node
        .current_leader()
        .filter(|id| brokers.contains_key(id))
        .and_then(|id| i32::try_from(id).ok());
    let replicas: Vec<BrokerId> = brokers.values().map(|b| BrokerId(b.id)).collect();
    let existing = broker
        .node
        .topics(Consistency::Local)
        .await
        .unwrap_or_default();
    // Before v4 a request could not say; Kafka then created topics.
    let may_create = version < 4 || request.allow_auto_topic_creation;
    let partition = |exists: bool| {
        let error = match leader {
            Some(_) if exists || may_create => Ok(()),
            _ if !exists => Err(ResponseError::UnknownTopicOrPartition),
            _ => Err(ResponseError::LeaderNotAvailable),
        };
        MetadataResponsePartition::default()
            .with_error_code(errors::code(error))
            .with_partition_index(0)
            .with_leader_id(BrokerId(leader.unwrap_or(-1)))
            .with_leader_epoch(-1)
            .with_replica_nodes(replicas.clone())
            .with_isr_nodes(replicas.clone())
    };
    let topic = |name: &str, error: Result<(), ResponseError>, partitions| {
        MetadataResponseTopic::default()
            .with_error_code(errors::code(error))
            .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
            .with_partitions(partitions)
    };
    // `null` (and, before v1, an empty list) asks for every topic.
    let every_topic = request
        .topics
        .as_ref()
        .is_none_or(|requested| requested.is_empty() && version == 0);
    let topics = match request.topics {
        _ if every_topic => existing
            .keys()
            .filter(|name| session.may(broker, Permission::Read, Resource::Topic(name.as_str())))
            .map(|name| topic(name.as_str(), Ok(()), vec![partition(true)]))
            .collect(),
        None => vec![],
        Some(requested) => requested
            .into_iter()
            .filter_map(|wanted| wanted.name)
            .map(|name| {
                let name = name.0.as_str();
                let readable = session.may(broker, Permission::Read, Resource::Topic(name))
                    || session.may(broker, Permission::Append, Resource::Topic(name));
                if !readable {
                    return topic(name, Err(ResponseError::TopicAuthorizationFailed), vec![]);
                }
                let Ok(parsed) = ordo_core::TopicName::new(name) else {
                    return topic(name, Err(ResponseError::InvalidTopicException), vec![]);
                };
                let exists = existing.contains_key(&parsed);
                if !exists && !may_create {
                    return topic(name, Err(ResponseError::UnknownTopicOrPartition), vec![]);
                }
                topic(name, Ok(()), vec![partition(exists)])
            })
            .collect(),
    };
    MetadataResponse::default()
        .with_brokers(brokers.values().map(metadata_broker).collect())
        .with_cluster_id(Some(StrBytes::from_static_str(CLUSTER_ID)))
        .with_controller_id(BrokerId(leader.unwrap_or(-1)))
        .with_topics(topics)
}

fn metadata_broker(address: &BrokerAddress) -> MetadataResponseBroker {
    MetadataResponseBroker::default()
        .with_node_id(BrokerId(address.id))
        .with_host(StrBytes::from_string(address.host.clone()))
        .with_port(address.port)
}
