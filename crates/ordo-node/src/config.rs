//! A node's validated configuration: who it is, who its peers are, and the
//! Raft timings. Parsing flags and files into this is the binary's job.

pub use crate::disk_space::SpaceConfig;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::clock::{wall_clock_ms, Clock};
use ordo_core::NodeId;

/// Raft timings. openraft starts an election only after the leader lease
/// (= `election_timeout_max`) *and* a random election timeout have passed
/// since the last heartbeat: here 300-400 ms of silence, i.e. 6-8 missed
/// heartbeats. That keeps failover near 350 ms while a loaded 2-core machine
/// that delays a few heartbeats does not cause needless elections.
pub const DEFAULT_HEARTBEAT_MS: u64 = 50;
pub const DEFAULT_ELECTION_TIMEOUT_MIN_MS: u64 = 100;
pub const DEFAULT_ELECTION_TIMEOUT_MAX_MS: u64 = 200;
/// How long a request waits for a leader to be known before answering 503.
pub const DEFAULT_LEADER_WAIT: Duration = Duration::from_millis(1500);
/// Upper bound on how long an append waits for its entry to commit and apply.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Raft log entries between snapshots; the log is purged behind a snapshot.
pub const DEFAULT_SNAPSHOT_EVERY_ENTRIES: u64 = 100_000;
/// Bytes of Raft log entries between snapshots (whichever of this and the
/// entry count comes first): one Raft log segment, so the log a node keeps
/// stays near a segment however large its entries. A snapshot shares the
/// records' files, so snapshotting this often costs only its metadata.
pub const DEFAULT_SNAPSHOT_EVERY_BYTES: u64 = 64 * 1024 * 1024;
/// How long `ordo serve` whose storage failed keeps answering (503s, its
/// status naming the cause) before it exits for its supervisor to start
/// it again (see `storage_fault`).
pub const DEFAULT_STORAGE_FAILURE_EXIT_AFTER: Duration = Duration::from_secs(10);
/// How often the leader looks for topics to compact or expire.
pub const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(5);
/// Most log entries kept behind a snapshot, so a follower only slightly
/// behind catches up from the log rather than a whole snapshot.
pub const MAX_LOG_KEPT_BEHIND_SNAPSHOT: u64 = 1000;

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub id: NodeId,
    /// The address other nodes and clients reach this node at (`host:port`).
    pub advertise_addr: String,
    /// The initial cluster (including this node), from `--peers`. When
    /// non-empty, the lowest id initializes membership if none exists yet.
    pub peers: BTreeMap<NodeId, String>,
    /// This node joins an existing cluster: it never initializes
    /// membership itself, and waits for the leader to add it
    /// (`POST /v1/cluster/nodes`).
    pub join: bool,
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    pub leader_wait: Duration,
    pub write_timeout: Duration,
    pub snapshot_every_entries: u64,
    /// Bytes of log entries appended after which a node snapshots, even if
    /// fewer than `snapshot_every_entries` entries came (see
    /// `snapshot_trigger`).
    pub snapshot_every_bytes: u64,
    /// How often the leader's background cleaner runs (see `cleaner`).
    pub cleanup_interval: Duration,
    /// Stamps appended records and cleanup passes.
    pub clock: Clock,
    /// The data dir whose free space is kept above a reserve (see
    /// `disk_space`); none watched by default.
    pub space: SpaceConfig,
    /// Where this node's Kafka listener is reached (`HOST:PORT`), which
    /// every other node learns by asking (see `kafka_brokers`); `None`
    /// when it has none.
    pub kafka_advertise: Option<String>,
}

impl NodeConfig {
    pub fn new(id: NodeId, advertise_addr: impl Into<String>) -> Self {
        NodeConfig {
            id,
            advertise_addr: advertise_addr.into(),
            peers: BTreeMap::new(),
            join: false,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            election_timeout_min_ms: DEFAULT_ELECTION_TIMEOUT_MIN_MS,
            election_timeout_max_ms: DEFAULT_ELECTION_TIMEOUT_MAX_MS,
            leader_wait: DEFAULT_LEADER_WAIT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            snapshot_every_entries: DEFAULT_SNAPSHOT_EVERY_ENTRIES,
            snapshot_every_bytes: DEFAULT_SNAPSHOT_EVERY_BYTES,
            cleanup_interval: DEFAULT_CLEANUP_INTERVAL,
            clock: wall_clock_ms,
            space: SpaceConfig::default(),
            kafka_advertise: None,
        }
    }

    pub fn with_peers(mut self, peers: BTreeMap<NodeId, String>) -> Self {
        self.peers = peers;
        self
    }

    /// How long a node may go without word from a quorum before it says it
    /// has none (see `health`): the leader lease plus the maximum election
    /// timeout, i.e. as long as followers wait in silence before they
    /// elect another leader. Shorter would flag a heartbeat or two that a
    /// loaded machine delays; longer would keep a cut-off node in a load
    /// balancer after the rest of the cluster has moved on.
    pub fn quorum_timeout(&self) -> Duration {
        // openraft's leader lease is `election_timeout_max`.
        Duration::from_millis(2 * self.election_timeout_max_ms)
    }

    pub(crate) fn raft_config(&self) -> Result<openraft::Config, openraft::ConfigError> {
        let config = openraft::Config {
            cluster_name: "ordo".to_string(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            // A partitioned node must not disrupt a healthy leader on rejoin.
            enable_pre_vote: Some(true),
            // openraft defaults to letting a restarted leader resume without
            // an election. That is unsafe here: ordo's state machine is not
            // fsynced on apply and the committed index is not persisted, so
            // a restored leader can answer read indexes from stale state.
            // Found by the simulation (C7, e.g. `make sim SEED=20`).
            enable_leader_restore: Some(false),
            // A node whose data dir was lost comes back with an empty log
            // (DESIGN: a wiped node is rebuilt from a snapshot), behind
            // what the leader recorded it as holding. openraft then only
            // restarts its search for where the two logs meet when this is
            // set; otherwise a debug build's leader panics on the
            // follower's answer and a release build's keeps its stale
            // record of the follower, which may never catch up. Safety
            // does not rest on it: an entry counts as committed only on a
            // majority that holds it durably.
            allow_log_reversion: Some(true),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every_entries),
            max_in_snapshot_log_to_keep: self
                .snapshot_every_entries
                .min(MAX_LOG_KEPT_BEHIND_SNAPSHOT),
            ..Default::default()
        };
        config.validate()
    }
}
