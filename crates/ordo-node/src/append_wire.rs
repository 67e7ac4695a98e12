//! The binary form of openraft's AppendEntries request, the message a
//! leader sends most: every entry in the layout the Raft log stores it in
//! (`ordo_store::encode_entry`), behind a small fixed header, instead of
//! JSON that names every field of every entry.
//!
//! Layout (integers little-endian):
//! - [`TAG`], one byte, which no JSON text starts with: a receiver takes a
//!   body that starts otherwise as the JSON an older leader sends;
//! - the vote: term (u64), node (u64), committed (one byte, 0 or 1);
//! - the previous log id and the leader's commit, each one byte (0 for
//!   none, 1 for some) then, if some, term, node and index (u64 each);
//! - the entry count (u32), then per entry its index (u64), its length
//!   (u32) and its stored form.
//!
//! The answer stays JSON: it is a few bytes.

use openraft::raft::AppendEntriesRequest;
use openraft::type_config::alias::{LogIdOf, VoteOf};
use openraft::LogId;

use crate::rpc::DecodeError;
use crate::types::TypeConfig;

/// The first byte of a binary AppendEntries request.
pub const TAG: u8 = 0xA1;

/// What one leader id takes: term and node.
type LeaderIdOf = openraft::type_config::alias::LeaderIdOf<TypeConfig>;

/// Why a request could not be put in the binary form: only an entry that
/// cannot be encoded (commands are plain data, so none in practice) or
/// counts and lengths beyond the form's 32 bits.
#[derive(Debug, thiserror::Error)]
#[error("AppendEntries could not be encoded: {0}")]
pub struct EncodeError(String);

/// The request's binary form.
pub fn encode(request: AppendEntriesRequest<TypeConfig>) -> Result<Vec<u8>, EncodeError> {
    // The header, then each entry's index, length and stored form: one
    // allocation for the whole message, however large its entries.
    let capacity = 64
        + request
            .entries
            .iter()
            .map(|entry| 12 + ordo_store::payload_len_hint(&entry.payload))
            .sum::<usize>();
    let mut out = Vec::with_capacity(capacity);
    out.push(TAG);
    put_leader_id(&mut out, &request.vote.leader_id);
    out.push(u8::from(request.vote.committed));
    put_log_id(&mut out, request.prev_log_id.as_ref());
    put_log_id(&mut out, request.leader_commit.as_ref());
    let count = u32::try_from(request.entries.len())
        .map_err(|_| EncodeError("more than 2^32 entries in one message".into()))?;
    out.extend_from_slice(&count.to_le_bytes());
    for entry in request.entries {
        let at = out.len();
        // Index and length, filled in once the entry is written.
        out.extend_from_slice(&[0; 12]);
        let index = ordo_store::encode_entry::<TypeConfig>(entry, &mut out)
            .map_err(|e| EncodeError(e.to_string()))?;
        let len = u32::try_from(out.len() - at - 12)
            .map_err(|_| EncodeError("an entry over 4 GiB".into()))?;
        out[at..at + 8].copy_from_slice(&index.to_le_bytes());
        out[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
    }
    Ok(out)
}

/// Reads back what [`encode`] wrote, refusing anything cut short, with
/// bytes left over, or holding an entry the log could not hold.
pub fn decode(bytes: &[u8]) -> Result<AppendEntriesRequest<TypeConfig>, DecodeError> {
    let mut reader = Reader { bytes };
    if reader.u8()? != TAG {
        return Err(DecodeError::new("not a binary AppendEntries message"));
    }
    let leader_id = reader.leader_id()?;
    let committed = reader.flag()?;
    let vote = VoteOf::<TypeConfig> {
        leader_id,
        committed,
    };
    let prev_log_id = reader.log_id()?;
    let leader_commit = reader.log_id()?;
    let count = reader.u32()?;
    // Each entry takes at least 12 bytes: no allocation beyond the message.
    let mut entries = Vec::with_capacity((count as usize).min(reader.bytes.len() / 12));
    for _ in 0..count {
        let index = reader.u64()?;
        let len = reader.u32()? as usize;
        let stored = reader.take(len)?;
        let entry = ordo_store::decode_entry::<TypeConfig>(index, stored)
            .map_err(|e| DecodeError::new(e.to_string()))?;
        entries.push(entry);
    }
    if !reader.bytes.is_empty() {
        return Err(DecodeError::new(format!(
            "{} bytes after the last entry",
            reader.bytes.len()
        )));
    }
    Ok(AppendEntriesRequest {
        vote,
        prev_log_id,
        entries,
        leader_commit,
    })
}

fn put_leader_id(out: &mut Vec<u8>, leader_id: &LeaderIdOf) {
    out.extend_from_slice(&leader_id.term.to_le_bytes());
    out.extend_from_slice(&leader_id.node_id.to_le_bytes());
}

fn put_log_id(out: &mut Vec<u8>, log_id: Option<&LogIdOf<TypeConfig>>) {
    match log_id {
        None => out.push(0),
        Some(log_id) => {
            out.push(1);
            put_leader_id(out, &log_id.leader_id);
            out.extend_from_slice(&log_id.index.to_le_bytes());
        }
    }
}

/// Takes the message apart from the front.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let (taken, rest) = self
            .bytes
            .split_at_checked(len)
            .ok_or_else(|| DecodeError::new("the AppendEntries message is cut short"))?;
        self.bytes = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::new(format!("{other} where a flag belongs"))),
        }
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.take(4)?.try_into().expect("took 4 bytes");
        Ok(u32::from_le_bytes(bytes))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let bytes = self.take(8)?.try_into().expect("took 8 bytes");
        Ok(u64::from_le_bytes(bytes))
    }

    fn leader_id(&mut self) -> Result<LeaderIdOf, DecodeError> {
        Ok(LeaderIdOf {
            term: self.u64()?,
            node_id: self.u64()?,
        })
    }

    fn log_id(&mut self) -> Result<Option<LogIdOf<TypeConfig>>, DecodeError> {
        if !self.flag()? {
            return Ok(None);
        }
        let leader_id = self.leader_id()?;
        Ok(Some(LogId {
            leader_id,
            index: self.u64()?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use openraft::vote::RaftLeaderId;
    use openraft::{BasicNode, EntryPayload, Membership};
    use ordo_core::{Command, NewRecord, TopicName};

    use super::*;

    fn log_id(term: u64, node_id: u64, index: u64) -> LogIdOf<TypeConfig> {
        LogId::new(RaftLeaderId::new(term, node_id), index)
    }

    fn request() -> AppendEntriesRequest<TypeConfig> {
        let append = Command::Append {
            topic: TopicName::new("orders").expect("a valid name"),
            records: vec![NewRecord {
                key: Some("k".into()),
                value: serde_json::json!({"total": 3, "note": "a\nb"}).into(),
                headers: BTreeMap::from([("h".into(), "v".into())]),
            }]
            .into(),
            timestamp_ms: 17,
            producer: None,
            condition: None,
        };
        let nodes = BTreeMap::from([(1, BasicNode::new("127.0.0.1:7001"))]);
        let membership =
            Membership::new(vec![BTreeSet::from([1])], nodes).expect("a valid membership");
        let entry = |index, payload| openraft::Entry {
            log_id: log_id(4, 2, index),
            payload,
        };
        AppendEntriesRequest {
            vote: openraft::Vote::new_committed(4, 2),
            prev_log_id: Some(log_id(3, 1, 9)),
            entries: vec![
                entry(10, EntryPayload::Blank),
                entry(11, EntryPayload::Normal(append)),
                entry(12, EntryPayload::Membership(membership)),
            ],
            leader_commit: Some(log_id(4, 2, 10)),
        }
    }

    #[test]
    fn a_request_comes_back_as_sent() {
        let sent = request();
        let expected = format!("{sent:?}");
        let bytes = encode(sent).expect("encodes");
        assert_eq!(bytes[0], TAG);
        assert_eq!(format!("{:?}", decode(&bytes).expect("decodes")), expected);

        let heartbeat = AppendEntriesRequest::<TypeConfig> {
            vote: openraft::Vote::new(0, 0),
            prev_log_id: None,
            entries: Vec::new(),
            leader_commit: None,
        };
        let expected = format!("{heartbeat:?}");
        let bytes = encode(heartbeat).expect("encodes");
        assert_eq!(format!("{:?}", decode(&bytes).expect("decodes")), expected);
    }

    #[test]
    fn is_much_smaller_than_json() {
        let sent = request();
        let json = crate::rpc::encode(&sent).len();
        let binary = encode(sent).expect("encodes").len();
        assert!(binary * 3 < json * 2, "binary {binary} bytes, JSON {json}");
    }

    #[test]
    fn damaged_messages_are_refused_never_misread() {
        let bytes = encode(request()).expect("encodes");
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        let error = decode(&extra).expect_err("a trailing byte");
        assert!(error.to_string().contains("1 bytes after"), "{error}");
        let mut bad_flag = bytes.clone();
        bad_flag[17] = 7;
        assert!(decode(&bad_flag).is_err(), "a committed flag of 7");
        assert!(decode(b"{\"vote\":1}").is_err(), "JSON is not this form");
        // A count far beyond what the message holds allocates nothing big.
        let mut huge = bytes[..bytes.len()].to_vec();
        let count_at = 1 + 17 + 25 + 25;
        huge[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
    }
}
