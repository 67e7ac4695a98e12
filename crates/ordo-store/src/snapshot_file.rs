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

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::StoreError;

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
const DATA_FILE: &str = "data";
/// ... where the appended files go in it ...
const PARTS_FILE: &str = "parts";
/// ... and what each appended file's link is called (with its number).
const LINK_PREFIX: &str = "segment-";
/// Buffer size for writing and reading snapshot files.
const IO_BUFFER_BYTES: usize = 1024 * 1024;

/// A snapshot's bytes: complete files, or bytes in memory. Cheap to clone;
/// files stay readable through their handles even after they are replaced.
#[derive(Clone)]
pub struct SnapshotData(Blob);

#[derive(Clone)]
enum Blob {
    /// The bytes of `pieces`, in order: a plain file's, or a snapshot
    /// directory's (`path`).
    Files {
        pieces: Arc<[Piece]>,
        path: PathBuf,
        len: u64,
    },
    Memory(Arc<Vec<u8>>),
}

/// `len` bytes of `file` from `start`.
struct Piece {
    file: Arc<File>,
    start: u64,
    len: u64,
}

/// Where one appended file's bytes go in a snapshot directory's stream:
/// before the byte of `data` at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Part {
    at: u64,
    file: String,
    len: u64,
}

impl SnapshotData {
    /// Bytes in memory as a snapshot (the simulation's medium, and tests).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        SnapshotData(Blob::Memory(Arc::new(bytes)))
    }

    /// A snapshot file anywhere (a backup to restore).
    pub fn from_file(path: &Path) -> Result<Self, StoreError> {
        open_path(path)
    }

    /// How many bytes the snapshot has.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Blob::Files { len, .. } => *len,
            Blob::Memory(bytes) => bytes.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `max_len` bytes from `offset` (fewer only at the end): how a
    /// snapshot is sent, one chunk per message.
    pub fn read_chunk(&self, offset: u64, max_len: usize) -> io::Result<Vec<u8>> {
        let end = self.len().min(offset.saturating_add(max_len as u64));
        let wanted = usize::try_from(end.saturating_sub(offset)).unwrap_or(max_len);
        match &self.0 {
            Blob::Files { pieces, .. } => {
                let mut chunk = vec![0; wanted];
                let mut reader = PiecesReader::at(pieces, offset);
                reader.read_exact(&mut chunk)?;
                Ok(chunk)
            }
            Blob::Memory(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Ok(bytes[start..start + wanted].to_vec())
            }
        }
    }

    /// Every byte in order, for decoding.
    pub(crate) fn reader(&self) -> Box<dyn Read + '_> {
        match &self.0 {
            Blob::Files { pieces, .. } => Box::new(io::BufReader::with_capacity(
                IO_BUFFER_BYTES,
                PiecesReader::at(pieces, 0),
            )),
            Blob::Memory(bytes) => Box::new(io::Cursor::new(bytes.as_slice())),
        }
    }

    /// The whole snapshot in memory. Only for tests comparing snapshots.
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.reader().read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

impl fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Blob::Files { path, len, .. } => {
                write!(f, "snapshot {} ({len} bytes)", path.display())
            }
            Blob::Memory(bytes) => write!(f, "snapshot in memory ({} bytes)", bytes.len()),
        }
    }
}

/// Reads shared files from its own position (`pread`), so concurrent
/// readers of one snapshot do not move each other's cursor.
struct PiecesReader<'a> {
    pieces: &'a [Piece],
    /// The piece read next, and how far into it.
    index: usize,
    position: u64,
}

impl<'a> PiecesReader<'a> {
    /// A reader from byte `offset` of the pieces' stream on.
    fn at(pieces: &'a [Piece], mut offset: u64) -> Self {
        let mut index = 0;
        while index < pieces.len() && offset >= pieces[index].len {
            offset -= pieces[index].len;
            index += 1;
        }
        PiecesReader {
            pieces,
            index,
            position: offset,
        }
    }
}

impl Read for PiecesReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(piece) = self.pieces.get(self.index) {
            let left = piece.len - self.position;
            if left == 0 {
                self.index += 1;
                self.position = 0;
                continue;
            }
            let wanted = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let read = piece
                .file
                .read_at(&mut buf[..wanted], piece.start + self.position)?;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "a snapshot file is shorter than its part",
                ));
            }
            self.position += read as u64;
            return Ok(read);
        }
        Ok(0)
    }
}

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
        Ok(SnapshotWriter(match self {
            SnapshotHome::Files { dir, next_id } => {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let path = dir.join(format!("{purpose}-{id}.tmp"));
                fs::create_dir(&path).map_err(|e| io_error("create a snapshot directory", e))?;
                let temp = TempPath(Some(path));
                let path = temp.0.as_deref().expect("just set");
                let file = File::create(path.join(DATA_FILE))
                    .map_err(|e| io_error("create a snapshot file", e))?;
                Sink::Dir {
                    out: BufWriter::with_capacity(IO_BUFFER_BYTES, file),
                    temp,
                    data_len: 0,
                    parts: Vec::new(),
                    len: 0,
                }
            }
            SnapshotHome::Tree => Sink::Memory(Vec::new()),
        }))
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

/// The snapshot at `path`: a snapshot directory, or a plain file (an
/// earlier ordo's snapshot, or a backup).
fn open_path(path: &Path) -> Result<SnapshotData, StoreError> {
    let pieces = if path.is_dir() {
        directory_pieces(path)?
    } else {
        let (file, len) = open_file(path)?;
        vec![Piece {
            file,
            start: 0,
            len,
        }]
    };
    let len = pieces.iter().map(|piece| piece.len).sum();
    Ok(SnapshotData(Blob::Files {
        pieces: pieces.into(),
        path: path.to_path_buf(),
        len,
    }))
}

/// A snapshot directory's stream, in order: `data` cut where `parts` puts
/// each linked file, and those files' shared bytes.
fn directory_pieces(path: &Path) -> Result<Vec<Piece>, StoreError> {
    let (data, data_len) = open_file(&path.join(DATA_FILE))?;
    let parts: Vec<Part> = match fs::read(path.join(PARTS_FILE)) {
        Ok(bytes) => decode("snapshot parts", &bytes)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_error("read a snapshot's parts", e)),
    };
    let mut pieces = Vec::with_capacity(2 * parts.len() + 1);
    let data_piece = |start: u64, end: u64| -> Result<Piece, StoreError> {
        if start > end || end > data_len {
            return Err(StoreError::BadSnapshot(format!(
                "{} puts a part at byte {end} of {data_len}",
                path.display()
            )));
        }
        Ok(Piece {
            file: data.clone(),
            start,
            len: end - start,
        })
    };
    let mut from = 0;
    for part in &parts {
        pieces.push(data_piece(from, part.at)?);
        // A linked file may have grown since (the newest segment of a
        // topic, appended to after the snapshot): only its first bytes are
        // the snapshot's.
        let (file, len) = open_file(&path.join(&part.file))?;
        if len < part.len {
            return Err(StoreError::BadSnapshot(format!(
                "{} has {len} bytes, its snapshot needs {}",
                path.join(&part.file).display(),
                part.len
            )));
        }
        pieces.push(Piece {
            file,
            start: 0,
            len: part.len,
        });
        from = part.at;
    }
    pieces.push(data_piece(from, data_len)?);
    pieces.retain(|piece| piece.len > 0);
    Ok(pieces)
}

fn open_file(path: &Path) -> Result<(Arc<File>, u64), StoreError> {
    let file = File::open(path).map_err(|e| io_error("open a snapshot file", e))?;
    let len = file
        .metadata()
        .map_err(|e| io_error("read a snapshot file's size", e))?
        .len();
    Ok((Arc::new(file), len))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    File::create(path)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(|e| io_error("write a snapshot file", e))
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

fn remove_entry(path: &Path) -> Result<(), StoreError> {
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

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync the snapshot directory", e))
}

fn io_error(what: &'static str, source: io::Error) -> StoreError {
    StoreError::Io { what, source }
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
