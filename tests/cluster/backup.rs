//! Backup and restore: `ordo backup` takes a node's applied state; `ordo
//! restore` seeds the data dirs of a new cluster (other nodes, other ports)
//! from it; that cluster elects a leader, serves exactly the backed-up
//! records, topic configs and consumer positions, and goes on appending from
//! the backup's end. A restore into a store that holds state is refused.

use std::path::Path;
use std::process::Command;

use ordo_api::Consistency;
use ordo_core::{Cleanup, NewRecord, Offset, TopicConfig};
use serde_json::json;

use crate::support::{read_all, record, TestCluster};

fn ordo(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(args)
        .output()
        .expect("running ordo")
}

fn succeeded(what: &str, output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn restore(backup: &Path, data_dir: &Path, id: u64, peers: &str) -> std::process::Output {
    ordo(&[
        "restore",
        "--from",
        backup.to_str().expect("utf-8 path"),
        "--data-dir",
        data_dir.to_str().expect("utf-8 path"),
        "--node-id",
        &id.to_string(),
        "--peers",
        peers,
    ])
}

#[tokio::test]
async fn a_backup_restored_into_a_new_cluster_serves_the_same_log_and_goes_on() {
    let source = TestCluster::start().await;
    let client = source.client();
    let config = TopicConfig::new(Cleanup::Compact, None, None).expect("a valid config");
    client
        .put_topic("profiles", &config)
        .await
        .expect("put topic");
    for (i, key) in ["ann", "bob", "ann", "cid"].iter().enumerate() {
        let keyed = NewRecord {
            key: Some((*key).to_owned()),
            ..record(json!({"version": i}))
        };
        client
            .append("profiles", vec![keyed])
            .await
            .expect("keyed append");
    }
    for i in 0..50 {
        client
            .append("orders", vec![record(json!(format!("order-{i}")))])
            .await
            .expect("append");
    }
    client
        .commit_offset("billing", "orders", Offset(20), None)
        .await
        .expect("commit offset");

    // Back up from a follower once it has applied everything.
    let follower = source.followers()[0];
    let follower_client = source.client_for(follower);
    let orders = read_all(&client, "orders", Consistency::Linearizable)
        .await
        .expect("read");
    let profiles = read_all(&client, "profiles", Consistency::Linearizable)
        .await
        .expect("read");
    crate::support::eventually(
        "the follower applies every append",
        crate::support::CATCH_UP_TIMEOUT,
        || async {
            let local = read_all(&follower_client, "orders", Consistency::Local)
                .await
                .map_err(|e| e.to_string())?;
            if local.len() == orders.len() {
                Ok(())
            } else {
                Err(format!("{} of {} records", local.len(), orders.len()))
            }
        },
    )
    .await;
    let work = tempfile::tempdir().expect("temp dir");
    let backup = work.path().join("ordo.backup");
    let addr = source.base_url(follower);
    let said = succeeded(
        "ordo backup",
        &ordo(&[
            "backup",
            "--addr",
            &addr,
            "--to",
            backup.to_str().expect("utf-8"),
        ]),
    );
    assert!(said.contains("backup of log index"), "{said}");
    // Appended after the backup: the restored cluster must not have it.
    client
        .append("orders", vec![record(json!("after the backup"))])
        .await
        .expect("append after backup");

    // A new cluster elsewhere: stop it, wipe it, restore every node.
    let mut target = TestCluster::start().await;
    target.nodes.stop_all().await.expect("stop the new cluster");
    let peers: Vec<String> = target
        .nodes
        .members()
        .iter()
        .map(|(id, addr)| format!("{id}={addr}"))
        .collect();
    let peers = peers.join(",");
    for id in target.ids() {
        let data_dir = target.nodes.data_dir(id).expect("data dir").to_path_buf();
        std::fs::remove_dir_all(&data_dir).expect("wipe the data dir");
        let said = succeeded("ordo restore", &restore(&backup, &data_dir, id, &peers));
        assert!(said.contains("restored log index"), "{said}");
    }
    for id in target.ids() {
        target.nodes.start_node(id).expect("start a restored node");
    }
    target.wait_for_leader().await;

    let restored = target.client();
    assert_eq!(
        read_all(&restored, "orders", Consistency::Linearizable)
            .await
            .expect("read"),
        orders
    );
    assert_eq!(
        read_all(&restored, "profiles", Consistency::Linearizable)
            .await
            .expect("read"),
        profiles
    );
    let topic = restored
        .topic("profiles", Consistency::Linearizable)
        .await
        .expect("topic")
        .expect("profiles exists");
    assert_eq!(topic.config.cleanup(), Cleanup::Compact);
    assert_eq!(
        restored
            .consumer_offset("billing", "orders", Consistency::Linearizable)
            .await
            .expect("offset"),
        Some(Offset(20))
    );
    let next = restored
        .append("orders", vec![record(json!("first in the new cluster"))])
        .await
        .expect("append to the restored cluster");
    assert_eq!(next.offsets, vec![Offset(50)]);
    for id in target.ids() {
        let local = read_all(&target.client_for(id), "orders", Consistency::Linearizable)
            .await
            .expect("read every node");
        assert_eq!(local.len(), 51, "node {id}");
    }

    // Restoring over a node's state is refused and leaves it alone.
    let used = work.path().join("used");
    succeeded("first restore", &restore(&backup, &used, 1, &peers));
    let again = restore(&backup, &used, 1, &peers);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    drop(source);
}
