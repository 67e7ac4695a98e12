//! [`SnapshotData`]: a snapshot's bytes as one stream, whether they are in
//! memory, in a plain file, or in a snapshot directory (its `data` file cut
//! where its `parts` put each linked file's shared bytes); read in order,
//! or in chunks from any offset.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{io_error, DATA_FILE, IO_BUFFER_BYTES, PARTS_FILE};
use crate::codec::decode;
use crate::error::StoreError;

/// A snapshot's bytes: complete files, or bytes in memory. Cheap to clone;
/// files stay readable through their handles even after they are replaced.
#[derive(Clone)]
pub struct SnapshotData(pub(super) Blob);

#[derive(Clone)]
pub(super) enum Blob {
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
pub(super) struct Piece {
    file: Arc<File>,
    start: u64,
    len: u64,
}

/// Where one appended file's bytes go in a snapshot directory's stream:
/// before the byte of `data` at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Part {
    pub(super) at: u64,
    pub(super) file: String,
    pub(super) len: u64,
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

/// The snapshot at `path`: a snapshot directory, or a plain file (an
/// earlier ordo's snapshot, or a backup).
pub(super) fn open_path(path: &Path) -> Result<SnapshotData, StoreError> {
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
