//! One record's bytes in a topic's segment files (and in a snapshot's
//! record runs): a compact binary layout, not JSON, so a 100-byte value
//! costs about 15 bytes more on disk instead of about 60, and a read
//! parses only the value.
//!
//! Layout: the version, `0x01` for a value of JSON text or `0x02` for a
//! value of raw bytes (a JSON object, what ordo wrote before, starts with
//! `{` and still decodes), the offset and the timestamp as LEB128 varints,
//! the key (a varint of its length plus one, 0 for none, then its UTF-8
//! bytes), the headers (a varint count, then each name and value as a
//! varint length and UTF-8 bytes), and the value's bytes (its JSON text or
//! its raw bytes) to the end. Pure.

use std::collections::BTreeMap;

use ordo_core::{Offset, Record, RecordValue};

use crate::binary::{put_str, put_varint, Malformed, Reader};
use crate::codec;
use crate::error::StoreError;

/// The version of a record whose value is JSON text.
const VERSION: u8 = 0x01;
/// The version of a record whose value is raw bytes: the same layout.
const VERSION_RAW_VALUE: u8 = 0x02;

/// `record` in the binary layout.
pub(crate) fn encode(record: &Record) -> Result<Vec<u8>, StoreError> {
    // The version and two varints (offset, timestamp) take at most 21
    // bytes; the rest is `encoded_len`.
    let mut out = Vec::with_capacity(21 + encoded_len(&record.key, &record.headers, &record.value));
    out.push(if record.value.is_bytes() {
        VERSION_RAW_VALUE
    } else {
        VERSION
    });
    put_varint(&mut out, record.offset.0);
    put_varint(&mut out, record.timestamp_ms);
    put_key_and_headers(&mut out, &record.key, &record.headers);
    out.extend_from_slice(record.value.as_bytes());
    Ok(out)
}

/// At least the bytes [`put_key_and_headers`] and the value take: two
/// varints (key length, header count) at most 20 bytes, each header's two
/// lengths at most 20, and the value's bytes.
pub(crate) fn encoded_len(
    key: &Option<String>,
    headers: &BTreeMap<String, String>,
    value: &RecordValue,
) -> usize {
    20 + key.as_ref().map_or(0, String::len)
        + headers
            .iter()
            .map(|(name, value)| name.len() + value.len() + 20)
            .sum::<usize>()
        + value.len()
}

/// A record's key (a varint of its length plus one, 0 for none, then its
/// bytes) and headers (a varint count, then each name and value as a
/// string): the part of a record's layout that the append command's
/// layout (`command_codec`) shares.
pub(crate) fn put_key_and_headers(
    out: &mut Vec<u8>,
    key: &Option<String>,
    headers: &BTreeMap<String, String>,
) {
    match key {
        None => put_varint(out, 0),
        Some(key) => {
            put_varint(out, key.len() as u64 + 1);
            out.extend_from_slice(key.as_bytes());
        }
    }
    put_varint(out, headers.len() as u64);
    for (name, value) in headers {
        put_str(out, name);
        put_str(out, value);
    }
}

/// Reads back what [`put_key_and_headers`] wrote.
pub(crate) fn read_key_and_headers(
    reader: &mut Reader<'_>,
) -> Result<(Option<String>, BTreeMap<String, String>), Malformed> {
    let key = match reader.varint()? {
        0 => None,
        len_plus_one => Some(reader.str(len_plus_one - 1)?.to_owned()),
    };
    let count = reader.varint()?;
    let mut headers = BTreeMap::new();
    for _ in 0..count {
        let name = reader.prefixed_str()?.to_owned();
        headers.insert(name, reader.prefixed_str()?.to_owned());
    }
    Ok((key, headers))
}

/// A record from [`encode`]'s bytes, or from the JSON ordo wrote before.
pub(crate) fn decode(bytes: &[u8]) -> Result<Record, StoreError> {
    match bytes.first() {
        Some(&VERSION) => read_record(&mut Reader::new(&bytes[1..]), json_value).map_err(bad),
        Some(&VERSION_RAW_VALUE) => {
            read_record(&mut Reader::new(&bytes[1..]), raw_value).map_err(bad)
        }
        Some(b'{') => codec::decode("record", bytes),
        _ => Err(bad(Malformed(
            "it starts with neither a version nor a JSON object",
        ))),
    }
}

fn read_record(
    reader: &mut Reader<'_>,
    value: fn(&[u8]) -> Result<RecordValue, Malformed>,
) -> Result<Record, Malformed> {
    let offset = Offset(reader.varint()?);
    let timestamp_ms = reader.varint()?;
    let (key, headers) = read_key_and_headers(reader)?;
    let value = value(reader.rest())?;
    Ok(Record {
        offset,
        key,
        value,
        headers,
        timestamp_ms,
    })
}

/// A value stored as JSON text (by either codec).
pub(crate) fn json_value(bytes: &[u8]) -> Result<RecordValue, Malformed> {
    RecordValue::from_stored_bytes(bytes)
        .map_err(|_| Malformed("a value is not one whole JSON value"))
}

/// A value stored as raw bytes (by either codec).
pub(crate) fn raw_value(bytes: &[u8]) -> Result<RecordValue, Malformed> {
    Ok(RecordValue::from_stored_raw(bytes.to_vec()))
}

fn bad(Malformed(detail): Malformed) -> StoreError {
    StoreError::BadRecord(detail.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(key: Option<&str>, headers: &[(&str, &str)], value: serde_json::Value) -> Record {
        Record {
            offset: Offset(300),
            key: key.map(str::to_owned),
            value: value.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            timestamp_ms: 1_764_870_000_123,
        }
    }

    #[test]
    fn records_round_trip_and_are_smaller_than_their_json() {
        let cases = [
            record(None, &[], json!("x".repeat(98))),
            record(Some(""), &[], json!(null)),
            record(
                Some("user-ä"),
                &[("a", "1"), ("trace", "")],
                json!({"n": [1, 2.5]}),
            ),
            Record {
                offset: Offset(u64::MAX),
                timestamp_ms: u64::MAX,
                ..record(Some("k"), &[], json!(0))
            },
        ];
        for case in cases {
            let bytes = encode(&case).expect("encode");
            assert_eq!(decode(&bytes).expect("decode"), case);
            let json = serde_json::to_vec(&case).expect("json");
            assert!(
                bytes.len() < json.len(),
                "{} vs {}",
                bytes.len(),
                json.len()
            );
        }
        let plain = encode(&record(None, &[], json!("x".repeat(98)))).expect("encode");
        assert_eq!(plain.len(), 100 + 1 + 2 + 6 + 1 + 1, "value + overhead");
    }

    #[test]
    fn raw_byte_values_round_trip_apart_from_json_text() {
        for bytes in [&b"\xff\x00"[..], b"hello", b"null", b" 1", b""] {
            let case = Record {
                value: RecordValue::from_bytes(bytes.to_vec()),
                ..record(Some("k"), &[("h", "v")], json!(0))
            };
            let encoded = encode(&case).expect("encode");
            assert_eq!(encoded[0], VERSION_RAW_VALUE);
            assert!(encoded.ends_with(bytes));
            let decoded = decode(&encoded).expect("decode");
            assert!(decoded.value.is_bytes());
            assert_eq!(decoded, case);
        }
        let json = record(None, &[], json!({"a": 1}));
        assert_eq!(encode(&json).expect("encode")[0], VERSION);
    }

    #[test]
    fn a_record_version_1_still_decodes_as_json_text() {
        // Bytes ordo wrote before raw values existed: offset 300, timestamp
        // 1, key "k", no headers, value {"a":1}.
        let old = b"\x01\xac\x02\x01\x02k\x00{\"a\":1}";
        let decoded = decode(old).expect("decode");
        assert_eq!(decoded.value.json_text(), Some(r#"{"a":1}"#));
        assert_eq!(decoded.offset, Offset(300));
    }

    #[test]
    fn the_json_ordo_wrote_before_still_decodes() {
        let case = record(Some("k"), &[("h", "v")], json!([1, "two"]));
        let json = serde_json::to_vec(&case).expect("json");
        assert_eq!(decode(&json).expect("decode"), case);
    }

    #[test]
    fn damaged_bytes_are_refused_not_misread() {
        let bytes = encode(&record(Some("key"), &[("h", "v")], json!({"a": 1}))).expect("encode");
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[0x03, 0, 0, 0, 0]).is_err(), "unknown version");
        let mut bad_utf8 = bytes.clone();
        bad_utf8[bytes.len() - 10] = 0xff;
        assert!(decode(&bad_utf8).is_err());
        let endless = [
            VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(decode(&endless).is_err());
    }
}
