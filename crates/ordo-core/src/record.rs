//! Records: what a producer sends (`NewRecord`) and what the log holds and
//! consumers read (`Record`, with its offset and timestamp).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::Offset;
use crate::limits::{MAX_HEADERS_PER_RECORD, MAX_KEY_BYTES};

/// A record as a producer sends it. `value` is any JSON value; a `null` value
/// with a key is a tombstone for that key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: serde_json::Value,
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
    pub value: serde_json::Value,
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
}

impl NewRecord {
    /// Checks the per-record limits.
    pub fn validate(&self) -> Result<(), RecordError> {
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
