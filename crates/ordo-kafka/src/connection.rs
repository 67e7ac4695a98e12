//! One client's connection: accepted (through TLS when the node has it),
//! then frames read one at a time and answered in order, as Kafka answers
//! a connection's requests (a client that pipelines several gets the
//! answers in the order it sent them).
//!
//! The limits: a frame larger than `max_request_bytes` closes the
//! connection, as does one that takes longer than `request_timeout` to
//! arrive, a connection idle past `idle_timeout`, and a client that does
//! not take its answer within `request_timeout` (it stopped reading). Every
//! request holds one of `max_inflight_requests` permits while it runs. A
//! frame that is not a request closes the connection; a request the
//! listener does not serve is answered (`frame`). None of it can harm the
//! node: every task of a connection ends with it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tracing::Instrument;

use crate::frame::{self, FrameError};
use crate::session::Session;
use crate::{dispatch, Broker};

/// Accepts connections until `shutdown`.
pub(crate) async fn accept_loop(
    broker: Arc<Broker>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    let ticks = crate::groups::start(&broker);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: keep serving the
                // connections there are; try again shortly.
                tracing::warn!(error = %e, "kafka listener: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        connections.spawn(connect(Arc::clone(&broker), tcp, peer));
    }
    connections.shutdown().await;
    ticks.abort();
    Ok(())
}

async fn connect(broker: Arc<Broker>, tcp: TcpStream, peer: SocketAddr) {
    crate::metrics::connections(1.0);
    let span = tracing::debug_span!("kafka", node = broker.node.id(), %peer);
    open(&broker, tcp, peer).instrument(span).await;
    crate::metrics::connections(-1.0);
}

async fn open(broker: &Arc<Broker>, tcp: TcpStream, peer: SocketAddr) {
    let mut session = Session {
        client_host: format!("/{}", peer.ip()),
        ..Session::default()
    };
    let Some(tls) = broker.config.tls.clone() else {
        serve_connection(broker, tcp, peer, session).await;
        return;
    };
    match timeout(broker.config.limits.request_timeout, tls.accept(tcp)).await {
        Ok(Ok((stream, identity))) => {
            if let Some(name) = identity.and_then(|identity| identity.common_name) {
                session.certificate(broker, &name);
            }
            serve_connection(broker, stream, peer, session).await;
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "kafka: TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "kafka: TLS handshake timed out"),
    }
}

/// Why a connection ended, for its log line.
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("the client closed it")]
    ByClient,
    #[error("idle for longer than the idle timeout")]
    Idle,
    #[error("a frame of {size} bytes; the limit is {limit}")]
    TooLarge { size: i64, limit: usize },
    #[error("a frame did not arrive within the request timeout")]
    SlowFrame,
    #[error("the client did not take its answer within the request timeout")]
    SlowReader,
    #[error("{0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Frame(FrameError),
    #[error("{0:?} before authenticating")]
    Unauthenticated(ApiKey),
    #[error("SASL authentication failed")]
    SaslFailed,
    #[error("an answer did not encode: {0}")]
    Encode(String),
}

async fn serve_connection<S>(broker: &Broker, stream: S, peer: SocketAddr, mut session: Session)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let closed = loop {
        let frame = match read_frame(broker, &mut reader).await {
            Ok(frame) => frame,
            Err(closed) => break closed,
        };
        if session.bare_sasl_token_next {
            session.bare_sasl_token_next = false;
            if session.plain(broker, &frame).is_err() {
                break Closed::SaslFailed;
            }
            // SASL over SaslHandshake v0: an empty frame says it worked.
            if let Err(closed) = write(broker, &mut writer, &0i32.to_be_bytes()).await {
                break closed;
            }
            continue;
        }
        let answer = match frame::decode_request(frame) {
            Ok(request) => {
                let key = request.key;
                if !session.authenticated(broker) && !dispatch::before_authentication(key) {
                    crate::metrics::request(Some(key), "closed");
                    break Closed::Unauthenticated(key);
                }
                crate::metrics::request(Some(key), "answered");
                let Ok(_permit) = broker.inflight.acquire().await else {
                    break Closed::ByClient;
                };
                match dispatch::answer(broker, &mut session, request).await {
                    Ok(Some(bytes)) => bytes,
                    Ok(None) => continue, // acks=0: no answer is sent
                    Err(dispatch::Failed::Encode(e)) => break Closed::Encode(e),
                    Err(dispatch::Failed::Sasl) => break Closed::SaslFailed,
                    Err(dispatch::Failed::SaslAnswered(bytes)) => {
                        let _ = write(broker, &mut writer, &bytes).await;
                        break Closed::SaslFailed;
                    }
                }
            }
            Err(FrameError::Unsupported {
                correlation_id,
                api_key,
                ..
            }) => {
                crate::metrics::request(ApiKey::try_from(api_key).ok(), "unsupported");
                frame::unsupported_version(correlation_id)
            }
            Err(e) => {
                crate::metrics::request(None, "closed");
                break Closed::Frame(e);
            }
        };
        if let Err(closed) = write(broker, &mut writer, &answer).await {
            break closed;
        }
    };
    match closed {
        Closed::ByClient | Closed::Idle => {
            tracing::trace!(%peer, "kafka: connection closed: {closed}")
        }
        _ => tracing::debug!(%peer, "kafka: connection closed: {closed}"),
    }
}

/// The next frame's bytes (after its size).
async fn read_frame<R: AsyncRead + Unpin>(
    broker: &Broker,
    reader: &mut R,
) -> Result<Bytes, Closed> {
    let limits = &broker.config.limits;
    let mut size = [0u8; 4];
    match timeout(limits.idle_timeout, reader.read_exact(&mut size)).await {
        Err(_) => return Err(Closed::Idle),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(Closed::ByClient)
        }
        Ok(Err(e)) => return Err(Closed::Io(e)),
        Ok(Ok(_)) => {}
    }
    let size = i32::from_be_bytes(size);
    if size < 0 || size as usize > limits.max_request_bytes {
        return Err(Closed::TooLarge {
            size: size.into(),
            limit: limits.max_request_bytes,
        });
    }
    // Read as it arrives: a client that announces a large frame and sends
    // it slowly holds only what it has sent.
    let mut frame = Vec::with_capacity((size as usize).min(64 * 1024));
    let mut limited = (&mut *reader).take(size as u64);
    let read = limited.read_to_end(&mut frame);
    match timeout(limits.request_timeout, read).await {
        Err(_) => Err(Closed::SlowFrame),
        Ok(Err(e)) => Err(Closed::Io(e)),
        Ok(Ok(n)) if n < size as usize => Err(Closed::ByClient),
        Ok(Ok(_)) => Ok(Bytes::from(frame)),
    }
}

async fn write<W: AsyncWrite + Unpin>(
    broker: &Broker,
    writer: &mut W,
    bytes: &[u8],
) -> Result<(), Closed> {
    let written = async {
        writer.write_all(bytes).await?;
        writer.flush().await
    };
    match timeout(broker.config.limits.request_timeout, written).await {
        Err(_) => Err(Closed::SlowReader),
        Ok(Err(e)) => Err(Closed::Io(e)),
        Ok(Ok(())) => Ok(()),
    }
}
