//! Snapshots that share segment files: a snapshot links a topic's sealed
//! segment files and the items of its newest one so far (on real files)
//! instead of copying their records, stays
//! the same while the log goes on (compaction rewrites, retention purges),
//! and installs (on files or in memory) to the same reads as its source,
//! with compaction's and retention's removals kept; a damaged segment in
//! one is refused.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use ordo_core::{Cleanup, Offset, TopicConfig};
use serde_json::json;

use super::support::{
    self, append, at, clean, decided, entries, keyed, normal, open_on, open_temp, put,
    retry_while_locked, topic, TestConfig,
};
use crate::{MemDisk, SnapshotData, StateMachineStore, StoreOptions};

const ALL: usize = usize::MAX;

/// A store on real files whose record segments hold a few dozen records.
fn open_small_segments(dir: &tempfile::TempDir) -> StateMachineStore<TestConfig> {
    let options = StoreOptions {
        record_segment_bytes: 4 * 1024,
        ..StoreOptions::default()
    };
    retry_while_locked(|| crate::open_with::<TestConfig>(dir.path(), &options)).1
}

/// Plain records in `orders` (many segments), a compacted `profiles`
/// (tombstones in sealed segments) and `events` with retention (a start
/// inside its first segment), applied and cleaned.
fn fill(sm: &StateMachineStore<TestConfig>) {
    let compact = TopicConfig::new(Cleanup::Compact, None, None).expect("valid");
    let retention = TopicConfig::new(Cleanup::Delete, Some(1_000), None).expect("valid");
    let mut commands = vec![put("profiles", compact), put("events", retention)];
    for i in 0..60u64 {
        let values = (0..10).map(|j| json!({"order": i * 10 + j, "pad": "x".repeat(40)}));
        commands.push(append("orders", values));
        commands.push(keyed("profiles", &format!("k{}", i % 7), json!(i)));
        commands.push(at(
            keyed("events", &format!("e{i}"), json!(i)),
            100 + 10 * i,
        ));
    }
    commands.push(clean("profiles", 1_700_000_000_000));
    commands.push(clean("events", 1_350));
    sm.apply_entries(entries(commands)).expect("apply");
}

/// The same reads, and the same decided state (key index, producers,
/// positions) too.
fn assert_same_state(a: &StateMachineStore<TestConfig>, b: &StateMachineStore<TestConfig>) {
    support::assert_same_reads(a, b);
    assert_eq!(decided(a), decided(b));
}

/// The current snapshot's directory under `dir`.
fn snapshot_dir(dir: &Path) -> PathBuf {
    let snapshots = dir.join("ordo-snapshots");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .expect("snapshot dir")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names.pop().expect("one")
}

#[tokio::test]
async fn a_snapshot_links_sealed_segments_and_installs_to_the_same_reads() {
    let source_dir = tempfile::tempdir().expect("temp dir");
    let mut source = open_small_segments(&source_dir);
    fill(&source);
    let page = source
        .read_records(&topic("events"), Offset(0), ALL, ALL)
        .expect("read")
        .expect("exists");
    assert!(page.start_offset > Offset(0), "retention moved the start");
    let built = source.build_snapshot().await.expect("build");

    // Sealed segments are linked, not copied: each has a second name, and
    // the snapshot's own file is a fraction of the records it carries.
    let dir = snapshot_dir(source_dir.path());
    let links: Vec<std::fs::Metadata> = std::fs::read_dir(&dir)
        .expect("snapshot's dir")
        .map(|entry| entry.expect("entry"))
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("segment-"))
        .map(|entry| entry.metadata().expect("metadata"))
        .collect();
    assert!(links.len() > 10, "{} linked segments", links.len());
    assert!(links.iter().all(|link| link.nlink() == 2));
    let linked: u64 = links.iter().map(|link| link.len()).sum();
    let data = std::fs::metadata(dir.join("data")).expect("data").len();
    // Only metadata is copied (headers, keys, tombstones): the newest
    // segment of each topic is linked too, up to the snapshot's end.
    assert!(data < 8 * 1024, "copied {data} bytes, linked {linked}");
    let parts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("parts")).expect("parts")).expect("json");
    let shared: u64 = parts
        .as_array()
        .expect("a list")
        .iter()
        .map(|part| part["len"].as_u64().expect("len"))
        .sum();
    assert!(shared <= linked);
    assert_eq!(built.snapshot.len(), data + shared);

    // Installed on files and in memory, it reads like its source.
    let (target_dir, _log, mut on_files) = open_temp();
    on_files
        .install_snapshot(&built.meta, built.snapshot.clone())
        .await
        .expect("install on files");
    assert_same_state(&source, &on_files);
    // What it keeps as its current snapshot shares its own records' files,
    // rather than holding the received copy of every record.
    let kept = snapshot_dir(target_dir.path());
    let data = std::fs::metadata(kept.join("data")).expect("data").len();
    assert!(
        data < 8 * 1024,
        "kept {data} bytes of the received snapshot"
    );
    let current = on_files
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("kept");
    assert_eq!(current.meta, built.meta);
    let disk = MemDisk::new();
    let (_log, mut in_memory) = open_on(&disk);
    let bytes = built.snapshot.to_vec().expect("read");
    in_memory
        .install_snapshot(&built.meta, SnapshotData::from_bytes(bytes.clone()))
        .await
        .expect("install in memory");
    assert_same_state(&source, &in_memory);

    // The log goes on, compacting and purging the segments it linked; the
    // snapshot's bytes stay what they were.
    let mut more = Vec::new();
    for i in 0..60u64 {
        more.push(keyed("profiles", &format!("k{}", i % 3), json!(i)));
        more.push(at(keyed("events", &format!("f{i}"), json!(i)), 2_000 + i));
    }
    more.push(clean("profiles", 1_700_000_000_000));
    more.push(clean("events", 2_900));
    let next = source.last_applied().expect("applied").0 + 1;
    let more = (next..).zip(more).map(|(i, c)| normal(1, i, c)).collect();
    source.apply_entries(more).expect("apply more");
    assert_eq!(built.snapshot.to_vec().expect("read again"), bytes);

    // And after a restart, the current snapshot is still those bytes.
    drop(source);
    let mut reopened = open_small_segments(&source_dir);
    let current = reopened
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("kept");
    assert_eq!(current.snapshot.to_vec().expect("read reopened"), bytes);
}

#[tokio::test]
async fn a_snapshot_with_a_damaged_segment_is_refused_and_changes_nothing() {
    let source_dir = tempfile::tempdir().expect("temp dir");
    let mut source = open_small_segments(&source_dir);
    fill(&source);
    let built = source.build_snapshot().await.expect("build");
    let parts = std::fs::read(snapshot_dir(source_dir.path()).join("parts")).expect("parts");
    let parts: serde_json::Value = serde_json::from_slice(&parts).expect("parts json");
    // The first linked segment starts in the stream where its part says.
    let first = parts[0]["at"].as_u64().expect("at") as usize;
    let mut bytes = built.snapshot.to_vec().expect("read");
    bytes[first + 30] ^= 0x40;

    let (_dir, _log, mut target) = open_temp();
    target
        .apply_entries(entries(vec![append("kept", [json!(1)])]))
        .expect("apply");
    let before = decided(&target);
    let err = target
        .install_snapshot(&built.meta, SnapshotData::from_bytes(bytes))
        .await
        .expect_err("a damaged segment must be refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("checksum"), "{err}");
    assert_eq!(decided(&target), before);
}
