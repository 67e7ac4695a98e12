//! Raft's own messages over one connection per peer, kept open: the
//! stream, both ends of it.
//!
//! A message sent as an HTTP request of its own costs both nodes a pass
//! through the HTTP stack (headers written and parsed, routing, the edge
//! layers' span and metrics, and on the sender a hand-off to the client's
//! connection task and back). The stream skips all of it: the sender opens
//! a connection with an HTTP upgrade on the node's one port
//! (`GET /raft/stream`, `Upgrade: ordo-raft/1`, the cluster secret checked
//! before the switch like any `/raft/*` request), then sends a message as
//! one frame and waits for the answer's frame, one exchange at a time per
//! connection.
//!
//! A frame is the length of what follows (u32, big-endian), a code byte,
//! and the body. A request's code is its
//! [`RpcKind::code`](crate::rpc::RpcKind::code) and its body what the
//! kind's endpoint takes; an answer's code is [`REPLY_OK`] with
//! what the endpoint answers, or [`REPLY_REFUSED`] with why, in words.
//! Both ends read a stream through a buffer and write a frame with one
//! vectored write, so a message costs each side one write and, most of
//! the time, one read, not a system call per field.
//!
//! Only [`RpcKind::streamed`](crate::rpc::RpcKind::streamed) kinds use it,
//! all safe to send twice, so an exchange on an idle connection the peer
//! had already closed is tried once more on a new one. A peer that does
//! not take the upgrade (an older node) gets requests of their own through
//! the fallback transport, and is asked again after [`FALLBACK_FOR`].
//!
//! The rooms: [`frame`] (a message's bytes on the connection, both ends),
//! [`dial`] (the sending side: opening, keeping and reusing streams, as a
//! [`Peers`](crate::peers::Peers)) and [`answer`] (the
//! answering side: one upgraded connection handed to the node).

use std::time::Duration;

pub mod answer;
pub mod dial;
pub mod frame;
#[cfg(test)]
mod tests;

pub use answer::serve;
pub use dial::{Dial, StreamingTransport, TcpDial, TlsDial};
pub use frame::{read_frame, write_frame, FrameError};

/// The path a stream is opened on.
pub const STREAM_PATH: &str = "/raft/stream";
/// The protocol named in the upgrade.
pub const PROTOCOL: &str = "ordo-raft/1";
/// An answer's code: the endpoint's answer follows.
pub const REPLY_OK: u8 = 0;
/// An answer's code: the message was refused; why follows, in words.
pub const REPLY_REFUSED: u8 = 1;
/// How long a peer that refused the upgrade gets requests of their own
/// before it is asked again.
pub const FALLBACK_FOR: Duration = Duration::from_secs(60);
/// A connection idle this long is not used again: the peer may be about
/// to close it ([`SERVER_IDLE`]).
pub const CLIENT_IDLE: Duration = Duration::from_secs(20);
/// A stream with no message for this long is closed by the node answering
/// it. A leader's heartbeats keep its streams busy.
pub const SERVER_IDLE: Duration = Duration::from_secs(60);

/// Bytes read from a stream at a time: a frame's header and, most of the
/// time, its whole body in one read.
const READ_BUFFER: usize = 64 * 1024;
