//! Records: what a producer sends (`NewRecord`) and what the log holds and
//! consumers read (`Record`, with its offset and timestamp).

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

use crate::ids::Offset;
use crate::limits::{
    MAX_HEADERS_PER_RECORD, MAX_HEADER_BYTES_PER_RECORD, MAX_HEADER_NAME_BYTES,
    MAX_HEADER_VALUE_BYTES, MAX_KEY_BYTES,
};
use crate::record_value::RecordValue;
use crate::value_field::{self, ValueFieldError};

/// A record as a producer sends it. `value` is any JSON value (kept as the
/// text it was sent as), or raw bytes (a Kafka producer's; in JSON, the
/// base64 of them in `value_b64`); a JSON `null` value with a key is a
/// tombstone for that key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "NewRecordFields")]
pub struct NewRecord {
    /// At most 1024 bytes (UTF-8).
    pub key: Option<String>,
    /// Any JSON value or raw bytes; JSON `null` with a key is a tombstone
    /// for that key.
    pub value: RecordValue,
    /// At most 64.
    pub headers: BTreeMap<String, String>,
}

/// A record as the log holds it: the producer's record plus the offset the
/// state machine assigned and the leader's timestamp. In JSON its value is
/// shown as [`RecordValue::rendering`] says: `value`, or `value_b64` for
/// bytes that are not UTF-8 (see [`crate::value_field`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RecordFields")]
pub struct Record {
    pub offset: Offset,
    pub key: Option<String>,
    pub value: RecordValue,
    pub headers: BTreeMap<String, String>,
    pub timestamp_ms: u64,
}

/// Writes the value so that it reads back the same (raw bytes as
/// `value_b64`): a `NewRecord` in JSON is an append's body, or a command
/// ordo reads back.
impl Serialize for NewRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = serializer.serialize_struct("NewRecord", 3)?;
        put_key(&mut fields, &self.key)?;
        value_field::serialize_exact(&mut fields, &self.value)?;
        put_headers(&mut fields, &self.headers)?;
        fields.end()
    }
}

/// Writes the value as a reader sees it (see [`value_field::serialize_shown`]):
/// on the read path, so it borrows every field.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = serializer.serialize_struct("Record", 5)?;
        fields.serialize_field("offset", &self.offset)?;
        put_key(&mut fields, &self.key)?;
        value_field::serialize_shown(&mut fields, &self.value)?;
        put_headers(&mut fields, &self.headers)?;
        fields.serialize_field("timestamp_ms", &self.timestamp_ms)?;
        fields.end()
    }
}

/// `key`, left out when there is none.
fn put_key<S: SerializeStruct>(fields: &mut S, key: &Option<String>) -> Result<(), S::Error> {
    match key {
        Some(key) => fields.serialize_field("key", key),
        None => fields.skip_field("key"),
    }
}

/// `headers`, left out when there are none.
fn put_headers<S: SerializeStruct>(
    fields: &mut S,
    headers: &BTreeMap<String, String>,
) -> Result<(), S::Error> {
    if headers.is_empty() {
        fields.skip_field("headers")
    } else {
        fields.serialize_field("headers", headers)
    }
}

/// A [`NewRecord`]'s JSON fields, before its value is taken from one of
/// `value` and `value_b64`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRecordFields {
    #[serde(default)]
    key: Option<String>,
    #[serde(default, deserialize_with = "value_field::present")]
    value: Option<RecordValue>,
    #[serde(default, deserialize_with = "value_field::base64")]
    value_b64: Option<RecordValue>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl TryFrom<NewRecordFields> for NewRecord {
    type Error = ValueFieldError;

    fn try_from(fields: NewRecordFields) -> Result<Self, ValueFieldError> {
        Ok(NewRecord {
            key: fields.key,
            value: value_field::one_of(fields.value, fields.value_b64)?,
            headers: fields.headers,
        })
    }
}

/// A [`Record`]'s JSON fields, before its value is taken from one of
/// `value` and `value_b64`.
#[derive(Deserialize)]
struct RecordFields {
    offset: Offset,
    #[serde(default)]
    key: Option<String>,
    #[serde(default, deserialize_with = "value_field::present")]
    value: Option<RecordValue>,
    #[serde(default, deserialize_with = "value_field::base64")]
    value_b64: Option<RecordValue>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timestamp_ms: u64,
}

impl TryFrom<RecordFields> for Record {
    type Error = ValueFieldError;

    fn try_from(fields: RecordFields) -> Result<Self, ValueFieldError> {
        Ok(Record {
            offset: fields.offset,
            key: fields.key,
            value: value_field::one_of(fields.value, fields.value_b64)?,
            headers: fields.headers,
            timestamp_ms: fields.timestamp_ms,
        })
    }
}

/// Why a record was refused before it reached the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record key is {len} bytes; the limit is {MAX_KEY_BYTES}")]
    KeyTooLong { len: usize },
    #[error("record has {count} headers; the limit is {MAX_HEADERS_PER_RECORD}")]
    TooManyHeaders { count: usize },
    #[error("header name of {len} bytes; the limit is {MAX_HEADER_NAME_BYTES}")]
    HeaderNameTooLong { len: usize },
    #[error("header {name:?} has a value of {len} bytes; the limit is {MAX_HEADER_VALUE_BYTES}")]
    HeaderValueTooLong { name: String, len: usize },
    #[error("headers of {bytes} bytes in all; the limit is {MAX_HEADER_BYTES_PER_RECORD}")]
    HeadersTooLarge { bytes: usize },
    /// The value's text is not JSON a parser would take (see
    /// [`RecordValue::check`]).
    #[error("value is not valid JSON: {reason}")]
    BadValue { reason: String },
}

/// A record's size as retention counts it: the bytes of its key, of its
/// value ([`RecordValue::as_bytes`]: its JSON text as sent, or its raw
/// bytes) and of its headers' names and values.
/// Defined here, not by the store's encoding, so every replica counts alike
/// whatever its codec.
pub fn record_size(
    key: Option<&str>,
    value: &RecordValue,
    headers: &BTreeMap<String, String>,
) -> u64 {
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    (key.map_or(0, str::len) + value.len() + header_bytes) as u64
}

impl Record {
    /// See [`record_size`].
    pub fn size(&self) -> u64 {
        record_size(self.key.as_deref(), &self.value, &self.headers)
    }
}

impl NewRecord {
    /// See [`record_size`].
    pub fn size(&self) -> u64 {
        record_size(self.key.as_deref(), &self.value, &self.headers)
    }

    /// Checks the per-record limits, and that the value is JSON a parser
    /// would take ([`RecordValue::check`]).
    pub fn validate(&self) -> Result<(), RecordError> {
        self.value.check().map_err(|e| RecordError::BadValue {
            reason: e.to_string(),
        })?;
        if let Some(key) = &self.key {
            if key.len() > MAX_KEY_BYTES {
                return Err(RecordError::KeyTooLong { len: key.len() });
            }
        }
        if self.headers.len() > MAX_HEADERS_PER_RECORD {
            return Err(RecordError::TooManyHeaders {
                count: self.headers.len(),
            });
        }
        let mut bytes = 0;
        for (name, value) in &self.headers {
            if name.len() > MAX_HEADER_NAME_BYTES {
                return Err(RecordError::HeaderNameTooLong { len: name.len() });
            }
            if value.len() > MAX_HEADER_VALUE_BYTES {
                return Err(RecordError::HeaderValueTooLong {
                    name: name.chars().take(64).collect(),
                    len: value.len(),
                });
            }
            bytes += name.len() + value.len();
        }
        if bytes > MAX_HEADER_BYTES_PER_RECORD {
            return Err(RecordError::HeadersTooLarge { bytes });
        }
        Ok(())
    }

    /// The record as stored at `offset`.
    pub fn at(self, offset: Offset, timestamp_ms: u64) -> Record {
        Record {
            offset,
            key: self.key,
            value: self.value,
            headers: self.headers,
            timestamp_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(value: RecordValue) -> Record {
        Record {
            offset: Offset(3),
            key: Some("k".to_owned()),
            value,
            headers: BTreeMap::new(),
            timestamp_ms: 9,
        }
    }

    #[test]
    fn a_record_shows_its_value_as_json_a_string_or_value_b64() {
        let shown = |value: RecordValue| serde_json::to_value(record(value)).unwrap();
        assert_eq!(
            shown(RecordValue::from(json!({"a": 1}))),
            json!({"offset": 3, "key": "k", "value": {"a": 1}, "timestamp_ms": 9})
        );
        assert_eq!(
            shown(RecordValue::from_bytes(b"hello".to_vec())),
            json!({"offset": 3, "key": "k", "value": "hello", "timestamp_ms": 9})
        );
        assert_eq!(
            shown(RecordValue::from_bytes(b"null".to_vec())),
            json!({"offset": 3, "key": "k", "value": null, "timestamp_ms": 9})
        );
        assert_eq!(
            shown(RecordValue::from_bytes(b"\xff\x00".to_vec())),
            json!({"offset": 3, "key": "k", "value_b64": "/wA=", "timestamp_ms": 9})
        );
    }

    #[test]
    fn a_record_reads_back_from_value_or_value_b64_and_not_both() {
        let read = |text: &str| serde_json::from_str::<Record>(text);
        let binary = read(r#"{"offset":3,"key":"k","value_b64":"/wA=","timestamp_ms":9}"#);
        assert_eq!(
            binary.unwrap(),
            record(RecordValue::from_bytes(b"\xff\x00".to_vec()))
        );
        let tombstone = read(r#"{"offset":3,"key":"k","value":null,"timestamp_ms":9}"#);
        assert!(tombstone.unwrap().value.is_null());
        for bad in [
            r#"{"offset":3,"timestamp_ms":9}"#,
            r#"{"offset":3,"value":1,"value_b64":"AA==","timestamp_ms":9}"#,
            r#"{"offset":3,"value_b64":"not base64!","timestamp_ms":9}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_record_round_trips_through_json_exactly() {
        for value in [
            RecordValue::from(json!([1, "x"])),
            RecordValue::null(),
            RecordValue::from_bytes(b"null".to_vec()),
            RecordValue::from_bytes(b"hello".to_vec()),
            RecordValue::from_bytes(b" 1".to_vec()),
            RecordValue::from_bytes(b"\xff\x00".to_vec()),
        ] {
            let new = NewRecord {
                key: None,
                value,
                headers: BTreeMap::from([("h".to_owned(), "v".to_owned())]),
            };
            let text = serde_json::to_string(&new).unwrap();
            assert_eq!(
                serde_json::from_str::<NewRecord>(&text).unwrap(),
                new,
                "{text}"
            );
        }
        let unknown = serde_json::from_str::<NewRecord>(r#"{"value":1,"offset":2}"#);
        assert!(unknown.is_err(), "unknown fields are refused");
        let sent = serde_json::from_str::<NewRecord>(r#"{"value_b64":"aGk="}"#).unwrap();
        assert_eq!(sent.value, RecordValue::from_bytes(b"hi".to_vec()));
    }
}
