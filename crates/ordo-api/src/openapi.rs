//! OpenAPI schemas (utoipa, behind the `openapi` feature) of the domain
//! types the wire types carry. Those types are `ordo-core`'s, which knows
//! nothing of HTTP, so their schemas are stated here, on types of the same
//! names in [`schema`]: the wire types name them with
//! `#[schema(value_type = …)]`. Some mirror the type's fields (a record, a
//! producer, the ids); the others state what a derive cannot see: names
//! validated on construction, the one-field `Condition`, and
//! `TopicConfig`'s rules about which fields go with which cleanup.
//! `ordo-http` serves them all as `/openapi.json`, and its test of the
//! spec against the recorded one catches a mirror that drifts.
//!
//! Each schema states the same rule the type's constructor enforces, so a
//! body the spec calls valid is one the server accepts.

use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use ordo_core::limits::{
    MAX_GROUP_NAME_BYTES, MAX_HEADERS_PER_RECORD, MAX_PRODUCER_ID_BYTES, MAX_TOPIC_NAME_BYTES,
};

use schema::{Condition, GroupName, ProducerId, TopicConfig, TopicName};

/// `[A-Za-z0-9._-]`, not `.` or `..` (`name::check`).
const NAME_PATTERN: &str = r"^(?!\.\.?$)[A-Za-z0-9._-]+$";

fn name_schema(description: &str, max_bytes: usize) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(NAME_PATTERN))
        .min_length(Some(1))
        .max_length(Some(max_bytes))
        .into()
}

impl PartialSchema for TopicName {
    fn schema() -> RefOr<Schema> {
        name_schema(
            "A topic name: 1 to 249 characters of A-Z, a-z, 0-9, '.', '_' and '-', \
             neither '.' nor '..'.",
            MAX_TOPIC_NAME_BYTES,
        )
    }
}
impl ToSchema for TopicName {}

impl PartialSchema for GroupName {
    fn schema() -> RefOr<Schema> {
        name_schema(
            "A consumer group name: the topic naming rule.",
            MAX_GROUP_NAME_BYTES,
        )
    }
}
impl ToSchema for GroupName {}

impl PartialSchema for ProducerId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A producer's identity: 1 to 128 characters of printable ASCII, no spaces.",
            ))
            .pattern(Some("^[!-~]+$"))
            .min_length(Some(1))
            .max_length(Some(MAX_PRODUCER_ID_BYTES))
            .into()
    }
}
impl ToSchema for ProducerId {}

/// A non-negative integer (offsets, sizes, durations): `u64` on the wire.
fn unsigned(description: &str, minimum: u64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64,
        )))
        .minimum(Some(minimum as f64))
        .description(Some(description))
}

/// An object with exactly the given properties allowed, some required.
fn closed_object(
    properties: Vec<(&str, ObjectBuilder)>,
    required: &[&str],
    description: &str,
) -> ObjectBuilder {
    let mut object = ObjectBuilder::new()
        .schema_type(SchemaType::from(Type::Object))
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (name, schema) in properties {
        object = object.property(name, schema);
    }
    for name in required {
        object = object.required(*name);
    }
    object
}

impl PartialSchema for Condition {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "A precondition on an append: exactly one of these fields. If it does not \
                 hold, the append is refused with 409 condition_failed and appends nothing.",
            ))
            .item(closed_object(
                vec![(
                    "expected_offset",
                    unsigned(
                        "The topic's end offset must be this (0 for a new topic).",
                        0,
                    ),
                )],
                &["expected_offset"],
                "Append only if nothing was appended since the producer looked.",
            ))
            .item(closed_object(
                vec![(
                    "key_absent",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([true]))
                        .description(Some("Only `true`.")),
                )],
                &["key_absent"],
                "Append only if the records' one key has no live record.",
            ))
            .item(closed_object(
                vec![(
                    "key_last_offset",
                    unsigned(
                        "The key's latest record (tombstone or not) is at this offset.",
                        0,
                    ),
                )],
                &["key_last_offset"],
                "Append only if the records' one key was last written at this offset.",
            ))
            .into()
    }
}
impl ToSchema for Condition {}

fn cleanup(value: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([value]))
}

impl PartialSchema for TopicConfig {
    fn schema() -> RefOr<Schema> {
        let retention = |what: &str| unsigned(what, 1);
        OneOfBuilder::new()
            .description(Some(
                "A topic's cleanup policy. Every field is optional; an omitted `cleanup` is \
                 `none`. Retention applies only to `delete` (which needs at least one of \
                 `retention_ms` and `retention_bytes`), tombstone retention only to `compact`.",
            ))
            .item(closed_object(
                vec![("cleanup", cleanup("none"))],
                &[],
                "Keep every record forever (the default).",
            ))
            .item(closed_object(
                vec![
                    ("cleanup", cleanup("compact")),
                    (
                        "tombstone_retention_ms",
                        unsigned(
                            "How long a key's tombstone stays after its timestamp \
                             (default 86400000: a day).",
                            0,
                        ),
                    ),
                ],
                &["cleanup"],
                "Keep only each key's latest record; every record needs a key.",
            ))
            .item(
                closed_object(
                    vec![
                        ("cleanup", cleanup("delete")),
                        (
                            "retention_ms",
                            retention("Remove records older than this (by their timestamp)."),
                        ),
                        (
                            "retention_bytes",
                            retention("Remove the oldest records while the topic holds more."),
                        ),
                    ],
                    &["cleanup"],
                    "Remove the oldest records past an age or a size.",
                )
                // cleanup plus at least one of the two retentions.
                .min_properties(Some(2)),
            )
            .into()
    }
}
impl ToSchema for TopicConfig {}

/// `NewRecord::headers`: string to string, at most `MAX_HEADERS_PER_RECORD`.
pub(crate) fn headers() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(String::schema()))
        .max_properties(Some(MAX_HEADERS_PER_RECORD))
        .description(Some("Header names to values, at most 64."))
}

/// Types named as `ordo-core`'s, standing for them in the spec: the wire
/// types' fields of a core type name these in `value_type`. The ones that
/// derive their schema mirror the core type's fields and serde attributes.
pub mod schema {
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;
    use utoipa::ToSchema;

    /// `ordo_core::TopicName`.
    pub struct TopicName;
    /// `ordo_core::GroupName`.
    pub struct GroupName;
    /// `ordo_core::ProducerId`.
    pub struct ProducerId;
    /// `ordo_core::Condition`.
    pub struct Condition;
    /// `ordo_core::TopicConfig`.
    pub struct TopicConfig;

    /// The position of a record within its topic. Offsets start at 0, are
    /// contiguous and are never reused.
    #[derive(Serialize, Deserialize, ToSchema)]
    #[serde(transparent)]
    pub struct Offset(pub u64);

    /// The position of an entry in the Raft log (1-based; openraft's index).
    #[derive(Serialize, Deserialize, ToSchema)]
    #[serde(transparent)]
    pub struct LogIndex(pub u64);

    /// Who sent an append, and which of its appends this is. On the wire:
    /// `{"id": "checkout-7", "seq": 41}`.
    #[derive(Serialize, Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Producer {
        #[schema(value_type = ProducerId)]
        pub id: (),
        pub seq: u64,
    }

    /// A record as a producer sends it. `value` is any JSON value (kept as the
    /// text it was sent as), or `value_b64` the standard base64 of raw bytes
    /// (kept as those bytes, or as JSON text if they are exactly one JSON
    /// value); one of the two. A `null` value with a key is a tombstone for
    /// that key.
    #[derive(Serialize, Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct NewRecord {
        /// At most 1024 bytes (UTF-8).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(max_length = 1024)]
        pub key: Option<String>,
        /// Any JSON value; `null` with a key is a tombstone for that key.
        /// Required unless `value_b64` is given.
        #[serde(default)]
        #[schema(value_type = serde_json::Value)]
        pub value: (),
        /// Raw bytes in standard base64, instead of `value`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub value_b64: Option<String>,
        /// At most 64.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        #[schema(schema_with = super::headers)]
        pub headers: BTreeMap<String, String>,
    }

    /// A record as the log holds it: the producer's record plus the offset the
    /// state machine assigned and the leader's timestamp. Its value is in
    /// `value` (its JSON; or raw bytes, as a Kafka producer sends them, as
    /// their JSON if they are JSON, else as a string if they are UTF-8), or
    /// else in `value_b64`.
    #[derive(Serialize, Deserialize, ToSchema)]
    pub struct Record {
        pub offset: Offset,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub key: Option<String>,
        /// The value, unless it is raw bytes that are not UTF-8.
        #[serde(default)]
        #[schema(value_type = serde_json::Value)]
        pub value: (),
        /// Raw bytes that are not UTF-8, in standard base64, instead of
        /// `value`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub value_b64: Option<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub headers: BTreeMap<String, String>,
        pub timestamp_ms: u64,
    }
}
