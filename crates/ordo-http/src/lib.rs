//! ordo's HTTP API (contract v1): the client API, the internal Raft RPC
//! endpoints and the operations endpoints, as one axum router; `auth`
//! guards the first two: the client API with the principals of the ACL
//! file and the API token (`acl`, `principals`) and the rights each route
//! needs (`rights`, DESIGN.md §3b), the Raft RPCs with the cluster secret
//! and peer certificates.
//!
//! [`serve`] takes a listener the caller bound (a real `TcpListener`, or the
//! simulation's), so tests pick their own ports and nothing here binds.

pub mod acl;
mod auth;
#[doc(hidden)]
pub mod decode;
mod error;
mod extract;
mod layers;
mod limits;
pub mod metrics;
mod principals;
pub mod rights;
mod routes;
#[cfg(test)]
mod testing;

use std::future::Future;
use std::sync::Arc;

use axum::serve::Listener;
use metrics_exporter_prometheus::PrometheusHandle;
use ordo_node::Node;
use tracing::Instrument;

pub use auth::{Auth, ClientCertificate};
pub use error::ApiError;
pub use limits::HttpLimits;
pub use principals::{Principals, PrincipalsError, API_TOKEN_PRINCIPAL};

/// Largest internal RPC body: an AppendEntries batch can carry many entries
/// of up to a full client request each (snapshots travel in 4 MiB chunks).
pub const MAX_RAFT_RPC_BODY_BYTES: usize = 1024 * 1024 * 1024;

/// What every handler can reach ([`AppStateParts`]). Cheap to clone, one
/// reference count: axum clones it for each extractor and middleware of
/// every request, and cloning the parts one by one (several counts, shared
/// by every core) showed in profiles.
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

pub struct AppStateParts {
    pub node: Arc<Node>,
    /// Renders `/metrics`; `None` where no Prometheus recorder is installed
    /// (the process-wide recorder belongs to the binary, not to a node).
    pub prometheus: Option<PrometheusHandle>,
    /// The cluster secret and API token this node requires, if any.
    pub auth: Auth,
    /// What [`serve_with_limits`] shares with the routes it serves; `None`
    /// for a router run otherwise (tests), which then applies no limits
    /// and whose streams end only with their clients.
    serving: Option<Serving>,
}

/// A running server's request caps and its signal that ends every stream.
/// Kept in the state rather than added to each request as extensions:
/// that cost a map allocation and several shared reference counts per
/// request.
pub(crate) struct Serving {
    limiter: limits::Limiter,
    /// Turns `true` when the server begins shutting down.
    streams_end: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    pub fn new(node: Arc<Node>, prometheus: Option<PrometheusHandle>, auth: Auth) -> AppState {
        AppState(Arc::new(AppStateParts {
            node,
            prometheus,
            auth,
            serving: None,
        }))
    }

    /// This state for a server running with `serving`.
    fn with_serving(&self, serving: Serving) -> AppState {
        AppState(Arc::new(AppStateParts {
            node: Arc::clone(&self.node),
            prometheus: self.prometheus.clone(),
            auth: self.auth.clone(),
            serving: Some(serving),
        }))
    }
}

impl AppStateParts {
    /// The caps requests are held to, when run by [`serve_with_limits`].
    pub(crate) fn limiter(&self) -> Option<&limits::Limiter> {
        self.serving.as_ref().map(|serving| &serving.limiter)
    }

    /// A signal that turns `true` when the server begins shutting down,
    /// when run by [`serve_with_limits`].
    pub(crate) fn streams_end(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.serving
            .as_ref()
            .map(|serving| serving.streams_end.clone())
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

/// The whole API as one router.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}

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

/// [`serve_with_limits`] with the default [`HttpLimits`].
pub async fn serve<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    serve_with_limits(listener, state, HttpLimits::default(), shutdown).await
}

/// [`serve_tls`] over plain HTTP.
pub async fn serve_with_limits<L>(
    listener: L,
    state: AppState,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    serve_tls(listener, state, limits, None, shutdown).await
}

/// Serves the API on `listener` under `limits`, over HTTPS when `tls` is
/// given (for clients and peers alike), until `shutdown` completes, then
/// ends every stream, finishes in-flight requests and returns.
///
/// HTTP/1.1 only (what ordo's clients and peers speak), through hyper
/// directly rather than `axum::serve`, for the header-read timeout: a
/// client that has not sent a request's headers within it (a slowloris
/// trickling a byte at a time, or an idle keep-alive connection) is
/// disconnected, so no client holds a connection or a task for long. The
/// TLS handshake runs in the connection's own task, bounded by the same
/// timeout, so a client that stalls it holds up no other; one that is not
/// TLS at all (plain HTTP to an HTTPS port) fails it and is disconnected.
pub async fn serve_tls<L>(
    mut listener: L,
    state: AppState,
    limits: HttpLimits,
    tls: Option<ordo_tls::NodeTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    // Streams never finish by themselves; they end on this signal, so the
    // graceful shutdown below is not held up by them.
    let (streams_tx, streams_end) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let handshake_timeout = limits.header_read_timeout;
    let node = state.node.id();
    let app = router(state.with_serving(Serving {
        limiter: limits::Limiter::new(limits),
        streams_end,
    }));
    // Each connection holds a receiver; once they are all gone, every
    // connection has finished (hyper_util's `GracefulShutdown` does not
    // take a connection that can be upgraded, as a Raft stream's is).
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let connection = Connection {
            http: http.clone(),
            app: app.clone(),
            closing: closing.clone(),
        };
        // Made once per connection, not per request (see `layers::observe`).
        let span = tracing::info_span!("connection", node, peer = ?addr);
        let serving = {
            let tls = tls.clone();
            async move {
                let Some(tls) = tls else {
                    return connection.serve(io, None).await;
                };
                match tokio::time::timeout(handshake_timeout, tls.accept(io)).await {
                    Ok(Ok((io, identity))) => {
                        let certificate = identity.map(|identity| ClientCertificate {
                            common_name: identity.common_name,
                            node: identity.node,
                        });
                        connection.serve(io, certificate).await;
                    }
                    // Plain HTTP, a certificate the CA did not sign, a
                    // scanner: nothing to answer over a broken handshake.
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("no TLS handshake within the header-read timeout"),
                }
            }
        };
        tokio::spawn(serving.instrument(span));
    }
    drop(listener);
    drop(closing);
    let _ = streams_tx.send(true);
    let _ = closing_tx.send(true);
    closing_tx.closed().await;
    Ok(())
}

/// What serving one accepted connection needs.
struct Connection {
    http: hyper::server::conn::http1::Builder,
    app: axum::Router,
    closing: tokio::sync::watch::Receiver<bool>,
}

impl Connection {
    /// Serves HTTP/1.1 on `io` until the client leaves or the server
    /// closes; every request carries `certificate`, the client's verified
    /// certificate, if it showed one.
    async fn serve<Io>(self, io: Io, certificate: Option<ClientCertificate>)
    where
        Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        use hyper_util::rt::TokioIo;
        use hyper_util::service::TowerToHyperService;
        use tower::ServiceExt;

        let Connection {
            http,
            app,
            mut closing,
        } = self;
        let app = app.map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
            if let Some(certificate) = &certificate {
                request.extensions_mut().insert(certificate.clone());
            }
            request
        });
        let connection = http
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(app))
            .with_upgrades();
        let mut connection = std::pin::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            () = async { drop(closing.wait_for(|closing| *closing).await) } => {
                // Finishes the request in flight, then closes.
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        // A malformed request already got hyper's 4xx; a timed-out or
        // vanished client needs no answer.
        if let Err(e) = ended {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}
