//! Kafka record batches and ordo records, both ways. Pure.
//!
//! In: a Produce's `records` bytes are one or more v2 record batches
//! (CRC-32C checked, any codec the protocol crate has: gzip, snappy, lz4,
//! zstd); each batch becomes one ordo append of the same records, in
//! order. A key must be UTF-8 (ordo's keys are strings: they name records
//! in compaction, conditions and queues), header values must be UTF-8
//! strings, and a header named twice keeps its last value; a value is any
//! bytes, kept as they are (`RecordValue::from_bytes`), and a null value is
//! a tombstone. Timestamps are the leader's, as for every append: the
//! client's are not kept.
//!
//! Out: a Fetch's records are one uncompressed v2 batch of ordo records,
//! their offsets as they are (gaps left by compaction included), each
//! record's value as the bytes it was produced as (a value appended over
//! HTTP: its JSON text), JSON `null` as a null value.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record as KafkaRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID, NO_SEQUENCE,
};
use ordo_core::limits::MAX_RECORDS_PER_APPEND;
use ordo_core::{NewRecord, Record, RecordValue};

/// The fixed part of a v2 batch, up to and including its record count.
const BATCH_HEADER_BYTES: usize = 61;
/// Where the magic byte is in a batch.
const MAGIC_AT: usize = 16;

/// One produced batch, as an append.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducedBatch {
    /// Set by an idempotent producer.
    pub producer: Option<ProducerSequence>,
    pub records: Vec<NewRecord>,
}

/// An idempotent producer's numbering of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSequence {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

/// Why produced records were refused; nothing of the partition's records
/// was appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    /// Message sets v0 and v1 (before Kafka 0.11): answered
    /// `UNSUPPORTED_FOR_MESSAGE_FORMAT`.
    #[error("record batches of magic {magic} are not supported; ordo takes v2 batches (Kafka 0.11 and later)")]
    OldFormat { magic: i8 },
    #[error("transactional and control batches are not supported")]
    Transactional,
    #[error("the records do not decode: {0}")]
    Corrupt(String),
    #[error("a batch of {count} records; the limit is 1 to {MAX_RECORDS_PER_APPEND}")]
    BatchSize { count: i64 },
    #[error("{0}")]
    InvalidRecord(String),
}

/// Every batch in `bytes`, as appends.
pub fn decode_batches(mut bytes: Bytes) -> Result<Vec<ProducedBatch>, RecordsError> {
    let mut batches = Vec::new();
    while bytes.has_remaining() {
        check_batch_header(&bytes)?;
        let set = RecordBatchDecoder::decode_with_custom_compression(
            &mut bytes,
            Some(crate::decompress::decompress),
        )
        .map_err(|e| RecordsError::Corrupt(format!("{e:#}")))?;
        let Some(first) = set.records.first() else {
            return Err(RecordsError::BatchSize { count: 0 });
        };
        if first.transactional || first.control {
            return Err(RecordsError::Transactional);
        }
        let producer = (first.producer_id >= 0).then_some(ProducerSequence {
            producer_id: first.producer_id,
            epoch: first.producer_epoch,
            // Each record carries base + its offset delta; the first's
            // delta is 0 in every batch a client writes.
            base_sequence: first.sequence,
        });
        let records = set
            .records
            .into_iter()
            .map(new_record)
            .collect::<Result<Vec<_>, _>>()?;
        batches.push(ProducedBatch { producer, records });
    }
    if batches.is_empty() {
        return Err(RecordsError::BatchSize { count: 0 });
    }
    Ok(batches)
}

/// Refuses, before anything is decoded or allocated, a batch whose header
/// is too short, of an old format, or with a record count out of bounds.
fn check_batch_header(bytes: &Bytes) -> Result<(), RecordsError> {
    if bytes.len() < BATCH_HEADER_BYTES {
        if let Some(&magic) = bytes.get(MAGIC_AT) {
            if magic != 2 {
                return Err(RecordsError::OldFormat { magic: magic as i8 });
            }
        }
        return Err(RecordsError::Corrupt(format!(
            "{} bytes cannot hold a batch header",
            bytes.len()
        )));
    }
    let magic = bytes[MAGIC_AT] as i8;
    if magic != 2 {
        return Err(RecordsError::OldFormat { magic });
    }
    let count = i32::from_be_bytes([bytes[57], bytes[58], bytes[59], bytes[60]]);
    if count < 1 || count as usize > MAX_RECORDS_PER_APPEND {
        return Err(RecordsError::BatchSize {
            count: count.into(),
        });
    }
    Ok(())
}

fn new_record(record: KafkaRecord) -> Result<NewRecord, RecordsError> {
    let key = record
        .key
        .map(|key| {
            String::from_utf8(key.to_vec()).map_err(|_| {
                RecordsError::InvalidRecord("a key is not UTF-8: ordo's keys are strings".into())
            })
        })
        .transpose()?;
    let value = match record.value {
        None => RecordValue::null(),
        Some(value) => RecordValue::from_bytes(Vec::from(value)),
    };
    let mut headers = BTreeMap::new();
    for (name, value) in record.headers {
        let Some(value) = value else {
            return Err(RecordsError::InvalidRecord(format!(
                "header {:?} has a null value: ordo's header values are strings",
                name.as_str()
            )));
        };
        let value = String::from_utf8(value.to_vec()).map_err(|_| {
            RecordsError::InvalidRecord(format!(
                "header {:?} has a value that is not UTF-8: ordo's header values are strings",
                name.as_str()
            ))
        })?;
        headers.insert(name.as_str().to_owned(), value);
    }
    let record = NewRecord {
        key,
        value,
        headers,
    };
    record
        .validate()
        .map_err(|e| RecordsError::InvalidRecord(e.to_string()))?;
    Ok(record)
}

/// About the bytes `record` takes in a batch: what a fetch counts against
/// its byte limits.
pub fn encoded_size(record: &Record) -> usize {
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 10)
        .sum();
    24 + record.key.as_ref().map_or(0, String::len) + record.value.as_bytes().len() + headers
}

/// `records` (at least one, in offset order) as one uncompressed v2 batch.
pub fn encode_batch(records: &[Record], out: &mut BytesMut) -> Result<(), String> {
    let Some(first) = records.first() else {
        return Ok(());
    };
    let base = first.offset.0;
    let kafka: Vec<KafkaRecord> = records.iter().map(|r| kafka_record(r, base)).collect();
    RecordBatchEncoder::encode(
        out,
        kafka.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| format!("{e:#}"))
}

/// `record` as the protocol crate encodes it, in a batch whose first
/// offset is `base`. The crate starts a new batch wherever offset minus
/// sequence changes, so each record's sequence is its offset delta from
/// the batch's, less one: one batch, whose base sequence is -1 (none).
fn kafka_record(record: &Record, base: u64) -> KafkaRecord {
    let value = if record.value.is_null() {
        None
    } else {
        Some(Bytes::copy_from_slice(record.value.as_bytes()))
    };
    let headers: IndexMap<StrBytes, Option<Bytes>> = record
        .headers
        .iter()
        .map(|(name, value)| {
            (
                StrBytes::from_string(name.clone()),
                Some(Bytes::copy_from_slice(value.as_bytes())),
            )
        })
        .collect();
    KafkaRecord {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        timestamp_type: TimestampType::Creation,
        offset: record.offset.0 as i64,
        sequence: NO_SEQUENCE.wrapping_add(record.offset.0.wrapping_sub(base) as i32),
        timestamp: record.timestamp_ms as i64,
        key: record
            .key
            .as_ref()
            .map(|key| Bytes::copy_from_slice(key.as_bytes())),
        value,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_core::Offset;

    fn produced(records: &[KafkaRecord], compression: Compression) -> Bytes {
        let mut out = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut out,
            records.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        out.freeze()
    }

    fn kafka(offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> KafkaRecord {
        KafkaRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            // One batch: offset minus sequence the same for every record.
            sequence: offset as i32 - 1,
            timestamp: 1_700_000_000_000,
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: IndexMap::new(),
        }
    }

    #[test]
    fn every_codec_decodes_to_the_same_records() {
        let input = [
            kafka(0, Some(b"k"), Some(b"{\"a\":1}")),
            kafka(1, None, Some(b"plain text")),
            kafka(2, Some(b"gone"), None),
            kafka(3, None, Some(&[0xff, 0x00, 0x10])),
        ];
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let batches = decode_batches(produced(&input, compression)).unwrap();
            assert_eq!(batches.len(), 1, "{compression:?}");
            let records = &batches[0].records;
            assert_eq!(records.len(), 4);
            assert_eq!(records[0].key.as_deref(), Some("k"));
            assert_eq!(records[0].value.as_bytes(), b"{\"a\":1}");
            assert_eq!(records[1].value.as_bytes(), b"plain text");
            assert!(records[2].value.is_null(), "a null value is a tombstone");
            assert_eq!(records[3].value.as_bytes(), &[0xff, 0x00, 0x10]);
            assert_eq!(batches[0].producer, None);
        }
    }

    #[test]
    fn an_idempotent_batch_names_its_producer_and_base_sequence() {
        let mut records = [kafka(0, None, Some(b"a")), kafka(1, None, Some(b"b"))];
        for (i, record) in records.iter_mut().enumerate() {
            record.producer_id = 42;
            record.producer_epoch = 3;
            record.sequence = 17 + i as i32;
        }
        let batches = decode_batches(produced(&records, Compression::None)).unwrap();
        assert_eq!(
            batches[0].producer,
            Some(ProducerSequence {
                producer_id: 42,
                epoch: 3,
                base_sequence: 17
            })
        );
    }

    #[test]
    fn a_corrupted_batch_is_refused_by_its_checksum() {
        let bytes = produced(&[kafka(0, None, Some(b"hello world"))], Compression::None);
        let mut corrupt = bytes.to_vec();
        let last = corrupt.len() - 3;
        corrupt[last] ^= 0x55;
        assert!(matches!(
            decode_batches(Bytes::from(corrupt)),
            Err(RecordsError::Corrupt(_))
        ));
    }

    #[test]
    fn old_formats_huge_counts_and_bad_keys_are_refused_before_appending() {
        let bytes = produced(&[kafka(0, None, Some(b"x"))], Compression::None);
        let mut old = bytes.to_vec();
        old[MAGIC_AT] = 1;
        assert_eq!(
            decode_batches(Bytes::from(old)),
            Err(RecordsError::OldFormat { magic: 1 })
        );
        let mut huge = bytes.to_vec();
        huge[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode_batches(Bytes::from(huge)),
            Err(RecordsError::BatchSize { .. })
        ));
        let bad_key = produced(
            &[kafka(0, Some(&[0xc3, 0x28]), Some(b"x"))],
            Compression::None,
        );
        assert!(matches!(
            decode_batches(bad_key),
            Err(RecordsError::InvalidRecord(_))
        ));
        assert!(decode_batches(Bytes::from_static(&[0; 10])).is_err());
        assert!(decode_batches(Bytes::new()).is_err());
    }

    #[test]
    fn fetched_records_read_back_byte_for_byte_with_their_offsets() {
        let stored = vec![
            Record {
                offset: Offset(5),
                key: Some("k".into()),
                value: RecordValue::from_bytes(b"\x00\x01binary".to_vec()),
                headers: BTreeMap::from([("h".into(), "v".into())]),
                timestamp_ms: 1_000,
            },
            Record {
                offset: Offset(9), // after a compaction gap
                key: None,
                value: RecordValue::from_json_text(r#"{"x": [1, 2]}"#).unwrap(),
                headers: BTreeMap::new(),
                timestamp_ms: 2_000,
            },
            Record {
                offset: Offset(10),
                key: Some("k".into()),
                value: RecordValue::null(),
                headers: BTreeMap::new(),
                timestamp_ms: 3_000,
            },
        ];
        let mut out = BytesMut::new();
        encode_batch(&stored, &mut out).unwrap();
        let set = RecordBatchDecoder::decode(&mut out.freeze()).unwrap();
        let offsets: Vec<i64> = set.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [5, 9, 10]);
        assert_eq!(
            set.records[0].value.as_deref(),
            Some(&b"\x00\x01binary"[..])
        );
        assert_eq!(set.records[0].headers[0].as_deref(), Some(&b"v"[..]));
        assert_eq!(
            set.records[1].value.as_deref(),
            Some(&br#"{"x": [1, 2]}"#[..]),
            "a JSON value is served as its text"
        );
        assert_eq!(set.records[2].value, None, "a tombstone is a null value");
        assert_eq!(set.records[1].timestamp, 2_000);
    }
}
