//! The segment-file storage engine: append-only segment files that hold
//! the Raft log (`raft_log_segments`) and each topic's records
//! (`record_log::segments`), as
//! Kafka's, Redpanda's and NATS JetStream's filestore do.
//!
//! Map of the module:
//! - `files`: the file-medium seam, [`Files`] over real files or a
//!   [`crate::MemDisk`]'s, and its durability contract; `file`: one open
//!   [`File`] (with direct, synchronous writes); `mem_files`: the
//!   simulated file system, with the crash model of a real disk.
//! - `frame`: the checksummed frame every segment file is made of, and the
//!   scanner that tells a torn write from corruption.
//! - `item`: what a frame of a segment log carries (seq, timestamp, payload).
//! - `index`: a segment's sparse offset and time indexes.
//! - `segment_file`: one segment's files and reading its items back.
//! - `log`: [`SegmentLog`], a directory of segments: append, sync, read,
//!   truncate, purge, replace; `recovery`: opening one after a crash.
//! - `stream`: a segment file's items read from a stream (a snapshot's).

mod file;
mod files;
mod frame;
mod index;
mod item;
mod log;
mod mem_files;
mod recovery;
mod segment_file;
mod stream;

pub(crate) use file::File;
pub(crate) use files::Files;
#[cfg(test)]
pub(crate) use item::Item;
pub(crate) use item::ItemRef;
pub(crate) use log::{SegmentLog, SegmentOptions};
pub(crate) use mem_files::MemFileSystem;
#[cfg(test)]
pub(crate) use recovery::{Recovery, RecoveryAction};
pub(crate) use stream::read_items;
