//! Tests of both ends of a stream: a fake peer on loopback, and frames
//! written and read back.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::*;
use crate::peers::{PeerAnswer, PeerCall, PeerError, Peers};
use crate::rpc::RpcKind;

/// How the fake peer behaves.
#[derive(Clone, Copy)]
enum Peer {
    /// Takes the upgrade and echoes every message, refusing an empty one.
    Echo,
    /// Takes the upgrade, answers one message, and closes.
    OneAnswerThenClose,
    /// An older node: no such path.
    NoStreams,
}

/// A peer on loopback; counts the connections made to it.
async fn fake_peer(behaviour: Peer) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut io, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                // The upgrade request: up to its blank line.
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    match io.read_u8().await {
                        Ok(byte) => head.push(byte),
                        Err(_) => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                assert!(head.starts_with("get /raft/stream http/1.1"), "{head}");
                assert!(head.contains("upgrade: ordo-raft/1"), "{head}");
                if let Peer::NoStreams = behaviour {
                    let refusal = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
                    let _ = io.write_all(refusal.as_bytes()).await;
                    return;
                }
                let switch = "HTTP/1.1 101 Switching Protocols\r\n\
                              connection: upgrade\r\nupgrade: ordo-raft/1\r\n\r\n";
                io.write_all(switch.as_bytes()).await.expect("switch");
                while let Ok((code, body)) = read_frame(&mut io, 1024).await {
                    assert!(RpcKind::from_code(code).is_some_and(RpcKind::streamed));
                    let (code, answer) = match body.is_empty() {
                        true => (REPLY_REFUSED, b"empty".to_vec()),
                        false => (REPLY_OK, body),
                    };
                    write_frame(&mut io, code, &answer).await.expect("answer");
                    if let Peer::OneAnswerThenClose = behaviour {
                        return;
                    }
                }
            });
        }
    });
    (addr, connections)
}

/// The requests of their own a [`StreamingTransport`] falls back to:
/// answers `fallback:<path>`.
#[derive(Default)]
struct Requests {
    calls: AtomicUsize,
}

impl Peers for Requests {
    fn call<'a>(&'a self, call: PeerCall<'a>) -> PeerAnswer<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let path = call.path;
        Box::pin(async move { Ok(format!("fallback:{path}").into_bytes()) })
    }
}

fn transport() -> (StreamingTransport<TcpDial>, Arc<Requests>) {
    let requests = Arc::new(Requests::default());
    let dial = TcpDial {
        connect_timeout: Duration::from_secs(1),
    };
    (StreamingTransport::new(dial, requests.clone()), requests)
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// One call through `transport`, with [`TIMEOUT`].
async fn send(
    transport: &impl Peers,
    addr: &str,
    path: &'static str,
    body: Vec<u8>,
) -> Result<Vec<u8>, PeerError> {
    transport
        .call(PeerCall {
            addr,
            path,
            body,
            timeout: TIMEOUT,
        })
        .await
}

#[tokio::test]
async fn raft_messages_share_one_stream_and_the_rest_go_as_requests() {
    let (addr, connections) = fake_peer(Peer::Echo).await;
    let (transport, requests) = transport();
    for (n, kind) in RpcKind::ALL
        .into_iter()
        .filter(|k| k.streamed())
        .enumerate()
    {
        let body = format!("message {n}").into_bytes();
        let answer = send(&transport, &addr, kind.path(), body.clone()).await;
        assert_eq!(answer, Ok(body));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    let forward = RpcKind::Forward.path();
    let answer = send(&transport, &addr, forward, b"x".to_vec()).await;
    assert_eq!(answer, Ok(b"fallback:/raft/forward".to_vec()));
    assert_eq!(requests.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_message_is_an_error_answer_and_the_stream_goes_on() {
    let (addr, connections) = fake_peer(Peer::Echo).await;
    let (transport, _) = transport();
    let path = RpcKind::AppendEntries.path();
    let refused = send(&transport, &addr, path, Vec::new()).await;
    match refused {
        Err(PeerError::Status { status, body, .. }) => {
            assert_eq!((status, body.as_str()), (400, "empty"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let answer = send(&transport, &addr, path, b"next".to_vec()).await;
    assert_eq!(answer, Ok(b"next".to_vec()));
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stream_the_peer_closed_while_idle_is_replaced_unnoticed() {
    let (addr, connections) = fake_peer(Peer::OneAnswerThenClose).await;
    let (transport, requests) = transport();
    let path = RpcKind::Vote.path();
    for n in 0..3 {
        let body = format!("vote {n}").into_bytes();
        assert_eq!(send(&transport, &addr, path, body.clone()).await, Ok(body));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    assert_eq!(requests.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_peer_without_streams_gets_requests_of_their_own() {
    let (addr, connections) = fake_peer(Peer::NoStreams).await;
    let (transport, requests) = transport();
    let path = RpcKind::AppendEntries.path();
    for _ in 0..3 {
        let answer = send(&transport, &addr, path, b"x".to_vec()).await;
        assert_eq!(answer, Ok(b"fallback:/raft/append".to_vec()));
    }
    // Asked once; then left alone for `FALLBACK_FOR`.
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert_eq!(requests.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_peer_not_listening_is_unreachable() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").to_string()
    };
    let (transport, requests) = transport();
    let path = RpcKind::AppendEntries.path();
    let answer = send(&transport, &addr, path, b"x".to_vec()).await;
    assert!(
        matches!(&answer, Err(e) if e.not_sent()),
        "expected unreachable, got {answer:?}"
    );
    assert_eq!(requests.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn frames_round_trip_and_bad_ones_are_refused() {
    let mut buffer = Vec::new();
    write_frame(&mut buffer, 7, b"hello").await.expect("write");
    write_frame(&mut buffer, 0, b"").await.expect("write");
    let mut reader = &buffer[..];
    assert_eq!(
        read_frame(&mut reader, 64).await.expect("first"),
        (7, b"hello".to_vec())
    );
    assert_eq!(
        read_frame(&mut reader, 64).await.expect("second"),
        (0, vec![])
    );
    assert!(matches!(
        read_frame(&mut reader, 64).await,
        Err(FrameError::Closed)
    ));
    // Over the limit, empty, and cut short.
    assert!(matches!(
        read_frame(&mut &buffer[..], 3).await,
        Err(FrameError::TooLong { len: 6, max: 3 })
    ));
    assert!(matches!(
        read_frame(&mut &[0u8, 0, 0, 0][..], 64).await,
        Err(FrameError::Empty)
    ));
    for cut in 1..10 {
        let result = read_frame(&mut &buffer[..cut], 64).await;
        assert!(matches!(result, Err(FrameError::Io(_))), "cut at {cut}");
    }
}

/// A writer that takes at most `at_most` bytes per write, of the first
/// buffer only, as a socket with a full send buffer may.
struct Trickle {
    written: Vec<u8>,
    at_most: usize,
}

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let taken = buf.len().min(self.at_most);
        self.written.extend_from_slice(&buf[..taken]);
        std::task::Poll::Ready(Ok(taken))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_frame_written_in_pieces_reads_back_whole() {
    let body: Vec<u8> = (0..=255).cycle().take(1000).collect();
    for at_most in [1, 3, 5, 6, 7, 999, 1005, 4096] {
        let mut writer = Trickle {
            written: Vec::new(),
            at_most,
        };
        write_frame(&mut writer, 9, &body).await.expect("write");
        write_frame(&mut writer, 4, b"").await.expect("write");
        let mut reader = BufReader::with_capacity(16, &writer.written[..]);
        assert_eq!(
            read_frame(&mut reader, 2000).await.expect("first"),
            (9, body.clone()),
            "at most {at_most} bytes a write"
        );
        assert_eq!(
            read_frame(&mut reader, 2000).await.expect("second"),
            (4, vec![])
        );
    }
}

#[test]
fn every_kind_has_its_own_code_and_path() {
    for kind in RpcKind::ALL {
        assert_eq!(RpcKind::from_code(kind.code()), Some(kind));
        assert_eq!(RpcKind::from_path(kind.path()), Some(kind));
    }
    assert_eq!(RpcKind::from_code(0), None);
    assert_eq!(RpcKind::from_path(STREAM_PATH), None);
}
