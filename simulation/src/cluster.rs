//! The simulated cluster: each node is a turmoil host running the real
//! `ordo-node` and `ordo-http` code on a simulated disk ([`MemDisk`]) and
//! network ([`crate::net::node_transport`], [`SimListener`]). A crash drops the host's
//! tasks and the disk's unflushed writes; a restart runs the same host
//! closure again on the same disk, as a real process restarts on its data
//! dir.
//!
//! Each node reads its own clock: simulated time plus an offset drawn for
//! each life of the node (`MAX_CLOCK_OFFSET_MS` either way), so the nodes'
//! clocks disagree, and a node's clock may step back across a restart.
//! The leader stamps its time into appends and queue commands; a queue's
//! leases must hold whichever node stamps them.
//!
//! A node whose storage fails is recorded (for C13, with the I/O errors the
//! schedule injected into its disk in that life) rather than failing the
//! run, and its process exits, as production's does so that a supervisor
//! restarts it: after a store that does not open, or a node that does not
//! start on it, the host serves nothing; a Raft core that stops on a
//! storage error is seen in its metrics ([`storage_failure`]). The driver
//! (`crate::run`) then crashes the host and starts it again after a grace
//! period.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::Fatal;
use ordo_http::AppState;
use ordo_node::clock::Clock;
use ordo_node::config::{
    DEFAULT_ELECTION_TIMEOUT_MAX_MS, DEFAULT_ELECTION_TIMEOUT_MIN_MS, DEFAULT_HEARTBEAT_MS,
    DEFAULT_LEADER_WAIT,
};
use ordo_node::{Node, NodeConfig, TypeConfig};
use ordo_store::MemDisk;

use crate::history::{NodeId, StorageStage};
use crate::net::{node_transport, SimListener, NODE_PORT};
use crate::recorder::{NodeView, SharedRecorder};

/// The simulated wall clock starts here (2026-01-01), so record timestamps
/// look real and are the same in every run of a seed.
const EPOCH_MS: u64 = 1_767_225_600_000;

/// Shorter than production's `DEFAULT_WRITE_TIMEOUT` (10 s), and shorter
/// than a client's request timeout (5 s, in `workload`): an append stuck
/// behind a fault is answered by the node (504) before its client gives up.
const SIM_WRITE_TIMEOUT: Duration = Duration::from_secs(3);
/// Small, so runs exercise snapshots, log purging and snapshot installs.
const SIM_SNAPSHOT_EVERY_ENTRIES: u64 = 200;
/// Often, so compaction passes run (and get snapshotted) under the faults.
const SIM_CLEANUP_INTERVAL: Duration = Duration::from_millis(300);
/// How far a node's clock may be off simulated time, either way, in ms: a
/// sizeable share of the work queues' leases (150-450 ms).
const MAX_CLOCK_OFFSET_MS: i64 = 150;
/// Seeds the clock offsets' draws, apart from every other stream of the run.
const CLOCK_SALT: u64 = 0xc10c_c10c;

thread_local! {
    /// Each node's clock offset from simulated time in its current life, in
    /// ms. A simulation runs on one thread.
    static CLOCK_OFFSETS_MS: RefCell<BTreeMap<NodeId, i64>> = const { RefCell::new(BTreeMap::new()) };
}

pub fn host_name(id: NodeId) -> String {
    format!("n{id}")
}

pub fn node_addr(id: NodeId) -> String {
    format!("n{id}:{NODE_PORT}")
}

fn sim_clock_ms() -> u64 {
    EPOCH_MS + turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64
}

/// Node `NODE`'s clock: simulated time plus its current offset. One
/// function per node, since a node's clock is a plain `fn`.
fn node_clock_ms<const NODE: NodeId>() -> u64 {
    let offset = CLOCK_OFFSETS_MS.with(|offsets| offsets.borrow().get(&NODE).copied());
    sim_clock_ms().saturating_add_signed(offset.unwrap_or(0))
}

/// The clock node `id` reads.
fn clock_of(id: NodeId) -> Clock {
    match id {
        1 => node_clock_ms::<1>,
        2 => node_clock_ms::<2>,
        3 => node_clock_ms::<3>,
        _ => unreachable!("the simulation runs nodes 1 to 3"),
    }
}

/// Draws node `id`'s clock offset for its life number `life` of the run.
fn draw_clock_offset(run_seed: u64, id: NodeId, life: u64) -> i64 {
    let draw = mix(run_seed, CLOCK_SALT + id * 1000 + life);
    let span = 2 * MAX_CLOCK_OFFSET_MS as u64 + 1;
    (draw % span) as i64 - MAX_CLOCK_OFFSET_MS
}

/// SplitMix64, to derive independent seeds from the run's seed.
pub fn mix(seed: u64, salt: u64) -> u64 {
    let z = seed.wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn node_config(id: NodeId, nodes: &[NodeId]) -> NodeConfig {
    let peers: BTreeMap<NodeId, String> = nodes.iter().map(|n| (*n, node_addr(*n))).collect();
    let mut config = NodeConfig::new(id, node_addr(id)).with_peers(peers);
    // Production's Raft timings and leader wait; the simulated network stays
    // well inside them (see `crate::run`'s latencies) except when a fault
    // adds latency.
    config.heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    config.election_timeout_min_ms = DEFAULT_ELECTION_TIMEOUT_MIN_MS;
    config.election_timeout_max_ms = DEFAULT_ELECTION_TIMEOUT_MAX_MS;
    config.leader_wait = DEFAULT_LEADER_WAIT;
    config.write_timeout = SIM_WRITE_TIMEOUT;
    config.snapshot_every_entries = SIM_SNAPSHOT_EVERY_ENTRIES;
    config.cleanup_interval = SIM_CLEANUP_INTERVAL;
    config.clock = clock_of(id);
    config
}

/// Registers node `id` as a turmoil host. Each start (the first and every
/// restart) gets its own seed for openraft's randomness.
pub fn add_node(
    sim: &mut turmoil::Sim<'_>,
    id: NodeId,
    nodes: &[NodeId],
    disk: MemDisk,
    store: ordo_store::StoreOptions,
    run_seed: u64,
    recorder: SharedRecorder,
) {
    let starts = Rc::new(Cell::new(0u64));
    let nodes = nodes.to_vec();
    sim.host(host_name(id), move || {
        let start = starts.get();
        starts.set(start + 1);
        let seed = mix(run_seed, id * 1000 + start);
        let offset = draw_clock_offset(run_seed, id, start);
        CLOCK_OFFSETS_MS.with(|offsets| offsets.borrow_mut().insert(id, offset));
        recorder
            .borrow_mut()
            .clock_offsets
            .push((crate::recorder::now(), id, offset));
        let disk = disk.clone();
        let store = store.clone();
        let config = node_config(id, &nodes);
        let recorder = recorder.clone();
        ordo_node::runtime::with_seed(seed, async move {
            recorder.borrow_mut().failed_to_start.remove(&id);
            let opened = ordo_store::open_memory_with::<TypeConfig>(&disk, &store);
            let (log_store, state_machine) = match opened {
                Ok(opened) => opened,
                Err(e) => return failed(&recorder, &disk, id, StorageStage::Open, e).await,
            };
            // For the `unstamped-queue-time` mutant only (inert otherwise).
            state_machine.set_node_clock(config.clock);
            let transport = Arc::new(node_transport());
            let node = match Node::start(config, log_store, state_machine, transport).await {
                Ok(node) => node,
                Err(e) => return failed(&recorder, &disk, id, StorageStage::Start, e).await,
            };
            tokio::task::spawn_local(watch_raft(id, node.clone(), disk, recorder));
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", NODE_PORT)).await?;
            let state = AppState::new(node, None, Default::default());
            ordo_http::serve(SimListener(listener), state, std::future::pending()).await?;
            Ok(())
        })
    });
}

/// Records that node `id` failed to open its store or to start on it, then
/// serves nothing until the driver crashes (and restarts) it: its process
/// has exited, and connections to it are refused.
async fn failed(
    recorder: &SharedRecorder,
    disk: &MemDisk,
    id: NodeId,
    stage: StorageStage,
    error: impl ToString,
) -> turmoil::Result {
    {
        let mut recorder = recorder.borrow_mut();
        recorder.storage_failure(id, stage, error.to_string(), injected(disk));
        recorder.failed_to_start.insert(id);
    }
    std::future::pending().await
}

/// The I/O errors the schedule injected into `disk` in the node's current
/// life, described.
fn injected(disk: &MemDisk) -> Vec<String> {
    disk.injected_errors()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Why `node`'s storage failed, if it has: its Raft core stopped on a
/// storage error. (Production's node answers 503 from then on and exits
/// so that a supervisor restarts it.)
fn storage_failure(node: &Node) -> Option<String> {
    match &node.raft().metrics().borrow_watched().running_state {
        Err(Fatal::StorageError(e)) => Some(e.to_string()),
        _ => None,
    }
}

/// Mirrors a node's role, term and leader into the recorder as they change,
/// and records its storage failing (then its process exits).
async fn watch_raft(id: NodeId, node: Arc<Node>, disk: MemDisk, recorder: SharedRecorder) {
    let mut metrics = node.raft().metrics();
    loop {
        let view = {
            let m = metrics.borrow_and_update();
            NodeView {
                role: format!("{:?}", m.state),
                term: m.current_term,
                leader: m.current_leader,
            }
        };
        recorder.borrow_mut().view(id, view);
        if let Some(error) = storage_failure(&node) {
            recorder.borrow_mut().storage_failure(
                id,
                StorageStage::Running,
                error,
                injected(&disk),
            );
            return;
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
