//! Durability and liveness across a leader crash (DESIGN §4.1, §4.8): with
//! writers running through the followers, the leader is SIGKILLed; a new
//! leader takes over quickly, and nothing acknowledged is lost or moved.
//!
//! Each writer records what became of every append it sent (a small
//! client-side history); after the crash the history is checked against the
//! log the new leader serves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ordo_api::Consistency;
use ordo_core::Offset;
use serde_json::json;
use tokio::time::Instant;

use crate::history::{
    assert_history_matches_log, spawn_writer, wait_for_acks, History, WriterBounds,
};
use crate::support::{eventually, read_all, record, wait_for_local_log, TestCluster};

/// The longest a client may wait, after the leader dies, for an append it
/// sends to be acknowledged (the acceptance bound).
const MAX_FAILOVER: Duration = Duration::from_secs(3);
const WRITERS: usize = 4;
/// Acknowledged appends wanted before the crash, and again after it.
const ACKS_PER_PHASE: usize = 40;
/// Bounds each writer even if the test never tells it to stop.
const BOUNDS: WriterBounds = WriterBounds {
    max_appends: 5_000,
    deadline: Duration::from_secs(45),
};
/// How long each phase may take to gather its acknowledgements.
const PHASE_TIMEOUT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_a_leader_crash_and_appends_resume_quickly() {
    let mut cluster = TestCluster::start().await;
    let old_leader = cluster.leader;
    let followers = cluster.followers();
    let started = Instant::now();

    let history = History::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let via = cluster.client_for(followers[w % followers.len()]);
            spawn_writer(w, "failover", via, history.clone(), stop.clone(), BOUNDS)
        })
        .collect();
    wait_for_acks(
        &history,
        started,
        ACKS_PER_PHASE,
        PHASE_TIMEOUT,
        "appends through the followers",
    )
    .await;

    let killed_at = Instant::now();
    cluster.kill(old_leader);
    // Measured from the kill to the first acknowledgement of an append that
    // was sent after it (an append in flight at the kill does not count).
    let first_ack = eventually(
        "an append sent after the leader's crash is acknowledged",
        Duration::from_secs(20),
        || async {
            let acks = history.acks_sent_after(killed_at);
            acks.into_iter().min().ok_or_else(|| "none yet".to_string())
        },
    )
    .await;
    let failover = first_ack - killed_at;
    wait_for_acks(
        &history,
        killed_at,
        ACKS_PER_PHASE,
        PHASE_TIMEOUT,
        "appends under the new leader",
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("a writer stops within one append's retry budget")
            .expect("a writer task failed");
    }

    let new_leader = cluster.wait_for_leader().await;
    assert_ne!(new_leader, old_leader, "the killed leader cannot lead");
    let log = read_all(
        &cluster.client_for(new_leader),
        "failover",
        Consistency::Linearizable,
    )
    .await
    .expect("a linearizable read from the new leader");
    let attempts = history.attempts();
    eprintln!(
        "{} appends sent, {} records in the log; the first append sent after the crash was \
         acknowledged {failover:?} after it",
        attempts.len(),
        log.len()
    );
    assert_history_matches_log(&attempts, &log);
    assert!(
        failover < MAX_FAILOVER,
        "appends resumed {failover:?} after the leader's crash; the bound is {MAX_FAILOVER:?}"
    );

    // The new leader goes on taking appends, through any node.
    let ack = cluster
        .client()
        .append("failover", vec![record(json!("after"))])
        .await
        .expect("an append after the failover");
    assert!(
        ack.offsets[0] >= Offset(log.len() as u64),
        "an append after the failover continues the log: {ack:?}"
    );

    // The old leader comes back as a follower: whatever it held that was
    // never committed is gone, and it serves the new leader's log exactly.
    cluster
        .nodes
        .start_node(old_leader)
        .expect("restarting the old leader");
    let leader = cluster.wait_for_leader().await;
    let leaders_log = read_all(&cluster.client_for(leader), "failover", Consistency::Local)
        .await
        .expect("the leader's local read");
    wait_for_local_log(&cluster, old_leader, "failover", &leaders_log).await;
}
