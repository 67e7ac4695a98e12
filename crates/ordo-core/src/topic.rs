//! `TopicName`: validated on construction, so nothing inside ordo ever holds an
//! invalid name.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::limits::MAX_TOPIC_NAME_BYTES;

/// A topic's name: 1 to 249 characters of `[A-Za-z0-9._-]` (Kafka's rule, so
/// a name is also a safe file, URL path segment and metric label).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicName(String);

/// Why a string is not a valid topic name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    #[error("topic name is empty")]
    Empty,
    #[error("topic name is {len} characters long; the limit is {MAX_TOPIC_NAME_BYTES}")]
    TooLong { len: usize },
    #[error("topic name contains {found:?}; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed")]
    InvalidChar { found: char },
    #[error("topic name may not be '.' or '..'")]
    Reserved,
}

impl TopicName {
    pub fn new(name: impl Into<String>) -> Result<Self, TopicNameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(TopicNameError::Empty);
        }
        if let Some(found) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(TopicNameError::InvalidChar { found });
        }
        // All characters are ASCII from here, so bytes == characters.
        if name.len() > MAX_TOPIC_NAME_BYTES {
            return Err(TopicNameError::TooLong { len: name.len() });
        }
        if name == "." || name == ".." {
            return Err(TopicNameError::Reserved);
        }
        Ok(TopicName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TopicName {
    type Err = TopicNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TopicName::new(s)
    }
}

impl TryFrom<String> for TopicName {
    type Error = TopicNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TopicName::new(s)
    }
}

impl From<TopicName> for String {
    fn from(t: TopicName) -> String {
        t.0
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        for ok in ["a", "orders", "user.events-v2_1", "A.B", &"x".repeat(249)] {
            assert!(TopicName::new(ok).is_ok(), "{ok:?} should be valid");
        }
    }

    #[test]
    fn rejects_empty_long_reserved_and_foreign_characters() {
        assert_eq!(TopicName::new(""), Err(TopicNameError::Empty));
        assert_eq!(
            TopicName::new("x".repeat(250)),
            Err(TopicNameError::TooLong { len: 250 })
        );
        assert_eq!(TopicName::new(".."), Err(TopicNameError::Reserved));
        assert_eq!(
            TopicName::new("a/b"),
            Err(TopicNameError::InvalidChar { found: '/' })
        );
        assert_eq!(
            TopicName::new("é"),
            Err(TopicNameError::InvalidChar { found: 'é' })
        );
        assert!(TopicName::new("a b").is_err());
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<TopicName>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<TopicName>("\"not ok\"").is_err());
    }
}
