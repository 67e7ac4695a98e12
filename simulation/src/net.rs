//! HTTP over turmoil's simulated network: the listener the real ordo HTTP
//! server accepts on, one request/response call used both by the nodes'
//! transport ([`SimTransport`]) and by the simulated clients, and the dial
//! the nodes' Raft streams open their connections with ([`TurmoilDial`]).
//!
//! A request of its own gets a connection of its own, which keeps the model
//! simple and makes a partition visible at once: turmoil refuses a new
//! connection across a cut link. Raft's own messages go as in production,
//! on a kept-open stream per peer ([`node_transport`]), which a cut link
//! stalls until the message's timeout drops it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use ordo_node::raft_stream::{Dial, StreamingTransport};
use ordo_node::transport::{BoxFuture, Transport, TransportError};

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

/// How a call failed, by what the caller can conclude.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The request never left: no connection could be made.
    NotSent(String),
    /// No answer in time; the request may have been acted on.
    Timeout,
    /// The connection broke after the request may have been sent.
    Broken(String),
}

/// Sends one HTTP request to `addr` (`host:port`) and returns the status and
/// body of the answer.
pub async fn call(
    addr: &str,
    method: hyper::Method,
    path: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), CallError> {
    let exchange = async {
        let stream = turmoil::net::TcpStream::connect(addr)
            .await
            .map_err(|e| CallError::NotSent(e.to_string()))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| CallError::NotSent(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, addr)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::NotSent(e.to_string()))?;
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| CallError::Broken(e.to_string()))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Broken(e.to_string()))?
                .to_bytes();
            Ok((status, bytes.to_vec()))
        }
        .await;
        driver.abort();
        result
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(CallError::Timeout))
}

/// A node's transport in the simulation: production's streams for Raft's
/// messages, over turmoil's network, and [`SimTransport`] for the rest.
pub fn node_transport() -> StreamingTransport<TurmoilDial> {
    StreamingTransport::new(TurmoilDial, std::sync::Arc::new(SimTransport))
}

/// Connections over turmoil's network.
pub struct TurmoilDial;

impl Dial for TurmoilDial {
    type Io = turmoil::net::TcpStream;

    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<Self::Io>> {
        Box::pin(turmoil::net::TcpStream::connect(addr))
    }
}

/// One request per call, over turmoil's network.
pub struct SimTransport;

impl Transport for SimTransport {
    fn call<'a>(
        &'a self,
        addr: &'a str,
        path: &'static str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>> {
        Box::pin(async move {
            match call(addr, hyper::Method::POST, path, body, timeout).await {
                Ok((status, body)) if (200..300).contains(&status) => Ok(body),
                Ok((status, body)) => Err(TransportError::Status {
                    addr: addr.to_string(),
                    status,
                    body: String::from_utf8_lossy(&body).into_owned(),
                }),
                Err(CallError::NotSent(reason)) => Err(TransportError::Unreachable {
                    addr: addr.to_string(),
                    reason,
                }),
                Err(CallError::Timeout) => Err(TransportError::Timeout {
                    addr: addr.to_string(),
                    timeout,
                }),
                Err(CallError::Broken(reason)) => Err(TransportError::Broken {
                    addr: addr.to_string(),
                    reason,
                }),
            }
        })
    }
}
