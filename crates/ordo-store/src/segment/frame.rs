//! Frames, the unit of every segment file: `[payload length u32 LE][CRC32 of
//! the payload u32 LE][payload]`, and the scanner that reads whole frames
//! back and says where and why the valid ones end. Pure: it reads through a
//! [`ByteSource`] and never writes.
//!
//! A length of zero marks the end of the data (preallocated space is zeros),
//! so a payload is never empty. Where the valid frames end, the scanner tells
//! a torn write (the bad frame is the last thing there: it runs past the end,
//! or only zeros follow it) from corruption (more data follows a bad frame:
//! a flipped bit, never something a crash does). A flipped bit in the length
//! of the very last frame that makes it run past the end looks like a torn
//! write; every other bad frame is told apart.

use crate::error::StoreError;

/// Bytes before each payload: its length and its checksum.
pub(crate) const HEADER_BYTES: usize = 8;

/// The largest payload a frame may carry: 16 times ordo's largest request
/// body, so any one Raft entry fits, and small enough that a length read
/// from a damaged header cannot make a reader allocate without bound.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// How much the scanner reads at a time: its first read, then twice the
/// one before, up to the most. A point read (a claimed job, a page of one
/// record) then reads a few KiB, not 64, and a long scan soon reads 64 KiB
/// at a time.
const FIRST_SCAN_CHUNK_BYTES: usize = 4 * 1024;
const SCAN_CHUNK_BYTES: usize = 64 * 1024;

/// Appends to `out` one frame whose payload is `parts`, concatenated.
///
/// Panics if the payload is empty or over [`MAX_PAYLOAD_BYTES`]: callers
/// check their input, so either is a bug.
pub(crate) fn encode(parts: &[&[u8]], out: &mut Vec<u8>) {
    let len: usize = parts.iter().map(|part| part.len()).sum();
    assert!(
        (1..=MAX_PAYLOAD_BYTES).contains(&len),
        "a frame's payload of {len} bytes"
    );
    let mut crc = crc32fast::Hasher::new();
    parts.iter().for_each(|part| crc.update(part));
    out.reserve(HEADER_BYTES + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    parts.iter().for_each(|part| out.extend_from_slice(part));
}

/// The length of a frame with a payload of `payload_len` bytes.
pub(crate) fn frame_len(payload_len: usize) -> usize {
    HEADER_BYTES + payload_len
}

/// Where frames are read from: a slice, a file, a file and the write buffer
/// after it.
pub(crate) trait ByteSource {
    /// Fills `buf` with the bytes at `position`; the scanner never asks for
    /// bytes past the limit it was given.
    fn read_exact_at(&self, position: u64, buf: &mut [u8]) -> Result<(), StoreError>;
}

impl ByteSource for [u8] {
    fn read_exact_at(&self, position: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        let start = usize::try_from(position).expect("a slice position fits in usize");
        buf.copy_from_slice(&self[start..start + buf.len()]);
        Ok(())
    }
}

/// Where a scan stopped, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// Bytes of whole, valid frames from the start of the scan's source.
    pub valid_len: u64,
    pub stop: Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The limit, or only zeros up to it: the end of the data.
    Clean,
    /// A frame that runs past the limit, or fails its checksum with only
    /// zeros after it: a write that a crash cut short.
    Torn,
    /// A bad frame at byte `at` with more data after it.
    Corrupt { at: u64 },
}

/// Reads whole frames from a [`ByteSource`], from a position up to a limit.
pub(crate) struct Scanner<'s, S: ByteSource + ?Sized> {
    source: &'s S,
    limit: u64,
    /// Where the next frame starts.
    position: u64,
    /// Bytes read ahead: those at `chunk_at..chunk_at + chunk.len()`.
    chunk: Vec<u8>,
    chunk_at: u64,
    /// How much the next read reads ahead.
    read_ahead: u64,
    end: Option<ScanEnd>,
}

impl<'s, S: ByteSource + ?Sized> Scanner<'s, S> {
    /// A scan of the frames in `source` from `from` up to `limit`.
    pub(crate) fn new(source: &'s S, from: u64, limit: u64) -> Self {
        Scanner {
            source,
            limit: limit.max(from),
            position: from,
            chunk: Vec::new(),
            chunk_at: from,
            read_ahead: FIRST_SCAN_CHUNK_BYTES as u64,
            end: None,
        }
    }

    /// The next whole, valid frame: its position and its payload. `None`
    /// once the valid frames end; [`Scanner::end`] then says why.
    pub(crate) fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, StoreError> {
        if self.end.is_some() {
            return Ok(None);
        }
        let at = self.position;
        let header = self.bytes(HEADER_BYTES as u64)?;
        if header.len() < HEADER_BYTES {
            let stop = if header.iter().all(|byte| *byte == 0) {
                Stop::Clean
            } else {
                Stop::Torn
            };
            return self.stop(stop);
        }
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        if len == 0 {
            let stop = self.zeros_or_corrupt(at, Stop::Clean)?;
            return self.stop(stop);
        }
        if len > MAX_PAYLOAD_BYTES {
            return self.stop(Stop::Corrupt { at });
        }
        let frame = frame_len(len) as u64;
        if at + frame > self.limit {
            return self.stop(Stop::Torn);
        }
        if crc32fast::hash(&self.bytes(frame)?[HEADER_BYTES..]) != crc {
            // The skip-crc mutant takes the frame as it is (simulation only).
            #[cfg(feature = "mutants")]
            let accept = crate::mutants::skip_crc_check();
            #[cfg(not(feature = "mutants"))]
            let accept = false;
            if !accept {
                let stop = self.zeros_or_corrupt(at + frame, Stop::Torn)?;
                return self.stop(stop);
            }
        }
        self.position = at + frame;
        let start = (at - self.chunk_at) as usize;
        Ok(Some((
            at,
            &self.chunk[start + HEADER_BYTES..start + frame as usize],
        )))
    }

    /// Why the valid frames ended, once [`Scanner::next_frame`] said they did.
    pub(crate) fn end(&self) -> Option<ScanEnd> {
        self.end
    }

    fn stop<T>(&mut self, stop: Stop) -> Result<Option<T>, StoreError> {
        self.end = Some(ScanEnd {
            valid_len: self.position,
            stop,
        });
        Ok(None)
    }

    /// Up to `len` bytes at the current position (fewer only at the limit).
    fn bytes(&mut self, len: u64) -> Result<&[u8], StoreError> {
        let len = len.min(self.limit - self.position);
        let chunk_end = self.chunk_at + self.chunk.len() as u64;
        if self.position < self.chunk_at || self.position + len > chunk_end {
            let read = len.max(self.read_ahead).min(self.limit - self.position);
            self.read_ahead = (self.read_ahead * 2).min(SCAN_CHUNK_BYTES as u64);
            self.chunk.resize(read as usize, 0);
            self.source.read_exact_at(self.position, &mut self.chunk)?;
            self.chunk_at = self.position;
        }
        let start = (self.position - self.chunk_at) as usize;
        Ok(&self.chunk[start..start + len as usize])
    }

    /// `if_zeros` if only zeros lie from `from` to the limit, else corruption
    /// at the current frame.
    fn zeros_or_corrupt(&mut self, from: u64, if_zeros: Stop) -> Result<Stop, StoreError> {
        let at = self.position;
        let mut buf = vec![0; SCAN_CHUNK_BYTES];
        let mut position = from;
        while position < self.limit {
            let len = (self.limit - position).min(SCAN_CHUNK_BYTES as u64) as usize;
            self.source.read_exact_at(position, &mut buf[..len])?;
            if buf[..len].iter().any(|byte| *byte != 0) {
                return Ok(Stop::Corrupt { at });
            }
            position += len as u64;
        }
        Ok(if_zeros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for payload in payloads {
            encode(&[payload], &mut out);
        }
        out
    }

    /// Every payload the scan yields, and why it stopped.
    fn scan(bytes: &[u8]) -> (Vec<Vec<u8>>, ScanEnd) {
        let mut scanner = Scanner::new(bytes, 0, bytes.len() as u64);
        let mut payloads = Vec::new();
        while let Some((_, payload)) = scanner.next_frame().expect("scan") {
            payloads.push(payload.to_vec());
        }
        (payloads, scanner.end().expect("ended"))
    }

    fn end(valid_len: usize, stop: Stop) -> ScanEnd {
        ScanEnd {
            valid_len: valid_len as u64,
            stop,
        }
    }

    #[test]
    fn whole_frames_scan_back_to_a_clean_end() {
        let bytes = frames(&[b"one", b"two", &[7; 70_000]]);
        let (payloads, stop) = scan(&bytes);
        assert_eq!(
            payloads,
            vec![b"one".to_vec(), b"two".to_vec(), vec![7; 70_000]]
        );
        assert_eq!(stop, end(bytes.len(), Stop::Clean));
    }

    #[test]
    fn a_payload_split_into_parts_is_one_frame() {
        let mut joined = Vec::new();
        encode(&[b"ab", b"", b"cd"], &mut joined);
        assert_eq!(joined, frames(&[b"abcd"]));
    }

    #[test]
    fn zeros_after_the_frames_are_the_end_of_the_data() {
        let mut bytes = frames(&[b"one", b"two"]);
        let valid = bytes.len();
        bytes.resize(valid + 100_000, 0);
        let (payloads, stop) = scan(&bytes);
        assert_eq!(payloads.len(), 2);
        assert_eq!(stop, end(valid, Stop::Clean));
        // Fewer zeros than a header, too.
        let (_, stop) = scan(&bytes[..valid + 3]);
        assert_eq!(stop, end(valid, Stop::Clean));
    }

    #[test]
    fn a_frame_cut_short_anywhere_is_torn() {
        let whole = frames(&[b"first", b"second frame"]);
        let first = frame_len(5);
        for cut in first + 1..whole.len() {
            let (payloads, stop) = scan(&whole[..cut]);
            assert_eq!(payloads, vec![b"first".to_vec()], "cut at {cut}");
            assert_eq!(stop, end(first, Stop::Torn), "cut at {cut}");
            // The same cut in preallocated space: zeros where the rest was.
            let mut zeroed = whole.clone();
            zeroed[cut..].fill(0);
            zeroed.resize(whole.len() + 64, 0);
            let (payloads, stop) = scan(&zeroed);
            assert_eq!(payloads.len(), 1, "zeroed from {cut}");
            assert_eq!(stop, end(first, Stop::Torn), "zeroed from {cut}");
        }
    }

    #[test]
    fn a_flipped_byte_with_data_after_it_is_corruption() {
        let whole = frames(&[b"first", b"second", b"third"]);
        let second = frame_len(5);
        for flip in second..second + frame_len(6) {
            let mut bytes = whole.clone();
            bytes[flip] ^= 0x40;
            let (payloads, stop) = scan(&bytes);
            assert_eq!(payloads, vec![b"first".to_vec()], "flip at {flip}");
            // A flip in the low bytes of the length makes the frame run past
            // the end: indistinguishable from a torn last frame (the
            // module's one blind spot). Any other flip is corruption.
            if flip >= second + 3 {
                let corrupt = Stop::Corrupt { at: second as u64 };
                assert_eq!(stop, end(second, corrupt), "flip at {flip}");
            }
        }
    }

    #[test]
    fn a_zero_length_with_data_after_it_is_corruption() {
        let mut bytes = frames(&[b"first", b"second"]);
        let second = frame_len(5);
        bytes[second..second + 4].fill(0);
        let (_, stop) = scan(&bytes);
        assert_eq!(stop, end(second, Stop::Corrupt { at: second as u64 }));
    }

    #[test]
    fn a_length_over_the_limit_is_corruption_not_a_torn_write() {
        let mut bytes = frames(&[b"first"]);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        let (_, stop) = scan(&bytes);
        let at = frame_len(5);
        assert_eq!(stop, end(at, Stop::Corrupt { at: at as u64 }));
    }

    #[test]
    fn a_scan_can_start_and_stop_inside_the_source() {
        let bytes = frames(&[b"a", b"bb", b"ccc"]);
        let (from, limit) = (frame_len(1) as u64, (frame_len(1) + frame_len(2)) as u64);
        let mut scanner = Scanner::new(&bytes[..], from, limit);
        let (at, payload) = scanner.next_frame().expect("scan").expect("a frame");
        assert_eq!((at, payload), (from, &b"bb"[..]));
        assert_eq!(scanner.next_frame().expect("scan"), None);
        assert_eq!(scanner.end(), Some(end(limit as usize, Stop::Clean)));
    }
}
