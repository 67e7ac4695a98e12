//! Reading a segment file's items from a stream (a snapshot carries sealed
//! segments as they are on disk): every frame's length and checksum
//! checked, nothing held but the frame being read. Pure over [`Read`].

use std::io::{self, Read};

use super::frame::{HEADER_BYTES, MAX_PAYLOAD_BYTES};
use super::item::{self, ItemRef};
use crate::error::StoreError;

/// Reads the `len` bytes of one segment file from `input` and hands each of
/// its items to `each`, in order. Fails, naming `what`, if a frame is
/// damaged, runs past `len` or holds no item: a segment sent whole holds
/// whole frames only (sealed segments have no preallocated tail).
pub(crate) fn read_items(
    input: &mut impl Read,
    len: u64,
    what: &str,
    mut each: impl FnMut(ItemRef<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let bad = |detail: String| StoreError::BadSnapshot(format!("{what}: {detail}"));
    let mut left = len;
    let mut payload = Vec::new();
    while left > 0 {
        if left < HEADER_BYTES as u64 {
            return Err(bad(format!("{left} bytes left, too few for a frame")));
        }
        let mut header = [0u8; HEADER_BYTES];
        read_exact(input, &mut header, &bad)?;
        let frame_len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        left -= HEADER_BYTES as u64;
        if frame_len == 0 || frame_len > MAX_PAYLOAD_BYTES || frame_len as u64 > left {
            return Err(bad(format!(
                "a frame of {frame_len} bytes with {left} bytes left"
            )));
        }
        payload.resize(frame_len, 0);
        read_exact(input, &mut payload, &bad)?;
        left -= frame_len as u64;
        if crc32fast::hash(&payload) != crc {
            return Err(bad("a frame fails its checksum".into()));
        }
        let item = item::decode(&payload).ok_or_else(|| bad("a frame holds no item".into()))?;
        each(item)?;
    }
    Ok(())
}

fn read_exact(
    input: &mut impl Read,
    buf: &mut [u8],
    bad: &impl Fn(String) -> StoreError,
) -> Result<(), StoreError> {
    input.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => bad("it ends inside a frame (truncated)".into()),
        _ => StoreError::Io {
            what: "read a snapshot",
            source: e,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(items: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (seq, payload) in items {
            ItemRef {
                seq: *seq,
                timestamp_ms: seq * 10,
                payload,
            }
            .encode(&mut out);
        }
        out
    }

    fn read(bytes: &[u8]) -> Result<Vec<(u64, u64, Vec<u8>)>, StoreError> {
        let mut items = Vec::new();
        read_items(&mut &bytes[..], bytes.len() as u64, "segment", |item| {
            items.push((item.seq, item.timestamp_ms, item.payload.to_vec()));
            Ok(())
        })?;
        Ok(items)
    }

    #[test]
    fn whole_frames_read_back_as_their_items() {
        let bytes = frames(&[(3, b"a"), (5, b"bc")]);
        assert_eq!(
            read(&bytes).expect("read"),
            vec![(3, 30, b"a".to_vec()), (5, 50, b"bc".to_vec())]
        );
        assert_eq!(read(&[]).expect("empty"), vec![]);
    }

    #[test]
    fn a_flipped_byte_a_cut_frame_or_zeros_are_refused() {
        let bytes = frames(&[(3, b"abc"), (4, b"def")]);
        let mut flipped = bytes.clone();
        *flipped.last_mut().expect("a byte") ^= 1;
        let err = read(&flipped).expect_err("a flipped byte");
        assert!(err.to_string().contains("checksum"), "{err}");
        let err = read(&bytes[..bytes.len() - 1]).expect_err("cut");
        assert!(err.to_string().contains("bytes left"), "{err}");
        let err = read(&[0u8; 16]).expect_err("zeros");
        assert!(err.to_string().contains("a frame of 0 bytes"), "{err}");
        // The stream itself ending early (a truncated snapshot).
        let mut short = &bytes[..5];
        let err = read_items(&mut short, bytes.len() as u64, "segment", |_| Ok(()))
            .expect_err("truncated");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
