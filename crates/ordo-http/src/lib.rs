//! ordo's HTTP API (contract v1): the client API, the internal Raft RPC
//! endpoints and the operations endpoints, as one axum router.
//!
//! [`serve`] takes a listener the caller bound (a real `TcpListener`, or the
//! simulation's), so tests pick their own ports and nothing here binds.

mod error;
mod extract;
mod layers;
mod routes;
#[cfg(test)]
mod testing;

use std::future::Future;
use std::sync::Arc;

use axum::serve::Listener;
use metrics_exporter_prometheus::PrometheusHandle;
use ordo_node::Node;

pub use error::ApiError;

/// Largest internal RPC body (snapshots travel in one request).
pub const MAX_RAFT_RPC_BODY_BYTES: usize = 1024 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub node: Arc<Node>,
    /// Renders `/metrics`; `None` where no Prometheus recorder is installed
    /// (the process-wide recorder belongs to the binary, not to a node).
    pub prometheus: Option<PrometheusHandle>,
}

/// The whole API as one router.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serves the API on `listener` until `shutdown` completes, then ends every
/// stream, finishes in-flight requests and returns.
/// `listener` with Nagle's algorithm off on every accepted connection: a
/// reply is sent as soon as it is written, not held back for the ACK of the
/// previous segment (clients and peers keep their connections open and
/// exchange small messages).
pub fn tcp_nodelay(
    listener: tokio::net::TcpListener,
) -> impl Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "setting TCP_NODELAY");
        }
    })
}

pub async fn serve<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    // Streams never finish by themselves; they end on this signal, so the
    // graceful shutdown below is not held up by them.
    let (streams_tx, streams_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = streams_tx.send(true);
    };
    let app = router(state).layer(axum::Extension(routes::stream::StreamShutdown(streams_rx)));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
