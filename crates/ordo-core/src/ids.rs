//! Numeric identities with meaning: a topic `Offset`, a Raft `LogIndex`, a
//! Raft `Term`, a `NodeId`.
//!
//! They are distinct types so an offset can never be passed where a log index
//! (or a log index where a term) is expected; all serialize as plain JSON
//! numbers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Raft node's identity within the cluster.
pub type NodeId = u64;

/// The position of a record within its topic. Offsets start at 0, are
/// contiguous and are never reused.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Offset(pub u64);

/// The position of an entry in the Raft log (1-based; openraft's index).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct LogIndex(pub u64);

/// A Raft term: the number of the election a leader won (openraft's term).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Term(pub u64);

impl Offset {
    /// The offset after this one.
    pub fn next(self) -> Offset {
        Offset(self.0 + 1)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
