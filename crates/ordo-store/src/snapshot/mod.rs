//! Snapshots: building one from the state machine, installing one in its
//! place, and keeping the current one on disk so it survives a restart.
//!
//! A snapshot is the whole state machine: last applied log id, membership,
//! every topic with its metadata, key index and records, the producer table
//! and the consumer positions: everything a node needs to decide the next
//! command exactly as the node that built it would.
//! (openraft 0.10 dropped `snapshot_id` from `SnapshotMeta`: two snapshots at
//! the same last log id hold the same state, so none is kept here.)
//!
//! Map of the module:
//! - `format`: the snapshot stream's frames, written and read back, and
//!   what can be read of a snapshot without installing it (its metadata; a
//!   copy with another membership).
//! - `dump`: the published state machine written as a stream.
//! - `import`: a stream's key index and records read back, checked, into a
//!   batch.
//! - `lifecycle`: building the current snapshot for openraft, installing
//!   one, and keeping track of which one is current.

mod dump;
mod format;
mod import;
mod lifecycle;

pub(crate) use dump::dump;
pub(crate) use format::{copy_with_membership, read_meta};
pub(crate) use lifecycle::{current, install, remove_stale};
