//! The simulated clients: each appends, claims keys (`key_absent` appends),
//! sends idempotent producer appends (retrying an uncertain seq with the same
//! records), writes keys of a compacted topic (which the leader's background
//! cleaner compacts while the faults run) and reads (linearizable and local)
//! against random nodes while the faults run, one request at a time, and
//! records every attempt's invocation and completion with its simulated
//! time. Workers (`worker`) append jobs to the work queues' topics and take
//! them from the queues meanwhile. After the heal, a final client probes
//! liveness, runs a last compaction pass, drains the queues (`drain`) and
//! reads every node's log (`final_client`). Every request goes through
//! `ordo_client` (`requests`, `queue_requests`). All of them run as tasks
//! on one simulated machine (`clients`).

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::cluster::mix;
use crate::history::{Current, NodeId, OpKind, Outcome};
use crate::recorder::{now, SharedRecorder};
use crate::schedule::NODES;
use ordo_api::Consistency;

mod drain;
mod final_client;
mod queue_requests;
mod requests;
mod worker;

use final_client::{admin, final_client, Admin};
pub use queue_requests::QUEUES;
use requests::perform;
use worker::worker;

pub const CLIENTS: u32 = 3;
/// Workers, numbered `CLIENTS + 1` ..= `CLIENTS + WORKERS`.
pub const WORKERS: u32 = 2;
/// Plain and producer appends go to these.
pub const TOPICS: [&str; 2] = ["t0", "t1"];
/// Claims (`key_absent` appends of one keyed record) go to this topic.
pub const CLAIMS: &str = "claims";
/// Keyed writes go to this topic, configured `compact` by client 1 first.
pub const PROFILES: &str = "profiles";
/// The topics whose config is `compact`.
pub const COMPACTED_TOPICS: [&str; 1] = [PROFILES];
/// Every topic the clients read.
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

/// Every topic the final client reads whole: the clients' topics, and each
/// work queue's topic and dead-letter topic.
pub fn final_topics() -> Vec<&'static str> {
    let queues = QUEUES
        .iter()
        .flat_map(|queue| [queue.topic, queue.dead_letter_topic]);
    ALL_TOPICS.into_iter().chain(queues).collect()
}

/// Every simulated client, side by side as tasks on one simulated machine
/// (turmoil steps each host's runtime at every tick, so a host per client
/// would cost most of a run's time): the clients and the workers until
/// `heal_at`, the final client from then on. `live`: the nodes that are not
/// down for good.
pub async fn clients(
    recorder: SharedRecorder,
    run_seed: u64,
    live: Vec<NodeId>,
    heal_at: Duration,
) -> turmoil::Result {
    let nodes = NODES.to_vec();
    let mut running = Vec::new();
    for c in 1..=CLIENTS {
        let task = client(recorder.clone(), run_seed, c, nodes.clone(), heal_at);
        running.push(tokio::task::spawn_local(task));
    }
    for w in CLIENTS + 1..=CLIENTS + WORKERS {
        let task = worker(recorder.clone(), run_seed, w, nodes.clone(), heal_at);
        running.push(tokio::task::spawn_local(task));
    }
    running.push(tokio::task::spawn_local(final_client(
        recorder, live, heal_at,
    )));
    for task in running {
        task.await??;
    }
    Ok(())
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
async fn client(
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
