//! After the heal: the final client probes liveness, waits for the nodes to
//! converge, runs a last compaction pass, drains the work queues, and reads
//! every node's whole log and view of each queue.

use std::collections::BTreeMap;
use std::time::Duration;

use super::drain::{drain, final_views};
use super::queue_requests::QUEUES;
use super::requests::{client_of, perform, read};
use super::{
    append_kind, final_topics, ADMIN_ATTEMPTS, CONVERGE_TIMEOUT, LIVENESS_BOUND, PROFILES,
    REQUEST_TIMEOUT, TOPICS,
};
use crate::history::{NodeId, Outcome, TopicLog};
use crate::recorder::{now, SharedRecorder};
use ordo_api::Consistency;
use ordo_core::TopicConfig;

/// After the heal: probe liveness with appends, wait for the live nodes to
/// converge, compact, drain the queues, then read every node's whole log
/// and its view of each queue.
pub async fn final_client(
    recorder: SharedRecorder,
    live: Vec<NodeId>,
    healed_at: Duration,
) -> turmoil::Result {
    tokio::time::sleep(healed_at.saturating_sub(now())).await;
    let mut first_success_at = None;
    let mut attempt = 0usize;
    while first_success_at.is_none() && now() < healed_at + LIVENESS_BOUND * 2 {
        let node = live[attempt % live.len()];
        let kind = append_kind(
            TOPICS[0].to_string(),
            vec![format!("liveness-{attempt}")],
            None,
            None,
            false,
        );
        attempt += 1;
        let op = perform(&recorder, 0, node, kind).await;
        if matches!(op.outcome, Outcome::AppendOk { .. }) {
            first_success_at = Some(op.completed_at);
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    recorder.borrow_mut().liveness = Some(crate::history::LivenessCheck {
        healed_at,
        first_success_at,
        bound: LIVENESS_BOUND,
    });
    // Let every workload request in flight finish (each is bounded by
    // REQUEST_TIMEOUT) so none lands between two nodes' final reads.
    let deadline = now() + REQUEST_TIMEOUT * 2;
    while recorder.borrow().active_clients > 0 && now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A node that failed to start on its store serves nothing (C13 reports
    // it); waiting for it, or reading its logs page by page, would only
    // time out.
    let live: Vec<NodeId> = {
        let failed = &recorder.borrow().failed_to_start;
        live.into_iter().filter(|n| !failed.contains(n)).collect()
    };
    wait_converged(&live).await;
    // A last pass over the compacted topic, after every append: then each
    // key has one record left (C12). Its config again, in case client 1's
    // setup never got through the faults. Not if no append got through
    // after the heal (a liveness violation): without a working majority
    // the pass cannot commit either, and its attempts would only time out.
    if first_success_at.is_some() {
        admin(&live, Admin::ConfigureProfiles).await;
        let compacted = admin(&live, Admin::CompactProfiles).await;
        recorder.borrow_mut().compacted_at_end = compacted;
        wait_converged(&live).await;
        // The queues again, in case the first worker's setup never got
        // through the faults; then whatever is left in them, done.
        admin(&live, Admin::PutQueues).await;
        drain(&recorder, &live).await;
        wait_converged(&live).await;
        recorder.borrow_mut().final_queues = final_views(&live).await;
    }
    let mut final_logs = BTreeMap::new();
    for node in &live {
        let mut logs = BTreeMap::new();
        for topic in final_topics() {
            logs.insert(topic.to_string(), read_whole_log(*node, topic).await);
        }
        final_logs.insert(*node, logs);
    }
    recorder.borrow_mut().final_logs = final_logs;
    Ok(())
}

/// A topic admin request outside the history (set the compacted topic's
/// config, or run a compaction pass on it), tried on the nodes in turn
/// until one succeeds (bounded); true if one did.
pub(super) async fn admin(nodes: &[NodeId], action: Admin) -> bool {
    for attempt in 0..ADMIN_ATTEMPTS {
        let Some(&node) = nodes.get(attempt % nodes.len().max(1)) else {
            return false;
        };
        let client = client_of(node);
        let done = match action {
            Admin::ConfigureProfiles => {
                client.put_topic(PROFILES, &profiles_config()).await.is_ok()
            }
            Admin::CompactProfiles => client.compact_topic(PROFILES).await.is_ok(),
            Admin::PutQueues => put_queues(&client).await,
        };
        if done {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Admin {
    ConfigureProfiles,
    CompactProfiles,
    /// Make (or configure again) every work queue.
    PutQueues,
}

async fn put_queues(client: &ordo_client::Client) -> bool {
    for queue in &QUEUES {
        let made = client
            .put_queue(queue.group, queue.topic, &queue.config())
            .await;
        if made.is_err() {
            return false;
        }
    }
    true
}

/// The compacted topic's config: tombstones are never written here.
fn profiles_config() -> TopicConfig {
    serde_json::from_str(r#"{"cleanup":"compact"}"#).expect("a valid topic config")
}

/// Until every live node names the same leader and has applied the same
/// index (bounded; if they never converge, C9 reports the difference).
async fn wait_converged(live: &[NodeId]) {
    let deadline = now() + CONVERGE_TIMEOUT;
    while now() < deadline {
        let mut seen = Vec::new();
        for node in live {
            let status = client_of(*node).cluster_status().await.ok();
            seen.push(status.map(|s| (s.leader, s.last_applied_index)));
        }
        let first = seen.first().cloned().flatten();
        if first.is_some_and(|(leader, _)| leader.is_some()) && seen.iter().all(|s| *s == first) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A node's whole applied log of `topic`, page by page (`local` reads); a
/// failed page is retried (bounded), so a short log means the node lacks it.
async fn read_whole_log(node: NodeId, topic: &str) -> TopicLog {
    let mut log = TopicLog::new();
    let mut from = 0;
    for _ in 0..200 {
        match read(node, topic, from, Consistency::Local).await {
            Outcome::ReadOk {
                records,
                end_offset,
            } => {
                let Some(last) = records.last().map(|r| r.0) else {
                    break;
                };
                log.extend(records);
                from = last + 1;
                if from >= end_offset {
                    break;
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    log
}
