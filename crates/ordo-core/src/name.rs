//! The one naming rule topics and consumer groups share, so a name is also a
//! safe file name, URL path segment, metric label and store key (no `0x00`).

use std::fmt;

use crate::limits::{MAX_GROUP_NAME_BYTES, MAX_TOPIC_NAME_BYTES};

/// What kind of name was refused, for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Topic,
    Group,
}

impl NameKind {
    /// The longest name of this kind, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            NameKind::Topic => MAX_TOPIC_NAME_BYTES,
            NameKind::Group => MAX_GROUP_NAME_BYTES,
        }
    }
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Topic => "topic",
            NameKind::Group => "group",
        })
    }
}

/// Why a string is not a valid topic or group name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{kind} name is empty")]
    Empty { kind: NameKind },
    #[error("{kind} name is {len} characters long; the limit is {max}", max = .kind.max_bytes())]
    TooLong { kind: NameKind, len: usize },
    #[error("{kind} name contains {found:?}; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed")]
    InvalidChar { kind: NameKind, found: char },
    #[error("{kind} name may not be '.' or '..'")]
    Reserved { kind: NameKind },
}

/// Checks `name` against the rule: 1 to `kind.max_bytes()` characters of
/// `[A-Za-z0-9._-]`, and neither `.` nor `..` (Kafka's rule for topic names).
pub(crate) fn check(kind: NameKind, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::InvalidChar { kind, found });
    }
    // All characters are ASCII from here, so bytes == characters.
    if name.len() > kind.max_bytes() {
        return Err(NameError::TooLong {
            kind,
            len: name.len(),
        });
    }
    if name == "." || name == ".." {
        return Err(NameError::Reserved { kind });
    }
    Ok(())
}
