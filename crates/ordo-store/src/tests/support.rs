//! Shared test fixtures: the type config declared exactly as `ordo-node`
//! declares its own, and builders for entries and commands.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use openraft::entry::RaftEntry;
use openraft::type_config::alias::{EntryOf, LogIdOf};
use openraft::vote::RaftLeaderIdExt;
use openraft::{Membership, RaftTypeConfig};
use ordo_core::{
    Command, CommandResult, Condition, GroupName, NewRecord, Offset, Producer, ProducerId, State,
    TopicConfig, TopicName,
};
use tempfile::TempDir;

use crate::kv::Disk;
use crate::segment::Files;
use crate::{
    open, open_memory, LogStore, MemDisk, StateMachineStore, StoreError, CACHE_CAPACITY_BYTES,
};

openraft::declare_raft_types!(
    pub TestConfig:
        D = Command,
        R = CommandResult,
);

pub type Entry = EntryOf<TestConfig>;

/// A store in a fresh temporary directory; keep the `TempDir` alive.
pub fn open_temp() -> (TempDir, LogStore<TestConfig>, StateMachineStore<TestConfig>) {
    let dir = tempfile::tempdir().expect("create temp dir");
    let (log, sm) = reopen(&dir);
    (dir, log, sm)
}

/// Opens the store in `dir` again (all earlier handles must be dropped).
pub fn reopen(dir: &TempDir) -> (LogStore<TestConfig>, StateMachineStore<TestConfig>) {
    retry_while_locked(|| open(dir.path()))
}

/// Runs `open` (of something on sled) until it succeeds, panicking on any
/// error but a lock conflict.
///
/// sled's background threads can hold the directory lock for a moment after
/// the last handle is dropped, so a lock conflict is retried for a while. (A
/// restarted node is a new process, which never meets this.)
pub fn retry_while_locked<T>(mut open: impl FnMut() -> Result<T, StoreError>) -> T {
    let deadline = Instant::now() + LOCK_RELEASE_TIMEOUT;
    loop {
        match open() {
            Ok(opened) => return opened,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                assert!(Instant::now() < deadline, "store still locked: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("open store: {e}"),
        }
    }
}

/// Where a node's disk lives between its lives: a simulated disk, or a
/// temporary directory for sled and real files.
pub enum Home {
    Memory(MemDisk),
    Sled(TempDir),
}

impl Home {
    /// The node's disk and the files beside it: on a memory disk, one new
    /// incarnation for both (fencing off every earlier one).
    pub fn open(&self) -> (Disk, Files) {
        match self {
            Home::Memory(disk) => {
                let handle = disk.open_incarnation();
                (Disk::Memory(handle.clone()), Files::Memory(handle))
            }
            Home::Sled(dir) => (
                retry_while_locked(|| Disk::open_sled(dir.path(), CACHE_CAPACITY_BYTES)),
                Files::real(dir.path()),
            ),
        }
    }
}

/// How long a dropped sled store may keep its directory locked.
const LOCK_RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a store on `disk`: a fresh node, or the next life of a crashed one.
pub fn open_on(disk: &MemDisk) -> (LogStore<TestConfig>, StateMachineStore<TestConfig>) {
    open_memory(disk).expect("open store on a memory disk")
}

pub fn topic(name: &str) -> TopicName {
    TopicName::new(name).expect("valid test topic name")
}

pub fn log_id(term: u64, index: u64) -> LogIdOf<TestConfig> {
    let leader = <TestConfig as RaftTypeConfig>::LeaderId::new_committed(term, 1);
    LogIdOf::<TestConfig>::new(leader, index)
}

/// An `Append` of one record per value.
pub fn append(topic_name: &str, values: impl IntoIterator<Item = serde_json::Value>) -> Command {
    Command::Append {
        topic: topic(topic_name),
        records: values
            .into_iter()
            .map(|value| NewRecord {
                key: None,
                value: value.into(),
                headers: Default::default(),
            })
            .collect(),
        timestamp_ms: 1_700_000_000_000,
        producer: None,
        condition: None,
    }
}

pub fn normal(term: u64, index: u64, command: Command) -> Entry {
    Entry::new_normal(log_id(term, index), command)
}

/// `commands` as term-1 entries at indexes 1, 2, 3, …
pub fn entries(commands: Vec<Command>) -> Vec<Entry> {
    commands
        .into_iter()
        .zip(1..)
        .map(|(command, index)| normal(1, index, command))
        .collect()
}

pub fn blank(term: u64, index: u64) -> Entry {
    Entry::new_blank(log_id(term, index))
}

pub fn membership(term: u64, index: u64, voters: &[u64]) -> Entry {
    let voters: BTreeSet<u64> = voters.iter().copied().collect();
    Entry::new_membership(
        log_id(term, index),
        Membership::new_with_defaults(vec![voters], []),
    )
}

/// Applies `entries` through openraft's `apply`, as openraft feeds a follower
/// (no client waiting, so no responders).
pub async fn apply_via_openraft(sm: &mut StateMachineStore<TestConfig>, entries: Vec<Entry>) {
    use openraft::storage::RaftStateMachine;
    let stream = futures::stream::iter(entries.into_iter().map(|entry| Ok((entry, None))));
    sm.apply(stream).await.expect("apply");
}

/// One record with `key` (a `null` value makes it a tombstone).
pub fn keyed(topic_name: &str, key: &str, value: serde_json::Value) -> Command {
    Command::Append {
        topic: topic(topic_name),
        records: vec![NewRecord {
            key: Some(key.to_owned()),
            value: value.into(),
            headers: Default::default(),
        }]
        .into(),
        timestamp_ms: 1_700_000_000_000,
        producer: None,
        condition: None,
    }
}

/// `command` (an append) stamped `now_ms` by its leader.
pub fn at(mut command: Command, now_ms: u64) -> Command {
    if let Command::Append { timestamp_ms, .. } = &mut command {
        *timestamp_ms = now_ms;
    }
    command
}

/// Creates `name` with `config`, or sets an existing topic's config.
pub fn put(name: &str, config: TopicConfig) -> Command {
    Command::PutTopic {
        topic: topic(name),
        config,
    }
}

/// One cleanup pass over `name` at the leader's time `now_ms`.
pub fn clean(name: &str, now_ms: u64) -> Command {
    Command::CleanTopic {
        topic: topic(name),
        timestamp_ms: now_ms,
    }
}

/// `command` (an append) sent as `id`'s append number `seq`.
pub fn from_producer(mut command: Command, id: &str, seq: u64) -> Command {
    if let Command::Append { producer, .. } = &mut command {
        *producer = Some(Producer::new(
            ProducerId::new(id).expect("valid test producer"),
            seq,
        ));
    }
    command
}

/// `command` (an append) sent as Kafka producer `id`'s batch whose first
/// record is its record number `seq`.
pub fn from_kafka_producer(mut command: Command, id: &str, seq: u64) -> Command {
    if let Command::Append { producer, .. } = &mut command {
        *producer = Some(Producer::records(
            ProducerId::new(id).expect("valid test producer"),
            seq,
        ));
    }
    command
}

/// `command` (an append) made conditional.
pub fn only_if(mut command: Command, if_: Condition) -> Command {
    if let Command::Append { condition, .. } = &mut command {
        *condition = Some(if_);
    }
    command
}

pub fn group(name: &str) -> GroupName {
    GroupName::new(name).expect("valid test group")
}

pub fn commit(
    group_name: &str,
    topic_name: &str,
    offset: u64,
    expected: Option<Option<u64>>,
) -> Command {
    Command::CommitOffset {
        group: group(group_name),
        topic: topic(topic_name),
        offset: Offset(offset),
        expected: expected.map(|e| e.map(Offset)),
    }
}

/// The state machine's whole decided state, as readers see it.
pub fn decided(sm: &StateMachineStore<TestConfig>) -> State {
    sm.read_published().state.clone()
}

/// Asserts that `a` and `b` hold the same topics, last applied index and
/// records (every topic read whole).
pub fn assert_same_reads(a: &StateMachineStore<TestConfig>, b: &StateMachineStore<TestConfig>) {
    assert_eq!(a.topics(), b.topics());
    assert_eq!(a.last_applied(), b.last_applied());
    for name in a.topics().keys() {
        assert_eq!(
            a.read_records(name, Offset(0), usize::MAX, usize::MAX)
                .expect("read a"),
            b.read_records(name, Offset(0), usize::MAX, usize::MAX)
                .expect("read b"),
            "topic {name}"
        );
    }
}
