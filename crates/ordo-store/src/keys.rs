//! Tree names and key layouts: the only module that knows how keys are
//! built, so every ordering assumption the store relies on is written here.
//!
//! Integers are big-endian so that sled's byte order is numeric order: a
//! range scan over keys is a scan over log indexes or offsets.
//!
//! The state machine tree holds three kinds of keys, kept apart by their
//! first byte. Topic names are non-empty `[A-Za-z0-9._-]`, so they never start
//! with a byte below `0x2D` and never contain `0x00`:
//! - a record: `topic ++ 0x00 ++ offset` (so one topic's records are one
//!   contiguous, offset-ordered range, never interleaved with `topic.x`'s);
//! - a topic's metadata: `0x02 ++ topic`;
//! - state machine singletons: `0x01 ++ name`.

use ordo_core::{Offset, TopicName};

use crate::error::StoreError;

/// The Raft log: key = log index, value = the encoded entry.
pub(crate) const LOG_TREE: &str = "raft_log";
/// The vote, the committed log id and the last purged log id.
pub(crate) const RAFT_META_TREE: &str = "raft_meta";
/// Records, topic metadata, last applied log id and membership.
pub(crate) const STATE_MACHINE_TREE: &str = "state_machine";
/// The current snapshot: its metadata and its bytes.
pub(crate) const SNAPSHOT_TREE: &str = "snapshot";

pub(crate) const VOTE_KEY: &[u8] = b"vote";
pub(crate) const COMMITTED_KEY: &[u8] = b"committed";
pub(crate) const LAST_PURGED_KEY: &[u8] = b"last_purged";

pub(crate) const LAST_APPLIED_KEY: &[u8] = b"\x01last_applied";
pub(crate) const MEMBERSHIP_KEY: &[u8] = b"\x01membership";
const TOPIC_META_PREFIX: u8 = 0x02;
const RECORD_SEPARATOR: u8 = 0x00;

pub(crate) const SNAPSHOT_META_KEY: &[u8] = b"meta";
pub(crate) const SNAPSHOT_DATA_KEY: &[u8] = b"data";

/// The key of the log entry at `index`.
pub(crate) fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The log index a key of the log tree names.
pub(crate) fn log_index(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| StoreError::BadKey {
        tree: LOG_TREE,
        detail: format!("expected 8 bytes, found {}", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

/// The key of `topic`'s record at `offset`.
pub(crate) fn record_key(topic: &TopicName, offset: Offset) -> Vec<u8> {
    let name = topic.as_str().as_bytes();
    let mut key = Vec::with_capacity(name.len() + 1 + 8);
    key.extend_from_slice(name);
    key.push(RECORD_SEPARATOR);
    key.extend_from_slice(&offset.0.to_be_bytes());
    key
}

/// The key under which `topic`'s `TopicState` is kept.
pub(crate) fn topic_meta_key(topic: &TopicName) -> Vec<u8> {
    let name = topic.as_str().as_bytes();
    let mut key = Vec::with_capacity(1 + name.len());
    key.push(TOPIC_META_PREFIX);
    key.extend_from_slice(name);
    key
}

/// The prefix shared by all topic metadata keys.
pub(crate) fn topic_meta_prefix() -> [u8; 1] {
    [TOPIC_META_PREFIX]
}

/// The topic a topic metadata key names.
pub(crate) fn topic_from_meta_key(key: &[u8]) -> Result<TopicName, StoreError> {
    let bad = |detail: String| StoreError::BadKey {
        tree: STATE_MACHINE_TREE,
        detail,
    };
    let name = key
        .strip_prefix(&[TOPIC_META_PREFIX])
        .ok_or_else(|| bad(format!("{key:?} is not a topic metadata key")))?;
    let name = std::str::from_utf8(name).map_err(|e| bad(e.to_string()))?;
    TopicName::new(name).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicName {
        TopicName::new(name).expect("valid test topic")
    }

    #[test]
    fn log_keys_sort_in_index_order_and_round_trip() {
        assert!(log_key(255) < log_key(256));
        assert!(log_key(1) < log_key(u64::MAX));
        assert_eq!(log_index(&log_key(4242)).ok(), Some(4242));
        assert!(log_index(b"short").is_err());
    }

    #[test]
    fn record_keys_sort_by_offset_within_a_topic_and_do_not_interleave_topics() {
        let a = topic("a");
        let ab = topic("a.b");
        assert!(record_key(&a, Offset(255)) < record_key(&a, Offset(256)));
        // Every record of "a" sorts before every record of "a.b".
        assert!(record_key(&a, Offset(u64::MAX)) < record_key(&ab, Offset(0)));
    }

    #[test]
    fn metadata_keys_never_collide_with_record_keys() {
        let smallest_record = record_key(&topic("-"), Offset(0));
        assert!(topic_meta_key(&topic("zzz")).as_slice() < smallest_record.as_slice());
        assert!(LAST_APPLIED_KEY < smallest_record.as_slice());
        assert!(MEMBERSHIP_KEY < smallest_record.as_slice());
        assert_eq!(
            topic_from_meta_key(&topic_meta_key(&topic("orders"))).ok(),
            Some(topic("orders"))
        );
    }
}
