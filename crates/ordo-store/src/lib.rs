//! ordo-store: durable storage on sled for openraft: the Raft log (entries,
//! vote, committed and purged log ids), the state machine (records by topic
//! and offset, topic metadata, last applied log id, membership) and the
//! current snapshot.
//!
//! Map of the crate:
//! - [`open`] (here): one `sled::Db` per node directory, split into the two
//!   handles openraft wants.
//! - `type_config`: the bounds on the Raft type configuration ([`StoreTypeConfig`]).
//! - `keys`: tree names and every key layout; `codec`: every value encoding.
//! - `log_store`: [`LogStore`], openraft's `RaftLogStorage` and `RaftLogReader`.
//! - `state_machine`: [`StateMachineStore`], openraft's `RaftStateMachine`;
//!   `read`: its read API for the HTTP layer ([`TopicPage`]);
//!   `snapshot`: building, installing and keeping the current snapshot.
//! - `error`: [`StoreError`].
//!
//! This crate is the only place that touches sled. It decides nothing about
//! offsets: `ordo_core::apply` does, and this crate persists what it decided.

mod codec;
mod error;
mod keys;
mod log_store;
mod read;
mod snapshot;
mod state_machine;
mod type_config;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::StoreError;
pub use log_store::LogStore;
pub use read::TopicPage;
pub use state_machine::StateMachineStore;
pub use type_config::{OrdoPayload, StoreTypeConfig};

/// sled's page cache limit. sled's default (1 GiB) is far more than a node
/// should pin in memory per process; records are read back from disk.
pub const CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// Opens (or creates) the node's store in `dir` and returns its log and its
/// state machine. Both share one `sled::Db`, so flushing the log also makes
/// every state machine write made before it durable.
///
/// sled locks the directory: a second `open` of the same `dir` fails while
/// any handle from the first is alive.
pub fn open<C: StoreTypeConfig>(
    dir: &Path,
) -> Result<(LogStore<C>, StateMachineStore<C>), StoreError> {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(CACHE_CAPACITY_BYTES)
        .open()
        .map_err(|source| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
    let log = LogStore::open(&db)?;
    let state_machine = StateMachineStore::open(&db)?;
    Ok((log, state_machine))
}
