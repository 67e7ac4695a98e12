//! `LauncherError`: why a local cluster could not be started, driven or
//! waited on. An underlying I/O error is the `source`, not repeated in the
//! message, so a caller can print the chain once.

use std::path::PathBuf;
use std::process::ExitStatus;

use ordo_client::ClientError;
use ordo_core::NodeId;

use crate::config::MAX_NODES;

#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    #[error("TLS: {0}")]
    Tls(#[from] ordo_tls::TlsError),
    #[error("a local cluster has 1 to {MAX_NODES} nodes, not {0}")]
    NodeCount(usize),
    #[error("{given} ports given for {nodes} nodes")]
    PortCount { given: usize, nodes: usize },
    #[error("port {port} on 127.0.0.1 is not free (is another cluster running?)")]
    PortInUse { port: u16, source: std::io::Error },
    #[error("no node {0} in this cluster")]
    UnknownNode(NodeId),
    #[error("node {0} is already running")]
    AlreadyRunning(NodeId),
    #[error("could not start {}", binary.display())]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    #[error("{context}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// A node died on its own while the launcher expected it up.
    #[error("node {id} exited unexpectedly ({status}){hint}")]
    NodeExited {
        id: NodeId,
        status: ExitStatus,
        /// Where to look, e.g. " (see data/n1.log)"; empty if output is not in a file.
        hint: String,
    },
    #[error("no leader agreed on within {timeout_ms} ms; last seen: {last_seen}")]
    NoLeader { timeout_ms: u64, last_seen: String },
    #[error("no node of the cluster is running")]
    NoRunningNodes,
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl LauncherError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LauncherError::Io {
            context: context.into(),
            source,
        }
    }
}
