//! `ordo serve`: parse flags, environment and config file into a validated
//! node config, open storage, start the node and serve HTTP until SIGTERM or
//! Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use metrics_exporter_prometheus::PrometheusBuilder;
use ordo_api::limits;
use ordo_api::secret::Secret;
use ordo_core::NodeId;
use ordo_http::{AppState, Auth, HttpLimits};
use ordo_node::storage_fault::EXIT_STORAGE_FAILED;
use ordo_node::{config, node_transport, Node, NodeConfig};
use serde::Deserialize;

use crate::logging::{self, LogFormat};
use crate::secrets::{self, SecretSetting, API_TOKEN_ENV, CLUSTER_SECRET_ENV};

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The file in the data dir that pins which node id owns it.
const NODE_ID_FILE: &str = "node_id";
/// Where a node listens unless told otherwise: node 1 of `make cluster`.
const DEFAULT_LISTEN: &str = "127.0.0.1:7001";
/// The store's directory inside the data dir.
pub(crate) const STORE_DIR: &str = "sled";

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// This node's id (a positive integer, unique in the cluster).
    #[arg(long, env = "ORDO_NODE_ID")]
    node_id: Option<NodeId>,
    #[arg(long, env = "ORDO_LISTEN", value_name = "HOST:PORT",
          help = defaulted("Address to listen on for clients and peers", DEFAULT_LISTEN))]
    listen: Option<String>,
    /// Address peers and clients reach this node at (default: this node's
    /// entry in --peers, else --listen).
    #[arg(long, env = "ORDO_ADVERTISE")]
    advertise: Option<String>,
    #[arg(long, env = "ORDO_DATA_DIR", value_name = "DIR",
          help = defaulted("Where this node keeps its log and state; a restart resumes from it", "data/n<NODE_ID>"))]
    data_dir: Option<PathBuf>,
    /// The initial cluster, `1=host:port,2=host:port,...`; the nodes form it
    /// by themselves.
    #[arg(long, env = "ORDO_PEERS")]
    peers: Option<String>,
    /// Join an existing cluster: start empty and wait to be added with
    /// `ordo cluster add` (never form a cluster, whatever --peers says).
    #[arg(long, env = "ORDO_JOIN")]
    join: bool,
    #[arg(long, env = "ORDO_HEARTBEAT_MS", value_name = "MS",
          help = defaulted("Raft heartbeat interval in milliseconds", config::DEFAULT_HEARTBEAT_MS))]
    heartbeat_ms: Option<u64>,
    #[arg(long, env = "ORDO_ELECTION_TIMEOUT_MS", value_name = "MS",
          help = defaulted("Minimum Raft election timeout in milliseconds (the maximum is twice this)",
                           config::DEFAULT_ELECTION_TIMEOUT_MIN_MS))]
    election_timeout_ms: Option<u64>,
    #[arg(long, env = "ORDO_SNAPSHOT_EVERY_ENTRIES", value_name = "ENTRIES",
          help = defaulted("Raft log entries between state machine snapshots; the log is purged \
                            behind each snapshot, and a node too far behind is sent the snapshot",
                           config::DEFAULT_SNAPSHOT_EVERY_ENTRIES))]
    snapshot_every_entries: Option<u64>,
    #[arg(long, env = "ORDO_SNAPSHOT_EVERY_MB", value_name = "MIB",
          help = defaulted("MiB of Raft log entries a node appends between snapshots, whichever \
                            of this and --snapshot-every-entries comes first",
                           config::DEFAULT_SNAPSHOT_EVERY_BYTES / (1024 * 1024)))]
    snapshot_every_mb: Option<u64>,
    #[arg(long, env = "ORDO_CLEANUP_INTERVAL_MS", value_name = "MS",
          help = defaulted("How often, in milliseconds, the leader looks for topics to compact \
                            or expire (each pass goes through the Raft log)",
                           config::DEFAULT_CLEANUP_INTERVAL.as_millis()))]
    cleanup_interval_ms: Option<u64>,
    #[arg(long, env = "ORDO_CACHE_MB", value_name = "MIB",
          help = defaulted("The storage engine's page cache in MiB (sled's `cache_capacity`; the \
                            memory it takes is a multiple of this)",
                           ordo_store::CACHE_CAPACITY_BYTES / (1024 * 1024)))]
    cache_mb: Option<u64>,
    #[arg(long, env = "ORDO_STORAGE_FAILURE_EXIT_AFTER_MS", value_name = "MS",
          help = defaulted("Once this node's storage failed (a write or fsync error), how long \
                            in milliseconds it keeps answering 503 and reporting the cause \
                            before it exits with status 75 for its supervisor to start it again",
                           config::DEFAULT_STORAGE_FAILURE_EXIT_AFTER.as_millis()))]
    storage_failure_exit_after_ms: Option<u64>,
    /// Free bytes to keep on the data dir's volume: below them the node
    /// takes no new data (a leader answers appends 507 and hands its
    /// leadership over, a follower refuses new entries) until space
    /// returns. Default: 5 % of the volume, at least two segments
    /// (--segment-mb) and at most 1 GiB (never more than half the volume);
    /// 0 turns the reserve off.
    #[arg(long, env = "ORDO_MIN_FREE_BYTES", value_name = "BYTES")]
    min_free_bytes: Option<u64>,
    #[arg(long, env = "ORDO_SEGMENT_MB", value_name = "MIB",
          help = defaulted("Size in MiB of one segment file of the Raft log and of each topic's \
                            records (each is preallocated to it; smaller suits a small volume)",
                           ordo_store::StoreOptions::default().log_segment_bytes / (1024 * 1024)))]
    segment_mb: Option<u64>,
    /// A file holding the secret every node of the cluster shares (trimmed;
    /// or put the secret itself in ORDO_CLUSTER_SECRET). With one, every
    /// /raft/* request must carry it, and this node sends it to its peers.
    #[arg(long, env = "ORDO_CLUSTER_SECRET_FILE")]
    cluster_secret_file: Option<PathBuf>,
    /// A file holding the token clients must send as `Authorization: Bearer
    /// <token>` on /v1/* (trimmed; or put the token itself in ORDO_API_TOKEN).
    #[arg(long, env = "ORDO_API_TOKEN_FILE")]
    api_token_file: Option<PathBuf>,
    #[arg(long, env = "ORDO_MAX_INFLIGHT_REQUESTS", value_name = "N",
          help = defaulted("Client requests (`/v1/*`, streams and long-polls aside) handled at \
                            once; more are refused with 503 `overloaded`, never queued",
                           limits::DEFAULT_MAX_INFLIGHT_REQUESTS))]
    max_inflight_requests: Option<usize>,
    #[arg(long, env = "ORDO_MAX_STREAMS", value_name = "N",
          help = defaulted("Streams and long-polling reads served at once; more are refused with \
                            503 `overloaded`", limits::DEFAULT_MAX_STREAMS))]
    max_streams: Option<usize>,
    #[arg(long, env = "ORDO_REQUEST_TIMEOUT_MS", value_name = "MS",
          help = defaulted("Milliseconds a client request may take to be answered (routes that \
                            wait by design get their waits on top), and a request body to arrive",
                           limits::DEFAULT_REQUEST_TIMEOUT_MS))]
    request_timeout_ms: Option<u64>,
    #[arg(long, env = "ORDO_HEADER_READ_TIMEOUT_MS", value_name = "MS",
          help = defaulted("Milliseconds a client may take to send a request's headers (and an \
                            idle keep-alive connection stays open) before it is disconnected",
                           limits::DEFAULT_HEADER_READ_TIMEOUT_MS))]
    header_read_timeout_ms: Option<u64>,
    /// Log lines as `text` or as `json` objects, one a line, for log
    /// shippers (default: text).
    #[arg(long, env = "ORDO_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Threads that run the node's tasks (its runtime's workers; default:
    /// one per core). Nodes that share a machine do better with their
    /// share of its cores: `ordo local-cluster` gives each of its nodes
    /// the cores divided by the nodes, at least one.
    #[arg(long, env = "ORDO_WORKER_THREADS", value_name = "N")]
    worker_threads: Option<usize>,
    /// A TOML file with any of the settings above (flags and environment win).
    #[arg(long, env = "ORDO_CONFIG")]
    config: Option<PathBuf>,
    /// ORDO_CLUSTER_SECRET, read by [`run`] (no flag takes a secret itself).
    #[arg(skip)]
    cluster_secret: Option<Secret>,
    /// ORDO_API_TOKEN, read by [`run`].
    #[arg(skip)]
    api_token: Option<Secret>,
}

/// The config file's shape: every field optional, names as the flags'.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    node_id: Option<NodeId>,
    listen: Option<String>,
    advertise: Option<String>,
    data_dir: Option<PathBuf>,
    peers: Option<String>,
    join: Option<bool>,
    heartbeat_ms: Option<u64>,
    election_timeout_ms: Option<u64>,
    snapshot_every_entries: Option<u64>,
    snapshot_every_mb: Option<u64>,
    cleanup_interval_ms: Option<u64>,
    cache_mb: Option<u64>,
    storage_failure_exit_after_ms: Option<u64>,
    min_free_bytes: Option<u64>,
    segment_mb: Option<u64>,
    cluster_secret_file: Option<PathBuf>,
    api_token_file: Option<PathBuf>,
    max_inflight_requests: Option<usize>,
    max_streams: Option<usize>,
    request_timeout_ms: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    log_format: Option<LogFormat>,
    worker_threads: Option<usize>,
}

/// Everything `serve` needs, validated.
#[derive(Debug)]
struct ServeConfig {
    listen: String,
    data_dir: PathBuf,
    node: NodeConfig,
    store: ordo_store::StoreOptions,
    auth: Auth,
    http: HttpLimits,
    log_format: LogFormat,
    /// The runtime's worker threads; `None`: one per core.
    worker_threads: Option<usize>,
    /// See `--storage-failure-exit-after-ms`.
    storage_failure_exit_after: Duration,
}

/// Why `ordo serve` ended with an error its supervisor should answer by
/// starting it again: its storage failed, or could not be opened. `main`
/// exits with [`EXIT_STORAGE_FAILED`] for it.
#[derive(Debug, thiserror::Error)]
#[error("storage failed: {cause}")]
pub struct StorageFailed {
    cause: String,
}

impl ServeArgs {
    fn resolve(self) -> anyhow::Result<ServeConfig> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => ConfigFile::default(),
        };
        let node_id = self
            .node_id
            .or(file.node_id)
            .context("--node-id (or ORDO_NODE_ID) is required")?;
        if node_id == 0 {
            bail!("--node-id must be a positive integer");
        }
        let listen = self
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let data_dir = self
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(format!("data/n{node_id}")));
        let peers = match self.peers.or(file.peers) {
            Some(spec) => parse_peers(&spec)?,
            None => BTreeMap::new(),
        };
        let join = self.join || file.join.unwrap_or(false);
        // A joining node's --peers only says where the cluster is.
        if !join && !peers.is_empty() && !peers.contains_key(&node_id) {
            bail!("--peers does not list this node's id {node_id} (to add it to a running cluster, start it with --join)");
        }
        let advertise = self
            .advertise
            .or(file.advertise)
            .or_else(|| peers.get(&node_id).cloned())
            .unwrap_or_else(|| listen.clone());
        let mut node = NodeConfig::new(node_id, advertise).with_peers(peers);
        node.join = join;
        if let Some(ms) = self.heartbeat_ms.or(file.heartbeat_ms) {
            node.heartbeat_ms = ms;
        }
        if let Some(ms) = self.election_timeout_ms.or(file.election_timeout_ms) {
            node.election_timeout_min_ms = ms;
            node.election_timeout_max_ms = ms * 2;
        }
        if let Some(entries) = self.snapshot_every_entries.or(file.snapshot_every_entries) {
            node.snapshot_every_entries = at_least_one(entries, "snapshot-every-entries")?;
        }
        if let Some(mb) = self.snapshot_every_mb.or(file.snapshot_every_mb) {
            node.snapshot_every_bytes = at_least_one(mb, "snapshot-every-mb")? * 1024 * 1024;
        }
        if let Some(ms) = self.cleanup_interval_ms.or(file.cleanup_interval_ms) {
            node.cleanup_interval = Duration::from_millis(at_least_one(ms, "cleanup-interval-ms")?);
        }
        let mut store = ordo_store::StoreOptions::default();
        if let Some(mb) = self.segment_mb.or(file.segment_mb) {
            let bytes = at_least_one(mb, "segment-mb")? * 1024 * 1024;
            store.log_segment_bytes = bytes;
            store.record_segment_bytes = bytes;
        }
        node.space = config::SpaceConfig {
            dir: Some(data_dir.clone()),
            reserve_bytes: self.min_free_bytes.or(file.min_free_bytes),
            segment_bytes: store.log_segment_bytes.max(store.record_segment_bytes),
        };
        if let Some(mb) = self.cache_mb.or(file.cache_mb) {
            store.cache_capacity_bytes = at_least_one(mb, "cache-mb")? * 1024 * 1024;
        }
        let auth = Auth {
            cluster_secret: SecretSetting {
                flag: "--cluster-secret-file",
                env: CLUSTER_SECRET_ENV,
                file: self.cluster_secret_file.as_deref(),
                value: self.cluster_secret,
                config_file: file.cluster_secret_file.as_deref(),
            }
            .resolve()?,
            api_token: SecretSetting {
                flag: "--api-token-file",
                env: API_TOKEN_ENV,
                file: self.api_token_file.as_deref(),
                value: self.api_token,
                config_file: file.api_token_file.as_deref(),
            }
            .resolve()?,
        };
        let mut http = HttpLimits::default();
        if let Some(n) = self.max_inflight_requests.or(file.max_inflight_requests) {
            http.max_inflight_requests = at_least_one(n as u64, "max-inflight-requests")? as usize;
        }
        if let Some(n) = self.max_streams.or(file.max_streams) {
            http.max_streams = at_least_one(n as u64, "max-streams")? as usize;
        }
        if let Some(ms) = self.request_timeout_ms.or(file.request_timeout_ms) {
            http.request_timeout = Duration::from_millis(at_least_one(ms, "request-timeout-ms")?);
        }
        if let Some(ms) = self.header_read_timeout_ms.or(file.header_read_timeout_ms) {
            http.header_read_timeout =
                Duration::from_millis(at_least_one(ms, "header-read-timeout-ms")?);
        }
        let worker_threads = match self.worker_threads.or(file.worker_threads) {
            Some(n) => Some(at_least_one(n as u64, "worker-threads")? as usize),
            None => None,
        };
        Ok(ServeConfig {
            listen,
            data_dir,
            node,
            store,
            auth,
            http,
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            worker_threads,
            storage_failure_exit_after: self
                .storage_failure_exit_after_ms
                .or(file.storage_failure_exit_after_ms)
                .map_or(
                    config::DEFAULT_STORAGE_FAILURE_EXIT_AFTER,
                    Duration::from_millis,
                ),
        })
    }
}

/// A flag's help with its default, as clap shows defaults (the flags have
/// none of their own: a config file's value must be told from an unset flag).
fn defaulted(help: &str, default: impl std::fmt::Display) -> String {
    format!("{help} [default: {default}]")
}

/// `value` of setting `--flag`, refused if it is 0.
fn at_least_one(value: u64, flag: &str) -> anyhow::Result<u64> {
    if value == 0 {
        bail!("--{flag} must be at least 1");
    }
    Ok(value)
}

/// Parses `1=host:port,2=host:port`.
pub(crate) fn parse_peers(spec: &str) -> anyhow::Result<BTreeMap<NodeId, String>> {
    let mut peers = BTreeMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .with_context(|| format!("peer {part:?} is not of the form id=host:port"))?;
        let id: NodeId = id
            .trim()
            .parse()
            .with_context(|| format!("peer id {id:?} is not a number"))?;
        if id == 0 || addr.trim().is_empty() {
            bail!("peer {part:?} needs a positive id and an address");
        }
        if peers.insert(id, addr.trim().to_string()).is_some() {
            bail!("peer id {id} is listed twice");
        }
    }
    Ok(peers)
}

/// A data dir belongs to one node id for life: refuse to start a node on
/// another node's data (a typo in --node-id would otherwise corrupt a cluster).
pub(crate) fn claim_data_dir(data_dir: &Path, node_id: NodeId) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let id_file = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&id_file) {
        Ok(existing) => {
            let existing: NodeId = existing
                .trim()
                .parse()
                .with_context(|| format!("{} is corrupt", id_file.display()))?;
            if existing != node_id {
                bail!(
                    "data dir {} belongs to node {existing}, not node {node_id}",
                    data_dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&id_file, format!("{node_id}\n"))
                .with_context(|| format!("writing {}", id_file.display()))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", id_file.display())),
    }
}

/// Runs a node until it is told to stop, on a runtime of its own: the
/// settings, read first, say how many worker threads it has.
pub fn run(mut args: ServeArgs) -> anyhow::Result<()> {
    args.cluster_secret = secrets::from_env(CLUSTER_SECRET_ENV)?;
    args.api_token = secrets::from_env(API_TOKEN_ENV)?;
    // The settings before the logger, as the config file may name the log
    // format; a bad setting ends the start with an error, not a log line.
    let config = args.resolve()?;
    logging::init(config.log_format);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = config.worker_threads {
        runtime.worker_threads(threads);
    }
    runtime
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(serve(config))
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    claim_data_dir(&config.data_dir, config.node.id)?;
    if config.auth.cluster_secret.is_none() {
        tracing::warn!(
            "no cluster secret set (--cluster-secret-file or {CLUSTER_SECRET_ENV}): \
             anyone who can reach this node's port can send it Raft messages"
        );
    }
    // Histograms as Prometheus histograms (buckets), not summaries, so they
    // add up across nodes.
    let prometheus = PrometheusBuilder::new()
        .set_buckets(ordo_http::metrics::LATENCY_BUCKETS_SECONDS)
        .context("setting histogram buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    ordo_http::metrics::describe();

    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let (log_store, state_machine) =
        match ordo_store::open_with(&config.data_dir.join(STORE_DIR), &config.store) {
            Ok(store) => store,
            Err(e) => {
                // A disk still full or failing: wait the grace period before
                // exiting, as a node whose storage fails later does, so a
                // supervisor that restarts at once tries once a grace
                // period, and not listening meanwhile.
                drop(listener);
                let cause = format!("opening storage in {}: {e}", config.data_dir.display());
                tracing::error!(
                    node = config.node.id,
                    cause = %cause,
                    "storage failed: cannot open the store; exiting with status \
                     {EXIT_STORAGE_FAILED} in {:.1} s",
                    config.storage_failure_exit_after.as_secs_f64()
                );
                tokio::select! {
                    biased;
                    () = shutdown_signal() => {}
                    () = tokio::time::sleep(config.storage_failure_exit_after) => {}
                }
                return Err(StorageFailed { cause }.into());
            }
        };
    let transport = Arc::new(node_transport(config.auth.cluster_secret.as_ref())?);
    let node_id = config.node.id;
    let node = Node::start(config.node, log_store, state_machine, transport).await?;
    tracing::info!(
        node = node_id,
        listen = %config.listen,
        data_dir = %config.data_dir.display(),
        cluster_secret = config.auth.cluster_secret.is_some(),
        api_token = config.auth.api_token.is_some(),
        "ordo node started"
    );
    let leader_changes = ordo_node::metrics::count_leader_changes(&node);

    let upkeep = {
        let handle = prometheus.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        })
    };
    let state = AppState::new(node.clone(), Some(prometheus), config.auth);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = ordo_http::tcp_nodelay(listener);
    let server = tokio::spawn(ordo_http::serve_with_limits(
        listener,
        state,
        config.http,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let failed = tokio::select! {
        biased;
        () = shutdown_signal() => None,
        cause = node.storage_failed() => Some(cause),
    };
    if failed.is_some() {
        // Out of the way already (503s, readyz, status); the grace lets an
        // operator, and the cluster status, see why before the process ends.
        tokio::select! {
            biased;
            () = shutdown_signal() => {}
            () = tokio::time::sleep(config.storage_failure_exit_after) => {}
        }
    }
    tracing::info!(node = node_id, "shutting down");
    let _ = stop_tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server stopped with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server task failed"),
        Err(_) => tracing::warn!("in-flight requests did not finish in time"),
    }
    upkeep.abort();
    leader_changes.abort();
    node.shutdown().await;
    match failed {
        None => {
            tracing::info!(node = node_id, "stopped");
            Ok(())
        }
        Some(cause) => {
            tracing::error!(
                node = node_id,
                "stopped: storage failed; exiting with status {EXIT_STORAGE_FAILED}"
            );
            Err(StorageFailed { cause }.into())
        }
    }
}

/// Ctrl-C or SIGTERM: what stops `ordo serve` (and `ordo tail`).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        biased;
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_reject_nonsense() {
        let peers = parse_peers("1=127.0.0.1:7001, 2=127.0.0.1:7002").unwrap();
        assert_eq!(peers[&2], "127.0.0.1:7002");
        assert!(parse_peers("1=a,1=b").is_err());
        assert!(parse_peers("x=a").is_err());
        assert!(parse_peers("0=a").is_err());
        assert!(parse_peers("1").is_err());
    }

    #[test]
    fn flags_win_over_the_config_file_and_advertise_defaults_to_peers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ordo.toml");
        std::fs::write(
            &file,
            "node_id = 2\nlisten = \"0.0.0.0:9000\"\npeers = \"1=a:1,2=b:2\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:7002".into()),
            config: Some(file),
            ..Default::default()
        };
        let config = args.resolve().unwrap();
        assert_eq!(config.node.id, 2);
        assert_eq!(config.listen, "127.0.0.1:7002");
        assert_eq!(config.node.advertise_addr, "b:2");
        assert_eq!(config.http, HttpLimits::default());
    }

    #[test]
    fn http_limits_come_from_flags_or_the_file_and_may_not_be_zero() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ordo.toml");
        std::fs::write(
            &file,
            "node_id = 1\nmax_streams = 7\nrequest_timeout_ms = 900\n",
        )
        .unwrap();
        let args = ServeArgs {
            max_inflight_requests: Some(3),
            header_read_timeout_ms: Some(1500),
            config: Some(file),
            ..Default::default()
        };
        let http = args.resolve().unwrap().http;
        assert_eq!(
            http,
            HttpLimits {
                max_inflight_requests: 3,
                max_streams: 7,
                request_timeout: Duration::from_millis(900),
                header_read_timeout: Duration::from_millis(1500),
            }
        );
        let zero = ServeArgs {
            node_id: Some(1),
            max_streams: Some(0),
            ..Default::default()
        };
        assert!(zero.resolve().is_err());
    }

    #[test]
    fn a_joining_node_need_not_be_in_peers_and_never_forms_a_cluster() {
        let outsider = ServeArgs {
            node_id: Some(4),
            peers: Some("1=a:1,2=b:2,3=c:3".into()),
            ..Default::default()
        };
        assert!(outsider.resolve().is_err());
        let joining = ServeArgs {
            node_id: Some(4),
            listen: Some("127.0.0.1:7004".into()),
            peers: Some("1=a:1,2=b:2,3=c:3".into()),
            join: true,
            ..Default::default()
        };
        let config = joining.resolve().unwrap();
        assert!(config.node.join);
        assert_eq!(config.node.advertise_addr, "127.0.0.1:7004");
    }

    #[test]
    fn secrets_come_from_files_named_in_the_config_file_unless_the_environment_sets_them() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("cluster-secret");
        std::fs::write(&secret_file, "cluster-s3cret\n").unwrap();
        let token_file = dir.path().join("api-token");
        std::fs::write(&token_file, "file-token").unwrap();
        let file = dir.path().join("ordo.toml");
        std::fs::write(
            &file,
            format!(
                "node_id = 1\ncluster_secret_file = {:?}\napi_token_file = {:?}\n",
                secret_file, token_file
            ),
        )
        .unwrap();
        let config = ServeArgs {
            config: Some(file.clone()),
            api_token: Some(Secret::new("env-token").unwrap()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let auth = config.auth;
        assert_eq!(auth.cluster_secret.unwrap().expose(), "cluster-s3cret");
        assert_eq!(auth.api_token.unwrap().expose(), "env-token");

        let open = ServeArgs {
            node_id: Some(1),
            ..Default::default()
        };
        let auth = open.resolve().unwrap().auth;
        assert!(auth.cluster_secret.is_none() && auth.api_token.is_none());
    }

    #[test]
    fn an_empty_or_unreadable_secret_file_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        for path in [empty, dir.path().join("missing")] {
            let args = ServeArgs {
                node_id: Some(1),
                cluster_secret_file: Some(path.clone()),
                ..Default::default()
            };
            let error = format!("{:#}", args.resolve().unwrap_err());
            assert!(error.contains("--cluster-secret-file"), "{error}");
        }
    }

    #[test]
    fn worker_threads_come_from_the_flag_or_the_config_file_and_zero_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ordo.toml");
        std::fs::write(&file, "node_id = 1\nworker_threads = 3\n").unwrap();
        let with_file = |worker_threads| ServeArgs {
            config: Some(file.clone()),
            worker_threads,
            ..Default::default()
        };
        assert_eq!(with_file(None).resolve().unwrap().worker_threads, Some(3));
        assert_eq!(
            with_file(Some(1)).resolve().unwrap().worker_threads,
            Some(1)
        );
        let error = with_file(Some(0)).resolve().unwrap_err().to_string();
        assert!(error.contains("--worker-threads"), "{error}");
        let plain = ServeArgs {
            node_id: Some(1),
            ..Default::default()
        };
        assert_eq!(plain.resolve().unwrap().worker_threads, None);
    }

    #[test]
    fn the_log_format_comes_from_the_flag_or_the_config_file_and_is_text_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ordo.toml");
        std::fs::write(&file, "node_id = 1\nlog_format = \"json\"\n").unwrap();
        let with_file = |log_format| ServeArgs {
            config: Some(file.clone()),
            log_format,
            ..Default::default()
        };
        assert_eq!(
            with_file(None).resolve().unwrap().log_format,
            LogFormat::Json
        );
        assert_eq!(
            with_file(Some(LogFormat::Text))
                .resolve()
                .unwrap()
                .log_format,
            LogFormat::Text
        );
        let plain = ServeArgs {
            node_id: Some(1),
            ..Default::default()
        };
        assert_eq!(plain.resolve().unwrap().log_format, LogFormat::Text);

        std::fs::write(&file, "node_id = 1\nlog_format = \"xml\"\n").unwrap();
        assert!(with_file(None).resolve().is_err());

        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            args: ServeArgs,
        }
        let parse =
            |value| <Serve as clap::Parser>::try_parse_from(["serve", "--log-format", value]);
        assert_eq!(
            parse("json").unwrap().args.log_format,
            Some(LogFormat::Json)
        );
        assert!(parse("xml").is_err());
    }

    #[test]
    fn a_data_dir_cannot_change_owner() {
        let dir = tempfile::tempdir().unwrap();
        claim_data_dir(dir.path(), 1).unwrap();
        claim_data_dir(dir.path(), 1).unwrap();
        assert!(claim_data_dir(dir.path(), 2).is_err());
    }

    #[test]
    fn serve_help_shows_each_setting_s_default() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            args: ServeArgs,
        }
        let help = Serve::command().render_help().to_string();
        for default in [
            "[default: 127.0.0.1:7001]",
            "[default: data/n<NODE_ID>]",
            "[default: 50]",
            "[default: 100000]",
            "[default: 5000]",
            "[default: 512]",
            "[default: 30000]",
        ] {
            assert!(help.contains(default), "{default} missing from:\n{help}");
        }
    }
}
