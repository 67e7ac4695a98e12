//! Durability and recovery across crashes and restarts (DESIGN §4.1, §4.7,
//! §3a): every acknowledged record comes back at its offset after all nodes
//! crash, and a follower that was down catches up and serves the same log.

use std::time::Duration;

use ordo_api::{Consistency, ReadParams};
use ordo_core::{NodeId, Offset, ProducerId, Record};
use serde_json::json;
use tokio::time::Instant;

use crate::support::{
    crash_and_wipe, eventually, offsets, read_all, record, restart_and_catch_up, rss_bytes,
    wait_for_local_log, TestCluster,
};

/// Appends `count` single-record appends of `"{prefix}-{i}"` to `topic`
/// through whichever node `via` names for each, one after another, and
/// checks each continues the log from `start`.
async fn append_in_order(
    cluster: &TestCluster,
    topic: &str,
    prefix: &str,
    start: u64,
    count: u64,
    via: impl Fn(u64) -> Option<NodeId>,
) {
    for i in 0..count {
        let client = match via(i) {
            Some(id) => cluster.client_for(id),
            None => cluster.client(),
        };
        let ack = client
            .append(topic, vec![record(format!("{prefix}-{i}"))])
            .await
            .unwrap_or_else(|e| panic!("append {prefix}-{i} to {topic}: {e}"));
        assert_eq!(
            ack.offsets,
            offsets(start + i..start + i + 1),
            "{prefix}-{i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_all_nodes_crashing_and_restarting() {
    let mut cluster = TestCluster::start().await;
    let ids = cluster.ids();
    let topics = ["ledger-a", "ledger-b"];

    // Two topics, each written through every node in turn, some appends of
    // several records; each append acknowledged before the next.
    let mut values: Vec<Vec<serde_json::Value>> = vec![Vec::new(), Vec::new()];
    for i in 0..60usize {
        let (t, id) = (i % 2, ids[i % ids.len()]);
        let batch: Vec<_> = (0..if i % 7 == 0 { 3 } else { 1 })
            .map(|j| json!(format!("r{i}-{j}")))
            .collect();
        let first = values[t].len() as u64;
        let ack = cluster
            .client_for(id)
            .append(topics[t], batch.iter().cloned().map(record).collect())
            .await
            .unwrap_or_else(|e| panic!("append {i} through node {id}: {e}"));
        assert_eq!(ack.offsets, offsets(first..first + batch.len() as u64));
        values[t].extend(batch);
    }
    // The exact records, timestamps included, as the cluster holds them.
    let mut acked: Vec<Vec<Record>> = Vec::new();
    for (t, topic) in topics.iter().enumerate() {
        let log = read_all(&cluster.client(), topic, Consistency::Linearizable)
            .await
            .expect("a linearizable read before the crash");
        assert_eq!(
            log.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
            values[t]
        );
        acked.push(log);
    }

    // A crash of every node at once: no graceful shutdown, no flush.
    for &id in &ids {
        cluster.kill(id);
    }
    // Restarted from their data dirs with the same arguments; nobody calls
    // init: the nodes must find their membership on disk.
    for &id in &ids {
        cluster
            .nodes
            .start_node(id)
            .unwrap_or_else(|e| panic!("restarting node {id}: {e}"));
    }
    cluster.wait_for_leader().await;

    for &id in &ids {
        for (t, topic) in topics.iter().enumerate() {
            let log = read_all(&cluster.client_for(id), topic, Consistency::Linearizable)
                .await
                .unwrap_or_else(|e| {
                    panic!("reading {topic} from node {id} after the restart: {e}")
                });
            assert_eq!(
                log, acked[t],
                "node {id} serves every acknowledged record of {topic}, unchanged, after the restart"
            );
        }
    }

    // The log goes on where it left off.
    for (t, topic) in topics.iter().enumerate() {
        let end = acked[t].len() as u64;
        append_in_order(&cluster, topic, "after-restart", end, 5, |i| {
            Some(ids[i as usize % ids.len()])
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_node_loses_nothing() {
    let mut cluster = TestCluster::start().await;
    let topic = "rolling";
    let mut end = 0;
    append_in_order(&cluster, topic, "start", end, 10, |_| None).await;
    end += 10;
    // What an operator does for an upgrade: one node at a time, gracefully
    // (SIGTERM), with appends going on while it is away and after.
    for id in cluster.ids() {
        let exit = cluster
            .nodes
            .stop(id)
            .await
            .unwrap_or_else(|e| panic!("stopping node {id}: {e}"))
            .expect("the node was running");
        assert!(!exit.forced, "node {id} ignored SIGTERM and was killed");
        append_in_order(&cluster, topic, &format!("without-{id}"), end, 10, |_| None).await;
        end += 10;
        cluster
            .nodes
            .start_node(id)
            .unwrap_or_else(|e| panic!("starting node {id} again: {e}"));
        cluster.wait_for_leader().await;
        append_in_order(&cluster, topic, &format!("with-{id}"), end, 10, |_| None).await;
        end += 10;
    }
    let leader = cluster.wait_for_leader().await;
    let log = read_all(
        &cluster.client_for(leader),
        topic,
        Consistency::Linearizable,
    )
    .await
    .expect("a linearizable read after the rolling restart");
    assert_eq!(log.len() as u64, end, "every acknowledged record, once");
    for id in cluster.ids() {
        wait_for_local_log(&cluster, id, topic, &log).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_follower_catches_up_and_serves_the_leaders_log() {
    let mut cluster = TestCluster::start().await;
    let topic = "catch-up";
    let follower = cluster.followers()[0];

    append_in_order(&cluster, topic, "before", 0, 20, |_| None).await;
    cluster.kill(follower);

    // The two remaining nodes are a majority: appends go on.
    append_in_order(&cluster, topic, "while-down", 20, 100, |_| None).await;
    // And a topic the follower has never heard of.
    cluster
        .client()
        .append("born-while-down", vec![record(json!({"n": 1}))])
        .await
        .expect("an append to a new topic while the follower is down");

    cluster
        .nodes
        .start_node(follower)
        .expect("restarting the follower");
    let leader = cluster.wait_for_leader().await;
    for topic in [topic, "born-while-down"] {
        let leaders_log = read_all(&cluster.client_for(leader), topic, Consistency::Local)
            .await
            .unwrap_or_else(|e| panic!("the leader's local read of {topic}: {e}"));
        wait_for_local_log(&cluster, follower, topic, &leaders_log).await;
    }
    let log = read_all(&cluster.client_for(follower), topic, Consistency::Local)
        .await
        .expect("the follower's local read");
    assert_eq!(log.len(), 120, "every record, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_lost_its_data_is_rebuilt_from_the_cluster() {
    let mut cluster = TestCluster::start().await;
    let topic = "rebuilt";
    // The highest-id follower: not the node that initializes membership.
    let follower = *cluster.followers().last().expect("two followers");

    append_in_order(&cluster, topic, "before", 0, 30, |_| None).await;
    crash_and_wipe(&mut cluster, follower);
    append_in_order(&cluster, topic, "while-down", 30, 30, |_| None).await;

    let leaders_log = restart_and_catch_up(&mut cluster, follower, topic).await;
    assert_eq!(leaders_log.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_that_formed_the_cluster_rejoins_after_losing_its_data() {
    let mut cluster = TestCluster::start().await;
    let topic = "re-formed";
    // Node 1 has the lowest id: with no membership on disk it initializes
    // the cluster again on start, which must be harmless (DESIGN §3a). It
    // is often the leader too, so this is also a leader crash.
    let wiped: NodeId = 1;

    append_in_order(&cluster, topic, "before", 0, 30, |_| None).await;
    crash_and_wipe(&mut cluster, wiped);
    append_in_order(&cluster, topic, "while-down", 30, 30, |_| None).await;

    let leaders_log = restart_and_catch_up(&mut cluster, wiped, topic).await;
    assert_eq!(leaders_log.len(), 60, "the log the cluster kept");
    // One cluster, not two: appends through every node continue one log.
    let ids = cluster.ids();
    append_in_order(&cluster, topic, "after", 60, 9, |i| {
        Some(ids[i as usize % ids.len()])
    })
    .await;
}

/// The leader, once one is agreed on, and its cluster status.
async fn leaders_status(cluster: &mut TestCluster) -> (NodeId, ordo_api::ClusterStatus) {
    let leader = cluster.wait_for_leader().await;
    let status = cluster
        .client_for(leader)
        .cluster_status()
        .await
        .expect("the leader's status");
    (leader, status)
}

/// `--snapshot-every-mb`: a node snapshots once that much log was
/// appended, however few entries it took (here 2 MiB in 40 entries, with
/// the entry count set far out of reach).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_snapshots_after_a_volume_of_log_however_few_the_entries() {
    let cluster = TestCluster::start_with_env(&[
        ("ORDO_SNAPSHOT_EVERY_ENTRIES", "1000000"),
        ("ORDO_SNAPSHOT_EVERY_MB", "1"),
    ])
    .await;
    let pad = "x".repeat(500);
    for batch in 0..40 {
        let records = (0..100)
            .map(|i| record(json!({"batch": batch, "i": i, "pad": pad})))
            .collect();
        cluster
            .client()
            .append("bulky", records)
            .await
            .unwrap_or_else(|e| panic!("append batch {batch}: {e}"));
    }
    for id in cluster.ids() {
        let client = cluster.client_for(id);
        eventually(
            &format!("node {id} snapshots"),
            Duration::from_secs(30),
            || async {
                let status = client.cluster_status().await.map_err(|e| e.to_string())?;
                match status.snapshot_index {
                    Some(index) if index > 1 => Ok(()),
                    _ => Err(format!("{status:?}")),
                }
            },
        )
        .await;
    }
}

/// With a snapshot every few entries, the leader purges its log behind each
/// snapshot; a follower wiped meanwhile can only be rebuilt by receiving a
/// snapshot over `/raft/snapshot`, and must then serve the same log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_follower_is_rebuilt_from_a_snapshot_once_the_log_is_purged() {
    const SNAPSHOT_EVERY: u64 = 20;
    let every = SNAPSHOT_EVERY.to_string();
    let mut cluster =
        TestCluster::start_with_env(&[("ORDO_SNAPSHOT_EVERY_ENTRIES", every.as_str())]).await;
    let topic = "snapshotted";
    let follower = *cluster.followers().last().expect("two followers");

    append_in_order(&cluster, topic, "before", 0, 30, |_| None).await;
    crash_and_wipe(&mut cluster, follower);
    append_in_order(
        &cluster,
        topic,
        "while-down",
        30,
        5 * SNAPSHOT_EVERY,
        |_| None,
    )
    .await;

    let (_, status) = leaders_status(&mut cluster).await;
    assert!(
        status.snapshot_index.is_some_and(|i| i > SNAPSHOT_EVERY),
        "the leader has snapshotted: {status:?}"
    );
    // Entries up to here exist only in the snapshot: an empty node cannot be
    // sent them as log entries.
    assert!(
        status.purged_index.is_some_and(|i| i > 1),
        "the leader has purged its log behind the snapshot: {status:?}"
    );

    let leaders_log = restart_and_catch_up(&mut cluster, follower, topic).await;
    assert_eq!(leaders_log.len() as u64, 30 + 5 * SNAPSHOT_EVERY);
    let rebuilt = cluster
        .client_for(follower)
        .cluster_status()
        .await
        .expect("the rebuilt follower's status");
    assert!(
        rebuilt.snapshot_index >= status.purged_index,
        "the follower holds a snapshot covering the purged log: {rebuilt:?}"
    );
    // And it keeps up with new appends after the install.
    append_in_order(
        &cluster,
        topic,
        "after",
        leaders_log.len() as u64,
        5,
        |_| Some(follower),
    )
    .await;
}

/// The newest segment of node `id`'s Raft log (by the first index in its
/// name) in its store.
fn newest_raft_log_segment(cluster: &TestCluster, id: NodeId) -> std::path::PathBuf {
    let dir = cluster
        .nodes
        .data_dir(id)
        .expect("a data dir")
        .join("sled")
        .join("raft-log");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .max()
        .unwrap_or_else(|| panic!("no segment in {}", dir.display()))
}

/// Cuts `segment` (preallocated: zeros after its data) a few bytes before
/// the end of its data, inside its last frame: a torn write.
fn tear_last_frame(segment: &std::path::Path) {
    let bytes = std::fs::read(segment).expect("reading the segment");
    let data_end = bytes.iter().rposition(|b| *b != 0).map_or(0, |at| at + 1);
    assert!(data_end > 16, "the segment holds entries");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(segment)
        .expect("opening the segment");
    file.set_len(data_end as u64 - 7)
        .expect("cutting the segment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_killed_under_load_with_its_last_log_frame_torn_catches_up_exactly() {
    let mut cluster = TestCluster::start().await;
    let topic = "torn";
    let leader = cluster.wait_for_leader().await;
    let follower = *cluster
        .ids()
        .iter()
        .find(|id| **id != leader)
        .expect("a follower");

    // A batch load through the leader; the follower is killed part-way.
    let client = cluster.client_for(leader);
    let load = tokio::spawn(async move {
        let mut acked = Vec::new();
        for i in 0..120 {
            let batch: Vec<_> = (0..10).map(|j| json!(format!("b{i}-{j}"))).collect();
            client
                .append(topic, batch.iter().cloned().map(record).collect())
                .await
                .unwrap_or_else(|e| panic!("append batch {i}: {e}"));
            acked.extend(batch);
        }
        acked
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    cluster.kill(follower);
    let acked = load.await.expect("the load ran to its end");

    let segment = newest_raft_log_segment(&cluster, follower);
    tear_last_frame(&segment);

    let leaders_log = restart_and_catch_up(&mut cluster, follower, topic).await;
    assert_eq!(
        leaders_log
            .iter()
            .map(|r| r.value.clone())
            .collect::<Vec<_>>(),
        acked,
        "the leader holds every acknowledged record, in order"
    );
    assert!(
        cluster.log(follower).contains("cut a torn write"),
        "the follower says it repaired its log"
    );
}

/// A follower wiped while the leader purged its log behind snapshots of a
/// million records is rebuilt from the snapshot, streamed and installed in
/// bounded memory: its RSS, sampled while it catches up, stays under 256
/// MiB, and it then serves the leader's records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_follower_installs_a_snapshot_of_a_million_records_in_bounded_memory() {
    const RECORDS: u64 = 1_000_000;
    const PER_BATCH: u64 = 2_000;
    const RSS_BOUND_BYTES: u64 = 256 * 1024 * 1024;
    let mut cluster = TestCluster::start_with_env(&[("ORDO_SNAPSHOT_EVERY_ENTRIES", "100")]).await;
    let topic = "million";
    let follower = *cluster.followers().last().expect("two followers");
    crash_and_wipe(&mut cluster, follower);

    // Idempotent, so a batch whose outcome an election left unknown is
    // sent again without landing twice.
    let mut producer = ordo_client::Producer::new(
        cluster.client(),
        ProducerId::new("million-loader").expect("a valid producer id"),
    );
    for batch in 0..RECORDS / PER_BATCH {
        let first = batch * PER_BATCH;
        let records = (first..first + PER_BATCH)
            .map(|i| record(json!(format!("record {i}"))))
            .collect();
        producer
            .append(topic, records)
            .await
            .unwrap_or_else(|e| panic!("batch {batch}: {e}"));
    }
    // The leader purges its log a moment after each snapshot, not with it.
    let leader = cluster.wait_for_leader().await;
    let leader_client = cluster.client_for(leader);
    eventually(
        "the leader has purged its log behind a snapshot",
        Duration::from_secs(10),
        || async {
            let status = leader_client
                .cluster_status()
                .await
                .map_err(|e| e.to_string())?;
            if status.purged_index.is_some_and(|i| i > 100) {
                Ok(())
            } else {
                Err(format!("{status:?}"))
            }
        },
    )
    .await;

    cluster
        .nodes
        .start_node(follower)
        .unwrap_or_else(|e| panic!("restarting node {follower}: {e}"));
    let client = cluster.client_for(follower);
    let last = ReadParams {
        from: Offset(RECORDS - 1),
        consistency: Consistency::Local,
        ..ReadParams::default()
    };
    let mut peak_rss = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        peak_rss = peak_rss.max(rss_bytes(&cluster, follower));
        if let Ok(page) = client.read(topic, &last).await {
            if page.end_offset == Offset(RECORDS) && !page.records.is_empty() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "node {follower} did not catch up within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("node {follower} caught up from the snapshot; peak RSS {peak_rss} B");
    assert!(
        peak_rss < RSS_BOUND_BYTES,
        "peak RSS {peak_rss} B while installing"
    );
    let leader_client = cluster.client_for(leader);
    for from in [0, RECORDS / 2, RECORDS - 1_000] {
        let params = ReadParams {
            from: Offset(from),
            consistency: Consistency::Local,
            ..ReadParams::default()
        };
        let (theirs, ours) = (
            leader_client
                .read(topic, &params)
                .await
                .expect("leader read"),
            client.read(topic, &params).await.expect("follower read"),
        );
        assert_eq!(ours.records, theirs.records, "the page from {from}");
        assert_eq!(ours.records.len(), 1_000, "a full page from {from}");
        assert_eq!(ours.records[0].value, json!(format!("record {from}")));
    }
}
