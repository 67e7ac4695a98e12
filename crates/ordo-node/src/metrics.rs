//! The node's Prometheus metrics: appends as this node acknowledged them,
//! and leader changes as it saw them; their names, their descriptions and
//! the bound on their `topic` label. With no recorder installed (the
//! simulation, unit tests) recording does nothing.
//!
//! Topic names come from users, so a label per topic could grow without
//! bound: the first [`MAX_TOPIC_LABELS`] topics this process appends to get
//! their own series, every later one is counted under [`OTHER_LABEL`].
//!
//! An append is counted through handles registered once per topic label
//! (a labelled `counter!` looks its series up in the recorder's registry,
//! building and hashing the key each time), so the recorder must be
//! installed before the first append is acknowledged, as `ordo serve` does.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Histogram,
};
use openraft::async_runtime::WatchReceiver;
use tokio::task::JoinHandle;

use crate::node::Node;
use ordo_core::{NodeId, TopicName};

/// Histogram: time from an append request reaching this node to its
/// acknowledgement (committed by a majority and applied), forwarding to the
/// leader included. Only acknowledged appends (producer retries answered
/// as duplicates too).
pub const APPEND_SECONDS: &str = "ordo_append_seconds";
/// Counter by topic: append requests this node acknowledged that appended
/// records (not a producer's duplicate).
pub const APPENDS_TOTAL: &str = "ordo_appends_total";
/// Counter by topic: records in those appends.
pub const APPENDED_RECORDS_TOTAL: &str = "ordo_appended_records_total";
/// Counter by topic: their bytes, as retention counts them (key, value as
/// compact JSON, headers).
pub const APPENDED_BYTES_TOTAL: &str = "ordo_appended_bytes_total";
/// Gauge: free bytes on the data dir's volume (what this unprivileged
/// process may use), sampled every `disk_space::SAMPLE_EVERY`.
pub const DISK_FREE_BYTES: &str = "ordo_disk_free_bytes";
/// Gauge: the size of the data dir's volume.
pub const DISK_TOTAL_BYTES: &str = "ordo_disk_total_bytes";
/// Gauge: the free-space reserve (`--min-free-bytes`).
pub const DISK_RESERVE_BYTES: &str = "ordo_disk_reserve_bytes";
/// Gauge: 1 while free space is below the reserve (the node takes no new
/// data), else 0.
pub const DISK_BELOW_RESERVE: &str = "ordo_disk_below_reserve";
/// Counter: leaders this node has learned of, one per term with a leader.
pub const LEADER_CHANGES_TOTAL: &str = "ordo_raft_leader_changes_total";

/// Distinct topics that get a `topic` label of their own, per process.
pub const MAX_TOPIC_LABELS: usize = 1_000;
/// The label value for everything past a cap; never a valid topic or group
/// name, so it cannot be mistaken for one.
pub const OTHER_LABEL: &str = "(other)";

/// The counters of the topics that have a label of their own.
static LABELLED_TOPICS: Mutex<BTreeMap<TopicName, Arc<TopicCounters>>> =
    Mutex::new(BTreeMap::new());
/// The counters of every topic past the cap.
static OTHER_TOPICS: LazyLock<Arc<TopicCounters>> =
    LazyLock::new(|| Arc::new(TopicCounters::new(OTHER_LABEL.to_string())));
static APPEND_SECONDS_HISTOGRAM: LazyLock<Histogram> = LazyLock::new(|| histogram!(APPEND_SECONDS));

/// One topic label's append counters.
struct TopicCounters {
    appends: Counter,
    records: Counter,
    bytes: Counter,
}

impl TopicCounters {
    fn new(label: String) -> Self {
        TopicCounters {
            appends: counter!(APPENDS_TOTAL, "topic" => label.clone()),
            records: counter!(APPENDED_RECORDS_TOTAL, "topic" => label.clone()),
            bytes: counter!(APPENDED_BYTES_TOTAL, "topic" => label),
        }
    }
}

/// Gives every node and store metric its HELP text, and starts the
/// unlabelled counters at 0.
pub fn describe() {
    describe_histogram!(
        APPEND_SECONDS,
        metrics::Unit::Seconds,
        "Time from an append request reaching this node to its acknowledgement (acknowledged appends only)"
    );
    describe_counter!(
        APPENDS_TOTAL,
        "Append requests this node acknowledged, by topic (sum over nodes for the cluster)"
    );
    describe_counter!(
        APPENDED_RECORDS_TOTAL,
        "Records in the appends this node acknowledged, by topic"
    );
    describe_counter!(
        APPENDED_BYTES_TOTAL,
        metrics::Unit::Bytes,
        "Bytes (key, value as JSON, headers) in the appends this node acknowledged, by topic"
    );
    describe_counter!(
        LEADER_CHANGES_TOTAL,
        "Leaders this node has learned of since it started, one per term with a leader"
    );
    counter!(LEADER_CHANGES_TOTAL).absolute(0);
    describe_gauge!(
        DISK_FREE_BYTES,
        metrics::Unit::Bytes,
        "Free bytes on the data dir's volume available to this node"
    );
    describe_gauge!(
        DISK_TOTAL_BYTES,
        metrics::Unit::Bytes,
        "Size of the data dir's volume"
    );
    describe_gauge!(
        DISK_RESERVE_BYTES,
        metrics::Unit::Bytes,
        "Free-space reserve (--min-free-bytes): below it the node takes no new data"
    );
    describe_gauge!(
        DISK_BELOW_RESERVE,
        "1 while free space is below the reserve (appends refused with 507), else 0"
    );
    ordo_store::metrics::describe();
}

/// Records one sample of the data dir's volume.
pub(crate) fn disk_space(reading: &crate::disk_space::SpaceReading) {
    gauge!(DISK_FREE_BYTES).set(reading.free_bytes as f64);
    gauge!(DISK_TOTAL_BYTES).set(reading.total_bytes as f64);
    gauge!(DISK_RESERVE_BYTES).set(reading.reserve_bytes as f64);
    gauge!(DISK_BELOW_RESERVE).set(f64::from(u8::from(reading.below_reserve)));
}

/// `topic`'s counters, registered on its first append: its own while fewer
/// than [`MAX_TOPIC_LABELS`] topics have a label, else [`OTHER_LABEL`]'s.
fn topic_counters(topic: &TopicName) -> Arc<TopicCounters> {
    // A map only ever inserted into: consistent even if poisoned.
    let mut labelled = LABELLED_TOPICS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(counters) = labelled.get(topic) {
        return Arc::clone(counters);
    }
    if labelled.len() >= MAX_TOPIC_LABELS {
        return Arc::clone(&OTHER_TOPICS);
    }
    let counters = Arc::new(TopicCounters::new(topic.to_string()));
    labelled.insert(topic.clone(), Arc::clone(&counters));
    counters
}

/// Records an acknowledged append of `records` records and `bytes` bytes.
pub(crate) fn append_acknowledged(
    topic: &TopicName,
    took: Duration,
    duplicate: bool,
    records: usize,
    bytes: u64,
) {
    APPEND_SECONDS_HISTOGRAM.record(took.as_secs_f64());
    if duplicate {
        return;
    }
    let counters = topic_counters(topic);
    counters.appends.increment(1);
    counters.records.increment(records as u64);
    counters.bytes.increment(bytes);
}

/// Counts leader changes as `node` sees them, and logs each with its term,
/// until its Raft stops. Only the binary starts this (the simulation has
/// no recorder to feed).
pub fn count_leader_changes(node: &Node) -> JoinHandle<()> {
    // The server metrics change with the vote, the role and the
    // membership only; the full metrics on nearly every turn of the Raft
    // core, each a wake-up of this task. They never say `Shutdown` (only
    // the full metrics do): this ends when Raft's core, which holds their
    // sender, has stopped.
    let mut watch = node.raft().server_metrics();
    let id = node.id();
    tokio::spawn(async move {
        let mut counted: Option<(u64, NodeId)> = None;
        loop {
            let seen = {
                let m = watch.borrow_and_update();
                m.current_leader.map(|l| (m.vote.leader_id.term, l))
            };
            // One leader per term at most, so a new (term, leader) is a new
            // leader, also when a node wins again after losing a term.
            if let Some((term, leader)) = seen.filter(|_| seen != counted) {
                counter!(LEADER_CHANGES_TOTAL).increment(1);
                tracing::info!(node = id, term, leader, "leader changed");
                counted = seen;
            }
            if watch.changed().await.is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counter's task watches the server metrics, which never say
    /// `Shutdown`: it still ends once Raft has stopped.
    #[tokio::test]
    async fn the_leader_change_counter_ends_with_raft() {
        let node = crate::testing::leading_alone().await;
        let counter = count_leader_changes(&node);
        node.shutdown().await;
        tokio::time::timeout(std::time::Duration::from_secs(5), counter)
            .await
            .expect("the counter ends within 5 s of the shutdown")
            .expect("the counter's task does not panic");
    }

    fn topic(name: &str) -> TopicName {
        TopicName::new(name).unwrap()
    }

    /// A topic's counters are registered once and found again; past the
    /// cap, a new topic shares the `(other)` counters and an earlier one
    /// keeps its own.
    #[test]
    fn topic_counters_are_registered_once_and_capped() {
        let first = topic("metrics-test-first");
        let own = topic_counters(&first);
        assert!(Arc::ptr_eq(&own, &topic_counters(&first)));
        for n in 0..MAX_TOPIC_LABELS {
            topic_counters(&topic(&format!("metrics-test-{n}")));
        }
        let late = topic_counters(&topic("metrics-test-late"));
        assert!(Arc::ptr_eq(&late, &OTHER_TOPICS));
        assert!(Arc::ptr_eq(&own, &topic_counters(&first)));
        assert_eq!(
            LABELLED_TOPICS.lock().unwrap().len(),
            MAX_TOPIC_LABELS,
            "no topic past the cap gets a series of its own"
        );
    }
}
