//! Where a snapshot's bytes live, and the handle openraft passes around for
//! them ([`SnapshotData`]).
//!
//! On sled, a snapshot is a file in the store's snapshot directory
//! (`<store dir>/ordo-snapshots`, beside sled's own files): it is written
//! as a stream while it is built or received, never held in memory whole,
//! and read back in chunks to be sent. The snapshot tree names the current
//! file. On a [`crate::MemDisk`] (the simulation), there are no files: the
//! bytes are kept in memory and stored in the snapshot tree itself, so they
//! crash and recover with the rest of the disk.
//!
//! File names: `building-N.tmp` while a snapshot is being built,
//! `incoming-N.tmp` while one is being received, `snap-INDEX-N` once it is
//! complete and durable. Only the file the snapshot tree names is kept;
//! [`SnapshotHome::remove_stale`] deletes the others once the tree no
//! longer names them durably, and opening the store deletes leftovers.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
/// Buffer size for writing and reading snapshot files.
const IO_BUFFER_BYTES: usize = 1024 * 1024;

/// A snapshot's bytes: a complete file, or bytes in memory. Cheap to clone;
/// a file stays readable through its handle even after it is replaced.
#[derive(Clone)]
pub struct SnapshotData(Blob);

#[derive(Clone)]
enum Blob {
    File {
        file: Arc<File>,
        path: PathBuf,
        len: u64,
    },
    Memory(Arc<Vec<u8>>),
}

impl SnapshotData {
    /// Bytes in memory as a snapshot (the simulation's medium, and tests).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        SnapshotData(Blob::Memory(Arc::new(bytes)))
    }

    /// A snapshot file anywhere (a backup to restore).
    pub fn from_file(path: &Path) -> Result<Self, StoreError> {
        open_file(path)
    }

    /// How many bytes the snapshot has.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Blob::File { len, .. } => *len,
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
            Blob::File { file, .. } => {
                let mut chunk = vec![0; wanted];
                file.read_exact_at(&mut chunk, offset)?;
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
            Blob::File { file, .. } => Box::new(io::BufReader::with_capacity(
                IO_BUFFER_BYTES,
                FileReader { file, position: 0 },
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
            Blob::File { path, len, .. } => {
                write!(f, "snapshot file {} ({len} bytes)", path.display())
            }
            Blob::Memory(bytes) => write!(f, "snapshot in memory ({} bytes)", bytes.len()),
        }
    }
}

/// Reads a shared file from its own position (`pread`), so concurrent
/// readers of one snapshot do not move each other's cursor.
struct FileReader<'a> {
    file: &'a File,
    position: u64,
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read_at(buf, self.position)?;
        self.position += read as u64;
        Ok(read)
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
    /// Snapshot files in `store_dir`'s snapshot directory, created if
    /// missing. Files not complete are deleted: they belong to a build or a
    /// receive that a crash or restart cut off.
    pub(crate) fn files(store_dir: &Path) -> Result<Self, StoreError> {
        let dir = store_dir.join(SNAPSHOT_DIR);
        fs::create_dir_all(&dir).map_err(|e| io_error("create the snapshot directory", e))?;
        for name in file_names(&dir)? {
            if !name.starts_with(COMPLETE_PREFIX) {
                remove_file(&dir.join(name))?;
            }
        }
        Ok(SnapshotHome::Files {
            dir,
            next_id: AtomicU64::new(0),
        })
    }

    /// A writer for a new snapshot's bytes (`purpose`: "building" or
    /// "incoming").
    pub(crate) fn writer(&self, purpose: &str) -> Result<SnapshotWriter, StoreError> {
        Ok(SnapshotWriter(match self {
            SnapshotHome::Files { dir, next_id } => {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let path = dir.join(format!("{purpose}-{id}.tmp"));
                let file =
                    File::create(&path).map_err(|e| io_error("create a snapshot file", e))?;
                Sink::File {
                    out: BufWriter::with_capacity(IO_BUFFER_BYTES, file),
                    temp: TempPath(Some(path)),
                    len: 0,
                }
            }
            SnapshotHome::Tree => Sink::Memory(Vec::new()),
        }))
    }

    /// Makes `data` a complete snapshot of this store, named for
    /// `last_index`, and says how the tree should record it. A file already
    /// in this directory (one received here) is renamed; any other file is
    /// copied in, so a snapshot handed over from another store stays its own.
    pub(crate) fn adopt(&self, data: &SnapshotData, last_index: u64) -> Result<Stored, StoreError> {
        let SnapshotHome::Files { dir, next_id } = self else {
            let bytes = data.to_vec().map_err(|e| io_error("read a snapshot", e))?;
            return Ok(Stored::Bytes(bytes));
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let name = format!("{COMPLETE_PREFIX}{last_index:020}-{id}");
        let target = dir.join(&name);
        match &data.0 {
            Blob::File { path, .. } if is_in_progress(dir, path) => {
                fs::rename(path, &target).map_err(|e| io_error("rename a snapshot file", e))?;
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
            (SnapshotHome::Files { dir, .. }, Stored::File(name)) => open_file(&dir.join(name)),
            (_, Stored::Bytes(bytes)) => Ok(SnapshotData::from_bytes(bytes)),
            (SnapshotHome::Tree, Stored::File(name)) => Err(StoreError::BadSnapshot(format!(
                "a memory disk cannot hold snapshot file {name}"
            ))),
        }
    }

    /// Deletes `data` if it is a finished build or receive that was never
    /// adopted (a newer snapshot won).
    pub(crate) fn discard(&self, data: &SnapshotData) -> Result<(), StoreError> {
        match (self, &data.0) {
            (SnapshotHome::Files { dir, .. }, Blob::File { path, .. })
                if is_in_progress(dir, path) =>
            {
                remove_file(path)
            }
            _ => Ok(()),
        }
    }

    /// Deletes every complete snapshot file but those in `keep`: the one the
    /// tree names now and the one the caller just made durable (one of them
    /// is durable whatever a crash keeps). Builds and receives in progress
    /// are left alone.
    pub(crate) fn remove_stale(&self, keep: &[Option<String>]) -> Result<(), StoreError> {
        let SnapshotHome::Files { dir, .. } = self else {
            return Ok(());
        };
        for name in file_names(dir)? {
            if name.starts_with(COMPLETE_PREFIX) && !keep.iter().flatten().any(|k| *k == name) {
                remove_file(&dir.join(name))?;
            }
        }
        Ok(())
    }
}

/// A snapshot being written: to a temporary file, or to memory.
pub struct SnapshotWriter(Sink);

enum Sink {
    File {
        out: BufWriter<File>,
        temp: TempPath,
        len: u64,
    },
    Memory(Vec<u8>),
}

/// A file that is deleted when dropped, unless kept: a snapshot write that
/// never finished is of no use to anyone.
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
            let _ = fs::remove_file(path);
        }
    }
}

impl SnapshotWriter {
    /// How many bytes were written so far.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Sink::File { len, .. } => *len,
            Sink::Memory(bytes) => bytes.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes what was written durable and readable as a snapshot.
    pub fn finish(self) -> Result<SnapshotData, StoreError> {
        match self.0 {
            Sink::File { out, temp, .. } => {
                let file = out
                    .into_inner()
                    .map_err(|e| io_error("write a snapshot file", e.into_error()))?;
                file.sync_all()
                    .map_err(|e| io_error("sync a snapshot file", e))?;
                open_file(&temp.keep())
            }
            Sink::Memory(bytes) => Ok(SnapshotData::from_bytes(bytes)),
        }
    }
}

impl Write for SnapshotWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Sink::File { out, len, .. } => {
                let written = out.write(buf)?;
                *len += written as u64;
                Ok(written)
            }
            Sink::Memory(bytes) => bytes.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Sink::File { out, .. } => out.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }
}

/// A file this store built or received and has not adopted yet: the only
/// kind `adopt` may move.
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

fn open_file(path: &Path) -> Result<SnapshotData, StoreError> {
    let file = File::open(path).map_err(|e| io_error("open a snapshot file", e))?;
    let len = file
        .metadata()
        .map_err(|e| io_error("read a snapshot file's size", e))?
        .len();
    Ok(SnapshotData(Blob::File {
        file: Arc::new(file),
        path: path.to_path_buf(),
        len,
    }))
}

fn file_names(dir: &Path) -> Result<Vec<String>, StoreError> {
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

fn remove_file(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(io_error("remove a stale snapshot file", e))
        }
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
