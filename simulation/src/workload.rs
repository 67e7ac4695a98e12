//! The simulated clients: each appends, claims keys (`key_absent` appends),
//! sends idempotent producer appends (retrying an uncertain seq with the same
//! records), writes keys of a compacted topic (which the leader's background
//! cleaner compacts while the faults run) and reads (linearizable and local)
//! against random nodes while the faults run, one request at a time, and
//! records every attempt's invocation and completion with its simulated
//! time. After the heal, a final client probes liveness, runs a last
//! compaction pass and reads every node's log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::cluster::{mix, node_addr};
use crate::history::{Current, NodeId, Op, OpKind, Outcome, TopicLog};
use crate::net::SimTransport;
use crate::recorder::{now, SharedRecorder};
use ordo_api::{AppendRequest, Consistency, ReadParams};
use ordo_client::{Client, ClientError, RetryPolicy};
use ordo_core::{Condition, NewRecord, Offset, Producer, ProducerId, RecordValue, TopicConfig};

pub const CLIENTS: u32 = 3;
/// Plain and producer appends go to these.
pub const TOPICS: [&str; 2] = ["t0", "t1"];
/// Claims (`key_absent` appends of one keyed record) go to this topic.
pub const CLAIMS: &str = "claims";
/// Keyed writes go to this topic, configured `compact` by client 1 first.
pub const PROFILES: &str = "profiles";
/// The topics whose config is `compact`.
pub const COMPACTED_TOPICS: [&str; 1] = [PROFILES];
/// Every topic the clients read and the final client reads whole.
pub const ALL_TOPICS: [&str; 4] = ["t0", "t1", CLAIMS, PROFILES];
/// Keys of the compacted topic are `acct-0` .. `acct-{ACCOUNTS - 1}`, so
/// each is written many times and most records are superseded.
const ACCOUNTS: u32 = 6;
/// Claimed keys are `user-0` .. `user-{KEYS - 1}`, so claims collide.
const KEYS: u32 = 8;
/// Attempts of one producer seq whose outcome stays uncertain before the
/// producer moves on to its next seq.
const PRODUCER_ATTEMPTS: usize = 4;
/// Attempts at a setup or final request that is not part of the history.
const ADMIN_ATTEMPTS: usize = 20;
/// A client gives up on a request after this (the node's own write timeout
/// is 3 s): then its outcome is unknown.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How soon after the heal an append must succeed.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(5);
/// How long the final client waits for the nodes to converge.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(10);
const PAGE: usize = 1000;

/// A client of `node` alone that sends each request once, through the real
/// `ordo_client` over the simulated network: every attempt is its own
/// operation in the history, and what an answer proves (nothing appended,
/// or maybe) is decided by the client's one rule, as for any user.
fn client_of(node: NodeId) -> Client {
    let addr = node_addr(node);
    Client::builder(vec![addr.clone()])
        .transport(Arc::new(SimTransport))
        .timeout(REQUEST_TIMEOUT)
        .retry(RetryPolicy::no_retries())
        .build()
        .and_then(|client| client.for_node(&addr))
        .expect("a simulated node's address is host:port")
}

/// Sends one append and classifies the answer by what it proves.
async fn append(
    node: NodeId,
    topic: &str,
    values: &[String],
    key: Option<&str>,
    producer: Option<&(String, u64)>,
    key_absent: bool,
) -> Outcome {
    let records = values
        .iter()
        .map(|value| NewRecord {
            key: key.map(str::to_string),
            value: RecordValue::from(serde_json::Value::from(value.as_str())),
            headers: BTreeMap::new(),
        })
        .collect();
    let producer = producer.map(|(id, seq)| Producer {
        id: ProducerId::new(id.as_str()).expect("the workload's producer ids are valid"),
        seq: *seq,
    });
    let request = AppendRequest {
        records,
        producer,
        condition: key_absent.then_some(Condition::KeyAbsent),
    };
    match client_of(node).append_with(topic, &request).await {
        Ok(ack) => Outcome::AppendOk {
            offsets: ack.offsets.iter().map(|o| o.0).collect(),
            log_index: ack.log_index.0,
            duplicate: ack.duplicate,
        },
        // A refusal (409) promises that nothing was appended, and says why.
        Err(ClientError::Api {
            status: 409,
            code,
            current,
            ..
        }) => Outcome::Rejected {
            current: rejection(current.as_ref()),
            code,
        },
        // Any other refusal (4xx), a 503 or a request that never left
        // promises that nothing was appended.
        Err(e @ (ClientError::Api { .. } | ClientError::Unavailable { .. })) => {
            Outcome::Failed {
                reason: e.to_string(),
            }
        }
        Err(e) => Outcome::Unknown {
            reason: e.to_string(),
        },
    }
}

/// What a 409 found instead, as the checkers compare it.
fn rejection(current: Option<&serde_json::Value>) -> Current {
    let Some(current) = current else {
        return Current::Other(String::new());
    };
    if let Some(at) = current.get("key_last_offset") {
        Current::KeyLastOffset(at.as_u64())
    } else if let Some(expected) = current["expected_seq"].as_u64() {
        Current::ExpectedSeq(expected)
    } else if let Some(seq) = current["last_seq"].as_u64() {
        Current::LastSeq {
            seq,
            topic: current["topic"].as_str().map(str::to_string),
        }
    } else {
        Current::Other(current.to_string())
    }
}

async fn read(node: NodeId, topic: &str, from: u64, consistency: Consistency) -> Outcome {
    let params = ReadParams {
        from: Offset(from),
        limit: Some(PAGE),
        consistency,
    };
    match client_of(node).read(topic, &params).await {
        Ok(page) => Outcome::ReadOk {
            records: page
                .records
                .iter()
                .map(|r| (r.offset.0, r.value.parse::<String>().unwrap_or_default()))
                .collect(),
            end_offset: page.end_offset.0,
        },
        // An unknown topic is an empty log.
        Err(e) if e.status() == Some(404) => Outcome::ReadOk {
            records: Vec::new(),
            end_offset: 0,
        },
        Err(e) => Outcome::Failed {
            reason: e.to_string(),
        },
    }
}

/// Runs `kind` against `node` and records it.
async fn perform(recorder: &SharedRecorder, client: u32, node: NodeId, kind: OpKind) -> Op {
    let invoked_at = now();
    let outcome = match &kind {
        OpKind::Append {
            topic,
            values,
            key,
            producer,
            key_absent,
        } => {
            append(
                node,
                topic,
                values,
                key.as_deref(),
                producer.as_ref(),
                *key_absent,
            )
            .await
        }
        OpKind::Read {
            topic,
            from,
            consistency,
        } => read(node, topic, *from, *consistency).await,
    };
    let mut rec = recorder.borrow_mut();
    let op = Op {
        id: rec.next_op_id(),
        client,
        node,
        invoked_at,
        completed_at: now(),
        kind,
        outcome,
    };
    rec.ops.push(op.clone());
    op
}

/// An idempotent producer's state: the seq it sends next and the records of
/// every seq it has sent, so that a seq sent again (a retry, or after a
/// resync to the server's expected seq) always carries the same records.
struct ProducerSession {
    id: String,
    next_seq: u64,
    records: BTreeMap<u64, (String, Vec<String>)>,
}

/// One client: random operations against random nodes until `until`.
pub async fn client(
    recorder: SharedRecorder,
    run_seed: u64,
    client: u32,
    nodes: Vec<NodeId>,
    until: Duration,
) -> turmoil::Result {
    let mut rng = SmallRng::seed_from_u64(mix(run_seed, 10_000 + client as u64));
    let mut sent = 0u64;
    let mut producer = ProducerSession {
        id: format!("p{client}"),
        next_seq: 0,
        records: BTreeMap::new(),
    };
    if client == 1 {
        admin(&nodes, Admin::ConfigureProfiles).await;
    }
    while now() < until {
        let node = nodes[rng.random_range(0..nodes.len())];
        let topic = TOPICS[rng.random_range(0..TOPICS.len())].to_string();
        let kind = match rng.random_range(0..100) {
            0..=24 => {
                let values = (0..rng.random_range(1..=3))
                    .map(|i| format!("c{client}-{sent}-{i}"))
                    .collect();
                sent += 1;
                append_kind(topic, values, None, None, false)
            }
            25..=34 => {
                let key = format!("acct-{}", rng.random_range(0..ACCOUNTS));
                let value = format!("p-c{client}-{sent}");
                sent += 1;
                append_kind(PROFILES.to_string(), vec![value], Some(key), None, false)
            }
            35..=44 => {
                let key = format!("user-{}", rng.random_range(0..KEYS));
                let value = format!("claim-c{client}-{sent}");
                sent += 1;
                append_kind(CLAIMS.to_string(), vec![value], Some(key), None, true)
            }
            45..=59 => {
                produce(&recorder, &mut rng, client, &nodes, &mut producer, until).await;
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
                continue;
            }
            read => OpKind::Read {
                topic: ALL_TOPICS[rng.random_range(0..ALL_TOPICS.len())].to_string(),
                from: 0,
                consistency: if read < 85 {
                    Consistency::Linearizable
                } else {
                    Consistency::Local
                },
            },
        };
        perform(&recorder, client, node, kind).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
    }
    recorder.borrow_mut().active_clients -= 1;
    Ok(())
}

fn append_kind(
    topic: String,
    values: Vec<String>,
    key: Option<String>,
    producer: Option<(String, u64)>,
    key_absent: bool,
) -> OpKind {
    OpKind::Append {
        topic,
        values,
        key,
        producer,
        key_absent,
    }
}

/// Sends the producer's next seq, each attempt to a random node, until it is
/// acknowledged, refused, or `PRODUCER_ATTEMPTS` attempts left it uncertain
/// (then the producer moves on; if that seq was never applied the next one
/// is refused and the producer resyncs to it).
async fn produce(
    recorder: &SharedRecorder,
    rng: &mut SmallRng,
    client: u32,
    nodes: &[NodeId],
    producer: &mut ProducerSession,
    until: Duration,
) {
    let seq = producer.next_seq;
    let (topic, values) = match producer.records.get(&seq) {
        Some(records) => records.clone(),
        None => {
            let topic = TOPICS[rng.random_range(0..TOPICS.len())].to_string();
            let values: Vec<String> = (0..rng.random_range(1..=3))
                .map(|i| format!("{}-s{seq}-{i}", producer.id))
                .collect();
            producer
                .records
                .insert(seq, (topic.clone(), values.clone()));
            (topic, values)
        }
    };
    producer.next_seq = seq + 1;
    for attempt in 0..PRODUCER_ATTEMPTS {
        if attempt > 0 {
            if now() >= until {
                return;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(20..100))).await;
        }
        let node = nodes[rng.random_range(0..nodes.len())];
        let kind = append_kind(
            topic.clone(),
            values.clone(),
            None,
            Some((producer.id.clone(), seq)),
            false,
        );
        let op = perform(recorder, client, node, kind).await;
        match op.outcome {
            Outcome::AppendOk { .. } => return,
            Outcome::Rejected { code, current } if code == "sequence_out_of_order" => {
                match current {
                    Current::ExpectedSeq(expected) => producer.next_seq = expected,
                    Current::LastSeq { seq: last, .. } => producer.next_seq = last + 1,
                    _ => {}
                }
                return;
            }
            // Any other definite refusal: this seq was not applied; move on
            // (the next seq will be refused and resync to this one).
            Outcome::Rejected { .. } => return,
            // Not applied (503, not sent) or uncertain: try again.
            _ => {}
        }
    }
}

/// After the heal: probe liveness with appends, wait for the live nodes to
/// converge, then read every node's whole log.
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
    }
    let mut final_logs = BTreeMap::new();
    for node in &live {
        let mut logs = BTreeMap::new();
        for topic in ALL_TOPICS {
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
async fn admin(nodes: &[NodeId], action: Admin) -> bool {
    for attempt in 0..ADMIN_ATTEMPTS {
        let Some(&node) = nodes.get(attempt % nodes.len().max(1)) else {
            return false;
        };
        let client = client_of(node);
        let done = match action {
            Admin::ConfigureProfiles => client
                .put_topic(PROFILES, &profiles_config())
                .await
                .is_ok(),
            Admin::CompactProfiles => client.compact_topic(PROFILES).await.is_ok(),
        };
        if done {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[derive(Debug, Clone, Copy)]
enum Admin {
    ConfigureProfiles,
    CompactProfiles,
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
