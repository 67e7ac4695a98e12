//! `ordo serve`'s settings: one list, [`ServeSettings`], read from flags,
//! environment variables and a TOML config file, and resolved into the
//! validated [`ServeConfig`] a node starts with.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use ordo_api::limits;
use ordo_api::secret::Secret;
use ordo_core::NodeId;
use ordo_http::{Auth, HttpLimits, Principals};
use ordo_node::{config, NodeConfig};
use ordo_tls::{ClientAuth, NodeTls, TlsFiles};
use serde::Deserialize;

use super::kafka::KafkaAddrs;
use crate::logging::LogFormat;
use crate::secrets::{SecretSetting, API_TOKEN_ENV, CLUSTER_SECRET_ENV};

/// Where a node listens unless told otherwise: node 1 of `make cluster`.
const DEFAULT_LISTEN: &str = "127.0.0.1:7001";

/// The node's settings, one list for three sources: each is a flag, an
/// environment variable (`ORDO_` and the flag's name) and, `--config`
/// aside, a key of the config file (the flag's name in snake_case). None
/// has a default here (`--join` is off unless set): an unset flag must be
/// told from one given, since flags and environment win over the file and
/// the file over the defaults ([`ServeSettings::resolve`]).
#[derive(clap::Args, Deserialize, Debug, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ServeSettings {
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
    #[arg(long, env = "ORDO_JOIN", value_parser = clap::builder::BoolishValueParser::new())]
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
    /// A TOML file of principals (bearer tokens, their SHA-256 or client
    /// certificates' common names) and what each may read, append, which
    /// consumer groups it may use and whether it may administer the
    /// cluster; re-read when it changes. With it (or an API token) every
    /// /v1/* request needs a principal.
    #[arg(long, env = "ORDO_ACL_FILE", value_name = "FILE")]
    acl_file: Option<PathBuf>,
    /// This node's certificate chain (PEM). With it the node serves HTTPS
    /// only, to clients and peers alike, and reaches its peers over HTTPS;
    /// it needs --tls-key and --tls-ca, and is re-read when it changes.
    #[arg(long, env = "ORDO_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "ORDO_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// The CA bundle (PEM) that signed the cluster's node certificates and
    /// any client certificates: a peer without a certificate it signed
    /// cannot vote, append or join.
    #[arg(long, env = "ORDO_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Whether clients must present a certificate the CA signed: `none`
    /// (a token names them), `optional` (a certificate's common name names
    /// a principal of --acl-file) or `required` (no connection without
    /// one). Peers always present theirs. Default: none.
    #[arg(
        long,
        env = "ORDO_TLS_CLIENT_AUTH",
        value_name = "none|optional|required"
    )]
    tls_client_auth: Option<ClientAuth>,
    /// Start even though --listen is reachable beyond loopback without TLS
    /// or a cluster secret (anyone who reaches the port could then send
    /// this node Raft messages). For a trusted network only.
    #[arg(long, env = "ORDO_INSECURE", value_parser = clap::builder::BoolishValueParser::new())]
    insecure: bool,
    /// Also serve the Kafka protocol on this address (`HOST:PORT`): Kafka
    /// clients (kcat, librdkafka, the Java client) produce to and consume
    /// from this node's topics. Default: no Kafka listener.
    #[arg(long, env = "ORDO_KAFKA_LISTEN", value_name = "HOST:PORT")]
    kafka_listen: Option<String>,
    /// The address Kafka clients are told to connect to for this node
    /// (default: --kafka-listen, which must then name a host clients reach,
    /// not 0.0.0.0 or ::).
    #[arg(long, env = "ORDO_KAFKA_ADVERTISE", value_name = "HOST:PORT")]
    kafka_advertise: Option<String>,
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
    #[serde(skip)]
    config: Option<PathBuf>,
    /// ORDO_CLUSTER_SECRET, read by [`run`](super::run) (no flag takes a secret itself).
    #[arg(skip)]
    #[serde(skip)]
    pub(super) cluster_secret: Option<Secret>,
    /// ORDO_API_TOKEN, read by [`run`](super::run).
    #[arg(skip)]
    #[serde(skip)]
    pub(super) api_token: Option<Secret>,
}

/// Everything `serve` needs, validated.
#[derive(Debug)]
pub(super) struct ServeConfig {
    pub(super) listen: String,
    pub(super) data_dir: PathBuf,
    pub(super) node: NodeConfig,
    pub(super) store: ordo_store::StoreOptions,
    pub(super) auth: Auth,
    /// The node's certificate, key and CA, when it serves HTTPS.
    pub(super) tls: Option<NodeTls>,
    pub(super) http: HttpLimits,
    /// The Kafka listener's addresses, if the node runs one.
    pub(super) kafka: Option<KafkaAddrs>,
    pub(super) log_format: LogFormat,
    /// The runtime's worker threads; `None`: one per core.
    pub(super) worker_threads: Option<usize>,
    /// See `--storage-failure-exit-after-ms`.
    pub(super) storage_failure_exit_after: Duration,
}

impl ServeSettings {
    /// The settings given, each unset one from the config file, validated
    /// and with defaults for the rest.
    pub(super) fn resolve(self) -> anyhow::Result<ServeConfig> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => ServeSettings::default(),
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
        let join = self.join || file.join;
        // A joining node's --peers only says where the cluster is.
        if !join && !peers.is_empty() && !peers.contains_key(&node_id) {
            bail!("--peers does not list this node's id {node_id} (to add it to a running cluster, start it with --join)");
        }
        let advertise = self
            .advertise
            .or(file.advertise)
            .or_else(|| peers.get(&node_id).cloned())
            .unwrap_or_else(|| listen.clone());
        let kafka = KafkaAddrs::resolve(
            self.kafka_listen.or(file.kafka_listen),
            self.kafka_advertise.or(file.kafka_advertise),
            &listen,
        )?;
        let mut node = NodeConfig::new(node_id, advertise).with_peers(peers);
        node.join = join;
        // Every node tells clients the leader's Kafka address, so each
        // must know the others'.
        node.kafka_advertise = kafka.as_ref().map(|kafka| kafka.advertise.clone());
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
        let cluster_secret = SecretSetting {
            flag: "--cluster-secret-file",
            env: CLUSTER_SECRET_ENV,
            file: self.cluster_secret_file.as_deref(),
            value: self.cluster_secret,
            config_file: file.cluster_secret_file.as_deref(),
        }
        .resolve()?;
        let api_token = SecretSetting {
            flag: "--api-token-file",
            env: API_TOKEN_ENV,
            file: self.api_token_file.as_deref(),
            value: self.api_token,
            config_file: file.api_token_file.as_deref(),
        }
        .resolve()?;
        let principals = Principals::load(self.acl_file.or(file.acl_file), api_token)?;
        let tls = tls(
            [
                self.tls_cert.or(file.tls_cert),
                self.tls_key.or(file.tls_key),
                self.tls_ca.or(file.tls_ca),
            ],
            self.tls_client_auth.or(file.tls_client_auth),
        )?;
        let insecure = self.insecure || file.insecure;
        let exposed = reachable_beyond_loopback(&listen);
        let unprotected = cluster_secret.is_none() && tls.is_none();
        if exposed && unprotected && !insecure {
            bail!(
                "--listen {listen} is reachable beyond this machine, and without TLS or a \
                 cluster secret anyone who reaches it could send this node Raft messages: \
                 set --tls-cert, --tls-key and --tls-ca, or --cluster-secret-file (or \
                 {CLUSTER_SECRET_ENV}), or start with --insecure (ORDO_INSECURE=1) on a \
                 network you trust"
            );
        }
        let auth = Auth {
            insecure: exposed && unprotected,
            cluster_secret,
            principals,
            peer_certificate_required: tls.is_some(),
            certificate_principals: tls
                .as_ref()
                .is_some_and(|tls| tls.client_auth() != ClientAuth::None),
            tls_client_auth: tls.as_ref().map(|tls| tls.client_auth().to_string()),
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
            tls,
            http,
            kafka,
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

/// The node's TLS from `[cert, key, ca]`: all three, or none (and then no
/// client-auth mode either).
fn tls(
    files: [Option<PathBuf>; 3],
    client_auth: Option<ClientAuth>,
) -> anyhow::Result<Option<NodeTls>> {
    match files {
        [None, None, None] => match client_auth {
            Some(_) => bail!("--tls-client-auth needs --tls-cert, --tls-key and --tls-ca"),
            None => Ok(None),
        },
        [Some(cert), Some(key), Some(ca)] => {
            let files = TlsFiles { cert, key, ca };
            Ok(Some(NodeTls::load(files, client_auth.unwrap_or_default())?))
        }
        _ => bail!("TLS needs all three of --tls-cert, --tls-key and --tls-ca"),
    }
}

/// Whether `listen` (`host:port`) takes connections from beyond this
/// machine: any address it names is not loopback (`0.0.0.0` and `::`
/// are every interface). One that does not resolve counts as reachable.
fn reachable_beyond_loopback(listen: &str) -> bool {
    use std::net::ToSocketAddrs;
    match listen.to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            addrs.is_empty() || addrs.iter().any(|addr| !addr.ip().is_loopback())
        }
        Err(_) => true,
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

#[cfg(test)]
mod tests;
