//! Work queues' wire types (DESIGN.md §3c): a queue's settings and counts,
//! a claim and the jobs it hands out, and the ack, nack and extend of
//! jobs by the lease each was handed out under.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

#[cfg(feature = "openapi")]
use crate::openapi::schema;
use ordo_core::queue::LeaseId;
use ordo_core::value_field::{self, ValueFieldError};
use ordo_core::{GroupName, LogIndex, Offset, RecordValue, TopicName};

/// A lease unless the queue or the claim says otherwise: 30 s.
pub const DEFAULT_LEASE_MS: u64 = 30_000;
/// Deliveries before a job is dead-lettered, unless the queue says otherwise.
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;
/// The shortest lease a queue or claim may ask for.
pub const MIN_LEASE_MS: u64 = 100;
/// The longest lease (and nack delay) a queue or claim may ask for: 12 h.
pub const MAX_LEASE_MS: u64 = 12 * 60 * 60 * 1000;
/// The most deliveries a queue may allow a job.
pub const MAX_DELIVERIES_LIMIT: u32 = 1_000;
/// The longest a claim may long-poll (`wait_ms`) for a job.
pub const MAX_CLAIM_WAIT_MS: u64 = 30_000;
/// Most jobs one ack, nack or extend names.
pub const MAX_JOBS_PER_REQUEST: usize = 1_000;
/// The suffix of a queue's dead-letter topic when its config names none.
pub const DEAD_LETTER_SUFFIX: &str = ".dlq";

/// `PUT /v1/queues/{group}/{topic}`: creates the queue, or sets the
/// config of an existing one (its jobs stay as they are). Every field is
/// optional; the dead-letter topic defaults to `<topic>.dlq`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutQueueRequest {
    /// How long a claim holds a job unless the claim or an extend says
    /// otherwise. Default 30000; 100 to 43200000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ms: Option<u64>,
    /// Deliveries before the job goes to the dead-letter topic. Default 5;
    /// 1 to 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deliveries: Option<u32>,
    /// Where jobs go after `max_deliveries`. Default `<topic>.dlq`; never
    /// the queue's own topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::TopicName>))]
    pub dead_letter_topic: Option<TopicName>,
    /// Hand a job out only once every earlier job with its key is done.
    #[serde(default)]
    pub ordered_by_key: bool,
}

/// A queue's settings, as `GET` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueSettings {
    pub lease_ms: u64,
    pub max_deliveries: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::TopicName))]
    pub dead_letter_topic: TopicName,
    pub ordered_by_key: bool,
}

/// One queue: its settings and where its jobs stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueInfo {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::GroupName))]
    pub group: GroupName,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::TopicName))]
    pub topic: TopicName,
    pub config: QueueSettings,
    /// Every job below this offset is done (acked or dead-lettered).
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub floor_offset: Offset,
    /// The topic's end: the offset the next job appended will get.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub end_offset: Offset,
    /// Jobs not done and not held by a worker: never delivered, or given
    /// back (nacked, or their lease expired) and waiting to go again.
    pub pending: u64,
    /// Jobs held by a worker under a lease.
    pub in_flight: u64,
    /// Jobs acked since the queue was made.
    pub acked: u64,
    /// Jobs sent to the dead-letter topic since the queue was made.
    pub dead_lettered: u64,
    /// How long the oldest pending job has been in the topic (0 when none
    /// is pending).
    pub oldest_pending_age_ms: u64,
}

/// `GET /v1/queues`: every queue, by topic then group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueList {
    pub queues: Vec<QueueInfo>,
}

/// `POST /v1/queues/{group}/{topic}/claim`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Most jobs to hand out: 1 (the default) to 1000.
    #[serde(default = "one")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max: u32,
    /// The lease on each job; the queue's `lease_ms` if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 43_200_000))]
    pub lease_ms: Option<u64>,
    /// With nothing to hand out, wait up to this long for a job (at most
    /// 30000); then answer with an empty list.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 30_000))]
    pub wait_ms: u64,
}

fn one() -> u32 {
    1
}

impl Default for ClaimRequest {
    fn default() -> Self {
        ClaimRequest {
            max: 1,
            lease_ms: None,
            wait_ms: 0,
        }
    }
}

/// One job handed out: its record, which delivery this is, and the lease
/// the worker names when it acks, nacks or extends it. In JSON its value is
/// `value` or `value_b64`, as in a record (`ordo_core::value_field`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "JobFields")]
pub struct Job {
    pub offset: Offset,
    /// 1 for a job's first delivery.
    pub delivery: u32,
    pub lease: LeaseToken,
    /// When the lease ends, by the leader's clock (ms since the epoch),
    /// unless extended.
    pub lease_expires_ms: u64,
    pub key: Option<String>,
    pub value: RecordValue,
    pub headers: BTreeMap<String, String>,
    pub timestamp_ms: u64,
}

/// Writes the value as a reader sees it, like a record's.
impl Serialize for Job {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = serializer.serialize_struct("Job", 8)?;
        fields.serialize_field("offset", &self.offset)?;
        fields.serialize_field("delivery", &self.delivery)?;
        fields.serialize_field("lease", &self.lease)?;
        fields.serialize_field("lease_expires_ms", &self.lease_expires_ms)?;
        match &self.key {
            Some(key) => fields.serialize_field("key", key)?,
            None => fields.skip_field("key")?,
        }
        value_field::serialize_shown(&mut fields, &self.value)?;
        if self.headers.is_empty() {
            fields.skip_field("headers")?;
        } else {
            fields.serialize_field("headers", &self.headers)?;
        }
        fields.serialize_field("timestamp_ms", &self.timestamp_ms)?;
        fields.end()
    }
}

// A `Job`'s JSON fields, before its value is taken from one of `value` and
// `value_b64`; also its schema in the spec, whose description is this:
/// One job handed out: its record, which delivery this is, and the lease
/// the worker names when it acks, nacks or extends it.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Job))]
struct JobFields {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    offset: Offset,
    /// 1 for a job's first delivery.
    delivery: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    lease: LeaseToken,
    /// When the lease ends, by the leader's clock (ms since the epoch),
    /// unless extended.
    lease_expires_ms: u64,
    #[serde(default)]
    key: Option<String>,
    /// The record's value: its JSON, or bytes a Kafka producer sent as a
    /// string when they are UTF-8. Absent when `value_b64` is present.
    #[serde(default, deserialize_with = "value_field::present")]
    #[cfg_attr(feature = "openapi", schema(value_type = serde_json::Value))]
    value: Option<RecordValue>,
    /// Bytes a Kafka producer sent that are not UTF-8, in standard base64,
    /// instead of `value`.
    #[serde(default, deserialize_with = "value_field::base64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    value_b64: Option<RecordValue>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timestamp_ms: u64,
}

impl TryFrom<JobFields> for Job {
    type Error = ValueFieldError;

    fn try_from(fields: JobFields) -> Result<Self, ValueFieldError> {
        Ok(Job {
            offset: fields.offset,
            delivery: fields.delivery,
            lease: fields.lease,
            lease_expires_ms: fields.lease_expires_ms,
            key: fields.key,
            value: value_field::one_of(fields.value, fields.value_b64)?,
            headers: fields.headers,
            timestamp_ms: fields.timestamp_ms,
        })
    }
}

/// The answer to a claim: the jobs handed out, in offset order (none if
/// nothing was ready by the end of `wait_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<JobFields>))]
    pub jobs: Vec<Job>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::LogIndex>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<LogIndex>,
}

/// A job as an ack, nack or extend names it: its offset and the lease it
/// was handed out under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobLease {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub offset: Offset,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub lease: LeaseToken,
}

/// `POST …/ack`: the jobs are done. All or nothing: if any lease is no
/// longer held, the answer is `409 lease_lost` and no job is acked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    pub jobs: Vec<JobLease>,
}

/// `POST …/nack`: the worker gives the jobs back, to go again after
/// `delay_ms` (or to the dead-letter topic, after their last delivery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NackRequest {
    pub jobs: Vec<JobLease>,
    /// At most 43200000.
    #[serde(default)]
    pub delay_ms: u64,
}

/// `POST …/extend`: the worker keeps the jobs for `lease_ms` from now (the
/// queue's `lease_ms` if absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    pub jobs: Vec<JobLease>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ms: Option<u64>,
}

/// The answer to an ack or nack. `dead_lettered` names the nacked jobs
/// that were on their last delivery and went to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobsDone {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::LogIndex))]
    pub log_index: LogIndex,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<schema::Offset>))]
    pub dead_lettered: Vec<Offset>,
}

/// The answer to an extend: each job's new expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtendResponse {
    pub jobs: Vec<ExtendedLease>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::LogIndex))]
    pub log_index: LogIndex,
}

/// One job's lease after an extend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtendedLease {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Offset))]
    pub offset: Offset,
    pub lease_expires_ms: u64,
}

/// A lease as the wire carries it: opaque to workers, who only hand it
/// back. Written as `l` and the lease's number in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaseToken(pub LeaseId);

impl std::fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "l{:x}", self.0 .0)
    }
}

impl std::str::FromStr for LeaseToken {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.strip_prefix('l')
            .filter(|hex| !hex.is_empty() && hex.len() <= 16)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .map(|number| LeaseToken(LeaseId(number)))
            .ok_or_else(|| format!("{text:?} is not a lease this server handed out"))
    }
}

impl Serialize for LeaseToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LeaseToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_token_reads_back_and_refuses_what_it_never_wrote() {
        let token = LeaseToken(LeaseId(0x2a));
        assert_eq!(token.to_string(), "l2a");
        assert_eq!("l2a".parse::<LeaseToken>(), Ok(token));
        for bad in ["", "l", "2a", "lzz", "l-1", "l11112222333344445"] {
            assert!(bad.parse::<LeaseToken>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_claim_defaults_to_one_job_without_waiting() {
        let claim: ClaimRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(claim, ClaimRequest::default());
        assert!(serde_json::from_str::<ClaimRequest>(r#"{"maxx": 2}"#).is_err());
    }

    #[test]
    fn a_job_carries_its_value_as_json_a_string_or_value_b64_and_reads_back() {
        let job = |value: RecordValue| Job {
            offset: Offset(4),
            delivery: 1,
            lease: LeaseToken(LeaseId(0x2a)),
            lease_expires_ms: 10,
            key: None,
            value,
            headers: BTreeMap::new(),
            timestamp_ms: 9,
        };
        let fields = |rest: &str| {
            format!(
                r#"{{"offset":4,"delivery":1,"lease":"l2a","lease_expires_ms":10,{rest},"timestamp_ms":9}}"#
            )
        };
        for (value, json) in [
            (
                RecordValue::from_json_text(r#"{"a":1}"#).unwrap(),
                r#""value":{"a":1}"#,
            ),
            (
                RecordValue::from_bytes(b"hello".to_vec()),
                r#""value":"hello""#,
            ),
            (
                RecordValue::from_bytes(b"\xff\x00".to_vec()),
                r#""value_b64":"/wA=""#,
            ),
        ] {
            let text = serde_json::to_string(&job(value)).unwrap();
            assert_eq!(text, fields(json));
            let back: Job = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
        let binary: Job = serde_json::from_str(&fields(r#""value_b64":"/wA=""#)).unwrap();
        assert_eq!(binary, job(RecordValue::from_bytes(b"\xff\x00".to_vec())));
        assert!(
            serde_json::from_str::<Job>(&fields(r#""key":"k""#)).is_err(),
            "no value"
        );
    }
}
