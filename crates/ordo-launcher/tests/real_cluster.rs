//! The launcher against real `ordo serve` processes: a leader crash is
//! survived, the crashed node restarts on its data and catches up. Needs a
//! built binary, so it is opt-in:
//!
//!     cargo build --bin ordo
//!     ORDO_BIN=target/debug/ordo cargo test -p ordo-launcher -- --ignored
//!
//! (The workspace's black-box tests in `tests/` run the same way through
//! `CARGO_BIN_EXE_ordo`.)

use std::time::Duration;

use ordo_api::{Consistency, ReadParams};
use ordo_core::{NewRecord, Offset};
use ordo_launcher::{LauncherConfig, LocalCluster};

const LEADER_TIMEOUT: Duration = Duration::from_secs(30);

fn record(value: &str) -> Vec<NewRecord> {
    vec![NewRecord {
        key: None,
        value: serde_json::Value::String(value.into()).into(),
        headers: Default::default(),
    }]
}

#[tokio::test]
#[ignore = "needs ORDO_BIN pointing at a built ordo binary"]
async fn cluster_survives_a_leader_crash_and_the_crashed_node_catches_up() {
    let binary = std::env::var("ORDO_BIN").expect("set ORDO_BIN to the ordo binary");
    // Relative to the workspace root, where the command above is typed.
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let binary = std::fs::canonicalize(workspace.join(binary)).expect("ORDO_BIN exists");
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = LocalCluster::start(LauncherConfig::new(binary, 3, dir.path())).unwrap();
    let first_leader = cluster.wait_for_leader(LEADER_TIMEOUT).await.unwrap();
    let client = cluster.client().unwrap();
    let before = client.append("t", record("before")).await.unwrap();
    assert_eq!(before.offsets, vec![Offset(0)]);

    cluster
        .kill(first_leader)
        .unwrap()
        .expect("the leader was running");
    let second_leader = cluster.wait_for_leader(LEADER_TIMEOUT).await.unwrap();
    assert_ne!(second_leader, first_leader);
    let after = client.append("t", record("after")).await.unwrap();
    assert_eq!(after.offsets, vec![Offset(1)]);

    cluster.restart(first_leader).await.unwrap();
    cluster.wait_for_leader(LEADER_TIMEOUT).await.unwrap();
    let restarted = cluster.client_for(first_leader).unwrap();
    let local = ReadParams {
        from: Offset(0),
        limit: None,
        consistency: Consistency::Local,
    };
    let mut caught_up = false;
    for _ in 0..100 {
        if let Ok(page) = restarted.read("t", &local).await {
            if page.records.len() == 2 {
                caught_up = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(caught_up, "the restarted node serves both records locally");

    let exits = cluster.stop_all().await.unwrap();
    assert!(exits
        .iter()
        .all(|(_, exit)| !exit.forced && exit.status.success()));
}
