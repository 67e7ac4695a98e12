//! A command's bytes in a Raft log entry, and so in the AppendEntries
//! message that carries the entry to a follower: an append, nearly every
//! entry of a busy log, in a binary layout that each follower reads without
//! a JSON parser walking field names and record objects; every other
//! command as JSON (`codec`), which is also how ordo wrote appends before.
//!
//! Layout of an append: `0x01` (the tag; a command's JSON starts with `{`
//! and still decodes), the topic (a string: a varint length and UTF-8
//! bytes), the timestamp (a varint), a flags byte (bit 0: a producer
//! follows, bit 1: a condition follows; no other bit is set), the producer
//! and the condition if present (each as a varint length and its JSON),
//! the record count (a varint), then each record as its key and headers
//! (the same bytes as in a segment file, `record_codec`) and its value's
//! JSON text as a string. Pure.

use ordo_core::{Command, NewRecord, RecordValue, TopicName};

use crate::binary::{put_bytes, put_str, put_varint, Malformed, Reader};
use crate::codec;
use crate::error::StoreError;
use crate::record_codec::{encoded_len, put_key_and_headers, read_key_and_headers};

const APPEND: u8 = 0x01;
const HAS_PRODUCER: u8 = 1;
const HAS_CONDITION: u8 = 2;

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
        put_str(out, record.value.json_text());
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
            // and the varint of the value's length, at most 10 bytes
            .map(|r| encoded_len(&r.key, &r.headers, &r.value) + 10)
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
    if flags & !(HAS_PRODUCER | HAS_CONDITION) != 0 {
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
        let value = RecordValue::from_stored_bytes(reader.prefixed_bytes()?)
            .map_err(|_| Malformed("a value is not one whole JSON value"))?;
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

    use ordo_core::{Condition, Offset, Producer, ProducerId};
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
