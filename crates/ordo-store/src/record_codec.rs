//! One record's bytes in a topic's segment files (and in a snapshot's
//! record runs): a compact binary layout, not JSON, so a 100-byte value
//! costs about 15 bytes more on disk instead of about 60, and a read
//! parses only the value.
//!
//! Layout: `0x01` (the version; a JSON object, what ordo wrote before,
//! starts with `{` and still decodes), the offset and the timestamp as
//! LEB128 varints, the key (a varint of its length plus one, 0 for none,
//! then its UTF-8 bytes), the headers (a varint count, then each name and
//! value as a varint length and UTF-8 bytes), and the value's JSON text to
//! the end. Pure.

use std::collections::BTreeMap;

use ordo_core::{Offset, Record, RecordValue};

use crate::codec;
use crate::error::StoreError;

const VERSION: u8 = 0x01;

/// `record` in the binary layout.
pub(crate) fn encode(record: &Record) -> Result<Vec<u8>, StoreError> {
    // The version and four varints (offset, timestamp, key length, header
    // count) take at most 41 bytes, each header's two lengths at most 20;
    // the rest is text.
    let text_bytes = record.key.as_ref().map_or(0, String::len)
        + record
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len() + 20)
            .sum::<usize>()
        + record.value.json_text().len();
    let mut out = Vec::with_capacity(41 + text_bytes);
    out.push(VERSION);
    put_varint(&mut out, record.offset.0);
    put_varint(&mut out, record.timestamp_ms);
    match &record.key {
        None => put_varint(&mut out, 0),
        Some(key) => {
            put_varint(&mut out, key.len() as u64 + 1);
            out.extend_from_slice(key.as_bytes());
        }
    }
    put_varint(&mut out, record.headers.len() as u64);
    for (name, value) in &record.headers {
        put_str(&mut out, name);
        put_str(&mut out, value);
    }
    out.extend_from_slice(record.value.json_text().as_bytes());
    Ok(out)
}

/// A record from [`encode`]'s bytes, or from the JSON ordo wrote before.
pub(crate) fn decode(bytes: &[u8]) -> Result<Record, StoreError> {
    match bytes.first() {
        Some(&VERSION) => Reader { bytes, at: 1 }.record(),
        Some(b'{') => codec::decode("record", bytes),
        _ => Err(bad("it starts with neither a version nor a JSON object")),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn record(mut self) -> Result<Record, StoreError> {
        let offset = Offset(self.varint()?);
        let timestamp_ms = self.varint()?;
        let key = match self.varint()? {
            0 => None,
            len_plus_one => Some(self.str(len_plus_one - 1)?),
        };
        let count = self.varint()?;
        let mut headers = BTreeMap::new();
        for _ in 0..count {
            let len = self.varint()?;
            let name = self.str(len)?;
            let len = self.varint()?;
            headers.insert(name, self.str(len)?);
        }
        let value = RecordValue::from_stored_bytes(&self.bytes[self.at..]).map_err(|source| {
            StoreError::Decode {
                what: "record value",
                source,
            }
        })?;
        Ok(Record {
            offset,
            key,
            value,
            headers,
            timestamp_ms,
        })
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.at)
                .ok_or_else(|| bad("it ends inside a number"))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(bad("a number runs past 64 bits"))
    }

    fn str(&mut self, len: u64) -> Result<String, StoreError> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.at.checked_add(len))
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| bad("a string runs past its end"))?;
        let text = std::str::from_utf8(&self.bytes[self.at..end])
            .map_err(|_| bad("a string is not UTF-8"))?;
        self.at = end;
        Ok(text.to_owned())
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn bad(detail: &str) -> StoreError {
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
        assert!(decode(&[0x02, 0]).is_err(), "unknown version");
        let mut bad_utf8 = bytes.clone();
        bad_utf8[bytes.len() - 10] = 0xff;
        assert!(decode(&bad_utf8).is_err());
        let endless = [
            VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(decode(&endless).is_err());
    }
}
