//! [`SnapshotWriter`]: a snapshot being written, as a stream, to a
//! temporary snapshot directory (deleted unless finished) or to memory; the
//! files it appends are hard links (copies where the file system takes
//! none), and finishing makes it durable and readable as [`SnapshotData`].

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::data::{open_path, Part};
use super::{io_error, remove_entry, sync_dir, SnapshotData};
use super::{DATA_FILE, IO_BUFFER_BYTES, LINK_PREFIX, PARTS_FILE};
use crate::codec::encode;
use crate::error::StoreError;

/// A snapshot being written: to a temporary directory, or to memory.
pub struct SnapshotWriter(Sink);

enum Sink {
    Dir {
        /// The directory's `data` file.
        out: BufWriter<File>,
        temp: TempPath,
        data_len: u64,
        parts: Vec<Part>,
        /// The stream's length: `data`'s and every part's.
        len: u64,
    },
    Memory(Vec<u8>),
}

/// A directory that is deleted when dropped, unless kept: a snapshot write
/// that never finished is of no use to anyone.
struct TempPath(Option<PathBuf>);

impl TempPath {
    fn keep(mut self) -> PathBuf {
        self.0
            .take()
            .expect("a temporary path is kept at most once")
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = remove_entry(&path);
        }
    }
}

impl SnapshotWriter {
    /// A writer into a new snapshot directory at `path`.
    pub(super) fn in_dir(path: PathBuf) -> Result<SnapshotWriter, StoreError> {
        fs::create_dir(&path).map_err(|e| io_error("create a snapshot directory", e))?;
        let temp = TempPath(Some(path));
        let path = temp.0.as_deref().expect("just set");
        let file = File::create(path.join(DATA_FILE))
            .map_err(|e| io_error("create a snapshot file", e))?;
        Ok(SnapshotWriter(Sink::Dir {
            out: BufWriter::with_capacity(IO_BUFFER_BYTES, file),
            temp,
            data_len: 0,
            parts: Vec::new(),
            len: 0,
        }))
    }

    /// A writer into memory.
    pub(super) fn in_memory() -> SnapshotWriter {
        SnapshotWriter(Sink::Memory(Vec::new()))
    }

    /// How many bytes were written so far.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Sink::Dir { len, .. } => *len,
            Sink::Memory(bytes) => bytes.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the first `len` bytes of `file`, which no one changes any more
    /// (a sealed segment, or the items a newest segment holds so far), to
    /// the stream: on real files as a hard link, so none of them is copied;
    /// in memory, copied.
    pub(crate) fn append_file(
        &mut self,
        file: &crate::segment::File,
        len: u64,
    ) -> Result<(), StoreError> {
        match &mut self.0 {
            Sink::Dir {
                out,
                temp,
                data_len,
                parts,
                len: total,
            } => {
                let dir = temp.0.as_deref().expect("a writer's directory is kept");
                let name = format!("{LINK_PREFIX}{}", parts.len());
                let link = dir.join(&name);
                if let Err(e) = fs::hard_link(file.path(), &link) {
                    // A file system without hard links: copy instead. Any
                    // other error (no space, an I/O error) is the store's
                    // to report, not a reason to write a whole copy.
                    if !cannot_link(&e) {
                        return Err(io_error("link a segment into a snapshot", e));
                    }
                    tracing::warn!(
                        error = %e,
                        segment = %file.path().display(),
                        "could not link a segment into a snapshot; copying it"
                    );
                    fs::copy(file.path(), &link)
                        .and_then(|_| File::open(&link)?.sync_all())
                        .map_err(|e| io_error("copy a segment into a snapshot", e))?;
                }
                let linked = fs::metadata(&link)
                    .map_err(|e| io_error("read a linked segment's size", e))?
                    .len();
                if linked < len {
                    return Err(StoreError::BadSnapshot(format!(
                        "{} has {linked} bytes, fewer than the {len} shared",
                        file.path().display()
                    )));
                }
                out.flush()
                    .map_err(|e| io_error("write a snapshot file", e))?;
                parts.push(Part {
                    at: *data_len,
                    file: name,
                    len,
                });
                *total += len;
            }
            Sink::Memory(bytes) => {
                let start = bytes.len();
                let len = usize::try_from(len).map_err(|_| {
                    StoreError::BadSnapshot(format!("a segment of {len} bytes in memory"))
                })?;
                bytes.resize(start + len, 0);
                file.read_exact_at(0, &mut bytes[start..])?;
            }
        }
        Ok(())
    }

    /// Makes what was written durable and readable as a snapshot.
    pub fn finish(self) -> Result<SnapshotData, StoreError> {
        match self.0 {
            Sink::Dir {
                out, temp, parts, ..
            } => {
                let file = out
                    .into_inner()
                    .map_err(|e| io_error("write a snapshot file", e.into_error()))?;
                file.sync_all()
                    .map_err(|e| io_error("sync a snapshot file", e))?;
                let dir = temp.0.as_deref().expect("a writer's directory is kept");
                if !parts.is_empty() {
                    write_synced(&dir.join(PARTS_FILE), &encode("snapshot parts", &parts)?)?;
                }
                sync_dir(dir)?;
                open_path(&temp.keep())
            }
            Sink::Memory(bytes) => Ok(SnapshotData::from_bytes(bytes)),
        }
    }
}

impl Write for SnapshotWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Sink::Dir {
                out, data_len, len, ..
            } => {
                let written = out.write(buf)?;
                *data_len += written as u64;
                *len += written as u64;
                Ok(written)
            }
            Sink::Memory(bytes) => bytes.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Sink::Dir { out, .. } => out.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    File::create(path)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(|e| io_error("write a snapshot file", e))
}

/// Whether a failed `hard_link` says the file system (or this link) takes
/// no hard links, so a copy may stand in for one.
fn cannot_link(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied
        || e.kind() == io::ErrorKind::Unsupported
        || e.kind() == io::ErrorKind::CrossesDevices
        || e.kind() == io::ErrorKind::TooManyLinks
        || e.raw_os_error() == Some(libc::EPERM)
        || e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_file_system_without_links_falls_back_to_a_copy() {
        let os = io::Error::from_raw_os_error;
        for refusal in [libc::EXDEV, libc::EPERM, libc::EMLINK, libc::EOPNOTSUPP] {
            assert!(cannot_link(&os(refusal)), "{refusal}");
        }
        for failure in [libc::ENOSPC, libc::EIO, libc::EROFS, libc::ENOENT] {
            assert!(!cannot_link(&os(failure)), "{failure}");
        }
    }
}
