//! `ordo serve`: read the settings (`settings.rs`) into a validated node
//! config, open storage, start the node and serve HTTP, and Kafka beside
//! it with `--kafka-listen` (`kafka.rs`), until SIGTERM or Ctrl-C.

mod kafka;
pub(crate) mod settings;

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use metrics_exporter_prometheus::PrometheusBuilder;
use ordo_core::NodeId;
use ordo_http::AppState;
use ordo_node::storage_fault::EXIT_STORAGE_FAILED;
use ordo_node::{node_transport, Node};
use ordo_tls::NodeTls;

use crate::logging;
use crate::secrets::{self, API_TOKEN_ENV, CLUSTER_SECRET_ENV};
use settings::ServeConfig;
pub use settings::ServeSettings;

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often the ACL file and TLS certificates are looked at for changes.
const FILE_WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// The file in the data dir that pins which node id owns it.
const NODE_ID_FILE: &str = "node_id";
/// The store's directory inside the data dir.
pub(crate) const STORE_DIR: &str = "sled";

/// Why `ordo serve` ended with an error its supervisor should answer by
/// starting it again: its storage failed, or could not be opened. `main`
/// exits with [`EXIT_STORAGE_FAILED`] for it.
#[derive(Debug, thiserror::Error)]
#[error("storage failed: {cause}")]
pub struct StorageFailed {
    cause: String,
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
pub fn run(mut args: ServeSettings) -> anyhow::Result<()> {
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
    if config.auth.cluster_secret.is_none() && config.tls.is_none() {
        tracing::warn!(
            "neither TLS nor a cluster secret (--tls-cert, --cluster-secret-file or \
             {CLUSTER_SECRET_ENV}): anyone who can reach this node's port can send it \
             Raft messages"
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
    // Bound before the store opens, as --listen is: a taken port stops the
    // start at once, with the address in the error.
    let kafka_listener = match &config.kafka {
        Some(kafka) => Some(
            tokio::net::TcpListener::bind(&kafka.listen)
                .await
                .with_context(|| format!("binding the Kafka listener {}", kafka.listen))?,
        ),
        None => None,
    };
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
    let transport = node_transport(
        config.auth.cluster_secret.as_ref(),
        config.tls.as_ref().map(NodeTls::peer_client_config),
    )?;
    let node_id = config.node.id;
    let node = Node::start(config.node, log_store, state_machine, transport).await?;
    tracing::info!(
        node = node_id,
        listen = %config.listen,
        kafka_listen = config.kafka.as_ref().map(|kafka| kafka.listen.as_str()),
        kafka_advertise = config.kafka.as_ref().map(|kafka| kafka.advertise.as_str()),
        data_dir = %config.data_dir.display(),
        cluster_secret = config.auth.cluster_secret.is_some(),
        tls_certificate_sha256 = config.tls.as_ref().map(NodeTls::certificate_sha256),
        protections = ?config.auth.protections(),
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
    let acl_watch = config
        .auth
        .principals
        .as_ref()
        .map(|principals| principals.watch(FILE_WATCH_INTERVAL));
    let (kafka_stop_tx, kafka_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let kafka_server = match (kafka_listener, config.kafka) {
        (Some(listener), Some(addrs)) => {
            let kafka = ordo_kafka::KafkaConfig {
                advertise: addrs.advertise,
                limits: kafka_limits(&config.http),
                tls: config.tls.clone(),
                principals: config.auth.principals.clone(),
                certificate_principals: config.auth.certificate_principals,
            };
            Some(tokio::spawn(ordo_kafka::serve(
                node.clone(),
                listener,
                kafka,
                async move {
                    let _ = kafka_stop_rx.await;
                },
            )))
        }
        _ => None,
    };
    let state = AppState::new(node.clone(), Some(prometheus), config.auth);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = ordo_http::tcp_nodelay(listener);
    let tls_watch = config
        .tls
        .as_ref()
        .map(|tls| tls.watch(FILE_WATCH_INTERVAL));
    let server = tokio::spawn(ordo_http::serve_tls(
        listener,
        state,
        config.http,
        config.tls,
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
    let _ = kafka_stop_tx.send(());
    // Both servers end within one grace, side by side.
    let kafka_stopped = async {
        if let Some(server) = kafka_server {
            server_stopped("Kafka", server).await;
        }
    };
    let ((), ()) = tokio::join!(server_stopped("HTTP", server), kafka_stopped);
    upkeep.abort();
    leader_changes.abort();
    for watch in [acl_watch, tls_watch].into_iter().flatten() {
        watch.abort();
    }
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

/// Waits up to [`SHUTDOWN_GRACE`] for a server told to stop, saying how it
/// ended if not cleanly (it is aborted past the grace, as the process ends).
async fn server_stopped(what: &str, server: tokio::task::JoinHandle<std::io::Result<()>>) {
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "{what} server stopped with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "{what} server task failed"),
        Err(_) => tracing::warn!("{what}: in-flight requests did not finish in time"),
    }
}

/// The Kafka listener obeys the HTTP server's limits (`--max-inflight-requests`,
/// `--max-streams`, `--request-timeout-ms`), as issue 18 asks.
fn kafka_limits(http: &ordo_http::HttpLimits) -> ordo_kafka::KafkaLimits {
    ordo_kafka::KafkaLimits {
        max_inflight_requests: http.max_inflight_requests,
        max_streams: http.max_streams,
        request_timeout: http.request_timeout,
        ..ordo_kafka::KafkaLimits::default()
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
    fn a_data_dir_cannot_change_owner() {
        let dir = tempfile::tempdir().unwrap();
        claim_data_dir(dir.path(), 1).unwrap();
        claim_data_dir(dir.path(), 1).unwrap();
        assert!(claim_data_dir(dir.path(), 2).is_err());
    }
}
