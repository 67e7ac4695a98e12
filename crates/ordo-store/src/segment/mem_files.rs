//! The simulated file system of a [`crate::MemDisk`]: files and directory
//! entries in memory, with the crash behaviour of a real disk, for the
//! segment engine's `Files::Memory` medium. Pure data: no I/O, no clocks, no
//! randomness, no threads (the disk's lock and fencing live in `kv::mem_disk`).
//!
//! The crash contract, at least as harsh as ext4 with `data=ordered`:
//! - every change is visible to reads at once;
//! - a file's contents are durable up to its last `sync_data`; a crash keeps
//!   them plus a prefix, chosen by the caller per file, of the changes made
//!   since, in the order they were made. A prefix may end inside a write (a
//!   torn write). Each change of length (a truncation, a preallocation)
//!   counts as one byte of that prefix, so it is kept or lost in order with
//!   the writes around it;
//! - a directory entry (a file created, removed, renamed or linked) is
//!   durable only once its directory is synced; a crash puts every directory
//!   back as it was at its last sync, and a file with no durable name is gone.
//!
//! Injected faults (`kv::disk_faults`, armed by the simulation through
//! [`crate::MemDisk`]): a write or preallocation refused with `ENOSPC` or
//! `EIO` changes nothing; a sync that fails loses the changes it was to make
//! durable (fsyncgate): reads still see them, as the page cache does, but no
//! crash keeps any of them and no later sync writes them, so a file synced
//! again afterwards is durable with a hole where they were. Creating,
//! removing and renaming files, truncating them and syncing directories
//! never fail.
//!
//! Directories themselves are implicit: a name's directory is its parent
//! path, always there and always durable.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::kv::{DiskFaults, DiskOp, Place};

/// Which file a name or an open handle refers to (an inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FileId(u64);

/// Every file and name of one simulated disk.
#[derive(Default)]
pub(crate) struct MemFileSystem {
    /// Names as reads see them.
    names: BTreeMap<PathBuf, FileId>,
    /// Names as of each directory's last sync: what a crash keeps.
    durable_names: BTreeMap<PathBuf, FileId>,
    files: BTreeMap<FileId, MemFile>,
    next_id: u64,
    /// The I/O errors armed for this disk (its trees' flushes consult them
    /// too), and those returned.
    pub(crate) faults: DiskFaults,
}

/// One file: what reads see, what a crash keeps for sure, and the changes
/// between the two.
#[derive(Default)]
struct MemFile {
    current: Contents,
    durable: Contents,
    /// Changes since the last sync, oldest first; `durable` with all of them
    /// applied is `current`, but for the changes a failed sync lost.
    unsynced: Vec<Change>,
}

enum Change {
    Write {
        at: u64,
        bytes: Vec<u8>,
    },
    SetLen(u64),
    /// Preallocation: the length grows to at least this, with zeros.
    Allocate(u64),
}

/// A file's bytes. Past `bytes` and up to `len` it reads as zeros, so a
/// preallocated tail takes no memory.
#[derive(Clone, Default)]
struct Contents {
    bytes: Vec<u8>,
    len: u64,
}

impl MemFileSystem {
    /// The names in `dir`, sorted.
    pub(crate) fn list_dir(&self, dir: &Path) -> Vec<String> {
        self.names
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
            .collect()
    }

    /// Creates the file at `path`, or empties it if it exists (`O_TRUNC`).
    pub(crate) fn create(&mut self, path: &Path) -> FileId {
        if let Some(&id) = self.names.get(path) {
            self.change(id, Change::SetLen(0))
                .expect("a named file exists");
            return id;
        }
        let id = FileId(self.next_id);
        self.next_id += 1;
        self.files.insert(id, MemFile::default());
        self.names.insert(path.to_path_buf(), id);
        id
    }

    pub(crate) fn open(&self, path: &Path) -> io::Result<FileId> {
        self.names.get(path).copied().ok_or_else(not_found)
    }

    pub(crate) fn remove(&mut self, path: &Path) -> io::Result<()> {
        let id = self.names.remove(path).ok_or_else(not_found)?;
        self.forget_if_unnamed(id);
        Ok(())
    }

    /// Renames `from` to `to`, replacing whatever `to` named.
    pub(crate) fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let id = self.names.remove(from).ok_or_else(not_found)?;
        if let Some(replaced) = self.names.insert(to.to_path_buf(), id) {
            self.forget_if_unnamed(replaced);
        }
        Ok(())
    }

    /// Gives the file named `from` a second name, `to`, which must be free.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn hard_link(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let id = self.open(from)?;
        if self.names.contains_key(to) {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        self.names.insert(to.to_path_buf(), id);
        Ok(())
    }

    /// The names of the directories in `dir` (those with a file under them).
    pub(crate) fn list_subdirs(&self, dir: &Path) -> Vec<String> {
        let names: BTreeSet<String> = self
            .names
            .keys()
            .filter_map(|path| path.strip_prefix(dir).ok())
            .filter(|rest| rest.components().count() > 1)
            .filter_map(|rest| {
                rest.components()
                    .next()?
                    .as_os_str()
                    .to_str()
                    .map(str::to_owned)
            })
            .collect();
        names.into_iter().collect()
    }

    /// Removes every file under `dir`, durably (each directory emptied is
    /// synced).
    pub(crate) fn remove_dir_all(&mut self, dir: &Path) {
        let doomed: Vec<PathBuf> = self
            .names
            .keys()
            .filter(|path| path.starts_with(dir) && path.as_path() != dir)
            .cloned()
            .collect();
        let parents: BTreeSet<PathBuf> = doomed
            .iter()
            .filter_map(|path| path.parent().map(Path::to_path_buf))
            .collect();
        for path in doomed {
            if let Some(id) = self.names.remove(&path) {
                self.forget_if_unnamed(id);
            }
        }
        for parent in parents {
            self.sync_dir(&parent);
        }
    }

    /// Makes the entries of `dir` durable as they are now.
    pub(crate) fn sync_dir(&mut self, dir: &Path) {
        let in_dir = |path: &PathBuf| path.parent() == Some(dir);
        let forgotten: Vec<FileId> = self
            .durable_names
            .iter()
            .filter(|(path, _)| in_dir(path))
            .map(|(_, id)| *id)
            .collect();
        self.durable_names.retain(|path, _| !in_dir(path));
        for (path, id) in self.names.iter().filter(|(path, _)| in_dir(path)) {
            self.durable_names.insert(path.clone(), *id);
        }
        for id in forgotten {
            self.forget_if_unnamed(id);
        }
    }

    pub(crate) fn write_at(&mut self, id: FileId, at: u64, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.injected(DiskOp::Write, id)?;
        let bytes = bytes.to_vec();
        self.change(id, Change::Write { at, bytes })
    }

    pub(crate) fn read_exact_at(&self, id: FileId, at: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file(id)?.current.read_exact_at(at, buf)
    }

    pub(crate) fn len(&self, id: FileId) -> io::Result<u64> {
        Ok(self.file(id)?.current.len)
    }

    pub(crate) fn set_len(&mut self, id: FileId, len: u64) -> io::Result<()> {
        self.change(id, Change::SetLen(len))
    }

    /// Grows the file to at least `len` bytes of zeros, like `fallocate(2)`
    /// with mode 0 (which changes the file's size).
    pub(crate) fn allocate(&mut self, id: FileId, len: u64) -> io::Result<()> {
        self.injected(DiskOp::Preallocate, id)?;
        self.change(id, Change::Allocate(len))
    }

    /// Makes the file's contents durable as they are now (not its name).
    /// If it fails (an injected fault), the changes it was to make durable
    /// are lost to any crash, even after a later sync succeeds.
    pub(crate) fn sync_data(&mut self, id: FileId) -> io::Result<()> {
        if let Err(e) = self.injected(DiskOp::Sync, id) {
            self.file_mut(id)?.unsynced.clear();
            return Err(e);
        }
        let file = self.file_mut(id)?;
        for change in file.unsynced.drain(..) {
            file.durable.apply(&change, u64::MAX);
        }
        Ok(())
    }

    /// How much of each surviving file's unsynced changes a crash now could
    /// keep or lose (see the module's contract), by one of its durable names.
    pub(crate) fn unsynced_bytes(&self) -> BTreeMap<PathBuf, u64> {
        self.surviving_files()
            .map(|(path, id)| (path.clone(), self.files[&id].unsynced_bytes()))
            .collect()
    }

    /// Power loss: the names go back to their directories' last sync, and
    /// each file that still has one keeps its durable contents plus the first
    /// `keep_bytes(path, unsynced)` bytes of its unsynced changes (`unsynced`
    /// as in [`MemFileSystem::unsynced_bytes`]; asking for more keeps all).
    pub(crate) fn crash(&mut self, mut keep_bytes: impl FnMut(&Path, u64) -> u64) {
        self.names = self.durable_names.clone();
        let surviving: BTreeMap<FileId, PathBuf> = self
            .surviving_files()
            .map(|(path, id)| (id, path.clone()))
            .collect();
        self.files.retain(|id, _| surviving.contains_key(id));
        for (id, path) in surviving {
            let file = self.files.get_mut(&id).expect("a surviving file exists");
            let mut budget = keep_bytes(&path, file.unsynced_bytes());
            for change in file.unsynced.drain(..) {
                if budget == 0 {
                    break;
                }
                budget = file.durable.apply(&change, budget);
            }
            file.current = file.durable.clone();
        }
    }

    /// Each file with a name that survives a crash, by its first such name.
    fn surviving_files(&self) -> impl Iterator<Item = (&PathBuf, FileId)> {
        let mut seen = BTreeSet::new();
        self.durable_names
            .iter()
            .filter(move |(_, id)| seen.insert(**id))
            .map(|(path, id)| (path, *id))
    }

    /// The error `op` on the file `id` fails with, if a fault armed for
    /// its area says so (a file that no longer exists fails as usual).
    fn injected(&mut self, op: DiskOp, id: FileId) -> io::Result<()> {
        self.file(id)?;
        if !self.faults.armed() {
            return Ok(());
        }
        let name = self
            .names
            .iter()
            .find(|(_, named)| **named == id)
            .map(|(path, _)| path.as_path());
        let error = match op {
            DiskOp::Sync | DiskOp::TreeFlush => self.faults.on_sync(op, Place::File(name)),
            DiskOp::Write | DiskOp::Preallocate => self.faults.on_write(op, Place::File(name)),
        };
        error.map_or(Ok(()), Err)
    }

    fn change(&mut self, id: FileId, change: Change) -> io::Result<()> {
        let file = self.file_mut(id)?;
        file.current.apply(&change, u64::MAX);
        file.unsynced.push(change);
        Ok(())
    }

    /// Drops a file that no name, current or durable, refers to any more.
    /// (The segment engine never uses a handle of a removed file, so an
    /// unlinked file need not live on for its open handles.)
    fn forget_if_unnamed(&mut self, id: FileId) {
        let named = |names: &BTreeMap<PathBuf, FileId>| names.values().any(|named| *named == id);
        if !named(&self.names) && !named(&self.durable_names) {
            self.files.remove(&id);
        }
    }

    fn file(&self, id: FileId) -> io::Result<&MemFile> {
        self.files.get(&id).ok_or_else(stale_handle)
    }

    fn file_mut(&mut self, id: FileId) -> io::Result<&mut MemFile> {
        self.files.get_mut(&id).ok_or_else(stale_handle)
    }
}

impl MemFile {
    /// Written bytes, plus one for each change of length.
    fn unsynced_bytes(&self) -> u64 {
        self.unsynced
            .iter()
            .map(|change| match change {
                Change::Write { bytes, .. } => bytes.len() as u64,
                Change::SetLen(_) | Change::Allocate(_) => 1,
            })
            .sum()
    }
}

impl Contents {
    /// Applies as much of `change` as `budget` bytes allow and returns what
    /// is left of the budget.
    fn apply(&mut self, change: &Change, budget: u64) -> u64 {
        match change {
            Change::Write { at, bytes } => {
                let kept = usize::try_from(budget).map_or(bytes.len(), |b| b.min(bytes.len()));
                self.write_at(*at, &bytes[..kept]);
                budget - kept as u64
            }
            Change::SetLen(len) if budget > 0 => {
                self.bytes.truncate(to_index(*len).min(self.bytes.len()));
                self.len = *len;
                budget - 1
            }
            Change::Allocate(len) if budget > 0 => {
                self.len = self.len.max(*len);
                budget - 1
            }
            Change::SetLen(_) | Change::Allocate(_) => 0,
        }
    }

    fn write_at(&mut self, at: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let start = to_index(at);
        let end = start + data.len();
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
        }
        self.bytes[start..end].copy_from_slice(data);
        self.len = self.len.max(end as u64);
    }

    fn read_exact_at(&self, at: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = at
            .checked_add(buf.len() as u64)
            .filter(|end| *end <= self.len)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let start = to_index(at);
        let stored = self.bytes.get(start..to_index(end).min(self.bytes.len()));
        let stored = stored.unwrap_or_default();
        buf[..stored.len()].copy_from_slice(stored);
        buf[stored.len()..].fill(0);
        Ok(())
    }
}

/// A position in a simulated file as an index into its bytes. The
/// simulation's files live in memory, so their positions fit.
fn to_index(position: u64) -> usize {
    usize::try_from(position).expect("a simulated file fits in memory")
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

fn stale_handle() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "the file was removed")
}

#[cfg(test)]
#[path = "mem_files_tests.rs"]
mod tests;
