//! `TopicName`: validated on construction, so nothing inside ordo ever holds an
//! invalid name.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::name::{self, NameError, NameKind};

/// Why a string is not a valid topic name (the shared naming rule's error).
pub type TopicNameError = NameError;

/// A topic's name: 1 to 249 characters of `[A-Za-z0-9._-]` (Kafka's rule, so
/// a name is also a safe file, URL path segment and metric label).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicName(String);

impl TopicName {
    pub fn new(name: impl Into<String>) -> Result<Self, TopicNameError> {
        let name = name.into();
        name::check(NameKind::Topic, &name)?;
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

    const KIND: NameKind = NameKind::Topic;

    #[test]
    fn accepts_the_allowed_alphabet() {
        for ok in ["a", "orders", "user.events-v2_1", "A.B", &"x".repeat(249)] {
            assert!(TopicName::new(ok).is_ok(), "{ok:?} should be valid");
        }
    }

    #[test]
    fn rejects_empty_long_reserved_and_foreign_characters() {
        assert_eq!(TopicName::new(""), Err(NameError::Empty { kind: KIND }));
        assert_eq!(
            TopicName::new("x".repeat(250)),
            Err(NameError::TooLong {
                kind: KIND,
                len: 250
            })
        );
        assert_eq!(
            TopicName::new(".."),
            Err(NameError::Reserved { kind: KIND })
        );
        assert_eq!(
            TopicName::new("a/b"),
            Err(NameError::InvalidChar {
                kind: KIND,
                found: '/'
            })
        );
        assert_eq!(
            TopicName::new("é"),
            Err(NameError::InvalidChar {
                kind: KIND,
                found: 'é'
            })
        );
        assert!(TopicName::new("a b").is_err());
    }

    #[test]
    fn errors_name_the_topic_and_the_limit() {
        let too_long = TopicName::new("x".repeat(250)).unwrap_err().to_string();
        assert_eq!(
            too_long,
            "topic name is 250 characters long; the limit is 249"
        );
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<TopicName>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<TopicName>("\"not ok\"").is_err());
    }
}
