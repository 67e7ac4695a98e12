//! The segment-file storage engine's building blocks (issue 13), not yet
//! wired into the store: append-only segment files that will hold the Raft
//! log and each topic's records, as Kafka's, Redpanda's and NATS
//! JetStream's filestore do.
//!
//! Map of the module:
//! - `files`: the file-medium seam, [`Files`] over real files or a
//!   [`crate::MemDisk`]'s, and its durability contract; `mem_files`: the
//!   simulated file system, with the crash model of a real disk.
//! - `frame`: the checksummed frame every segment file is made of, and the
//!   scanner that tells a torn write from corruption.

mod files;
mod frame;
mod mem_files;

pub(crate) use files::Files;
pub(crate) use mem_files::MemFileSystem;
