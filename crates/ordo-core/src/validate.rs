//! Checks at the edge: what a command must satisfy before it is proposed.
//! The HTTP layer calls these, so a request that could never be applied as
//! meant is a 400 (or 413), not a log entry. `apply` does not rely on them:
//! it is total, and decides anything that gets past them the same way on
//! every replica.

use crate::command::Command;
use crate::condition::{single_key, Condition};
use crate::limits::MAX_RECORDS_PER_APPEND;
use crate::record::{NewRecord, RecordError};

/// Why an append was refused before it reached the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("an append needs at least one record")]
    NoRecords,
    #[error("{count} records in one append; the limit is {MAX_RECORDS_PER_APPEND}")]
    TooManyRecords { count: usize },
    #[error("record {index}: {source}")]
    Record { index: usize, source: RecordError },
    /// A key condition names one key, so every record must carry it.
    #[error("condition {condition} needs every record to carry the same key")]
    NoSingleKey { condition: Condition },
}

/// Checks an append's records and condition: 1 to
/// [`MAX_RECORDS_PER_APPEND`] records, each within the per-record limits,
/// and one key shared by every record if the condition is about a key.
pub fn validate_append(
    records: &[NewRecord],
    condition: Option<Condition>,
) -> Result<(), AppendError> {
    if records.is_empty() {
        return Err(AppendError::NoRecords);
    }
    if records.len() > MAX_RECORDS_PER_APPEND {
        return Err(AppendError::TooManyRecords {
            count: records.len(),
        });
    }
    for (index, record) in records.iter().enumerate() {
        record
            .validate()
            .map_err(|source| AppendError::Record { index, source })?;
    }
    if let Some(condition) = condition {
        if condition.is_about_key() && single_key(records).is_none() {
            return Err(AppendError::NoSingleKey { condition });
        }
    }
    Ok(())
}

impl Command {
    /// The edge checks for this command ([`validate_append`] for an append;
    /// a position commit's, topic or queue command's parts are valid by
    /// construction, or checked at the HTTP edge).
    pub fn validate(&self) -> Result<(), AppendError> {
        match self {
            Command::Append {
                records, condition, ..
            } => validate_append(records, *condition),
            Command::CommitOffset { .. }
            | Command::PutTopic { .. }
            | Command::DeleteTopic { .. }
            | Command::CleanTopic { .. }
            | Command::Queue(_)
            | Command::NewProducerId => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Offset;
    use serde_json::json;

    fn record(key: Option<&str>) -> NewRecord {
        NewRecord {
            key: key.map(str::to_owned),
            value: json!(1).into(),
            headers: Default::default(),
        }
    }

    #[test]
    fn an_append_needs_records_within_the_limits() {
        assert_eq!(validate_append(&[], None), Err(AppendError::NoRecords));
        let too_many = vec![record(None); MAX_RECORDS_PER_APPEND + 1];
        assert_eq!(
            validate_append(&too_many, None),
            Err(AppendError::TooManyRecords {
                count: MAX_RECORDS_PER_APPEND + 1
            })
        );
        let long_key = "k".repeat(crate::limits::MAX_KEY_BYTES + 1);
        assert!(matches!(
            validate_append(&[record(None), record(Some(&long_key))], None),
            Err(AppendError::Record { index: 1, .. })
        ));
        assert_eq!(
            validate_append(&[record(None), record(Some("a"))], None),
            Ok(())
        );
    }

    #[test]
    fn header_names_values_and_their_total_are_bounded() {
        use crate::limits::{
            MAX_HEADER_BYTES_PER_RECORD, MAX_HEADER_NAME_BYTES, MAX_HEADER_VALUE_BYTES,
        };
        use crate::record::RecordError;
        let with_headers = |headers: Vec<(String, String)>| NewRecord {
            headers: headers.into_iter().collect(),
            ..record(None)
        };
        let check = |r: NewRecord| validate_append(&[r], None);
        let at_limits = with_headers(vec![(
            "n".repeat(MAX_HEADER_NAME_BYTES),
            "v".repeat(MAX_HEADER_VALUE_BYTES),
        )]);
        assert_eq!(check(at_limits), Ok(()));
        let long_name = with_headers(vec![("n".repeat(MAX_HEADER_NAME_BYTES + 1), "v".into())]);
        assert!(matches!(
            check(long_name),
            Err(AppendError::Record {
                source: RecordError::HeaderNameTooLong { .. },
                ..
            })
        ));
        let long_value = with_headers(vec![("n".into(), "v".repeat(MAX_HEADER_VALUE_BYTES + 1))]);
        assert!(matches!(
            check(long_value),
            Err(AppendError::Record {
                source: RecordError::HeaderValueTooLong { .. },
                ..
            })
        ));
        // Each within its own limit, too many bytes together.
        let count = MAX_HEADER_BYTES_PER_RECORD / MAX_HEADER_VALUE_BYTES + 1;
        let too_large = with_headers(
            (0..count)
                .map(|i| (format!("h{i}"), "v".repeat(MAX_HEADER_VALUE_BYTES)))
                .collect(),
        );
        assert!(matches!(
            check(too_large),
            Err(AppendError::Record {
                source: RecordError::HeadersTooLarge { .. },
                ..
            })
        ));
    }

    #[test]
    fn a_key_condition_needs_one_key_on_every_record() {
        for condition in [Condition::KeyAbsent, Condition::KeyLastOffset(Offset(0))] {
            for records in [
                vec![record(None)],
                vec![record(Some("a")), record(None)],
                vec![record(Some("a")), record(Some("b"))],
            ] {
                assert_eq!(
                    validate_append(&records, Some(condition)),
                    Err(AppendError::NoSingleKey { condition })
                );
            }
            let same_key = [record(Some("a")), record(Some("a"))];
            assert_eq!(validate_append(&same_key, Some(condition)), Ok(()));
        }
        let mixed = [record(Some("a")), record(None)];
        assert_eq!(
            validate_append(&mixed, Some(Condition::ExpectedOffset(Offset(3)))),
            Ok(())
        );
    }
}
