//! Tree names and key layouts: the only module that knows how keys are
//! built, so every ordering assumption the store relies on is written here.
//!
//! Integers are big-endian so that sled's byte order is numeric order: a
//! range scan over keys is a scan over log indexes or offsets.
//!
//! The state machine tree holds nine kinds of keys, kept apart by their
//! first byte. Topic and group names are non-empty `[A-Za-z0-9._-]`, so they
//! never start with a byte below `0x2D` and never contain `0x00`; producer
//! ids are printable ASCII, so they never contain `0x00` either:
//! - a record: `topic ++ 0x00 ++ offset` (so one topic's records are one
//!   contiguous, offset-ordered range, never interleaved with `topic.x`'s);
//! - state machine singletons: `0x01 ++ name`;
//! - a topic's metadata: `0x02 ++ topic`;
//! - a key index entry: `0x03 ++ topic ++ 0x00 ++ key` (the record key's
//!   UTF-8 bytes, which may contain `0x00`: the first `0x00` ends the topic);
//! - a producer table entry: `0x04 ++ producer id`;
//! - a consumer position: `0x05 ++ group ++ 0x00 ++ topic`;
//! - a work queue: `0x09 ++ topic ++ 0x00 ++ group`;
//! - the segment record log's bookkeeping (`record_log::segments`; the
//!   tree's record log never writes these): a tombstone, a record that
//!   compaction removed but its topic's files still hold,
//!   `0x06 ++ topic ++ 0x00 ++ generation ++ offset` (one topic generation's
//!   tombstones are one offset-ordered range); where a topic's records
//!   start (retention moved it), `0x07 ++ topic`; which generation of a
//!   topic's files holds its records and where they end, `0x08 ++ topic`.
//!
//! Every prefix byte is below `0x2D`, so no key but a record's starts with a
//! byte a topic name may start with: the records are the keys from
//! [`RECORDS_FROM`] on, the decided state (and the segment record log's
//! bookkeeping, which a snapshot install clears with it) the keys before it.
//!
//! Record keys are built here but used only by the record log that keeps
//! its records in this tree (`record_log::tree`); the rest of the store
//! reaches records through `RecordLog`.

use ordo_core::{GroupName, Offset, ProducerId, TopicName};

use crate::error::StoreError;

/// The Raft log as ordo kept it before the segment files (key = log
/// index, value = the entry as `codec` encodes it): read once, by the
/// migration into segments, and emptied.
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
/// Present while the records an earlier ordo kept in this tree (under
/// record keys) are being removed, after their copy into segment files was
/// made durable: the removal then only finishes, never copies again.
pub(crate) const RECORDS_MOVED_KEY: &[u8] = b"\x01records_moved";
const TOPIC_META_PREFIX: u8 = 0x02;
const KEY_INDEX_PREFIX: u8 = 0x03;
const PRODUCER_PREFIX: u8 = 0x04;
const POSITION_PREFIX: u8 = 0x05;
const TOMBSTONE_PREFIX: u8 = 0x06;
const RECORDS_START_PREFIX: u8 = 0x07;
const TOPIC_FILES_PREFIX: u8 = 0x08;
const QUEUE_PREFIX: u8 = 0x09;
/// Ends a name inside a key: after a record's topic, a key index entry's
/// topic and a position's group.
const SEPARATOR: u8 = 0x00;
/// The first byte a topic name may start with (`-`): every record key sorts
/// at or after this key, every other key of the state machine tree before it.
pub(crate) const RECORDS_FROM: &[u8] = b"-";

pub(crate) const SNAPSHOT_META_KEY: &[u8] = b"meta";
pub(crate) const SNAPSHOT_DATA_KEY: &[u8] = b"data";
/// On sled, the current snapshot's file name (in `snapshot_file`'s
/// directory) instead of its data.
pub(crate) const SNAPSHOT_FILE_KEY: &[u8] = b"file";

/// The key of the log entry at `index` (the layout before the segment
/// files; the migration out of it reads keys with [`log_index`]).
#[cfg(test)]
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
    key.push(SEPARATOR);
    key.extend_from_slice(&offset.0.to_be_bytes());
    key
}

/// The topic and offset a record key names.
pub(crate) fn from_record_key(key: &[u8]) -> Result<(TopicName, Offset), StoreError> {
    let at = key
        .len()
        .checked_sub(9)
        .filter(|&at| key[at] == SEPARATOR)
        .ok_or_else(|| bad(format!("{key:?} is not a record key")))?;
    let offset: [u8; 8] = key[at + 1..].try_into().map_err(|_| bad("offset".into()))?;
    Ok((topic_name(&key[..at])?, Offset(u64::from_be_bytes(offset))))
}

/// The tombstone of `topic`'s record at `offset` in its files of
/// `generation` (the segment record log's).
pub(crate) fn tombstone_key(topic: &TopicName, generation: u64, offset: Offset) -> Vec<u8> {
    let mut key = two_part_key(TOMBSTONE_PREFIX, topic.as_str(), &generation.to_be_bytes());
    key.extend_from_slice(&offset.0.to_be_bytes());
    key
}

/// The prefix shared by the tombstones of `topic`'s files of `generation`.
pub(crate) fn tombstone_generation_prefix(topic: &TopicName, generation: u64) -> Vec<u8> {
    two_part_key(TOMBSTONE_PREFIX, topic.as_str(), &generation.to_be_bytes())
}

/// The prefix shared by all tombstones.
pub(crate) fn tombstone_prefix() -> [u8; 1] {
    [TOMBSTONE_PREFIX]
}

/// The topic, generation and offset a tombstone key names.
pub(crate) fn from_tombstone_key(key: &[u8]) -> Result<(TopicName, u64, Offset), StoreError> {
    let (topic, rest) = split(strip(TOMBSTONE_PREFIX, key, "tombstone")?)?;
    let (generation, offset) = rest
        .split_at_checked(8)
        .filter(|(_, offset)| offset.len() == 8)
        .ok_or_else(|| bad(format!("{key:?} is not a tombstone key")))?;
    let number = |bytes: &[u8]| u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
    Ok((
        topic_name(topic)?,
        number(generation),
        Offset(number(offset)),
    ))
}

/// The key under which the segment record log keeps where `topic`'s
/// records start.
pub(crate) fn records_start_key(topic: &TopicName) -> Vec<u8> {
    one_part_key(RECORDS_START_PREFIX, topic)
}

/// The prefix shared by all records-start keys.
pub(crate) fn records_start_prefix() -> [u8; 1] {
    [RECORDS_START_PREFIX]
}

/// The key under which the segment record log keeps which generation of
/// `topic`'s files holds its records, and where they end.
pub(crate) fn topic_files_key(topic: &TopicName) -> Vec<u8> {
    one_part_key(TOPIC_FILES_PREFIX, topic)
}

/// The prefix shared by all topic-files keys.
pub(crate) fn topic_files_prefix() -> [u8; 1] {
    [TOPIC_FILES_PREFIX]
}

/// The topic a records-start or topic-files key names.
pub(crate) fn topic_from_bookkeeping_key(key: &[u8]) -> Result<TopicName, StoreError> {
    match key.first() {
        Some(&RECORDS_START_PREFIX | &TOPIC_FILES_PREFIX) => topic_name(&key[1..]),
        _ => Err(bad(format!("{key:?} is not a record log bookkeeping key"))),
    }
}

/// The key under which `topic`'s `TopicState` is kept.
pub(crate) fn topic_meta_key(topic: &TopicName) -> Vec<u8> {
    one_part_key(TOPIC_META_PREFIX, topic)
}

/// `prefix ++ topic`.
fn one_part_key(prefix: u8, topic: &TopicName) -> Vec<u8> {
    let name = topic.as_str().as_bytes();
    let mut key = Vec::with_capacity(1 + name.len());
    key.push(prefix);
    key.extend_from_slice(name);
    key
}

/// The prefix shared by all topic metadata keys.
pub(crate) fn topic_meta_prefix() -> [u8; 1] {
    [TOPIC_META_PREFIX]
}

/// The topic a topic metadata key names.
pub(crate) fn topic_from_meta_key(key: &[u8]) -> Result<TopicName, StoreError> {
    let name = strip(TOPIC_META_PREFIX, key, "topic metadata")?;
    topic_name(name)
}

/// The key under which the key index keeps `key` of `topic`.
pub(crate) fn key_index_key(topic: &TopicName, key: &str) -> Vec<u8> {
    two_part_key(KEY_INDEX_PREFIX, topic.as_str(), key.as_bytes())
}

/// The prefix shared by `topic`'s key index keys (and no other topic's).
pub(crate) fn key_index_topic_prefix(topic: &TopicName) -> Vec<u8> {
    two_part_key(KEY_INDEX_PREFIX, topic.as_str(), b"")
}

/// The prefix shared by all key index keys.
pub(crate) fn key_index_prefix() -> [u8; 1] {
    [KEY_INDEX_PREFIX]
}

/// The topic and record key a key index key names.
pub(crate) fn from_key_index_key(key: &[u8]) -> Result<(TopicName, String), StoreError> {
    let (topic, record_key) = split(strip(KEY_INDEX_PREFIX, key, "key index")?)?;
    let record_key = std::str::from_utf8(record_key).map_err(|e| bad(e.to_string()))?;
    Ok((topic_name(topic)?, record_key.to_owned()))
}

/// The key under which the producer table keeps `id`.
pub(crate) fn producer_key(id: &ProducerId) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + id.as_str().len());
    key.push(PRODUCER_PREFIX);
    key.extend_from_slice(id.as_str().as_bytes());
    key
}

/// The prefix shared by all producer table keys.
pub(crate) fn producer_prefix() -> [u8; 1] {
    [PRODUCER_PREFIX]
}

/// The producer a producer table key names.
pub(crate) fn producer_from_key(key: &[u8]) -> Result<ProducerId, StoreError> {
    let id = std::str::from_utf8(strip(PRODUCER_PREFIX, key, "producer")?)
        .map_err(|e| bad(e.to_string()))?;
    ProducerId::new(id).map_err(|e| bad(e.to_string()))
}

/// The key under which `group`'s position in `topic` is kept.
pub(crate) fn position_key(group: &GroupName, topic: &TopicName) -> Vec<u8> {
    two_part_key(POSITION_PREFIX, group.as_str(), topic.as_str().as_bytes())
}

/// The prefix shared by all position keys.
pub(crate) fn position_prefix() -> [u8; 1] {
    [POSITION_PREFIX]
}

/// The group and topic a position key names.
pub(crate) fn from_position_key(key: &[u8]) -> Result<(GroupName, TopicName), StoreError> {
    let (group, topic) = split(strip(POSITION_PREFIX, key, "position")?)?;
    let group = std::str::from_utf8(group).map_err(|e| bad(e.to_string()))?;
    let group = GroupName::new(group).map_err(|e| bad(e.to_string()))?;
    Ok((group, topic_name(topic)?))
}

pub(crate) fn queue_key(topic: &TopicName, group: &GroupName) -> Vec<u8> {
    two_part_key(QUEUE_PREFIX, topic.as_str(), group.as_str().as_bytes())
}

/// The prefix shared by the keys of `topic`'s queues.
pub(crate) fn queue_topic_prefix(topic: &TopicName) -> Vec<u8> {
    two_part_key(QUEUE_PREFIX, topic.as_str(), b"")
}

/// The prefix shared by all queue keys.
pub(crate) fn queue_prefix() -> [u8; 1] {
    [QUEUE_PREFIX]
}

/// The topic and group a queue key names.
pub(crate) fn from_queue_key(key: &[u8]) -> Result<(TopicName, GroupName), StoreError> {
    let (topic, group) = split(strip(QUEUE_PREFIX, key, "queue")?)?;
    let group = std::str::from_utf8(group).map_err(|e| bad(e.to_string()))?;
    let group = GroupName::new(group).map_err(|e| bad(e.to_string()))?;
    Ok((topic_name(topic)?, group))
}

/// `prefix ++ name ++ 0x00 ++ rest`, for a `name` without `0x00`.
fn two_part_key(prefix: u8, name: &str, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + name.len() + 1 + rest.len());
    key.push(prefix);
    key.extend_from_slice(name.as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(rest);
    key
}

/// The two parts of a key's body built by [`two_part_key`].
fn split(body: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let at = body
        .iter()
        .position(|&byte| byte == SEPARATOR)
        .ok_or_else(|| bad(format!("{body:?} has no separator")))?;
    Ok((&body[..at], &body[at + 1..]))
}

fn strip<'a>(prefix: u8, key: &'a [u8], what: &str) -> Result<&'a [u8], StoreError> {
    key.strip_prefix(&[prefix])
        .ok_or_else(|| bad(format!("{key:?} is not a {what} key")))
}

fn topic_name(bytes: &[u8]) -> Result<TopicName, StoreError> {
    let name = std::str::from_utf8(bytes).map_err(|e| bad(e.to_string()))?;
    TopicName::new(name).map_err(|e| bad(e.to_string()))
}

fn bad(detail: String) -> StoreError {
    StoreError::BadKey {
        tree: STATE_MACHINE_TREE,
        detail,
    }
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

    fn group(name: &str) -> GroupName {
        GroupName::new(name).expect("valid test group")
    }

    fn producer(id: &str) -> ProducerId {
        ProducerId::new(id).expect("valid test producer")
    }

    #[test]
    fn record_keys_round_trip() {
        for (name, offset) in [("a", 0), ("a.b", 256), ("-", u64::MAX)] {
            assert_eq!(
                from_record_key(&record_key(&topic(name), Offset(offset))).ok(),
                Some((topic(name), Offset(offset)))
            );
        }
        assert!(from_record_key(b"short").is_err());
        assert!(from_record_key(&topic_meta_key(&topic("not-a-record"))).is_err());
    }

    #[test]
    fn metadata_keys_never_collide_with_record_keys() {
        let smallest_record = record_key(&topic("-"), Offset(0));
        assert!(RECORDS_FROM <= smallest_record.as_slice());
        let largest_name = "z".repeat(249);
        for key in [
            topic_meta_key(&topic(&largest_name)),
            key_index_key(&topic(&largest_name), "\u{10FFFF}"),
            producer_key(&producer(&"~".repeat(128))),
            position_key(&group(&largest_name), &topic(&largest_name)),
            queue_key(&topic(&largest_name), &group(&largest_name)),
            tombstone_key(&topic(&largest_name), u64::MAX, Offset(u64::MAX)),
            records_start_key(&topic(&largest_name)),
            topic_files_key(&topic(&largest_name)),
            LAST_APPLIED_KEY.to_vec(),
            MEMBERSHIP_KEY.to_vec(),
        ] {
            assert!(key.as_slice() < RECORDS_FROM, "{key:?}");
        }
    }

    #[test]
    fn metadata_keys_round_trip() {
        assert_eq!(
            topic_from_meta_key(&topic_meta_key(&topic("orders"))).ok(),
            Some(topic("orders"))
        );
        for record_key in ["jane", "", "with\0nul", "ünï"] {
            assert_eq!(
                from_key_index_key(&key_index_key(&topic("users"), record_key)).ok(),
                Some((topic("users"), record_key.to_owned()))
            );
        }
        assert_eq!(
            producer_from_key(&producer_key(&producer("checkout-7"))).ok(),
            Some(producer("checkout-7"))
        );
        assert_eq!(
            from_position_key(&position_key(&group("billing"), &topic("orders"))).ok(),
            Some((group("billing"), topic("orders")))
        );
        assert!(from_position_key(&producer_key(&producer("p"))).is_err());
        assert_eq!(
            from_queue_key(&queue_key(&topic("mail.jobs"), &group("senders"))).ok(),
            Some((topic("mail.jobs"), group("senders")))
        );
        assert!(from_queue_key(&position_key(&group("g"), &topic("t"))).is_err());
        assert!(from_key_index_key(b"\x03no-separator").is_err());
    }

    #[test]
    fn tombstone_keys_round_trip_and_one_generations_are_one_range() {
        let key = tombstone_key(&topic("a"), 7, Offset(256));
        assert_eq!(
            from_tombstone_key(&key).ok(),
            Some((topic("a"), 7, Offset(256)))
        );
        assert!(key.starts_with(&tombstone_generation_prefix(&topic("a"), 7)));
        assert!(!key.starts_with(&tombstone_generation_prefix(&topic("a"), 6)));
        assert!(tombstone_key(&topic("a"), 7, Offset(255)) < key);
        assert!(
            tombstone_key(&topic("a"), 7, Offset(u64::MAX))
                < tombstone_key(&topic("a.b"), 0, Offset(0))
        );
        assert!(from_tombstone_key(b"\x06a\x00short").is_err());
        let start = records_start_key(&topic("a"));
        let files = topic_files_key(&topic("a"));
        for key in [start, files] {
            assert_eq!(topic_from_bookkeeping_key(&key).ok(), Some(topic("a")));
        }
        assert!(topic_from_bookkeeping_key(&topic_meta_key(&topic("a"))).is_err());
    }

    #[test]
    fn one_topics_key_index_is_one_range_apart_from_a_longer_topics() {
        // "a"'s entries all sort before "a.b"'s, whatever the record keys.
        let a_last = key_index_key(&topic("a"), "\u{10FFFF}");
        let ab_first = key_index_key(&topic("a.b"), "");
        assert!(a_last < ab_first);
    }
}
