//! What operators read in a node's log: a dead peer costs a few lines in
//! words (that it is unreachable, then a summary every 30 s, then that it
//! is reachable again), not a Debug dump per Raft message; no colour codes
//! when the log is not a terminal; JSON lines with `ORDO_LOG_FORMAT=json`.

use std::time::Duration;

use ordo_core::NodeId;
use tokio::time::Instant;

use crate::support::{eventually, record, TestCluster, CATCH_UP_TIMEOUT};

/// How long the dead peer stays dead: at ~20 heartbeats a second to it,
/// openraft alone wrote about 60 lines about it in this time.
const OUTAGE: Duration = Duration::from_secs(3);
/// Lines about the dead peer a survivor may write in [`OUTAGE`]: the first
/// "unreachable" line, and slack for an election's messages.
const MAX_LINES_ABOUT_DEAD_PEER: usize = 3;
/// Pause between appends during the outage, so the leader's replication to
/// the dead peer fails too, not only its heartbeats.
const APPEND_PAUSE: Duration = Duration::from_millis(100);

/// Node `id`'s log after its first `from` bytes.
fn log_since(cluster: &TestCluster, id: NodeId, from: usize) -> String {
    cluster.log(id).get(from..).unwrap_or_default().to_string()
}

/// Fails on what an operator must never have to read: openraft's Debug
/// output of its errors, and colour codes in a log that is a file.
fn assert_readable(id: NodeId, log: &str) {
    for line in log.lines() {
        for unreadable in ["BoxedErrorSource", "Unreachable {", "\x1b["] {
            assert!(
                !line.contains(unreadable),
                "node {id} logged {unreadable:?}: {line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_costs_a_few_lines_in_words_and_its_return_one_more() {
    // NO_COLOR empty means "colours allowed": only the log file not being
    // a terminal keeps colour codes out.
    let mut cluster = TestCluster::start_with_env(&[("NO_COLOR", "")]).await;
    let dead = cluster.followers()[0];
    let dead_addr = cluster
        .nodes
        .addr(dead)
        .expect("a node's address")
        .to_string();
    let survivors: Vec<NodeId> = cluster.ids().into_iter().filter(|&id| id != dead).collect();
    let log_sizes: Vec<usize> = survivors.iter().map(|&id| cluster.log(id).len()).collect();

    cluster.kill(dead);
    let client = cluster.client();
    let outage_ends = Instant::now() + OUTAGE;
    let mut appended = 0;
    while Instant::now() < outage_ends {
        client
            .append("during-outage", vec![record(appended)])
            .await
            .unwrap_or_else(|e| panic!("append {appended} with one follower dead: {e}"));
        appended += 1;
        tokio::time::sleep(APPEND_PAUSE).await;
    }

    let unreachable = format!("peer {dead} at {dead_addr} is unreachable: ");
    let mut told = Vec::new();
    for (&id, &from) in survivors.iter().zip(&log_sizes) {
        let log = log_since(&cluster, id, from);
        assert_readable(id, &log);
        let about_dead: Vec<&str> = log.lines().filter(|l| l.contains(&dead_addr)).collect();
        assert!(
            about_dead.len() <= MAX_LINES_ABOUT_DEAD_PEER,
            "node {id} wrote {} lines about dead node {dead} in {OUTAGE:?}:\n{}",
            about_dead.len(),
            about_dead.join("\n")
        );
        if let Some(first) = about_dead.first() {
            assert!(
                first.contains(&unreachable),
                "node {id}'s first line about dead node {dead} does not say it is unreachable: {first}"
            );
            told.push(id);
        }
    }
    assert!(
        !told.is_empty(),
        "no survivor said node {dead} is unreachable"
    );

    cluster
        .nodes
        .start_node(dead)
        .unwrap_or_else(|e| panic!("restarting node {dead}: {e}"));
    cluster.wait_for_leader().await;
    let back = format!("peer {dead} at {dead_addr} is reachable again (after ");
    eventually(
        &format!("one of nodes {told:?} logs that node {dead} is reachable again"),
        CATCH_UP_TIMEOUT,
        || async {
            if told.iter().any(|&id| cluster.log(id).contains(&back)) {
                Ok(())
            } else {
                Err(format!("no line contains {back:?}"))
            }
        },
    )
    .await;
    for id in cluster.ids() {
        assert_readable(id, &cluster.log(id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_format_json_every_log_line_is_a_json_object_with_level_and_message() {
    let mut cluster = TestCluster::start_with_env(&[("ORDO_LOG_FORMAT", "json")]).await;
    // A peer line too, not only the start-up's.
    let dead = cluster.followers()[0];
    cluster.kill(dead);
    let unreachable = format!("\"peer {dead} at ");
    let leader = cluster.leader;
    eventually(
        &format!("node {leader} logs that node {dead} is unreachable"),
        CATCH_UP_TIMEOUT,
        || async {
            if cluster.log(leader).contains(&unreachable) {
                Ok(())
            } else {
                Err(format!("no line contains {unreachable:?}"))
            }
        },
    )
    .await;
    for id in cluster.ids() {
        let log = cluster.log(id);
        assert!(log.lines().count() > 0, "node {id} logged nothing");
        for line in log.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("node {id} logged a line that is not JSON ({e}): {line}")
            });
            for field in ["level", "message"] {
                assert!(
                    value.get(field).is_some_and(serde_json::Value::is_string),
                    "node {id} logged a line without a {field}: {line}"
                );
            }
        }
    }
}
