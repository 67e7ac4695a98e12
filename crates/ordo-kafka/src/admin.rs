//! Topic administration: CreateTopics, DeleteTopics and DescribeConfigs,
//! with Kafka's topic configs mapped to ordo's topic config:
//!
//! | Kafka | ordo |
//! |---|---|
//! | `cleanup.policy=compact` | cleanup `compact` |
//! | `cleanup.policy=delete` with `retention.ms` or `retention.bytes` | cleanup `delete` with them |
//! | `cleanup.policy=delete` without (or with -1) | cleanup `none`: kept forever |
//!
//! A topic has one partition: a CreateTopics asking for more is
//! `INVALID_PARTITIONS`. Every voter holds every topic, so the replication
//! factor asked for is taken and not used. Any other config is
//! `INVALID_CONFIG`, naming it. Creating and deleting topics needs the
//! `admin` right; describing one, `read` on it.

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeConfigsRequest, DescribeConfigsResponse, TopicName as KafkaTopic,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use ordo_api::Consistency;
use ordo_core::{Cleanup, TopicConfig, TopicName};
use ordo_http::acl::{Permission, Resource};

use crate::errors;
use crate::session::Session;
use crate::Broker;

const CLEANUP_POLICY: &str = "cleanup.policy";
const RETENTION_MS: &str = "retention.ms";
const RETENTION_BYTES: &str = "retention.bytes";
/// DescribeConfigs' resource types.
const TOPIC_RESOURCE: i8 = 2;
const BROKER_RESOURCE: i8 = 4;

/// A refusal with the message that says what was wrong.
type Refusal = (ResponseError, String);

/// Kafka topic configs as an ordo topic config.
pub fn topic_config<'a>(
    configs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<TopicConfig, Refusal> {
    let invalid = |message: String| (ResponseError::InvalidConfig, message);
    let mut cleanup = None;
    let (mut retention_ms, mut retention_bytes) = (None, None);
    let limit = |name: &str, value: Option<&str>| -> Result<Option<u64>, Refusal> {
        match value.map(str::parse::<i64>) {
            None | Some(Ok(-1)) => Ok(None),
            Some(Ok(n)) if n > 0 => Ok(Some(n as u64)),
            _ => Err(invalid(format!("{name} must be -1 or a positive integer"))),
        }
    };
    for (name, value) in configs {
        match name {
            CLEANUP_POLICY => {
                cleanup = Some(match value {
                    Some("compact") => Cleanup::Compact,
                    Some("delete") | None => Cleanup::Delete,
                    Some(other) => {
                        return Err(invalid(format!(
                            "cleanup.policy {other:?}: ordo takes \"delete\" or \"compact\""
                        )))
                    }
                })
            }
            RETENTION_MS => retention_ms = limit(name, value)?,
            RETENTION_BYTES => retention_bytes = limit(name, value)?,
            other => {
                return Err(invalid(format!(
                    "config {other:?} is not one ordo keeps (it keeps cleanup.policy, retention.ms and retention.bytes)"
                )))
            }
        }
    }
    let cleanup = match cleanup.unwrap_or(Cleanup::Delete) {
        Cleanup::Delete if retention_ms.is_none() && retention_bytes.is_none() => Cleanup::None,
        cleanup => cleanup,
    };
    TopicConfig::new(cleanup, retention_ms, retention_bytes).map_err(|e| invalid(e.to_string()))
}

/// An ordo topic config as Kafka's topic configs.
pub fn kafka_configs(config: &TopicConfig) -> [(&'static str, String); 3] {
    let policy = match config.cleanup() {
        Cleanup::Compact => "compact",
        Cleanup::Delete | Cleanup::None => "delete",
    };
    let or_unlimited =
        |value: Option<u64>| value.map_or_else(|| "-1".to_owned(), |v| v.to_string());
    [
        (CLEANUP_POLICY, policy.to_owned()),
        (RETENTION_MS, or_unlimited(config.retention_ms())),
        (RETENTION_BYTES, or_unlimited(config.retention_bytes())),
    ]
}

pub(crate) async fn create_topics(
    broker: &Broker,
    session: &Session,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let outcome = create_topic(broker, session, &topic, request.validate_only).await;
        let result = CreatableTopicResult::default()
            .with_name(topic.name)
            .with_num_partitions(1)
            .with_replication_factor(topic.replication_factor.max(1));
        results.push(match outcome {
            Ok(()) => result,
            Err((error, message)) => result
                .with_error_code(error.code())
                .with_error_message(Some(StrBytes::from_string(message)))
                .with_num_partitions(-1)
                .with_replication_factor(-1),
        });
    }
    CreateTopicsResponse::default().with_topics(results)
}

async fn create_topic(
    broker: &Broker,
    session: &Session,
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
    validate_only: bool,
) -> Result<(), Refusal> {
    if !session.may(broker, Permission::Admin, Resource::Cluster) {
        return Err((
            ResponseError::TopicAuthorizationFailed,
            "creating topics needs the admin right".into(),
        ));
    }
    let name = TopicName::new(topic.name.0.as_str())
        .map_err(|e| (ResponseError::InvalidTopicException, e.to_string()))?;
    if !matches!(topic.num_partitions, -1 | 1) || !topic.assignments.is_empty() {
        return Err((
            ResponseError::InvalidPartitions,
            "an ordo topic has one partition, led by the Raft leader".into(),
        ));
    }
    let config = topic_config(
        topic
            .configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_ref().map(|v| v.as_str()))),
    )?;
    if broker
        .node
        .topic(&name, Consistency::Linearizable)
        .await
        .is_ok()
    {
        return Err((
            ResponseError::TopicAlreadyExists,
            format!("topic {name} already exists"),
        ));
    }
    if validate_only {
        return Ok(());
    }
    broker
        .node
        .put_topic(name, config)
        .await
        .map(|_| ())
        .map_err(|e| (errors::node_error(&e), e.to_string()))
}

pub(crate) async fn delete_topics(
    broker: &Broker,
    session: &Session,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    // v6 names topics in `topics` (by name; ids are not served), before
    // in `topic_names`.
    let names: Vec<KafkaTopic> = if version >= 6 {
        request.topics.into_iter().filter_map(|t| t.name).collect()
    } else {
        request.topic_names
    };
    let mut results = Vec::with_capacity(names.len());
    for name in names {
        let outcome = if !session.may(broker, Permission::Admin, Resource::Cluster) {
            Err(ResponseError::TopicAuthorizationFailed)
        } else {
            match TopicName::new(name.0.as_str()) {
                Err(_) => Err(ResponseError::UnknownTopicOrPartition),
                Ok(topic) => broker
                    .node
                    .delete_topic(topic)
                    .await
                    .map_err(|e| errors::node_error(&e)),
            }
        };
        results.push(
            DeletableTopicResult::default()
                .with_name(Some(name))
                .with_error_code(errors::code(outcome.map(|_| ()))),
        );
    }
    DeleteTopicsResponse::default().with_responses(results)
}

pub(crate) async fn describe_configs(
    broker: &Broker,
    session: &Session,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let mut results = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let result = DescribeConfigsResult::default()
            .with_error_message(None)
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let result = match resource.resource_type {
            // A broker has no configs of its own to show.
            BROKER_RESOURCE => result,
            TOPIC_RESOURCE => {
                match topic_configs(broker, session, resource.resource_name.as_str()).await {
                    Ok(configs) => {
                        let wanted = |name: &str| {
                            resource
                                .configuration_keys
                                .as_ref()
                                // `null`, or no keys: every config.
                                .is_none_or(|keys| {
                                    keys.is_empty() || keys.iter().any(|k| k.as_str() == name)
                                })
                        };
                        result.with_configs(
                            configs
                                .into_iter()
                                .filter(|(name, _)| wanted(name))
                                .map(|(name, value)| {
                                    DescribeConfigsResourceResult::default()
                                        .with_name(StrBytes::from_static_str(name))
                                        .with_value(Some(StrBytes::from_string(value)))
                                        // Set on the topic (or ordo's default).
                                        .with_config_source(1)
                                })
                                .collect(),
                        )
                    }
                    Err(error) => result.with_error_code(error.code()),
                }
            }
            _ => result
                .with_error_code(ResponseError::InvalidRequest.code())
                .with_error_message(Some(StrBytes::from_static_str(
                    "ordo describes topics and brokers only",
                ))),
        };
        results.push(result);
    }
    DescribeConfigsResponse::default().with_results(results)
}

async fn topic_configs(
    broker: &Broker,
    session: &Session,
    name: &str,
) -> Result<[(&'static str, String); 3], ResponseError> {
    if !session.may(broker, Permission::Read, Resource::Topic(name)) {
        return Err(ResponseError::TopicAuthorizationFailed);
    }
    let topic = TopicName::new(name).map_err(|_| ResponseError::UnknownTopicOrPartition)?;
    let state = broker
        .node
        .topic(&topic, Consistency::Local)
        .await
        .map_err(|e| errors::node_error(&e))?;
    Ok(kafka_configs(&state.config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_configs_map_to_ordo_configs_and_back() {
        let keep = topic_config([]).unwrap();
        assert_eq!(keep, TopicConfig::default());
        assert_eq!(kafka_configs(&keep)[0].1, "delete");
        assert_eq!(kafka_configs(&keep)[1].1, "-1");
        let compact = topic_config([(CLEANUP_POLICY, Some("compact"))]).unwrap();
        assert_eq!(compact.cleanup(), Cleanup::Compact);
        let week = topic_config([
            (CLEANUP_POLICY, Some("delete")),
            (RETENTION_MS, Some("604800000")),
        ])
        .unwrap();
        assert_eq!(week.cleanup(), Cleanup::Delete);
        assert_eq!(week.retention_ms(), Some(604_800_000));
        assert_eq!(kafka_configs(&week)[1].1, "604800000");
        let forever =
            topic_config([(CLEANUP_POLICY, Some("delete")), (RETENTION_MS, Some("-1"))]).unwrap();
        assert_eq!(forever.cleanup(), Cleanup::None);
        for bad in [
            vec![(CLEANUP_POLICY, Some("compact,delete"))],
            vec![(RETENTION_MS, Some("0"))],
            vec![(RETENTION_BYTES, Some("lots"))],
            vec![("min.insync.replicas", Some("2"))],
            vec![
                (CLEANUP_POLICY, Some("compact")),
                (RETENTION_MS, Some("1000")),
            ],
        ] {
            let refused = topic_config(bad.clone()).unwrap_err();
            assert_eq!(refused.0, ResponseError::InvalidConfig, "{bad:?}");
        }
    }
}
