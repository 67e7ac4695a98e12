//! The simulated clients: each appends and reads (linearizable and local)
//! against random nodes while the faults run, one request at a time, and
//! records every invocation and completion with its simulated time. After
//! the heal, a final client probes liveness and reads every node's log.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::cluster::{mix, node_addr};
use crate::history::{Consistency, NodeId, Op, OpKind, Outcome, TopicLog};
use crate::net::{call, CallError};
use crate::recorder::{now, SharedRecorder};
use ordo_core::api::{AppendResponse, ClusterStatus, ReadResponse};

pub const CLIENTS: u32 = 3;
pub const TOPICS: [&str; 2] = ["t0", "t1"];
/// A client gives up on a request after this (the node's own write timeout
/// is 3 s): then its outcome is unknown.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How soon after the heal an append must succeed.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(5);
/// How long the final client waits for the nodes to converge.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(10);
const PAGE: usize = 1000;

/// Sends one append and classifies the answer by what it proves.
async fn append(node: NodeId, topic: &str, values: &[String]) -> Outcome {
    let records: Vec<_> = values
        .iter()
        .map(|v| serde_json::json!({ "value": v }))
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "records": records }))
        .expect("a JSON value serializes");
    let path = format!("/v1/topics/{topic}/records");
    match call(
        &node_addr(node),
        hyper::Method::POST,
        &path,
        body,
        REQUEST_TIMEOUT,
    )
    .await
    {
        Ok((200, body)) => match serde_json::from_slice::<AppendResponse>(&body) {
            Ok(ack) => Outcome::AppendOk {
                offsets: ack.offsets.iter().map(|o| o.0).collect(),
                log_index: ack.log_index.0,
            },
            Err(e) => Outcome::Unknown {
                reason: format!("undecodable ack: {e}"),
            },
        },
        // 4xx and 503 promise that nothing was appended.
        Ok((status, body)) if (400..500).contains(&status) || status == 503 => Outcome::Failed {
            reason: format!("{status} {}", String::from_utf8_lossy(&body)),
        },
        Ok((status, body)) => Outcome::Unknown {
            reason: format!("{status} {}", String::from_utf8_lossy(&body)),
        },
        Err(CallError::NotSent(reason)) => Outcome::Failed { reason },
        Err(CallError::Timeout) => Outcome::Unknown {
            reason: "timed out".into(),
        },
        Err(CallError::Broken(reason)) => Outcome::Unknown { reason },
    }
}

async fn read(node: NodeId, topic: &str, from: u64, consistency: Consistency) -> Outcome {
    let level = match consistency {
        Consistency::Linearizable => "linearizable",
        Consistency::Local => "local",
    };
    let path = format!("/v1/topics/{topic}/records?from={from}&limit={PAGE}&consistency={level}");
    match call(
        &node_addr(node),
        hyper::Method::GET,
        &path,
        Vec::new(),
        REQUEST_TIMEOUT,
    )
    .await
    {
        Ok((200, body)) => match serde_json::from_slice::<ReadResponse>(&body) {
            Ok(page) => Outcome::ReadOk {
                records: page
                    .records
                    .iter()
                    .map(|r| (r.offset.0, r.value.as_str().unwrap_or_default().to_string()))
                    .collect(),
                end_offset: page.end_offset.0,
            },
            Err(e) => Outcome::Unknown {
                reason: format!("undecodable page: {e}"),
            },
        },
        // An unknown topic is an empty log.
        Ok((404, _)) => Outcome::ReadOk {
            records: Vec::new(),
            end_offset: 0,
        },
        Ok((status, body)) => Outcome::Failed {
            reason: format!("{status} {}", String::from_utf8_lossy(&body)),
        },
        Err(e) => Outcome::Failed {
            reason: format!("{e:?}"),
        },
    }
}

/// Runs `kind` against `node` and records it.
async fn perform(recorder: &SharedRecorder, client: u32, node: NodeId, kind: OpKind) -> Op {
    let invoked_at = now();
    let outcome = match &kind {
        OpKind::Append { topic, values } => append(node, topic, values).await,
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
    while now() < until {
        let node = nodes[rng.random_range(0..nodes.len())];
        let topic = TOPICS[rng.random_range(0..TOPICS.len())].to_string();
        let kind = match rng.random_range(0..100) {
            0..=54 => {
                let values = (0..rng.random_range(1..=3))
                    .map(|i| format!("c{client}-{sent}-{i}"))
                    .collect();
                sent += 1;
                OpKind::Append { topic, values }
            }
            55..=84 => OpKind::Read {
                topic,
                from: 0,
                consistency: Consistency::Linearizable,
            },
            _ => OpKind::Read {
                topic,
                from: 0,
                consistency: Consistency::Local,
            },
        };
        perform(&recorder, client, node, kind).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
    }
    recorder.borrow_mut().active_clients -= 1;
    Ok(())
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
        let kind = OpKind::Append {
            topic: TOPICS[0].to_string(),
            values: vec![format!("liveness-{attempt}")],
        };
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
    wait_converged(&live).await;
    let mut final_logs = BTreeMap::new();
    for node in &live {
        let mut logs = BTreeMap::new();
        for topic in TOPICS {
            logs.insert(topic.to_string(), read_whole_log(*node, topic).await);
        }
        final_logs.insert(*node, logs);
    }
    recorder.borrow_mut().final_logs = final_logs;
    Ok(())
}

/// Until every live node names the same leader and has applied the same
/// index (bounded; if they never converge, C9 reports the difference).
async fn wait_converged(live: &[NodeId]) {
    let deadline = now() + CONVERGE_TIMEOUT;
    while now() < deadline {
        let mut seen = Vec::new();
        for node in live {
            let status = call(
                &node_addr(*node),
                hyper::Method::GET,
                "/v1/cluster",
                Vec::new(),
                REQUEST_TIMEOUT,
            )
            .await
            .ok()
            .and_then(|(code, body)| (code == 200).then_some(body))
            .and_then(|body| serde_json::from_slice::<ClusterStatus>(&body).ok());
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
