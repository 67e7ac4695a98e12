//! Consumer positions: each consumer group's next offset to read in each
//! topic, replicated like everything else, so a group resumes where it left
//! off whichever node it asks.
//!
//! Pure: [`GroupName`] and the commit rule [`check_commit`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::ids::Offset;
use crate::name::{self, NameError, NameKind};
use crate::rejection::Rejection;
use crate::topic::TopicName;
use crate::topic_state::TopicState;

/// A consumer group's name: the topic naming rule (1 to 249 characters of
/// `[A-Za-z0-9._-]`, not `.` or `..`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupName(String);

impl GroupName {
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        name::check(NameKind::Group, &name)?;
        Ok(GroupName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GroupName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupName::new(s)
    }
}

impl TryFrom<String> for GroupName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        GroupName::new(s)
    }
}

impl From<GroupName> for String {
    fn from(g: GroupName) -> String {
        g.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every group's position in every topic it committed one for.
pub type Positions = BTreeMap<GroupName, BTreeMap<TopicName, Offset>>;

/// The commit rule. The topic must exist (a position in a topic that does
/// not exist would point at nothing), the position may not pass the topic's
/// end (it names the next record to read, which is at most the next one to
/// be appended), and a compare-and-set must find what it expects. A position
/// may move backwards (a group rewinds to re-read) and may lie below the
/// topic's start (reading from it then reports the start).
pub(crate) fn check_commit(
    topic_state: Option<&TopicState>,
    current: Option<Offset>,
    topic: &TopicName,
    offset: Offset,
    expected: Option<Option<Offset>>,
) -> Result<(), Rejection> {
    let Some(topic_state) = topic_state else {
        return Err(Rejection::TopicNotFound {
            topic: topic.clone(),
        });
    };
    if offset > topic_state.end_offset {
        return Err(Rejection::OffsetBeyondEnd {
            end_offset: topic_state.end_offset,
        });
    }
    match expected {
        Some(expected) if expected != current => Err(Rejection::PositionConflict { current }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{append_n, commit, group, rejected, topic, Log};
    use crate::{CommandResult, LogIndex};

    fn committed(log_index: u64) -> CommandResult {
        CommandResult::OffsetCommitted {
            log_index: LogIndex(log_index),
        }
    }

    #[test]
    fn a_committed_position_is_kept_per_group_and_topic() {
        let mut log = Log::default();
        log.apply(append_n("t", 5));
        log.apply(append_n("u", 5));
        assert_eq!(log.apply(commit("g", "t", 3, None)), committed(3));
        assert_eq!(log.apply(commit("g", "u", 1, None)), committed(4));
        assert_eq!(log.apply(commit("h", "t", 5, None)), committed(5));
        assert_eq!(
            log.state.position(&group("g"), &topic("t")),
            Some(Offset(3))
        );
        assert_eq!(
            log.state.position(&group("g"), &topic("u")),
            Some(Offset(1))
        );
        assert_eq!(
            log.state.position(&group("h"), &topic("t")),
            Some(Offset(5))
        );
        assert_eq!(log.state.position(&group("h"), &topic("u")), None);
        // A group may rewind to re-read.
        assert_eq!(log.apply(commit("g", "t", 0, None)), committed(6));
        assert_eq!(
            log.state.position(&group("g"), &topic("t")),
            Some(Offset(0))
        );
    }

    #[test]
    fn a_position_in_a_topic_that_does_not_exist_is_rejected() {
        let mut log = Log::default();
        assert_eq!(
            log.apply(commit("g", "nope", 0, None)),
            rejected(
                1,
                Rejection::TopicNotFound {
                    topic: topic("nope")
                }
            )
        );
        assert!(log.state.positions.is_empty());
    }

    #[test]
    fn a_position_may_reach_the_topics_end_but_not_pass_it() {
        let mut log = Log::default();
        log.apply(append_n("t", 2));
        assert_eq!(log.apply(commit("g", "t", 2, None)), committed(2));
        assert_eq!(
            log.apply(commit("g", "t", 3, None)),
            rejected(
                3,
                Rejection::OffsetBeyondEnd {
                    end_offset: Offset(2)
                }
            )
        );
        assert_eq!(
            log.state.position(&group("g"), &topic("t")),
            Some(Offset(2))
        );
    }

    #[test]
    fn a_compare_and_set_commits_only_over_the_expected_position() {
        let mut log = Log::default();
        log.apply(append_n("t", 10));
        // "No position yet" holds once.
        assert_eq!(log.apply(commit("g", "t", 4, Some(None))), committed(2));
        assert_eq!(
            log.apply(commit("g", "t", 6, Some(None))),
            rejected(
                3,
                Rejection::PositionConflict {
                    current: Some(Offset(4))
                }
            )
        );
        assert_eq!(
            log.apply(commit("g", "t", 6, Some(Some(Offset(3))))),
            rejected(
                4,
                Rejection::PositionConflict {
                    current: Some(Offset(4))
                }
            )
        );
        assert_eq!(
            log.apply(commit("g", "t", 6, Some(Some(Offset(4))))),
            committed(5)
        );
        assert_eq!(
            log.apply(commit("h", "t", 1, Some(Some(Offset(0))))),
            rejected(6, Rejection::PositionConflict { current: None })
        );
        assert_eq!(
            log.state.position(&group("g"), &topic("t")),
            Some(Offset(6))
        );
        assert_eq!(log.state.position(&group("h"), &topic("t")), None);
    }

    #[test]
    fn group_names_follow_the_topic_rule_and_say_group() {
        assert!(GroupName::new("billing.v2_1-a").is_ok());
        let err = GroupName::new("a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "group name contains '/'; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed"
        );
        assert!(GroupName::new("").is_err());
        assert!(GroupName::new("x".repeat(250)).is_err());
        assert!(serde_json::from_str::<GroupName>("\"..\"").is_err());
    }
}
