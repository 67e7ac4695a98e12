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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::frame::ByteSource;
use super::mem_files::FileId;
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

/// The alignment direct writes keep (their position, length and memory):
/// a page, a multiple of every device's logical block size.
pub(crate) const DIRECT_ALIGN: u64 = 4096;

/// Where the block that holds `position` starts.
pub(crate) fn block_start(position: u64) -> u64 {
    position - position % DIRECT_ALIGN
}

/// How far past its end a direct write that reaches blocks no direct
/// write has reached before writes zeros. Preallocated blocks are
/// unwritten extents, and a synchronous write into one also writes the
/// extent's conversion; zeroing ahead converts this much at once, so most
/// writes find their blocks already written (on this machine, about a
/// quarter less CPU and latency per small synchronous write).
const ZERO_AHEAD: u64 = 64 * 1024;

/// An open file: its medium's handle and, for errors, its path.
pub(crate) struct File {
    path: PathBuf,
    medium: OpenFile,
    /// On real files, what direct writes need, shared by every clone.
    direct: Arc<Direct>,
}

/// A real file's direct writes.
#[derive(Default)]
struct Direct {
    /// A second descriptor opened for direct, synchronous writes on the
    /// first [`File::write_durably_at`] (`None` where the medium refuses).
    handle: OnceLock<Option<std::fs::File>>,
    /// Where the blocks direct writes have reached (zeros ahead included)
    /// end.
    reached: AtomicU64,
}

enum OpenFile {
    Real(std::fs::File),
    Memory { disk: MemHandle, id: FileId },
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
        File {
            path: self.full_path(path),
            medium,
            direct: Arc::default(),
        }
    }
}

impl File {
    /// The file's path, as errors name it (under the root, on real files).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Drops the file's clean pages from the OS page cache, so what is read
    /// next comes from the disk. Recovery calls it first: after a failed
    /// writeback Linux marks the pages it could not write clean and keeps
    /// them cached, so a process started again after a storage failure
    /// would otherwise read, and trust, bytes that are not on the disk.
    /// Best effort: a refusal leaves the cache as it is.
    pub(crate) fn forget_cached(&self) {
        #[cfg(target_os = "linux")]
        if let OpenFile::Real(file) = &self.medium {
            use std::os::fd::AsRawFd;
            // SAFETY: posix_fadvise(2) has no memory-safety preconditions;
            // the descriptor belongs to `file`, which outlives the call.
            let _ =
                unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        }
    }

    /// Writes all of `bytes` at `position`.
    pub(crate) fn write_at(&self, position: u64, bytes: &[u8]) -> Result<(), StoreError> {
        match &self.medium {
            OpenFile::Real(file) => std::os::unix::fs::FileExt::write_all_at(file, bytes, position)
                .map_err(failed("write", &self.path)),
            OpenFile::Memory { disk, id } => disk
                .with_files(|files| files.write_at(*id, position, bytes))?
                .map_err(failed("write", &self.path)),
        }
    }

    /// Fills `buf` from `position`; reading past the end fails. A
    /// positional read: it moves no cursor, so readers may share the file.
    pub(crate) fn read_exact_at(&self, position: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        match &self.medium {
            OpenFile::Real(file) => std::os::unix::fs::FileExt::read_exact_at(file, buf, position)
                .map_err(failed("read", &self.path)),
            OpenFile::Memory { disk, id } => disk
                .with_files(|files| files.read_exact_at(*id, position, buf))?
                .map_err(failed("read", &self.path)),
        }
    }

    /// The file's length, preallocated space included.
    pub(crate) fn len(&self) -> Result<u64, StoreError> {
        match &self.medium {
            OpenFile::Real(file) => file
                .metadata()
                .map(|metadata| metadata.len())
                .map_err(failed("read the length of", &self.path)),
            OpenFile::Memory { disk, id } => disk
                .with_files(|files| files.len(*id))?
                .map_err(failed("read the length of", &self.path)),
        }
    }

    /// Cuts (or zero-extends) the file to `len` bytes.
    pub(crate) fn set_len(&self, len: u64) -> Result<(), StoreError> {
        match &self.medium {
            OpenFile::Real(file) => file.set_len(len).map_err(failed("truncate", &self.path)),
            OpenFile::Memory { disk, id } => disk
                .with_files(|files| files.set_len(*id, len))?
                .map_err(failed("truncate", &self.path)),
        }
    }

    /// Reserves blocks so the file can grow to `len` bytes without
    /// allocating on every write: its length becomes at least `len`, and
    /// the new space reads as zeros. Best effort on real files: where the
    /// file system cannot preallocate, the file just grows as written.
    pub(crate) fn preallocate(&self, len: u64) -> Result<(), StoreError> {
        match &self.medium {
            OpenFile::Real(file) => {
                preallocate(file, len).map_err(failed("preallocate", &self.path))
            }
            OpenFile::Memory { disk, id } => disk
                .with_files(|files| files.allocate(*id, len))?
                .map_err(failed("preallocate", &self.path)),
        }
    }

    /// A second handle on the same open file (a duplicated descriptor on
    /// real files): a sync through either makes the same bytes durable.
    pub(crate) fn try_clone(&self) -> Result<File, StoreError> {
        let medium = match &self.medium {
            OpenFile::Real(file) => OpenFile::Real(
                file.try_clone()
                    .map_err(failed("duplicate the handle of", &self.path))?,
            ),
            OpenFile::Memory { disk, id } => OpenFile::Memory {
                disk: disk.clone(),
                id: *id,
            },
        };
        Ok(File {
            path: self.path.clone(),
            medium,
            direct: Arc::clone(&self.direct),
        })
    }

    /// Writes all of `bytes` at `position` (a multiple of [`DIRECT_ALIGN`])
    /// and returns once they are durable, with whatever was written before
    /// through this method. On real files the write is direct (around the
    /// page cache) and synchronous, and covers whole blocks: zeros follow
    /// `bytes` to the next multiple of [`DIRECT_ALIGN`] (or, when they reach
    /// blocks no direct write reached before, [`ZERO_AHEAD`] further), so
    /// the caller owns the file from `position` on. Where direct I/O is
    /// refused, a write and an fdatasync.
    pub(crate) fn write_durably_at(&self, position: u64, bytes: &[u8]) -> Result<(), StoreError> {
        match &self.medium {
            OpenFile::Real(file) => {
                let handle = self.direct.handle.get_or_init(|| open_direct(&self.path));
                let direct = match handle {
                    Some(handle) if position.is_multiple_of(DIRECT_ALIGN) => {
                        Some(self.direct.write(handle, position, bytes))
                    }
                    _ => None,
                };
                match direct {
                    Some(Err(e)) if e.raw_os_error() == Some(libc::EINVAL) => None,
                    other => other,
                }
                .unwrap_or_else(|| {
                    std::os::unix::fs::FileExt::write_all_at(file, bytes, position)
                        .and_then(|()| file.sync_data())
                })
                .map_err(failed("write", &self.path))
            }
            OpenFile::Memory { disk, id } => {
                // Padded as on real files, so a write that clobbers what
                // follows its end does here too.
                let mut padded = bytes.to_vec();
                padded.resize(bytes.len().next_multiple_of(DIRECT_ALIGN as usize), 0);
                disk.with_files(|files| {
                    files
                        .write_at(*id, position, &padded)
                        .and_then(|()| files.sync_data(*id))
                })?
                .map_err(failed("write", &self.path))
            }
        }
    }

    /// Makes the file's contents durable: `fdatasync(2)` on real files.
    pub(crate) fn sync_data(&self) -> Result<(), StoreError> {
        match &self.medium {
            OpenFile::Real(file) => file.sync_data().map_err(failed("sync", &self.path)),
            OpenFile::Memory { disk, id } => disk
                .with_files(|files| files.sync_data(*id))?
                .map_err(failed("sync", &self.path)),
        }
    }
}

impl ByteSource for File {
    fn read_exact_at(&self, position: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        File::read_exact_at(self, position, buf)
    }
}

#[cfg(target_os = "linux")]
fn preallocate(file: &std::fs::File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: fallocate(2) has no memory-safety preconditions; the
    // descriptor belongs to `file`, which outlives the call.
    let result = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP) => Ok(()),
        _ => Err(error),
    }
}

#[cfg(not(target_os = "linux"))]
fn preallocate(_file: &std::fs::File, _len: u64) -> io::Result<()> {
    Ok(())
}

/// `path` opened again for direct, synchronous writes, or `None` where the
/// file system refuses direct I/O (tmpfs, some overlays).
#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
        .open(path)
        .inspect_err(|e| tracing::debug!(path = %path.display(), error = %e, "no direct writes"))
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> Option<std::fs::File> {
    None
}

impl Direct {
    /// One direct write of `bytes` at `position` through `handle`, with
    /// [`ZERO_AHEAD`] bytes of zeros after them when they reach blocks no
    /// direct write reached before.
    fn write(&self, handle: &std::fs::File, position: u64, bytes: &[u8]) -> io::Result<()> {
        let end = position + bytes.len() as u64;
        let reached = self.reached.load(Ordering::Relaxed);
        let zeros_to = if end > reached { end + ZERO_AHEAD } else { end };
        write_direct(handle, position, bytes, zeros_to)?;
        self.reached.fetch_max(zeros_to, Ordering::Relaxed);
        Ok(())
    }
}

/// One direct write of `bytes` at `position`, followed by zeros up to
/// `zeros_to` rounded up to whole blocks, from memory aligned as direct
/// I/O needs. `EINVAL` if the file system refuses the alignment.
fn write_direct(
    file: &std::fs::File,
    position: u64,
    bytes: &[u8],
    zeros_to: u64,
) -> io::Result<()> {
    let align = DIRECT_ALIGN as usize;
    let padded = ((zeros_to - position) as usize).next_multiple_of(align);
    let mut storage = vec![0u8; padded + align];
    let start = storage.as_ptr().align_offset(align);
    let aligned = &mut storage[start..start + padded];
    aligned[..bytes.len()].copy_from_slice(bytes);
    std::os::unix::fs::FileExt::write_all_at(file, aligned, position)
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
fn failed<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::File {
        op,
        path: path.to_path_buf(),
        source,
    }
}
