//! [`File`]: one open file of the segment engine, on either medium of
//! [`super::Files`], and its writes, reads and syncs; on real files also
//! the system calls behind them: preallocation (`fallocate`) and the
//! direct, synchronous writes of [`File::write_durably_at`] (`O_DIRECT |
//! O_DSYNC`, whole blocks, with zeros written ahead).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::files::failed;
use super::frame::ByteSource;
use super::mem_files::FileId;
use crate::error::StoreError;
use crate::kv::MemHandle;

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

/// A file's handle on its medium.
pub(super) enum OpenFile {
    Real(std::fs::File),
    Memory { disk: MemHandle, id: FileId },
}

impl File {
    /// A file just opened at `path` (as errors name it).
    pub(super) fn new(path: PathBuf, medium: OpenFile) -> File {
        File {
            path,
            medium,
            direct: Arc::default(),
        }
    }

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
