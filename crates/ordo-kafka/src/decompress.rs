//! A produced batch's records, checked and decompressed with bounds.
//!
//! Decompressed: gzip, snappy
//! (raw, or in xerial's framing as Java clients write it), lz4 (frames)
//! and zstd, each read only up to [`MAX_DECOMPRESSED_BYTES`], so that a
//! small batch that expands without end (a compression bomb) is refused
//! instead of filling the node's memory. The protocol crate's own
//! decompression reads to the end; this is handed to it in its place.
//!
//! Checked: each record's header count, before the protocol crate reserves
//! room for that many headers (a count the bytes claim, not hold), against
//! ordo's limit of `MAX_HEADERS_PER_RECORD`. Pure.

use std::io::Read;

use bytes::{Buf, Bytes};
use kafka_protocol::records::Compression;
use ordo_core::limits::MAX_HEADERS_PER_RECORD;

/// The most a batch's records may take once decompressed: four times the
/// largest request, as an append over HTTP is at most one request body.
pub const MAX_DECOMPRESSED_BYTES: usize = 4 * ordo_api::limits::MAX_REQUEST_BODY_BYTES;

/// xerial's snappy framing: this header, then blocks of a 4-byte length
/// and raw snappy data.
const XERIAL_HEADER: &[u8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_BYTES: usize = 16;

/// Why a batch's records did not decompress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    #[error("the records decompress to more than {MAX_DECOMPRESSED_BYTES} bytes")]
    TooLarge,
    #[error("a record has {count} headers; the limit is {MAX_HEADERS_PER_RECORD}")]
    TooManyHeaders { count: i64 },
    #[error("the {codec} data is corrupt: {reason}")]
    Corrupt { codec: &'static str, reason: String },
}

/// The protocol crate's decompression callback.
pub fn decompress(compressed: &mut Bytes, compression: Compression) -> anyhow::Result<Bytes> {
    let data = compressed.copy_to_bytes(compressed.remaining());
    let records = decompressed(&data, compression)?;
    check_header_counts(&records)?;
    Ok(records)
}

/// Walks the records (each a zigzag varint length and that many bytes)
/// and refuses any with more headers than ordo keeps; anything else
/// malformed is left for the protocol crate to refuse.
pub fn check_header_counts(records: &[u8]) -> Result<(), DecompressError> {
    let mut rest = records;
    while !rest.is_empty() {
        let Some(length) = varint(&mut rest) else {
            return Ok(());
        };
        let Some(record) = usize::try_from(length).ok().and_then(|n| rest.get(..n)) else {
            return Ok(());
        };
        rest = &rest[record.len()..];
        let mut body = record.get(1..).unwrap_or_default(); // attributes
        let _timestamp_delta = varint(&mut body);
        let _offset_delta = varint(&mut body);
        for _key_then_value in 0..2 {
            let Some(length) = varint(&mut body) else {
                return Ok(());
            };
            let skip = usize::try_from(length).unwrap_or(0); // -1: null
            let Some(after) = body.get(skip..) else {
                return Ok(());
            };
            body = after;
        }
        if let Some(count) = varint(&mut body) {
            if !(0..=MAX_HEADERS_PER_RECORD as i64).contains(&count) {
                return Err(DecompressError::TooManyHeaders { count });
            }
        }
    }
    Ok(())
}

/// A zigzag LEB128 varint (Kafka's varint and varlong), consumed from the
/// front of `bytes`.
fn varint(bytes: &mut &[u8]) -> Option<i64> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some((value >> 1) as i64 ^ -((value & 1) as i64));
        }
    }
    None
}

/// `data`'s records, decompressed.
pub fn decompressed(data: &[u8], compression: Compression) -> Result<Bytes, DecompressError> {
    match compression {
        Compression::None => Ok(Bytes::copy_from_slice(data)),
        Compression::Gzip => read_bounded("gzip", flate2::read::GzDecoder::new(data)),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(data).map_err(corrupt("zstd"))?;
            read_bounded("zstd", decoder)
        }
        Compression::Lz4 => {
            let decoder = lz4::Decoder::new(data).map_err(corrupt("lz4"))?;
            read_bounded("lz4", decoder)
        }
        Compression::Snappy => snappy(data),
    }
}

fn corrupt(codec: &'static str) -> impl Fn(std::io::Error) -> DecompressError {
    move |e| DecompressError::Corrupt {
        codec,
        reason: e.to_string(),
    }
}

fn read_bounded(codec: &'static str, reader: impl Read) -> Result<Bytes, DecompressError> {
    let mut out = Vec::new();
    reader
        .take(MAX_DECOMPRESSED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(corrupt(codec))?;
    if out.len() > MAX_DECOMPRESSED_BYTES {
        return Err(DecompressError::TooLarge);
    }
    Ok(Bytes::from(out))
}

fn snappy(data: &[u8]) -> Result<Bytes, DecompressError> {
    let mut out = Vec::new();
    if !data.starts_with(XERIAL_HEADER) {
        snappy_block(data, &mut out)?;
        return Ok(Bytes::from(out));
    }
    let mut rest = data.get(XERIAL_HEADER_BYTES..).unwrap_or_default();
    while !rest.is_empty() {
        let Some((length, after)) = rest.split_first_chunk::<4>() else {
            return Err(snappy_corrupt("a block's length is cut off"));
        };
        let length = u32::from_be_bytes(*length) as usize;
        let block = after
            .get(..length)
            .ok_or_else(|| snappy_corrupt("a block is shorter than its length"))?;
        snappy_block(block, &mut out)?;
        rest = &after[length..];
    }
    Ok(Bytes::from(out))
}

/// Appends one raw snappy block's bytes to `out`, having checked the
/// length its header claims first.
fn snappy_block(block: &[u8], out: &mut Vec<u8>) -> Result<(), DecompressError> {
    let length = snap::raw::decompress_len(block).map_err(|e| snappy_corrupt(&e.to_string()))?;
    if out.len() + length > MAX_DECOMPRESSED_BYTES {
        return Err(DecompressError::TooLarge);
    }
    let start = out.len();
    out.resize(start + length, 0);
    snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| snappy_corrupt(&e.to_string()))?;
    Ok(())
}

fn snappy_corrupt(reason: &str) -> DecompressError {
    DecompressError::Corrupt {
        codec: "snappy",
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_bomb_is_refused_in_every_codec() {
        let zeros = vec![0u8; MAX_DECOMPRESSED_BYTES + 1024];
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&zeros).unwrap();
        let gzip = gzip.finish().unwrap();
        let zstd = zstd::encode_all(&zeros[..], 19).unwrap();
        let mut lz4 = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
        lz4.write_all(&zeros).unwrap();
        let lz4 = lz4.finish().0;
        let snappy = snap::raw::Encoder::new().compress_vec(&zeros).unwrap();
        for (compression, data) in [
            (Compression::Gzip, gzip),
            (Compression::Zstd, zstd),
            (Compression::Lz4, lz4),
            (Compression::Snappy, snappy),
        ] {
            assert!(data.len() < zeros.len() / 10, "{compression:?} compresses");
            assert_eq!(
                decompressed(&data, compression),
                Err(DecompressError::TooLarge),
                "{compression:?}"
            );
        }
    }

    #[test]
    fn a_record_claiming_more_headers_than_ordo_keeps_is_refused_before_decoding() {
        let zigzag = |n: i64| {
            let mut v = ((n << 1) ^ (n >> 63)) as u64;
            let mut out = Vec::new();
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    out.push(byte);
                    return out;
                }
                out.push(byte | 0x80);
            }
        };
        let record = |headers: i64| {
            // attributes, timestamp delta 0, offset delta 0, null key
            // (-1), a value of 1 byte, then the header count.
            let mut body = vec![0u8, 0, 0, 1, 2, b'x'];
            body.extend(zigzag(headers));
            let mut record = zigzag(body.len() as i64);
            record.extend(body);
            record
        };
        assert_eq!(check_header_counts(&record(0)), Ok(()));
        assert_eq!(
            check_header_counts(&[record(0), record(64)].concat()),
            Ok(())
        );
        assert_eq!(
            check_header_counts(&[record(0), record(65)].concat()),
            Err(DecompressError::TooManyHeaders { count: 65 })
        );
        assert!(check_header_counts(&record(-1)).is_err());
        assert!(check_header_counts(&record(i64::from(i32::MAX))).is_err());
    }

    #[test]
    fn xerial_snappy_blocks_decompress_in_order() {
        let mut framed = Vec::from(XERIAL_HEADER);
        framed.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        for part in [&b"hello, "[..], b"world"] {
            let block = snap::raw::Encoder::new().compress_vec(part).unwrap();
            framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
            framed.extend_from_slice(&block);
        }
        assert_eq!(
            decompressed(&framed, Compression::Snappy).unwrap(),
            Bytes::from_static(b"hello, world")
        );
        framed.truncate(framed.len() - 2);
        assert!(matches!(
            decompressed(&framed, Compression::Snappy),
            Err(DecompressError::Corrupt { .. })
        ));
        assert!(matches!(
            decompressed(b"not gzip", Compression::Gzip),
            Err(DecompressError::Corrupt { .. })
        ));
    }
}
