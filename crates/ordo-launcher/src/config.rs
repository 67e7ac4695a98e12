//! What to launch: [`LauncherConfig`], and the limits and timings the
//! launcher lives by.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ordo_api::secret::Secret;
use ordo_core::NodeId;

/// Largest local cluster: Raft clusters are odd-sized and small; more than
/// nine processes on one machine measures the machine, not ordo.
pub const MAX_NODES: usize = 9;
/// Every node listens on loopback only.
pub const LOOPBACK_HOST: &str = "127.0.0.1";
/// How long a node gets by default to exit after SIGTERM before it is
/// SIGKILLed: enough to flush and close sled cleanly.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);
/// Pause between checks of a stopping process, or of a forming cluster.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Deadline for one status probe while waiting for a leader.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where a node's stdout and stderr go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeOutput {
    /// `base_dir/n{id}.log`, appended to across restarts.
    LogFiles,
    /// The launcher's own stdout and stderr, unchanged.
    Inherit,
    /// The launcher's stdout and stderr, each line prefixed with `[n{id}] `.
    Prefixed,
}

/// Whether each node also runs a Kafka listener (`ordo serve
/// --kafka-listen`), and on which loopback ports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KafkaListeners {
    /// No Kafka listener.
    #[default]
    Off,
    /// One per node, each on a free port (tests).
    FreePorts,
    /// One per node on these ports, in id order (`make cluster`: 9092 up).
    Ports(Vec<u16>),
}

/// How to launch a local cluster.
#[derive(Debug, Clone)]
pub struct LauncherConfig {
    /// The `ordo` executable to run as `ordo serve`.
    pub binary: PathBuf,
    /// How many nodes; their ids are 1..=nodes.
    pub nodes: usize,
    /// Holds each node's data dir `n{id}/`, log `n{id}.log` and pid file
    /// `n{id}.pid`.
    pub base_dir: PathBuf,
    /// One port per node, in id order; `None` picks free ports.
    pub ports: Option<Vec<u16>>,
    pub output: NodeOutput,
    /// Extra environment for every node (e.g. `RUST_LOG`), on top of the
    /// launcher's own.
    pub env: Vec<(String, String)>,
    /// The cluster secret every node is started with (as
    /// `ORDO_CLUSTER_SECRET`, replacing any `ORDO_CLUSTER_SECRET_FILE` the
    /// launcher's environment has); `None`: whatever that environment says.
    pub cluster_secret: Option<Secret>,
    /// The API token every node is started with (as `ORDO_API_TOKEN`,
    /// replacing any `ORDO_API_TOKEN_FILE`), and that the launcher's own
    /// probes and clients send.
    pub api_token: Option<Secret>,
    /// Every node serves HTTPS with a certificate the launcher makes (and
    /// the launcher's clients trust): see [`LauncherConfig::certs_dir`].
    pub tls: bool,
    /// Linux: the kernel SIGKILLs each node when the thread that spawned it
    /// exits, so not even a SIGKILLed test run leaves orphans. Spawn (and
    /// restart) nodes from a thread that outlives the cluster: a test's
    /// thread or a runtime worker, not a `spawn_blocking` task.
    pub die_with_launcher: bool,
    /// How long [`crate::LocalCluster::stop`] waits after SIGTERM before
    /// it SIGKILLs.
    pub stop_grace: Duration,
    /// Kafka listeners beside the HTTP ones.
    pub kafka: KafkaListeners,
}

/// With [`LauncherConfig::tls`]: where the development CA (`ca.crt`, kept
/// across launches) and each node's `node-N.crt`/`.key` are, for a cluster
/// whose base dir is `base_dir`.
pub fn certs_dir(base_dir: &Path) -> PathBuf {
    base_dir.join("certs")
}

/// The development CA's certificate in [`certs_dir`].
pub fn ca_file(base_dir: &Path) -> PathBuf {
    certs_dir(base_dir).join("ca.crt")
}

/// Node `id`'s TLS settings in [`certs_dir`], as `ordo serve` names them:
/// each flag, its environment variable and the file.
pub fn tls_settings(base_dir: &Path, id: NodeId) -> [(&'static str, &'static str, PathBuf); 3] {
    let certs = certs_dir(base_dir);
    [
        (
            "--tls-cert",
            "ORDO_TLS_CERT",
            certs.join(format!("node-{id}.crt")),
        ),
        (
            "--tls-key",
            "ORDO_TLS_KEY",
            certs.join(format!("node-{id}.key")),
        ),
        ("--tls-ca", "ORDO_TLS_CA", ca_file(base_dir)),
    ]
}

impl LauncherConfig {
    /// [`certs_dir`] of this cluster.
    pub fn certs_dir(&self) -> PathBuf {
        certs_dir(&self.base_dir)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// `nodes` nodes of `binary` under `base_dir`, on free ports, output to
    /// log files.
    pub fn new(binary: impl Into<PathBuf>, nodes: usize, base_dir: impl Into<PathBuf>) -> Self {
        LauncherConfig {
            binary: binary.into(),
            nodes,
            base_dir: base_dir.into(),
            ports: None,
            output: NodeOutput::LogFiles,
            env: Vec::new(),
            cluster_secret: None,
            api_token: None,
            tls: false,
            die_with_launcher: true,
            stop_grace: DEFAULT_STOP_GRACE,
            kafka: KafkaListeners::Off,
        }
    }
}
