//! `TopicConfig`: a topic's cleanup policy and retention, validated on
//! construction (and on deserialization), so the state machine only ever
//! holds a valid one. Pure data: `cleanup` enforces it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What happens to a topic's old records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cleanup {
    /// Records are kept forever.
    #[default]
    None,
    /// Only the latest record of each key is kept (a tombstone, for
    /// `tombstone_retention_ms`). Every record must have a key.
    Compact,
    /// Records older than `retention_ms`, or beyond `retention_bytes`, go.
    Delete,
}

/// A topic's configuration. The default (a topic created by its first
/// append) keeps everything: cleanup `none`, no retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "RawTopicConfig")]
pub struct TopicConfig {
    cleanup: Cleanup,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tombstone_retention_ms: Option<u64>,
}

/// How long a `compact` topic keeps a key's tombstone after its timestamp
/// unless configured otherwise: a day, so a consumer that is less than a
/// day behind still sees every delete (Kafka's `delete.retention.ms`).
pub const DEFAULT_TOMBSTONE_RETENTION_MS: u64 = 86_400_000;

/// The config as it arrives, before `TopicConfig::new` checks it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopicConfig {
    #[serde(default)]
    cleanup: Cleanup,
    #[serde(default)]
    retention_ms: Option<u64>,
    #[serde(default)]
    retention_bytes: Option<u64>,
    #[serde(default)]
    tombstone_retention_ms: Option<u64>,
}

/// Why a topic config is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicConfigError {
    #[error("retention_ms and retention_bytes apply only with cleanup \"delete\"")]
    RetentionWithoutDelete,
    #[error("cleanup \"delete\" needs retention_ms or retention_bytes")]
    DeleteWithoutRetention,
    #[error("tombstone_retention_ms applies only with cleanup \"compact\"")]
    TombstoneRetentionWithoutCompact,
    #[error("{field} must be at least 1")]
    Zero { field: &'static str },
}

impl TopicConfig {
    pub fn new(
        cleanup: Cleanup,
        retention_ms: Option<u64>,
        retention_bytes: Option<u64>,
    ) -> Result<Self, TopicConfigError> {
        for (field, value) in [
            ("retention_ms", retention_ms),
            ("retention_bytes", retention_bytes),
        ] {
            if value == Some(0) {
                return Err(TopicConfigError::Zero { field });
            }
        }
        let has_retention = retention_ms.is_some() || retention_bytes.is_some();
        match cleanup {
            Cleanup::Delete if !has_retention => Err(TopicConfigError::DeleteWithoutRetention),
            Cleanup::None | Cleanup::Compact if has_retention => {
                Err(TopicConfigError::RetentionWithoutDelete)
            }
            _ => Ok(TopicConfig {
                cleanup,
                retention_ms,
                retention_bytes,
                tombstone_retention_ms: None,
            }),
        }
    }

    /// This config with tombstones kept `ms` after their timestamp (only
    /// for `compact`; 0 removes them on the next pass).
    pub fn with_tombstone_retention_ms(self, ms: u64) -> Result<Self, TopicConfigError> {
        if self.cleanup != Cleanup::Compact {
            return Err(TopicConfigError::TombstoneRetentionWithoutCompact);
        }
        Ok(TopicConfig {
            tombstone_retention_ms: Some(ms),
            ..self
        })
    }

    /// How long a tombstone stays after its timestamp (`compact` topics).
    pub fn tombstone_retention_ms(&self) -> u64 {
        self.tombstone_retention_ms
            .unwrap_or(DEFAULT_TOMBSTONE_RETENTION_MS)
    }

    pub fn cleanup(&self) -> Cleanup {
        self.cleanup
    }

    pub fn retention_ms(&self) -> Option<u64> {
        self.retention_ms
    }

    pub fn retention_bytes(&self) -> Option<u64> {
        self.retention_bytes
    }
}

impl TryFrom<RawTopicConfig> for TopicConfig {
    type Error = TopicConfigError;
    fn try_from(raw: RawTopicConfig) -> Result<Self, Self::Error> {
        let config = TopicConfig::new(raw.cleanup, raw.retention_ms, raw.retention_bytes)?;
        match raw.tombstone_retention_ms {
            Some(ms) => config.with_tombstone_retention_ms(ms),
            None => Ok(config),
        }
    }
}

impl fmt::Display for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cleanup::None => "none",
            Cleanup::Compact => "compact",
            Cleanup::Delete => "delete",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TopicConfig, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_config_is_the_default_that_keeps_everything() {
        assert_eq!(parse("{}"), Ok(TopicConfig::default()));
        assert_eq!(TopicConfig::default().cleanup(), Cleanup::None);
        assert_eq!(
            serde_json::to_string(&TopicConfig::default()).unwrap(),
            r#"{"cleanup":"none"}"#
        );
    }

    #[test]
    fn valid_configs_round_trip() {
        for text in [
            r#"{"cleanup":"compact"}"#,
            r#"{"cleanup":"delete","retention_ms":60000}"#,
            r#"{"cleanup":"delete","retention_bytes":1048576}"#,
            r#"{"cleanup":"delete","retention_ms":1,"retention_bytes":2}"#,
            r#"{"cleanup":"compact","tombstone_retention_ms":0}"#,
        ] {
            let config = parse(text).unwrap();
            assert_eq!(serde_json::to_string(&config).unwrap(), text);
        }
    }

    #[test]
    fn invalid_configs_are_refused_with_the_reason() {
        for (text, reason) in [
            (
                r#"{"cleanup":"none","retention_ms":5}"#,
                "only with cleanup",
            ),
            (
                r#"{"cleanup":"compact","retention_bytes":5}"#,
                "only with cleanup",
            ),
            (r#"{"cleanup":"delete"}"#, "needs retention_ms"),
            (r#"{"cleanup":"delete","retention_ms":0}"#, "at least 1"),
            (r#"{"cleanup":"shred"}"#, "unknown variant"),
            (r#"{"cleanup":"delete","retention_ms":-1}"#, "invalid value"),
            (r#"{"retention":5}"#, "unknown field"),
            (
                r#"{"cleanup":"delete","retention_ms":5,"tombstone_retention_ms":5}"#,
                "only with cleanup \"compact\"",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
