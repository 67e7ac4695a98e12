//! The node's Prometheus metrics: appends as this node acknowledged them,
//! and leader changes as it saw them; their names, their descriptions and
//! the bound on their `topic` label. With no recorder installed (the
//! simulation, unit tests) recording does nothing.
//!
//! Topic names come from users, so a label per topic could grow without
//! bound: the first [`MAX_TOPIC_LABELS`] topics this process appends to get
//! their own series, every later one is counted under [`OTHER_LABEL`].

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram};
use openraft::async_runtime::WatchReceiver;
use openraft::ServerState;
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
/// Counter: leaders this node has learned of, one per term with a leader.
pub const LEADER_CHANGES_TOTAL: &str = "ordo_raft_leader_changes_total";

/// Distinct topics that get a `topic` label of their own, per process.
pub const MAX_TOPIC_LABELS: usize = 1_000;
/// The label value for everything past a cap; never a valid topic or group
/// name, so it cannot be mistaken for one.
pub const OTHER_LABEL: &str = "(other)";

/// The topics that have a label of their own, in the order they came.
static LABELLED_TOPICS: Mutex<BTreeSet<TopicName>> = Mutex::new(BTreeSet::new());

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
    ordo_store::metrics::describe();
}

/// The `topic` label for `topic`: its name while fewer than
/// [`MAX_TOPIC_LABELS`] topics have one, else [`OTHER_LABEL`].
pub fn topic_label(topic: &TopicName) -> String {
    // A set of names only ever inserted into: consistent even if poisoned.
    let mut labelled = LABELLED_TOPICS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if labelled.contains(topic) {
        return topic.to_string();
    }
    if labelled.len() < MAX_TOPIC_LABELS {
        labelled.insert(topic.clone());
        return topic.to_string();
    }
    OTHER_LABEL.to_string()
}

/// Records an acknowledged append of `records` records and `bytes` bytes.
pub(crate) fn append_acknowledged(
    topic: &TopicName,
    took: Duration,
    duplicate: bool,
    records: usize,
    bytes: u64,
) {
    histogram!(APPEND_SECONDS).record(took.as_secs_f64());
    if duplicate {
        return;
    }
    let topic = topic_label(topic);
    counter!(APPENDS_TOTAL, "topic" => topic.clone()).increment(1);
    counter!(APPENDED_RECORDS_TOTAL, "topic" => topic.clone()).increment(records as u64);
    counter!(APPENDED_BYTES_TOTAL, "topic" => topic).increment(bytes);
}

/// Counts leader changes as `node` sees them, until its Raft stops. Only the
/// binary starts this (the simulation has no recorder to feed).
pub fn count_leader_changes(node: &Node) -> JoinHandle<()> {
    let mut watch = node.raft().metrics();
    tokio::spawn(async move {
        let mut counted: Option<(u64, NodeId)> = None;
        loop {
            let (seen, state) = {
                let m = watch.borrow_and_update();
                (m.current_leader.map(|l| (m.current_term, l)), m.state)
            };
            if state == ServerState::Shutdown {
                return;
            }
            // One leader per term at most, so a new (term, leader) is a new
            // leader, also when a node wins again after losing a term.
            if seen.is_some() && seen != counted {
                counter!(LEADER_CHANGES_TOTAL).increment(1);
                counted = seen;
            }
            if watch.changed().await.is_err() {
                return;
            }
        }
    })
}
