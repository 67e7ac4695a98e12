//! Snapshots: a snapshot built on one store and installed on another makes
//! them answer alike, and the current snapshot survives a reopen.

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::SnapshotMeta;
use ordo_core::{LogIndex, Offset};
use serde_json::json;

use super::support::{
    append, apply_via_openraft, assert_same_reads, blank, decided, keyed, log_id, membership,
    normal, open_temp, reopen, topic, TestConfig,
};
use crate::{SnapshotData, StateMachineStore};

async fn store_with_history() -> (tempfile::TempDir, StateMachineStore<TestConfig>) {
    let (dir, _log, mut sm) = open_temp();
    apply_via_openraft(
        &mut sm,
        vec![
            blank(1, 1),
            membership(1, 2, &[1, 2, 3]),
            normal(1, 3, append("orders", (0..5).map(|i| json!({"order": i})))),
            normal(1, 4, append("users", [json!("jane"), json!(null)])),
            normal(2, 5, append("orders", [json!("late")])),
        ],
    )
    .await;
    (dir, sm)
}

#[tokio::test]
async fn an_installed_snapshot_answers_reads_like_its_source() {
    let (_source_dir, mut source) = store_with_history().await;
    let snapshot = source.build_snapshot().await.expect("build snapshot");
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(2, 5)));

    let (_target_dir, _log, mut target) = open_temp();
    // Something the snapshot does not hold, which installing must remove.
    apply_via_openraft(&mut target, vec![normal(1, 1, append("stale", [json!(1)]))]).await;
    let mut watch = target.applied_watch();

    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .expect("install snapshot");

    assert_same_reads(&source, &target);
    assert_eq!(target.topic(&topic("stale")), None);
    assert_eq!(
        target.applied_state().await.expect("target state"),
        source.applied_state().await.expect("source state")
    );
    assert_eq!(*watch.borrow_and_update(), Some(LogIndex(5)));

    // Applying continues from the snapshot's offsets.
    let results = target
        .apply_entries(vec![normal(2, 6, append("orders", [json!("next")]))])
        .expect("apply after install");
    assert_eq!(results[0].offsets(), vec![Offset(6)]);
}

#[tokio::test]
async fn the_current_snapshot_and_installed_state_survive_reopen() {
    let (_source_dir, mut source) = store_with_history().await;
    let built = source.build_snapshot().await.expect("build snapshot");

    let (target_dir, log, mut target) = open_temp();
    assert!(target
        .get_current_snapshot()
        .await
        .expect("current")
        .is_none());
    target
        .install_snapshot(&built.meta, built.snapshot)
        .await
        .expect("install");
    drop((log, target));

    let (_log, mut target) = reopen(&target_dir);
    let current = target
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("a snapshot was installed");
    assert_eq!(current.meta, built.meta);
    assert_same_reads(&source, &target);
}

#[tokio::test]
async fn a_built_snapshot_is_current_after_reopen() {
    let (dir, mut sm) = store_with_history().await;
    let built = sm.build_snapshot().await.expect("build");
    drop(sm);

    let (_log, mut sm) = reopen(&dir);
    let current = sm
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("kept");
    assert_eq!(current.meta, built.meta);
    assert_eq!(
        current.snapshot.to_vec().expect("read current"),
        built.snapshot.to_vec().expect("read built")
    );
}

#[tokio::test]
async fn a_snapshot_whose_contents_contradict_its_metadata_is_refused() {
    let (_source_dir, mut source) = store_with_history().await;
    let built = source.build_snapshot().await.expect("build");
    let lying_meta = SnapshotMeta {
        last_log_id: Some(log_id(9, 99)),
        last_membership: built.meta.last_membership.clone(),
    };

    let (_dir, _log, mut target) = open_temp();
    let err = target
        .install_snapshot(&lying_meta, built.snapshot)
        .await
        .expect_err("inconsistent snapshot must be refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(target.last_applied(), None);
}

/// One append of `count` records, each with its own key.
fn many_keyed(topic_name: &str, count: usize) -> ordo_core::Command {
    let mut command = keyed(topic_name, "k0", json!(0));
    if let ordo_core::Command::Append { records, .. } = &mut command {
        let template = records[0].clone();
        *records = (0..count)
            .map(|i| ordo_core::NewRecord {
                key: Some(format!("k{i}")),
                value: json!({"n": i}).into(),
                ..template.clone()
            })
            .collect();
    }
    command
}

#[tokio::test]
async fn a_snapshot_of_many_records_and_keys_streams_in_runs_and_installs_whole() {
    // 10,500 records and keys: eleven runs of records and two frames of keys.
    let (_source_dir, _log, mut source) = open_temp();
    apply_via_openraft(
        &mut source,
        vec![
            membership(1, 1, &[1]),
            normal(1, 2, many_keyed("profiles", 10_500)),
            normal(1, 3, append("orders", [json!("one")])),
        ],
    )
    .await;
    let built = source.build_snapshot().await.expect("build");

    let (_target_dir, _log, mut target) = open_temp();
    target
        .install_snapshot(&built.meta, built.snapshot)
        .await
        .expect("install");
    assert_same_reads(&source, &target);
    assert_eq!(decided(&target).keys, decided(&source).keys);
    assert_eq!(decided(&target).keys[&topic("profiles")].len(), 10_500);
}

#[tokio::test]
async fn a_truncated_or_padded_snapshot_is_refused_and_changes_nothing() {
    let (_source_dir, mut source) = store_with_history().await;
    let built = source.build_snapshot().await.expect("build");
    let bytes = built.snapshot.to_vec().expect("read");
    let (_dir, _log, mut target) = open_temp();
    apply_via_openraft(&mut target, vec![normal(1, 1, append("kept", [json!(1)]))]).await;

    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0, 0, 0, 0]);
    for damaged in [
        bytes[..bytes.len() - 3].to_vec(),
        bytes[..10].to_vec(),
        padded,
    ] {
        let err = target
            .install_snapshot(&built.meta, SnapshotData::from_bytes(damaged))
            .await
            .expect_err("a damaged snapshot must be refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
        assert_eq!(target.last_applied(), Some(LogIndex(1)));
        assert!(target.topic(&topic("kept")).is_some());
    }
}

fn snapshot_files(dir: &tempfile::TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("ordo-snapshots"))
        .expect("snapshot dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .into_string()
                .expect("utf-8")
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn only_the_current_snapshot_file_is_kept_and_leftovers_go_at_open() {
    let (dir, mut sm) = store_with_history().await;
    for index in 6..9 {
        apply_via_openraft(
            &mut sm,
            vec![normal(2, index, append("orders", [json!(index)]))],
        )
        .await;
        sm.build_snapshot().await.expect("build");
        assert_eq!(snapshot_files(&dir).len(), 1, "{:?}", snapshot_files(&dir));
    }
    let current = sm
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("kept");
    assert_eq!(current.meta.last_log_id, Some(log_id(2, 8)));
    // A build cut off by a crash, and a complete file the tree never named.
    std::fs::write(dir.path().join("ordo-snapshots/building-7.tmp"), b"half").expect("write");
    std::fs::write(
        dir.path()
            .join("ordo-snapshots/snap-00000000000000000099-0"),
        b"x",
    )
    .expect("write");
    drop(sm);

    let (_log, mut sm) = reopen(&dir);
    assert_eq!(snapshot_files(&dir).len(), 1, "{:?}", snapshot_files(&dir));
    let reopened = sm
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("kept");
    assert_eq!(reopened.meta, current.meta);
    assert_eq!(
        reopened.snapshot.to_vec().expect("read"),
        current.snapshot.to_vec().expect("read")
    );
}
