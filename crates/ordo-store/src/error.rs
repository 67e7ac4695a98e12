//! `StoreError`: everything that can go wrong below the state machine and
//! the log, and its mapping to the `io::Error` openraft's storage traits use;
//! `KvError`: a failure of the key-value medium, in the store's own form.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {}: {source}", path.display())]
    Open { path: PathBuf, source: KvError },

    #[error("storage I/O failed: {0}")]
    Kv(#[from] KvError),

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

    /// A Raft log entry whose stored form does not decode.
    #[error("corrupt Raft log entry at index {index}: {detail}")]
    BadLogEntry { index: u64, detail: String },

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

    /// A flush of the Raft log failed earlier: the log may have lost writes
    /// it had accepted, so it refuses every write until the node restarts.
    #[error("the Raft log failed to flush and refuses writes until the node restarts: {0}")]
    Failed(String),

    /// The Raft log's flusher has stopped (the store is being dropped).
    #[error("the Raft log's flusher has stopped")]
    Stopped,

    /// A file operation of the segment engine failed.
    #[error("cannot {op} {}: {source}", path.display())]
    File {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// A segment or index file holds what the segment engine never wrote: a
    /// frame that fails its checksum with more data after it (so not a torn
    /// write), an item out of order, or an index entry that points at the
    /// wrong item. The log refuses to serve it rather than guess.
    #[error("corrupt segment file {} at byte {at}: {detail}", path.display())]
    CorruptSegment {
        path: PathBuf,
        at: u64,
        detail: String,
    },

    /// Two neighbouring segments of a log whose sequence numbers do not join
    /// up: items are missing between them.
    #[error("segment {} should start at seq {expected} but starts at {found}", path.display())]
    SegmentGap {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    /// An append whose sequence number is not the log's next one.
    #[error("cannot append seq {found} to the segment log in {}: the next seq is {expected}", dir.display())]
    OutOfSequence {
        dir: PathBuf,
        expected: u64,
        found: u64,
    },

    /// A read or truncation below the first item the log still holds.
    #[error("seq {seq} was purged from the segment log in {}, which starts at {first}", dir.display())]
    Purged { dir: PathBuf, seq: u64, first: u64 },

    /// An item too large for one frame of a segment log.
    #[error("an item of {bytes} bytes is over the limit of {max} for the segment log in {}", dir.display())]
    ItemTooLarge {
        dir: PathBuf,
        bytes: usize,
        max: usize,
    },

    /// A compaction's replacement for a segment that breaks its rules.
    #[error("cannot replace segment {base_seq} of the segment log in {}: {detail}", dir.display())]
    BadReplacement {
        dir: PathBuf,
        base_seq: u64,
        detail: String,
    },

    /// A write or sync of the segment log failed earlier, so what is on disk
    /// is unknown (a failed fsync may have dropped dirty pages that a retry
    /// would not write again): the log must be reopened, which recovers.
    #[error("the segment log in {} failed an earlier write and must be reopened", dir.display())]
    SegmentLogFailed { dir: PathBuf },

    /// A directory among the topics' record logs that is not named
    /// `<topic>@<generation>`: something else wrote there.
    #[error("unexpected directory {} among the topics' record logs (want <topic>@<generation>)", path.display())]
    StrayRecordDir { path: PathBuf },

    /// A value of the segment record log's bookkeeping in the state machine
    /// tree (where a topic's records start, which files hold them) that
    /// does not decode.
    #[error("corrupt record log bookkeeping for topic {topic}: {detail}")]
    BadRecordLogEntry { topic: String, detail: String },

    /// A record's bytes in a topic's files (or a snapshot) that do not
    /// decode.
    #[error("corrupt record: {0}")]
    BadRecord(String),

    /// An earlier writer panicked mid-update; the in-memory state can no
    /// longer be trusted to match the disk, so the node must restart.
    #[error("state machine is unusable after a panic in an earlier write")]
    Poisoned,
}

/// A failure of the key-value medium (sled, or the simulated disk's
/// trees), held in the store's own form so that no sled type leaves `kv`:
/// an I/O error the medium met, or the medium's own message. It displays as
/// sled displays its errors.
#[derive(Debug)]
pub struct KvError(KvFailure);

#[derive(Debug)]
enum KvFailure {
    Io(io::Error),
    Other(String),
}

impl KvError {
    /// The medium failed an I/O operation.
    pub(crate) fn io(error: io::Error) -> KvError {
        KvError(KvFailure::Io(error))
    }

    /// The medium failed otherwise; `message` says how.
    pub(crate) fn other(message: String) -> KvError {
        KvError(KvFailure::Other(message))
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            // sled's wording for its `Error::Io`.
            KvFailure::Io(error) => write!(f, "IO error: {error}"),
            KvFailure::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for KvError {}

impl From<StoreError> for io::Error {
    fn from(e: StoreError) -> io::Error {
        let kind = match &e {
            StoreError::Decode { .. }
            | StoreError::BadKey { .. }
            | StoreError::LogHole { .. }
            | StoreError::BadLogEntry { .. }
            | StoreError::BadSnapshot(_)
            | StoreError::CorruptSegment { .. }
            | StoreError::SegmentGap { .. }
            | StoreError::BadRecordLogEntry { .. }
            | StoreError::BadRecord(_) => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}
