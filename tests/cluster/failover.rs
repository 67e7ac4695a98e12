//! Durability and liveness across a leader crash (DESIGN §4.1, §4.8): with
//! writers running through the followers, the leader is SIGKILLed; a new
//! leader takes over quickly, and nothing acknowledged is lost or moved.
//!
//! Each writer records what became of every append it sent (a small
//! client-side history); after the crash the history is checked against the
//! log the new leader serves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ordo_client::{Client, ClientError};
use ordo_core::api::Consistency;
use ordo_core::{Offset, Record};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::support::{eventually, offsets, read_all, record, wait_for_local_log, TestCluster};

/// The longest a client may wait, after the leader dies, for an append it
/// sends to be acknowledged (the acceptance bound).
const MAX_FAILOVER: Duration = Duration::from_secs(3);
const WRITERS: usize = 4;
/// Acknowledged appends wanted before the crash, and again after it.
const ACKS_PER_PHASE: usize = 40;
/// Bounds each writer even if the test never tells it to stop.
const MAX_APPENDS_PER_WRITER: usize = 5_000;
const WRITER_DEADLINE: Duration = Duration::from_secs(45);

/// What became of one append.
#[derive(Debug, Clone)]
enum Outcome {
    Acked {
        offset: Offset,
        at: Instant,
    },
    /// It may or may not have been appended.
    Unknown(String),
    /// Certainly not appended (a refusal, or the cluster was unavailable).
    NotAppended(String),
}

#[derive(Debug, Clone)]
struct Attempt {
    value: String,
    sent_at: Instant,
    outcome: Outcome,
}

/// Every writer's attempts, in the order they completed.
#[derive(Clone, Default)]
struct History(Arc<Mutex<Vec<Attempt>>>);

impl History {
    fn attempts(&self) -> Vec<Attempt> {
        self.0.lock().expect("a writer panicked").clone()
    }

    fn push(&self, attempt: Attempt) {
        self.0.lock().expect("a writer panicked").push(attempt);
    }

    /// Acknowledgement times of the appends sent after `since`.
    fn acks_sent_after(&self, since: Instant) -> Vec<Instant> {
        self.attempts()
            .iter()
            .filter(|a| a.sent_at > since)
            .filter_map(|a| match a.outcome {
                Outcome::Acked { at, .. } => Some(at),
                _ => None,
            })
            .collect()
    }
}

/// Appends `"w{w}-{i}"`, one at a time, through `client` until `stop`.
fn spawn_writer(
    w: usize,
    client: Client,
    history: History,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        for i in 0..MAX_APPENDS_PER_WRITER {
            if stop.load(Ordering::Relaxed) || started.elapsed() > WRITER_DEADLINE {
                return;
            }
            let value = format!("w{w}-{i}");
            let sent_at = Instant::now();
            let outcome = match client.append("failover", vec![record(value.clone())]).await {
                Ok(ack) => Outcome::Acked {
                    offset: ack.offsets[0],
                    at: Instant::now(),
                },
                Err(e @ ClientError::OutcomeUnknown { .. }) => Outcome::Unknown(e.to_string()),
                Err(e) => Outcome::NotAppended(e.to_string()),
            };
            let failed = !matches!(outcome, Outcome::Acked { .. });
            history.push(Attempt {
                value,
                sent_at,
                outcome,
            });
            if failed {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    })
}

/// Waits until `history` has `count` acknowledged appends sent after `since`.
async fn wait_for_acks(history: &History, since: Instant, count: usize, what: &str) {
    eventually(what, Duration::from_secs(15), || async {
        let acked = history.acks_sent_after(since).len();
        if acked >= count {
            Ok(())
        } else {
            Err(format!("{acked} acknowledged"))
        }
    })
    .await
}

/// The history against the log: every acknowledged value once, at its
/// offset; nothing reported not appended; nothing twice; nothing unsent.
fn assert_history_matches_log(attempts: &[Attempt], log: &[Record]) {
    assert_eq!(
        log.iter().map(|r| r.offset).collect::<Vec<_>>(),
        offsets(0..log.len() as u64),
        "the log has no gaps"
    );
    let mut found: BTreeMap<&str, Vec<Offset>> = BTreeMap::new();
    for r in log {
        let value = r.value.as_str().expect("every value is a string");
        found.entry(value).or_default().push(r.offset);
    }
    for attempt in attempts {
        let at = found
            .get(attempt.value.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match &attempt.outcome {
            Outcome::Acked { offset, .. } => assert_eq!(
                at,
                [*offset],
                "acknowledged {} must be in the log once, at offset {offset}",
                attempt.value
            ),
            Outcome::Unknown(why) => {
                eprintln!("{} may or may not be in the log: {why}", attempt.value)
            }
            Outcome::NotAppended(why) => assert!(
                at.is_empty(),
                "{} was reported not appended ({why}) but is at {at:?}",
                attempt.value
            ),
        }
    }
    // Each value was sent once, so none may be in the log twice, whatever
    // its outcome.
    for (value, at) in &found {
        assert_eq!(
            at.len(),
            1,
            "{value} is in the log {} times: {at:?}",
            at.len()
        );
        assert!(
            attempts.iter().any(|a| a.value == *value),
            "{value} is in the log but was never sent"
        );
    }
}

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
            spawn_writer(w, via, history.clone(), stop.clone())
        })
        .collect();
    wait_for_acks(
        &history,
        started,
        ACKS_PER_PHASE,
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
