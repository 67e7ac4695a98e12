//! A stream's frames: the length of what follows (u32, big-endian), a code
//! byte, and the body; written with one vectored write, read through the
//! caller's buffer. Both ends of a stream use these.

use std::io::{self, IoSlice};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most a frame's body reserves before its bytes arrive: room for
/// nearly every message at once (an AppendEntries of a few hundred
/// records), while a length alone reserves no more than this.
const INITIAL_BODY_CAPACITY: usize = 1024 * 1024;

/// A frame's length, code and body.
fn frame_header(code: u8, body_len: usize) -> io::Result<[u8; 5]> {
    let len = u32::try_from(body_len + 1)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
    let mut header = [0; 5];
    header[..4].copy_from_slice(&len.to_be_bytes());
    header[4] = code;
    Ok(header)
}

/// Writes one frame, header and body in one vectored write when the
/// writer takes it whole, and flushes it.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    code: u8,
    body: &[u8],
) -> io::Result<()> {
    let header = frame_header(code, body.len())?;
    let written = writer
        .write_vectored(&[IoSlice::new(&header), IoSlice::new(body)])
        .await?;
    // Whatever that first write left, in order.
    if written < header.len() {
        writer.write_all(&header[written..]).await?;
    }
    writer
        .write_all(&body[written.saturating_sub(header.len())..])
        .await?;
    writer.flush().await
}

/// How reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection ended cleanly before a frame began.
    #[error("the connection was closed")]
    Closed,
    /// A frame longer than the reader takes.
    #[error("a frame of {len} bytes is over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("the frame has no code byte")]
    Empty,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads one frame of at most `max` bytes after its length.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<(u8, Vec<u8>), FrameError> {
    let mut len = [0; 4];
    let first = reader.read(&mut len).await?;
    if first == 0 {
        return Err(FrameError::Closed);
    }
    reader.read_exact(&mut len[first..]).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(FrameError::TooLong { len, max });
    }
    let Some(body_len) = len.checked_sub(1) else {
        return Err(FrameError::Empty);
    };
    let code = reader.read_u8().await?;
    // Grown as the bytes arrive, so a length alone reserves no memory.
    let mut body = Vec::with_capacity(body_len.min(INITIAL_BODY_CAPACITY));
    (&mut *reader)
        .take(body_len as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() < body_len {
        return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    Ok((code, body))
}
