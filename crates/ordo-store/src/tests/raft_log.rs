//! The Raft log in segment files: a crash that tears its newest segment
//! leaves a whole prefix of its entries and a committed log id no further
//! than them; a purge removes whole segment files, at once; and a log an
//! earlier ordo kept in the tree moves into segments when the store opens.

use openraft::storage::{IOFlushed, RaftLogStorage, RaftLogStorageExt};
use openraft::type_config::TypeConfigExt;
use openraft::RaftLogReader;
use serde_json::json;

use super::support::{
    append, blank, log_id, normal, open_on, reopen, retry_while_locked, Entry, TestConfig,
};
use crate::codec::encode;
use crate::keys;
use crate::kv::Disk;
use crate::raft_log_segments::RAFT_LOG_DIR;
use crate::{open_memory_with, open_with, LogStore, MemDisk, StoreOptions, CACHE_CAPACITY_BYTES};

fn entries(indexes: std::ops::RangeInclusive<u64>) -> Vec<Entry> {
    indexes
        .map(|index| normal(1, index, append("orders", [json!({ "n": index })])))
        .collect()
}

#[tokio::test]
async fn a_crash_that_tears_the_newest_segment_leaves_whole_entries_and_a_committed_id_within_them()
{
    let disk = MemDisk::new();
    let options = StoreOptions {
        pipelined_flush: true,
        ..StoreOptions::default()
    };
    let (mut log, _sm) = open_memory_with::<TestConfig>(&disk, &options).expect("open");
    log.blocking_append(entries(1..=3)).await.expect("append");
    // Pipelined: `append` returns before the flusher runs, and nothing here
    // lets it run before the crash.
    let (done, _flushed) = TestConfig::oneshot();
    log.append(entries(4..=6), IOFlushed::signal(done))
        .await
        .expect("append");
    log.save_committed(Some(log_id(1, 6)))
        .await
        .expect("save committed");
    // The tree keeps every write (the committed id too); the segment keeps
    // half of what was written to it since its last sync: a torn frame.
    disk.crash_with(usize::MAX, |_, unsynced_bytes| unsynced_bytes / 2);

    let (mut log, _sm) = open_on(&disk);
    let last = log
        .get_log_state()
        .await
        .expect("log state")
        .last_log_id
        .expect("the synced entries survive");
    assert!(
        (3..6).contains(&last.index),
        "a whole prefix: {last:?} of entries 1..=6, 1..=3 synced"
    );
    let mut reader = log.get_log_reader().await;
    assert_eq!(
        reader.try_get_log_entries(..).await.expect("read"),
        entries(1..=last.index)
    );
    assert_eq!(
        log.read_committed().await.expect("read committed"),
        Some(last),
        "the committed id saved points past what survived: it is cut back"
    );
    log.blocking_append(entries(last.index + 1..=last.index + 1))
        .await
        .expect("appends go on after the repaired tail");
}

async fn assert_nothing_read_through(reader: &mut LogStore<TestConfig>, index: u64) {
    let read = reader.try_get_log_entries(..=index).await.expect("read");
    assert!(
        read.is_empty(),
        "{} entries read at or below {index}",
        read.len()
    );
}

fn segment_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join(RAFT_LOG_DIR))
        .expect("list the Raft log's directory")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.file_name().to_string_lossy().ends_with(".log"))
        })
        .count()
}

#[tokio::test]
async fn a_purge_removes_whole_segment_files_at_once_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions {
        log_segment_bytes: 4096,
        ..StoreOptions::default()
    };
    let open = || retry_while_locked(|| open_with::<TestConfig>(dir.path(), &options));
    let (mut log, sm) = open();
    log.blocking_append((1..=500).map(|index| blank(1, index)))
        .await
        .expect("append");
    let before = segment_files(dir.path());
    assert!(before >= 4, "500 entries in 4 KiB segments: {before} files");

    log.purge(log_id(1, 400)).await.expect("purge");
    let after = segment_files(dir.path());
    assert!(
        after < before,
        "{before} segment files before, {after} after"
    );
    let mut reader = log.get_log_reader().await;
    assert_nothing_read_through(&mut reader, 400).await;
    assert_eq!(
        reader.try_get_log_entries(401..).await.expect("read").len(),
        100
    );
    drop((log, reader, sm));

    let (mut log, _sm) = open();
    let state = log.get_log_state().await.expect("log state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 400)));
    assert_eq!(state.last_log_id, Some(log_id(1, 500)));
    let mut reader = log.get_log_reader().await;
    assert_nothing_read_through(&mut reader, 400).await;
    log.blocking_append([blank(1, 501)]).await.expect("append");
}

/// Replication reads entries from exactly where it asks, or none once a
/// purge removed that point: entries starting later would not follow the
/// `prev_log_id` openraft sends with them, and a follower with an empty
/// log would take them with a hole in front. Other reads still skip what
/// was purged at the front, as openraft's storage contract allows.
#[tokio::test]
async fn replication_reads_nothing_from_a_purged_start() {
    let disk = MemDisk::new();
    let (mut log, _sm) =
        open_memory_with::<TestConfig>(&disk, &StoreOptions::default()).expect("open");
    log.blocking_append(entries(1..=50)).await.expect("append");
    log.purge(log_id(1, 20)).await.expect("purge");
    let mut reader = log.get_log_reader().await;

    let from_purged = reader.limited_get_log_entries(10, 40).await.expect("read");
    assert!(from_purged.is_empty(), "{} entries", from_purged.len());
    let held = reader.limited_get_log_entries(21, 40).await.expect("read");
    let indexes: Vec<u64> = held.iter().map(|entry| entry.log_id.index).collect();
    assert_eq!(indexes, (21..40).collect::<Vec<_>>());

    let skipping = reader.try_get_log_entries(10..40).await.expect("read");
    assert_eq!(skipping.first().map(|entry| entry.log_id.index), Some(21));
}

/// Writes `entries` and a purge point into the trees, as ordo did before
/// the Raft log moved into segment files.
fn write_old_layout(disk: &Disk, entries: &[Entry], purged: u64) {
    let log = disk.open_tree(keys::LOG_TREE).expect("log tree");
    for entry in entries {
        let key = keys::log_key(entry.log_id.index);
        log.insert(&key, encode("log entry", entry).expect("encode"))
            .expect("insert");
    }
    let meta = disk.open_tree(keys::RAFT_META_TREE).expect("meta tree");
    meta.insert(
        keys::LAST_PURGED_KEY,
        encode("purged", &log_id(1, purged)).expect("encode"),
    )
    .expect("insert");
    disk.flush_blocking().expect("flush");
}

#[tokio::test]
async fn a_log_kept_in_the_tree_moves_into_segments_when_the_store_opens() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let disk = Disk::open_sled(dir.path(), CACHE_CAPACITY_BYTES).expect("open sled");
        write_old_layout(&disk, &entries(5..=9), 4);
    }
    for _ in 0..2 {
        let (mut log, _sm) = reopen(&dir);
        let state = log.get_log_state().await.expect("log state");
        assert_eq!(state.last_purged_log_id, Some(log_id(1, 4)));
        assert_eq!(state.last_log_id, Some(log_id(1, 9)));
        let mut reader = log.get_log_reader().await;
        assert_eq!(
            reader.try_get_log_entries(..).await.expect("read"),
            entries(5..=9)
        );
    }
    let disk = retry_while_locked(|| Disk::open_sled(dir.path(), CACHE_CAPACITY_BYTES));
    let tree = disk.open_tree(keys::LOG_TREE).expect("log tree");
    assert!(tree.iter().next().is_none(), "the tree was emptied");
}

#[tokio::test]
async fn a_migration_a_crash_interrupted_starts_again_from_the_tree() {
    let disk = MemDisk::new();
    write_old_layout(&Disk::open_memory(&disk), &entries(1..=4), 0);
    let (log, _sm) = open_on(&disk);
    drop(log);
    // As a crash after the copy but before the tree was emptied leaves it
    // (segments holding some entries, the tree all of them): the tree is
    // the whole log, and the copy starts again.
    write_old_layout(&Disk::open_memory(&disk), &entries(1..=6), 0);
    disk.crash(0);
    let (mut log, _sm) = open_on(&disk);
    let mut reader = log.get_log_reader().await;
    assert_eq!(
        reader.try_get_log_entries(1..).await.expect("read"),
        entries(1..=6)
    );
    assert_eq!(
        log.get_log_state().await.expect("state").last_log_id,
        Some(log_id(1, 6))
    );
}
