//! HTTP over turmoil's simulated network: the listener the real ordo HTTP
//! server accepts on, the one transport ([`SimTransport`], an
//! `ordo_transport::Transport`) that the simulated clients (through
//! `ordo_client`) and the nodes send their requests through, and the dial
//! the nodes' Raft streams open their connections with ([`TurmoilDial`]).
//!
//! A request of its own gets a connection of its own, which keeps the model
//! simple and makes a partition visible at once: turmoil refuses a new
//! connection across a cut link. Raft's own messages go as in production,
//! on a kept-open stream per peer ([`node_transport`]), which a cut link
//! stalls until the message's timeout drops it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use ordo_api::secret::CLUSTER_SECRET_HEADER;
use ordo_api::LEADER_HEADER;
use ordo_node::raft_stream::{Dial, StreamingTransport};
use ordo_node::RequestPeers;
use ordo_transport::{BoxFuture, Credential, Method, Request, Response, TransportError};

/// Every node serves its API and Raft RPCs on this port.
pub const NODE_PORT: u16 = 7000;

/// A turmoil listener that axum can serve on, exactly as it serves a
/// `tokio::net::TcpListener` in production.
pub struct SimListener(pub turmoil::net::TcpListener);

impl axum::serve::Listener for SimListener {
    type Io = turmoil::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok(accepted) = self.0.accept().await {
                return accepted;
            }
            // A failed accept (a peer gone mid-handshake) is retried, as
            // axum does for a real listener.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// HTTP over turmoil's network, a connection per request: the one
/// [`ordo_transport::Transport`] of the simulation, used by the simulated
/// clients (through `ordo_client`) and by the nodes.
pub struct SimTransport;

impl ordo_transport::Transport for SimTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let addr = request.addr().to_string();
            let timeout = request.timeout;
            tokio::time::timeout(timeout, exchange(&addr, request))
                .await
                .unwrap_or(Err(TransportError::Timeout { addr, timeout }))
        })
    }
}

/// One request and its whole answer; a failure before the request could
/// leave is [`TransportError::Unreachable`].
async fn exchange(addr: &str, request: Request) -> Result<Response, TransportError> {
    let not_sent = |e: &dyn std::error::Error| TransportError::Unreachable {
        addr: addr.to_string(),
        reason: e.to_string(),
    };
    let broken = |e: hyper::Error| TransportError::Broken {
        addr: addr.to_string(),
        reason: e.to_string(),
    };
    let stream = turmoil::net::TcpStream::connect(addr)
        .await
        .map_err(|e| not_sent(&e))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| not_sent(&e))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let result = async {
        let response = sender
            .send_request(http_request(addr, request).map_err(|e| not_sent(&e))?)
            .await
            .map_err(broken)?;
        let status = response.status().as_u16();
        let header = |name: &str| -> Option<u64> {
            response
                .headers()
                .get(name)?
                .to_str()
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        let leader = header(LEADER_HEADER);
        let retry_after = header("retry-after").map(Duration::from_secs);
        let body = response.into_body().collect().await.map_err(broken)?;
        Ok(Response {
            status,
            leader,
            retry_after,
            body: body.to_bytes().to_vec(),
        })
    }
    .await;
    driver.abort();
    result
}

/// `request` as hyper's, addressed to `addr` by its path and query.
fn http_request(
    addr: &str,
    request: Request,
) -> Result<hyper::Request<Full<Bytes>>, hyper::http::Error> {
    let method = match request.method {
        Method::Get => hyper::Method::GET,
        Method::Post => hyper::Method::POST,
        Method::Put => hyper::Method::PUT,
        Method::Delete => hyper::Method::DELETE,
    };
    let path_and_query = request
        .url
        .find(addr)
        .map_or("/", |at| &request.url[at + addr.len()..]);
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(if path_and_query.is_empty() {
            "/"
        } else {
            path_and_query
        })
        .header(hyper::header::HOST, addr)
        .header(hyper::header::CONTENT_TYPE, request.content_type.as_str());
    match &request.credential {
        Some(Credential::ApiToken(token)) => {
            builder = builder.header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        }
        Some(Credential::ClusterSecret(secret)) => {
            builder = builder.header(CLUSTER_SECRET_HEADER, secret.expose());
        }
        None => {}
    }
    builder.body(Full::new(Bytes::from(request.body.unwrap_or_default())))
}

/// A node's transport in the simulation: production's streams for Raft's
/// messages, over turmoil's network, and [`SimTransport`] for the rest.
pub fn node_transport() -> StreamingTransport<TurmoilDial> {
    let requests = RequestPeers::new(Arc::new(SimTransport));
    StreamingTransport::new(TurmoilDial, Arc::new(requests))
}

/// Connections over turmoil's network.
pub struct TurmoilDial;

impl Dial for TurmoilDial {
    type Io = turmoil::net::TcpStream;

    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<Self::Io>> {
        Box::pin(turmoil::net::TcpStream::connect(addr))
    }
}
