//! Records: what a producer sends (`NewRecord`) and what the log holds and
//! consumers read (`Record`, with its offset and timestamp).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::Offset;
use crate::limits::{
    MAX_HEADERS_PER_RECORD, MAX_HEADER_BYTES_PER_RECORD, MAX_HEADER_NAME_BYTES,
    MAX_HEADER_VALUE_BYTES, MAX_KEY_BYTES,
};
use crate::record_value::RecordValue;

/// A record as a producer sends it. `value` is any JSON value (kept as the
/// text it was sent as); a `null` value with a key is a tombstone for that
/// key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    /// At most 1024 bytes (UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Any JSON value; `null` with a key is a tombstone for that key.
    pub value: RecordValue,
    /// At most 64.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// A record as the log holds it: the producer's record plus the offset the
/// state machine assigned and the leader's timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub offset: Offset,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: RecordValue,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    pub timestamp_ms: u64,
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
/// value's JSON text (as sent) and of its headers' names and values.
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
    (key.map_or(0, str::len) + value.json_text().len() + header_bytes) as u64
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
