//! The file-medium seam of the segment engine: the few file and directory
//! operations it performs, over one of two media. `Files::Real` is
//! production's (std::fs, under a root directory); `Files::Memory` is the
//! deterministic simulation's, the files of a [`MemDisk`] (its crash
//! contract is written out in `segment::mem_files`). The engine reaches
//! files only through [`Files`] and [`File`], so the simulation runs its
//! own code, as `kv` does for the trees.
//!
//! The contract both media keep, and the engine's recovery relies on:
//! - a write is readable at once; it is durable only once a later
//!   [`File::sync_data`] has returned, and a crash may keep any prefix of
//!   the bytes written since (a torn write);
//! - a file's creation, removal, rename or link is durable only once its
//!   directory is synced ([`Files::sync_dir`]).
//!
//! A third kind of write, [`File::write_durably_at`], is durable when it
//! returns: on real files it goes around the page cache (`O_DIRECT`) with
//! `O_DSYNC`, one system call where a write and an fdatasync take two and
//! the kernel's writeback machinery besides; a medium that refuses direct
//! I/O gets the write and the fdatasync.
//!
//! Paths are relative to the medium's root. Appends are writes at a
//! position (the log's end), not `O_APPEND`: a preallocated file is longer
//! than its data.

use std::io;
use std::path::{Path, PathBuf};

use super::file::{File, OpenFile};
use crate::error::StoreError;
use crate::kv::MemHandle;
#[cfg(test)]
use crate::MemDisk;

/// Where the engine's files live. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Files {
    /// Real files under this directory.
    Real(PathBuf),
    /// One incarnation's handle on a [`MemDisk`]'s files.
    Memory(MemHandle),
}

impl Files {
    /// Real files under `root`.
    pub(crate) fn real(root: impl Into<PathBuf>) -> Files {
        Files::Real(root.into())
    }

    /// Starts a new incarnation on `disk`, fencing off every earlier one
    /// (its trees and its files).
    #[cfg(test)]
    pub(crate) fn open_memory(disk: &MemDisk) -> Files {
        Files::Memory(disk.open_incarnation())
    }

    /// Creates `dir` and its parents if missing (implicit in memory).
    pub(crate) fn create_dir_all(&self, dir: &Path) -> Result<(), StoreError> {
        match self {
            Files::Real(root) => {
                let path = root.join(dir);
                std::fs::create_dir_all(&path).map_err(failed("create directory", &path))
            }
            Files::Memory(_) => Ok(()),
        }
    }

    /// The names of the files in `dir`, sorted.
    pub(crate) fn list_dir(&self, dir: &Path) -> Result<Vec<String>, StoreError> {
        match self {
            Files::Real(root) => real_names(root, dir, |_| true),
            Files::Memory(disk) => disk.with_files(|files| files.list_dir(dir)),
        }
    }

    /// The names of the directories in `dir`, sorted (in memory, where
    /// directories are implicit: those with a file under them).
    pub(crate) fn list_subdirs(&self, dir: &Path) -> Result<Vec<String>, StoreError> {
        match self {
            Files::Real(root) => real_names(root, dir, |kind| kind.is_dir()),
            Files::Memory(disk) => disk.with_files(|files| files.list_subdirs(dir)),
        }
    }

    /// Removes `dir` and everything under it, durably (its parent is
    /// synced). A missing `dir` is nothing to do.
    pub(crate) fn remove_dir_all(&self, dir: &Path) -> Result<(), StoreError> {
        match self {
            Files::Real(root) => {
                let full = root.join(dir);
                match std::fs::remove_dir_all(&full) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(failed("remove directory", &full)(e)),
                }
                self.sync_dir(dir.parent().unwrap_or(Path::new("")))
            }
            Files::Memory(disk) => disk.with_files(|files| files.remove_dir_all(dir)),
        }
    }

    /// Creates the file at `path`, or empties it if it exists, for reading
    /// and writing.
    pub(crate) fn create(&self, path: &Path) -> Result<File, StoreError> {
        let medium = match self {
            Files::Real(root) => open_real(root, path, true)?,
            Files::Memory(disk) => OpenFile::Memory {
                disk: disk.clone(),
                id: disk.with_files(|files| files.create(path))?,
            },
        };
        Ok(self.file(path, medium))
    }

    /// Opens the existing file at `path` for reading and writing.
    pub(crate) fn open(&self, path: &Path) -> Result<File, StoreError> {
        let medium = match self {
            Files::Real(root) => open_real(root, path, false)?,
            Files::Memory(disk) => OpenFile::Memory {
                disk: disk.clone(),
                id: disk
                    .with_files(|files| files.open(path))?
                    .map_err(failed("open", path))?,
            },
        };
        Ok(self.file(path, medium))
    }

    pub(crate) fn remove(&self, path: &Path) -> Result<(), StoreError> {
        match self {
            Files::Real(root) => {
                let full = root.join(path);
                std::fs::remove_file(&full).map_err(failed("remove", &full))
            }
            Files::Memory(disk) => disk
                .with_files(|files| files.remove(path))?
                .map_err(failed("remove", path)),
        }
    }

    /// Renames `from` to `to`, atomically replacing whatever `to` was.
    pub(crate) fn rename(&self, from: &Path, to: &Path) -> Result<(), StoreError> {
        match self {
            Files::Real(root) => {
                let full = root.join(from);
                std::fs::rename(&full, root.join(to)).map_err(failed("rename", &full))
            }
            Files::Memory(disk) => disk
                .with_files(|files| files.rename(from, to))?
                .map_err(failed("rename", from)),
        }
    }

    /// Gives the file at `from` a second name, `to` (which must not exist).
    // For snapshots that link sealed segments instead of copying them.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn hard_link(&self, from: &Path, to: &Path) -> Result<(), StoreError> {
        match self {
            Files::Real(root) => {
                let full = root.join(from);
                std::fs::hard_link(&full, root.join(to)).map_err(failed("hard-link", &full))
            }
            Files::Memory(disk) => disk
                .with_files(|files| files.hard_link(from, to))?
                .map_err(failed("hard-link", from)),
        }
    }

    /// Makes every entry of `dir` (created, removed, renamed, linked)
    /// durable: on real files, fsync of the directory itself.
    pub(crate) fn sync_dir(&self, dir: &Path) -> Result<(), StoreError> {
        match self {
            Files::Real(root) => {
                let full = root.join(dir);
                std::fs::File::open(&full)
                    .and_then(|dir| dir.sync_all())
                    .map_err(failed("sync directory", &full))
            }
            Files::Memory(disk) => disk.with_files(|files| files.sync_dir(dir)),
        }
    }

    /// `path` as errors and reports name it: under the root, on real files.
    pub(crate) fn full_path(&self, path: &Path) -> PathBuf {
        match self {
            Files::Real(root) => root.join(path),
            Files::Memory(_) => path.to_path_buf(),
        }
    }
    fn file(&self, path: &Path, medium: OpenFile) -> File {
        File::new(self.full_path(path), medium)
    }
}

/// The names of the entries of `dir` under `root` whose type `keep` takes,
/// sorted.
fn real_names(
    root: &Path,
    dir: &Path,
    keep: impl Fn(std::fs::FileType) -> bool,
) -> Result<Vec<String>, StoreError> {
    let path = root.join(dir);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&path).map_err(failed("list", &path))? {
        let entry = entry.map_err(failed("list", &path))?;
        let kind = entry.file_type().map_err(failed("list", &path))?;
        if let (true, Some(name)) = (keep(kind), entry.file_name().to_str()) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Opens `path` under `root` for reading and writing; `create` creates it,
/// or empties it if it exists.
fn open_real(root: &Path, path: &Path, create: bool) -> Result<OpenFile, StoreError> {
    let full = root.join(path);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .open(&full)
        .map_err(failed(if create { "create" } else { "open" }, &full))?;
    Ok(OpenFile::Real(file))
}

/// Maps an I/O error of `op` on `path` to a [`StoreError`] naming both.
pub(super) fn failed<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::File {
        op,
        path: path.to_path_buf(),
        source,
    }
}
