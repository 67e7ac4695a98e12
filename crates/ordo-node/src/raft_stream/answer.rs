//! The answering side of a stream: the messages on one upgraded connection,
//! each handed to [`Node::handle_rpc`] and its answer framed back.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, BufReader};

use super::frame::{read_frame, write_frame, FrameError};
use super::{READ_BUFFER, REPLY_OK, REPLY_REFUSED, SERVER_IDLE};
use crate::node::Node;
use crate::rpc::RpcKind;

/// Answers the messages that come on one upgraded connection until the
/// peer closes it, it idles past [`SERVER_IDLE`], a frame is malformed, or
/// `end` says the server is shutting down.
pub async fn serve<Io>(
    node: Arc<Node>,
    io: Io,
    max_frame: usize,
    mut end: tokio::sync::watch::Receiver<bool>,
) where
    Io: AsyncRead + AsyncWrite + Unpin,
{
    let mut io = BufReader::with_capacity(READ_BUFFER, io);
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(SERVER_IDLE, read_frame(&mut io, max_frame)) => frame,
            () = async { drop(end.wait_for(|ended| *ended).await) } => return,
        };
        let (code, body) = match frame {
            Ok(Ok(frame)) => frame,
            Ok(Err(FrameError::Closed)) | Err(_) => return,
            Ok(Err(e)) => {
                // Refused in words, then closed: the stream's framing is
                // lost past a bad frame.
                let _ = write_frame(&mut io, REPLY_REFUSED, e.to_string().as_bytes()).await;
                return;
            }
        };
        let reply = match RpcKind::from_code(code) {
            Some(kind) => node
                .handle_rpc(kind, &body)
                .await
                .map_err(|e| e.to_string()),
            None => Err(format!("unknown message code {code}")),
        };
        let written = match reply {
            Ok(reply) => write_frame(&mut io, REPLY_OK, &reply).await,
            Err(reason) => write_frame(&mut io, REPLY_REFUSED, reason.as_bytes()).await,
        };
        if written.is_err() {
            return;
        }
    }
}
