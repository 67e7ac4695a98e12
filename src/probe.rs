//! `ordo probe`: one HTTP GET to a node, exit 0 on a 2xx and 1 otherwise.
//! It is the container health check (`/readyz`), for images that have no
//! curl; so it speaks just enough HTTP/1.1 over a plain `TcpStream` to read
//! a status line, and gives up after `--timeout-ms`.

use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::output::outln;

/// Most bytes of the response read: the status line and a short body.
const MAX_RESPONSE_BYTES: usize = 4096;

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The node, `host:port`.
    #[arg(long, default_value = "127.0.0.1:7001")]
    addr: String,
    /// The path to GET.
    #[arg(long, default_value = "/readyz")]
    path: String,
    /// Deadline for connecting, sending and reading the answer, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    timeout_ms: u64,
}

pub async fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let addr = args.addr.trim_start_matches("http://");
    let deadline = Duration::from_millis(args.timeout_ms);
    let response = tokio::time::timeout(deadline, get(addr, &args.path))
        .await
        .with_context(|| format!("GET {addr}{}: no answer within {deadline:?}", args.path))?
        .with_context(|| format!("GET {addr}{}", args.path))?;
    let status = status_code(&response)
        .with_context(|| format!("GET {addr}{}: not an HTTP response", args.path))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.trim())
        .unwrap_or("");
    if !(200..300).contains(&status) {
        bail!("GET {addr}{}: {status} {body}", args.path);
    }
    outln!("{status} {body}")
}

/// The start of the answer to one `GET`, as text (the connection closes after it).
async fn get(addr: &str, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE_BYTES as u64)
        .read_to_end(&mut response)
        .await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// `HTTP/1.1 200 OK` → 200.
fn status_code(response: &str) -> Option<u16> {
    let mut parts = response.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_parses_and_junk_does_not() {
        assert_eq!(status_code("HTTP/1.1 200 OK\r\n\r\nready\n"), Some(200));
        assert_eq!(
            status_code("HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_code("SSH-2.0-OpenSSH"), None);
        assert_eq!(status_code(""), None);
    }
}
