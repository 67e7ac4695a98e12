//! How one Raft log entry is laid out in a segment item of the log store:
//! the item's seq is the entry's index, and its payload is a binary header
//! (the payload's kind, then the term and node of the leader that wrote it,
//! little-endian) followed by the body: nothing for a blank entry, the
//! command as `command_codec` encodes it, the membership as `codec` does.
//! Reading an entry's log id decodes the header only.
//!
//! The same layout carries entries between nodes (the node crate's binary
//! AppendEntries message), through [`encode_entry`] and [`decode_entry`].

use openraft::{EntryPayload, LogId};

use crate::error::StoreError;
use crate::type_config::{EntryLeaderId, OrdoPayload, StoreTypeConfig};
use crate::{codec, command_codec};

/// Kind byte, term, node id.
const HEADER_BYTES: usize = 1 + 8 + 8;

const BLANK: u8 = 0;
const NORMAL: u8 = 1;
const MEMBERSHIP: u8 = 2;

/// Appends the stored form of the entry `(log_id, payload)` to `out`.
pub(crate) fn encode(
    log_id: &LogId<EntryLeaderId>,
    payload: &OrdoPayload,
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let kind = match payload {
        EntryPayload::Blank => BLANK,
        EntryPayload::Normal(_) => NORMAL,
        EntryPayload::Membership(_) => MEMBERSHIP,
    };
    out.push(kind);
    out.extend_from_slice(&log_id.leader_id.term.to_le_bytes());
    out.extend_from_slice(&log_id.leader_id.node_id.to_le_bytes());
    match payload {
        EntryPayload::Blank => {}
        EntryPayload::Normal(command) => command_codec::encode(command, out)?,
        EntryPayload::Membership(membership) => {
            out.extend_from_slice(&codec::encode("log entry membership", membership)?)
        }
    }
    Ok(())
}

/// About how many bytes [`encode`] writes for `payload`, to reserve a
/// buffer for several entries at once (see `command_codec`'s hint).
pub fn payload_len_hint(payload: &OrdoPayload) -> usize {
    HEADER_BYTES
        + match payload {
            EntryPayload::Blank => 0,
            EntryPayload::Normal(command) => command_codec::encoded_len_hint(command),
            EntryPayload::Membership(_) => 256,
        }
}

/// Appends `entry`'s stored form to `out` and returns its index: what
/// another node reads back with [`decode_entry`].
pub fn encode_entry<C: StoreTypeConfig>(
    entry: C::Entry,
    out: &mut Vec<u8>,
) -> Result<u64, StoreError> {
    let (log_id, payload) = C::into_parts(entry);
    encode(&log_id, &payload, out)?;
    Ok(log_id.index)
}

/// The entry at `index` whose stored form is `bytes`, as [`encode_entry`]
/// wrote it.
pub fn decode_entry<C: StoreTypeConfig>(index: u64, bytes: &[u8]) -> Result<C::Entry, StoreError> {
    let (log_id, payload) = decode(index, bytes)?;
    Ok(C::from_parts(log_id, payload))
}

/// The log id of the entry stored at `index` as `bytes`.
pub(crate) fn decode_log_id(index: u64, bytes: &[u8]) -> Result<LogId<EntryLeaderId>, StoreError> {
    header(index, bytes).map(|(log_id, _, _)| log_id)
}

/// The entry stored at `index` as `bytes`, as its log id and payload.
pub(crate) fn decode(
    index: u64,
    bytes: &[u8],
) -> Result<(LogId<EntryLeaderId>, OrdoPayload), StoreError> {
    let (log_id, kind, body) = header(index, bytes)?;
    let payload = match kind {
        BLANK if body.is_empty() => EntryPayload::Blank,
        BLANK => return Err(bad(index, "a blank entry with a body")),
        NORMAL => EntryPayload::Normal(command_codec::decode(index, body)?),
        MEMBERSHIP => EntryPayload::Membership(codec::decode("log entry membership", body)?),
        other => return Err(bad(index, &format!("unknown entry kind {other}"))),
    };
    Ok((log_id, payload))
}

fn header(index: u64, bytes: &[u8]) -> Result<(LogId<EntryLeaderId>, u8, &[u8]), StoreError> {
    let Some((header, body)) = bytes.split_at_checked(HEADER_BYTES) else {
        return Err(bad(index, "shorter than an entry header"));
    };
    let word = |at: usize| {
        let mut le = [0; 8];
        le.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(le)
    };
    let leader_id = EntryLeaderId {
        term: word(1),
        node_id: word(9),
    };
    Ok((LogId { leader_id, index }, header[0], body))
}

fn bad(index: u64, detail: &str) -> StoreError {
    StoreError::BadLogEntry {
        index,
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use openraft::{BasicNode, Membership};
    use ordo_core::Command;

    use super::*;

    fn log_id(term: u64, node_id: u64, index: u64) -> LogId<EntryLeaderId> {
        LogId {
            leader_id: EntryLeaderId { term, node_id },
            index,
        }
    }

    fn round_trip(payload: OrdoPayload) {
        let id = log_id(7, 3, 42);
        let mut bytes = Vec::new();
        encode(&id, &payload, &mut bytes).expect("encodes");
        assert_eq!(decode_log_id(42, &bytes).expect("header decodes"), id);
        let (decoded_id, decoded) = decode(42, &bytes).expect("decodes");
        assert_eq!(decoded_id, id);
        assert_eq!(format!("{decoded:?}"), format!("{payload:?}"));
    }

    #[test]
    fn every_kind_of_entry_comes_back_as_written() {
        round_trip(EntryPayload::Blank);
        round_trip(EntryPayload::Normal(Command::DeleteTopic {
            topic: ordo_core::TopicName::new("orders").expect("a valid name"),
        }));
        let nodes = BTreeMap::from([(1, BasicNode::new("127.0.0.1:7001"))]);
        let membership =
            Membership::new(vec![BTreeSet::from([1])], nodes).expect("a valid membership");
        round_trip(EntryPayload::Membership(membership));
    }

    #[test]
    fn damaged_entries_are_refused_naming_their_index() {
        let mut bytes = Vec::new();
        encode(&log_id(1, 1, 5), &EntryPayload::Blank, &mut bytes).expect("encodes");
        for damaged in [&bytes[..HEADER_BYTES - 1], &[9; HEADER_BYTES][..]] {
            let error = decode(5, damaged).expect_err("a damaged entry");
            assert!(error.to_string().contains("index 5"), "{error}");
        }
        bytes.push(b'x');
        assert!(decode(5, &bytes).is_err(), "a blank entry with a body");
    }
}
