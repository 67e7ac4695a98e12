//! A command's bytes in a Raft log entry, and so in the AppendEntries
//! message that carries the entry to a follower: an append, nearly every
//! entry of a busy log, in a binary layout that each follower reads without
//! a JSON parser walking field names and record objects; every other
//! command as JSON (`codec`), which is also how ordo wrote appends before.
//!
//! Layout of an append: `0x01` (the tag; a command's JSON starts with `{`
//! and still decodes), the topic (a string: a varint length and UTF-8
//! bytes), the timestamp (a varint), a flags byte (bit 0: a producer
//! follows, bit 1: a condition follows, bit 2: each value is preceded by
//! its kind; no other bit is set), the producer and the condition if
//! present (each as a varint length and its JSON), the record count (a
//! varint), then each record as its key and headers (the same bytes as in
//! a segment file, `record_codec`), with bit 2 a kind byte (0: JSON text,
//! 1: raw bytes), and its value's bytes as a varint length and the bytes.
//! Bit 2 is set only when some value is raw bytes, so an append of JSON
//! values is written exactly as before raw values existed. Pure.

use ordo_core::{Command, NewRecord, TopicName};

use crate::binary::{put_bytes, put_str, put_varint, Malformed, Reader};
use crate::codec;
use crate::error::StoreError;
use crate::record_codec::{
    encoded_len, json_value, put_key_and_headers, raw_value, read_key_and_headers,
};

const APPEND: u8 = 0x01;
const HAS_PRODUCER: u8 = 1;
const HAS_CONDITION: u8 = 2;
const HAS_VALUE_KINDS: u8 = 4;
/// The kind byte of a value of JSON text.
const KIND_JSON: u8 = 0;
/// The kind byte of a value of raw bytes.
const KIND_RAW: u8 = 1;

/// Appends `command`'s bytes to `out`.
pub(crate) fn encode(command: &Command, out: &mut Vec<u8>) -> Result<(), StoreError> {
    let Command::Append {
        topic,
        records,
        timestamp_ms,
        producer,
        condition,
    } = command
    else {
        out.extend_from_slice(&codec::encode("log entry command", command)?);
        return Ok(());
    };
    out.reserve(encoded_len_hint(command));
    out.push(APPEND);
    put_str(out, topic.as_str());
    put_varint(out, *timestamp_ms);
    let flags = if producer.is_some() { HAS_PRODUCER } else { 0 }
        | if condition.is_some() {
            HAS_CONDITION
        } else {
            0
        }
        | if records.iter().any(|r| r.value.is_bytes()) {
            HAS_VALUE_KINDS
        } else {
            0
        };
    out.push(flags);
    if let Some(producer) = producer {
        put_bytes(out, &codec::encode("append producer", producer)?);
    }
    if let Some(condition) = condition {
        put_bytes(out, &codec::encode("append condition", condition)?);
    }
    put_varint(out, records.len() as u64);
    for record in records.iter() {
        put_key_and_headers(out, &record.key, &record.headers);
        if flags & HAS_VALUE_KINDS != 0 {
            out.push(if record.value.is_bytes() {
                KIND_RAW
            } else {
                KIND_JSON
            });
        }
        put_bytes(out, record.value.as_bytes());
    }
    Ok(())
}

/// At least as many bytes as [`encode`] writes for an append (varints
/// taken at their longest), and a guess for any other command, so that a
/// buffer reserved by it is seldom grown.
pub(crate) fn encoded_len_hint(command: &Command) -> usize {
    let Command::Append {
        topic,
        records,
        producer,
        condition,
        ..
    } = command
    else {
        return 256;
    };
    // A producer's id is at most 128 bytes, its seq 20 digits and its
    // numbering `,"numbering":"records"`; a condition is an offset.
    let producer_and_condition =
        producer.as_ref().map_or(0, |p| 72 + p.id.as_str().len()) + condition.map_or(0, |_| 64);
    32 + topic.as_str().len()
        + producer_and_condition
        + records
            .iter()
            // and the value's kind byte and the varint of its length, at
            // most 11 bytes
            .map(|r| encoded_len(&r.key, &r.headers, &r.value) + 11)
            .sum::<usize>()
}

/// The command whose bytes are `bytes`, as [`encode`] (or ordo before it)
/// wrote them, in the entry at `index` (named in the error).
pub(crate) fn decode(index: u64, bytes: &[u8]) -> Result<Command, StoreError> {
    if bytes.first() != Some(&APPEND) {
        return codec::decode("log entry command", bytes);
    }
    read_append(&mut Reader::new(&bytes[1..])).map_err(|Malformed(detail)| {
        StoreError::BadLogEntry {
            index,
            detail: format!("append command: {detail}"),
        }
    })
}

fn read_append(reader: &mut Reader<'_>) -> Result<Command, Malformed> {
    let topic = TopicName::new(reader.prefixed_str()?)
        .map_err(|_| Malformed("the topic is not a valid topic name"))?;
    let timestamp_ms = reader.varint()?;
    let flags = reader.u8()?;
    if flags & !(HAS_PRODUCER | HAS_CONDITION | HAS_VALUE_KINDS) != 0 {
        return Err(Malformed("unknown flags"));
    }
    let producer = if flags & HAS_PRODUCER != 0 {
        Some(json(reader, "the producer does not decode")?)
    } else {
        None
    };
    let condition = if flags & HAS_CONDITION != 0 {
        Some(json(reader, "the condition does not decode")?)
    } else {
        None
    };
    let count = reader.varint()?;
    // Each record takes at least 3 bytes: no allocation beyond the entry.
    let most = reader.remaining() / 3;
    let mut records = Vec::with_capacity(usize::try_from(count).map_or(most, |n| n.min(most)));
    for _ in 0..count {
        let (key, headers) = read_key_and_headers(reader)?;
        let kind = if flags & HAS_VALUE_KINDS != 0 {
            reader.u8()?
        } else {
            KIND_JSON
        };
        let value = match kind {
            KIND_JSON => json_value(reader.prefixed_bytes()?)?,
            KIND_RAW => raw_value(reader.prefixed_bytes()?)?,
            _ => return Err(Malformed("unknown value kind")),
        };
        records.push(NewRecord {
            key,
            value,
            headers,
        });
    }
    if reader.remaining() != 0 {
        return Err(Malformed("bytes left over after the last record"));
    }
    Ok(Command::Append {
        topic,
        records: records.into(),
        timestamp_ms,
        producer,
        condition,
    })
}

fn json<T: serde::de::DeserializeOwned>(
    reader: &mut Reader<'_>,
    what: &'static str,
) -> Result<T, Malformed> {
    serde_json::from_slice(reader.prefixed_bytes()?).map_err(|_| Malformed(what))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ordo_core::{Condition, Offset, Producer, ProducerId, RecordValue};
    use serde_json::json;

    use super::*;

    fn append(records: Vec<NewRecord>, producer: bool, condition: bool) -> Command {
        Command::Append {
            topic: TopicName::new("orders").expect("a valid name"),
            records: records.into(),
            timestamp_ms: 1_764_870_000_123,
            producer: producer
                .then(|| Producer::new(ProducerId::new("svc-1").expect("a valid id"), 41)),
            condition: condition.then_some(Condition::KeyLastOffset(Offset(7))),
        }
    }

    fn record(key: Option<&str>, headers: &[(&str, &str)], value: serde_json::Value) -> NewRecord {
        NewRecord {
            key: key.map(str::to_owned),
            value: value.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn encoded(command: &Command) -> Vec<u8> {
        let mut out = Vec::new();
        encode(command, &mut out).expect("encodes");
        out
    }

    #[test]
    fn appends_round_trip_in_the_binary_layout_and_are_smaller_than_json() {
        let records = vec![
            record(None, &[], json!("x".repeat(98))),
            record(
                Some("user-ä"),
                &[("a", "1"), ("trace", "")],
                json!({"n": [1, 2.5]}),
            ),
            record(Some(""), &[], json!(null)),
        ];
        for (producer, condition) in [(false, false), (true, false), (false, true), (true, true)] {
            let command = append(records.clone(), producer, condition);
            let bytes = encoded(&command);
            assert_eq!(bytes[0], APPEND);
            assert_eq!(decode(1, &bytes).expect("decodes"), command);
            assert!(bytes.len() <= encoded_len_hint(&command));
            let json = serde_json::to_vec(&command).expect("json");
            assert!(
                bytes.len() < json.len(),
                "{} vs {}",
                bytes.len(),
                json.len()
            );
        }
        let empty = append(Vec::new(), false, false);
        assert_eq!(decode(1, &encoded(&empty)).expect("decodes"), empty);
    }

    fn raw(key: Option<&str>, bytes: &[u8]) -> NewRecord {
        NewRecord {
            value: RecordValue::from_bytes(bytes.to_vec()),
            ..record(key, &[("h", "v")], json!(0))
        }
    }

    #[test]
    fn appends_of_raw_byte_values_round_trip_kept_apart_from_json_text() {
        let records = vec![
            raw(Some("k"), b"\xff\x00"),
            record(Some("j"), &[], json!({"a": 1})),
            raw(None, b"null"),
            raw(None, b"hello"),
            raw(None, b""),
        ];
        for (producer, condition) in [(false, false), (true, true)] {
            let command = append(records.clone(), producer, condition);
            let bytes = encoded(&command);
            assert_ne!(bytes[1 + 1 + "orders".len() + 6] & HAS_VALUE_KINDS, 0);
            assert_eq!(decode(1, &bytes).expect("decodes"), command);
            assert!(bytes.len() <= encoded_len_hint(&command));
            let json = serde_json::to_vec(&command).expect("json");
            let from_json = decode(1, &json).expect("JSON decodes");
            assert_eq!(from_json, command, "the JSON codec keeps them too");
        }
    }

    #[test]
    fn appends_of_json_values_are_written_as_before_raw_values() {
        // Bytes of an append written before raw values existed: topic
        // "orders", timestamp 5, no flags, one record with no key, no
        // headers and value [1].
        let old = b"\x01\x06orders\x05\x00\x01\x00\x00\x03[1]";
        let command = Command::Append {
            topic: TopicName::new("orders").expect("a valid name"),
            records: vec![record(None, &[], json!([1]))].into(),
            timestamp_ms: 5,
            producer: None,
            condition: None,
        };
        assert_eq!(decode(1, old).expect("decodes"), command);
        assert_eq!(encoded(&command), old);
    }

    #[test]
    fn other_commands_and_appends_ordo_wrote_before_are_json() {
        let delete = Command::DeleteTopic {
            topic: TopicName::new("orders").expect("a valid name"),
        };
        let bytes = encoded(&delete);
        assert_eq!(bytes[0], b'{');
        assert_eq!(decode(1, &bytes).expect("decodes"), delete);
        let old = append(vec![record(Some("k"), &[], json!([1]))], true, true);
        let json = serde_json::to_vec(&old).expect("json");
        assert_eq!(decode(1, &json).expect("decodes"), old);
    }

    #[test]
    fn any_byte_changed_is_refused_or_reads_as_an_append_that_round_trips() {
        let command = append(
            vec![
                record(Some("key"), &[("h", "v")], json!({"a": [1, "é"]})),
                record(None, &[], json!(null)),
                raw(None, b"\xff!"),
            ],
            true,
            true,
        );
        let bytes = encoded(&command);
        for at in 0..bytes.len() {
            for byte in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, b'{', b'"', b' '] {
                let mut changed = bytes.clone();
                changed[at] = byte;
                if let Ok(decoded) = decode(1, &changed) {
                    let again = decode(1, &encoded(&decoded)).expect("re-encoded decodes");
                    assert_eq!(again, decoded, "byte {at} set to {byte:#x}");
                }
            }
        }
    }

    #[test]
    fn damaged_appends_are_refused_naming_the_entry() {
        let command = append(
            vec![record(Some("key"), &[("h", "v")], json!({"a": 1}))],
            true,
            true,
        );
        let bytes = encoded(&command);
        for cut in 1..bytes.len() {
            let error = decode(9, &bytes[..cut]).expect_err("cut short");
            assert!(
                error.to_string().contains("index 9"),
                "cut at {cut}: {error}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(9, &longer).is_err(), "bytes left over");
        let mut flags = bytes.clone();
        flags[1 + 1 + "orders".len() + 6] = 0x80;
        assert!(decode(9, &flags).is_err(), "unknown flag");
        let kinds = encoded(&append(vec![raw(None, b"x")], false, false));
        let mut bad_kind = kinds.clone();
        bad_kind[kinds.len() - 3] = 2;
        assert!(decode(9, &bad_kind).is_err(), "unknown value kind");
        let bad_topic = {
            let mut out = vec![APPEND];
            put_str(&mut out, "no spaces allowed");
            out.extend_from_slice(&bytes[1 + 1 + "orders".len()..]);
            out
        };
        assert!(decode(9, &bad_topic).is_err(), "invalid topic name");
        let mut bad_value = bytes;
        let last = bad_value.len() - 1;
        bad_value[last] = b'{';
        assert!(decode(9, &bad_value).is_err(), "value not JSON");
    }
}
