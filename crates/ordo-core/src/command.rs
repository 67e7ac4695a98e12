//! `Command`: what travels in the Raft log; `CommandResult`: what applying it
//! answers. Both must be deterministic data: every replica applies the same
//! commands to the same state and gets the same results.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ids::{LogIndex, Offset};
use crate::record::NewRecord;
use crate::topic::TopicName;

/// A change to the replicated state. The leader stamps the time, so replicas
/// never consult their own clocks while applying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Append `records` to `topic`, atomically and contiguously, in order.
    Append {
        topic: TopicName,
        records: Vec<NewRecord>,
        timestamp_ms: u64,
    },
}

/// The outcome of applying one `Command` at one log index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// The records were appended at offsets `first_offset ..= first_offset + count - 1`.
    Appended {
        first_offset: Offset,
        count: u64,
        log_index: LogIndex,
    },
    /// Applied something that carries no result (membership, blank entries).
    Noop { log_index: LogIndex },
}

impl CommandResult {
    pub fn log_index(&self) -> LogIndex {
        match self {
            CommandResult::Appended { log_index, .. } | CommandResult::Noop { log_index } => {
                *log_index
            }
        }
    }

    /// The offsets an `Appended` result assigned, in order.
    pub fn offsets(&self) -> Vec<Offset> {
        match self {
            CommandResult::Appended {
                first_offset,
                count,
                ..
            } => (first_offset.0..first_offset.0 + count)
                .map(Offset)
                .collect(),
            CommandResult::Noop { .. } => Vec::new(),
        }
    }
}

// openraft logs entries with `Display`; keep it short (no record payloads).
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Append { topic, records, .. } => {
                write!(f, "append({topic}, {} records)", records.len())
            }
        }
    }
}

impl fmt::Display for CommandResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandResult::Appended {
                first_offset,
                count,
                log_index,
            } => write!(f, "appended {count} at {first_offset} (log {log_index})"),
            CommandResult::Noop { log_index } => write!(f, "noop (log {log_index})"),
        }
    }
}
