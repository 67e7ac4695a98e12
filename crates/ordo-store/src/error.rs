//! `StoreError`: everything that can go wrong below the state machine and
//! the log, and its mapping to the `io::Error` openraft's storage traits use.

use std::io;
use std::path::PathBuf;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {}: {source}", path.display())]
    Open { path: PathBuf, source: sled::Error },

    #[error("storage I/O failed: {0}")]
    Sled(#[from] sled::Error),

    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        source: serde_json::Error,
    },

    /// Bytes on disk (or in a received snapshot) that do not decode: the data
    /// is corrupt or was written by an incompatible version.
    #[error("corrupt {what}: {source}")]
    Decode {
        what: &'static str,
        source: serde_json::Error,
    },

    /// A key that does not have the layout `keys` gives its tree.
    #[error("corrupt key in {tree}: {detail}")]
    BadKey { tree: &'static str, detail: String },

    /// The log is missing an entry between two it holds.
    #[error("the Raft log has a hole: expected index {expected}, found {found}")]
    LogHole { expected: u64, found: u64 },

    /// A snapshot file could not be written, read or moved.
    #[error("cannot {what}: {source}")]
    Io {
        what: &'static str,
        source: io::Error,
    },

    /// Work sent to the blocking pool panicked or was cancelled.
    #[error("blocking store task failed: {0}")]
    Blocking(String),

    /// A restore into a store that already holds a node's state.
    #[error("the store is not empty: {0}")]
    NotEmpty(String),

    /// A snapshot whose contents contradict its metadata.
    #[error("inconsistent snapshot: {0}")]
    BadSnapshot(String),

    /// The store's [`crate::MemDisk`] crashed, or a newer store was opened on
    /// it, after this store was opened: it belongs to a dead incarnation of
    /// the node and may neither read nor write the disk any more.
    #[error("this store's disk crashed or was reopened since: the store is fenced off")]
    Fenced,

    /// A file operation of the segment engine failed.
    #[error("cannot {op} {}: {source}", path.display())]
    File {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// An earlier writer panicked mid-update; the in-memory state can no
    /// longer be trusted to match the disk, so the node must restart.
    #[error("state machine is unusable after a panic in an earlier write")]
    Poisoned,
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

impl From<StoreError> for io::Error {
    fn from(e: StoreError) -> io::Error {
        let kind = match &e {
            StoreError::Decode { .. }
            | StoreError::BadKey { .. }
            | StoreError::LogHole { .. }
            | StoreError::BadSnapshot(_) => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}
