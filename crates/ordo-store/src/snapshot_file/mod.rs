//! Where a snapshot's bytes live, and the handle openraft passes around for
//! them ([`SnapshotData`]).
//!
//! On sled, a snapshot is a directory in the store's snapshot directory
//! (`<store dir>/ordo-snapshots`, beside sled's own files) whose files,
//! read in order, are the snapshot's bytes: `data`, written as a stream
//! while the snapshot is built or received (never held in memory whole),
//! and the files [`SnapshotWriter::append_file`] added: hard links to
//! segment files whose first bytes never change (sealed segments, and a
//! newest segment's items so far), so a snapshot copies none of the
//! records they hold. `parts` says where in `data`'s stream how many of
//! each linked file's bytes belong. Read back in chunks to be sent, those bytes are one
//! stream, the same a snapshot file of an earlier ordo (a plain file, still
//! opened) or a backup holds. The snapshot tree names the current one. On a
//! [`crate::MemDisk`] (the simulation), there are no files: the bytes (the
//! appended files' too) are kept in memory and stored in the snapshot tree
//! itself, so they crash and recover with the rest of the disk.
//!
//! Names: `building-N.tmp` while a snapshot is being built,
//! `incoming-N.tmp` while one is being received, `snap-INDEX-N` once it is
//! complete and durable. Only the one the snapshot tree names is kept;
//! [`SnapshotHome::remove_stale`] deletes the others once the tree no
//! longer names them durably, and opening the store deletes leftovers.
//!
//! Here: the snapshot directory ([`SnapshotHome`]) and what the tree
//! records of the current snapshot ([`Stored`]); `data`: a snapshot's bytes
//! read back ([`SnapshotData`]); `writer`: a snapshot being written
//! ([`SnapshotWriter`]).

mod data;
mod writer;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::StoreError;
use data::{open_path, Blob};

pub use data::SnapshotData;
pub use writer::SnapshotWriter;

/// Name of the snapshot directory inside the store's directory. sled only
/// looks at its own `conf`, `db`, `blobs` and `snap.*` entries.
const SNAPSHOT_DIR: &str = "ordo-snapshots";
const COMPLETE_PREFIX: &str = "snap-";
/// What a writer's file name starts with while a snapshot is received.
pub(crate) const INCOMING: &str = "incoming";
/// ... and while one is built.
pub(crate) const BUILDING: &str = "building";
/// ... and while one is exported as a backup.
pub(crate) const EXPORT: &str = "export";
/// In a snapshot's directory: the stream written, ...
pub(super) const DATA_FILE: &str = "data";
/// ... where the appended files go in it ...
pub(super) const PARTS_FILE: &str = "parts";
/// ... and what each appended file's link is called (with its number).
pub(super) const LINK_PREFIX: &str = "segment-";
/// Buffer size for writing and reading snapshot files.
pub(super) const IO_BUFFER_BYTES: usize = 1024 * 1024;

/// Where this store keeps snapshot bytes.
pub(crate) enum SnapshotHome {
    /// Files in this directory (sled).
    Files { dir: PathBuf, next_id: AtomicU64 },
    /// In the snapshot tree (a memory disk).
    Tree,
}

/// What the snapshot tree records about where the current snapshot's bytes are.
pub(crate) enum Stored {
    /// The name of a file in the snapshot directory.
    File(String),
    /// The bytes themselves.
    Bytes(Vec<u8>),
}

impl SnapshotHome {
    /// Snapshots in `store_dir`'s snapshot directory, created if missing.
    /// Snapshots not complete are deleted: they belong to a build or a
    /// receive that a crash or restart cut off.
    pub(crate) fn files(store_dir: &Path) -> Result<Self, StoreError> {
        let dir = store_dir.join(SNAPSHOT_DIR);
        fs::create_dir_all(&dir).map_err(|e| io_error("create the snapshot directory", e))?;
        for name in entry_names(&dir)? {
            if !name.starts_with(COMPLETE_PREFIX) {
                remove_entry(&dir.join(name))?;
            }
        }
        Ok(SnapshotHome::Files {
            dir,
            next_id: AtomicU64::new(0),
        })
    }

    /// Whether snapshots here link the records' files (rather than holding
    /// their bytes).
    pub(crate) fn shares_files(&self) -> bool {
        matches!(self, SnapshotHome::Files { .. })
    }

    /// A writer for a new snapshot's bytes (`purpose`: "building" or
    /// "incoming").
    pub(crate) fn writer(&self, purpose: &str) -> Result<SnapshotWriter, StoreError> {
        match self {
            SnapshotHome::Files { dir, next_id } => {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                SnapshotWriter::in_dir(dir.join(format!("{purpose}-{id}.tmp")))
            }
            SnapshotHome::Tree => Ok(SnapshotWriter::in_memory()),
        }
    }

    /// Makes `data` a complete snapshot of this store, named for
    /// `last_index`, and says how the tree should record it. A snapshot
    /// this store built or received is renamed; any other is copied in (as
    /// one file), so a snapshot handed over from another store stays its
    /// own.
    pub(crate) fn adopt(&self, data: &SnapshotData, last_index: u64) -> Result<Stored, StoreError> {
        let SnapshotHome::Files { dir, next_id } = self else {
            let bytes = data.to_vec().map_err(|e| io_error("read a snapshot", e))?;
            return Ok(Stored::Bytes(bytes));
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let name = format!("{COMPLETE_PREFIX}{last_index:020}-{id}");
        let target = dir.join(&name);
        match &data.0 {
            Blob::Files { path, .. } if is_in_progress(dir, path) => {
                fs::rename(path, &target).map_err(|e| io_error("rename a snapshot", e))?;
            }
            _ => {
                let mut out =
                    File::create(&target).map_err(|e| io_error("create a snapshot file", e))?;
                io::copy(&mut data.reader(), &mut out)
                    .and_then(|_| out.sync_all())
                    .map_err(|e| io_error("copy a snapshot file", e))?;
            }
        }
        sync_dir(dir)?;
        Ok(Stored::File(name))
    }

    /// The snapshot the tree recorded as `stored`.
    pub(crate) fn open(&self, stored: Stored) -> Result<SnapshotData, StoreError> {
        match (self, stored) {
            (SnapshotHome::Files { dir, .. }, Stored::File(name)) => open_path(&dir.join(name)),
            (_, Stored::Bytes(bytes)) => Ok(SnapshotData::from_bytes(bytes)),
            (SnapshotHome::Tree, Stored::File(name)) => Err(StoreError::BadSnapshot(format!(
                "a memory disk cannot hold snapshot file {name}"
            ))),
        }
    }

    /// Deletes `data` if it is a finished build or receive that was never
    /// adopted (a newer snapshot won). Handles open on it still read it.
    pub(crate) fn discard(&self, data: &SnapshotData) -> Result<(), StoreError> {
        match (self, &data.0) {
            (SnapshotHome::Files { dir, .. }, Blob::Files { path, .. })
                if is_in_progress(dir, path) =>
            {
                remove_entry(path)
            }
            _ => Ok(()),
        }
    }

    /// Deletes every complete snapshot but those in `keep`: the one the
    /// tree names now and the one the caller just made durable (one of them
    /// is durable whatever a crash keeps). Builds and receives in progress
    /// are left alone.
    pub(crate) fn remove_stale(&self, keep: &[Option<String>]) -> Result<(), StoreError> {
        let SnapshotHome::Files { dir, .. } = self else {
            return Ok(());
        };
        for name in entry_names(dir)? {
            if name.starts_with(COMPLETE_PREFIX) && !keep.iter().flatten().any(|k| *k == name) {
                remove_entry(&dir.join(name))?;
            }
        }
        Ok(())
    }
}

/// A snapshot this store built or received and has not adopted yet: the
/// only kind `adopt` may move.
fn is_in_progress(dir: &Path, path: &Path) -> bool {
    path.parent() == Some(dir)
        && path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| {
                [INCOMING, BUILDING, EXPORT]
                    .iter()
                    .any(|p| name.starts_with(p))
            })
}

fn entry_names(dir: &Path) -> Result<Vec<String>, StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error("list the snapshot directory", e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list the snapshot directory", e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Removes a snapshot, a file or a directory; one already gone is fine.
pub(super) fn remove_entry(path: &Path) -> Result<(), StoreError> {
    let removed = match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("remove a snapshot", e)),
        _ => Ok(()),
    }
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync the snapshot directory", e))
}

pub(super) fn io_error(what: &'static str, source: io::Error) -> StoreError {
    StoreError::Io { what, source }
}
