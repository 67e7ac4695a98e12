//! `ordo probe`: one HTTP GET to a node, exit 0 on a 2xx and 1 otherwise.
//! It is the container health check (`/readyz`), for images that have no
//! curl; so it speaks just enough HTTP/1.1 to read a status line, over a
//! plain `TcpStream` or, for a TLS node, over rustls with the cluster's CA
//! (`--addr https://...` or `--ca`), and gives up after `--timeout-ms`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ordo_tls::rustls::pki_types::{InvalidDnsNameError, ServerName};
use ordo_tls::tokio_rustls::TlsConnector;
use ordo_tls::TlsError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::output::outln;

/// Most bytes of the response read: the status line and a short body.
const MAX_RESPONSE_BYTES: usize = 4096;

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The node: `host:port`, `http://host:port` or `https://host:port`.
    /// Without a scheme it is reached over HTTPS when --ca or --cert is
    /// given, else over plain HTTP.
    #[arg(long, default_value = "127.0.0.1:7001")]
    addr: String,
    /// The path to GET.
    #[arg(long, default_value = "/readyz")]
    path: String,
    /// Deadline for connecting, sending and reading the answer, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    timeout_ms: u64,
    /// The CA bundle (PEM) that signed the node's certificate (default for
    /// https: the web's roots). The node's certificate must name the host
    /// of --addr (e.g. 127.0.0.1 for a probe inside its container).
    #[arg(long, env = "ORDO_CA", value_name = "FILE")]
    ca: Option<PathBuf>,
    /// A client certificate (PEM) to present, for a node started with
    /// `--tls-client-auth required`; needs --cert-key.
    #[arg(long, env = "ORDO_CERT", value_name = "FILE", requires = "cert_key")]
    cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, env = "ORDO_CERT_KEY", value_name = "FILE", requires = "cert")]
    cert_key: Option<PathBuf>,
}

/// Why a probe failed. Each message starts with what was asked of whom and
/// ends with the cause (so the causes are fields, not error sources, which
/// `error: {:#}` would print a second time).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("--addr {addr:?} is not host:port, http://host:port or https://host:port")]
    BadAddr { addr: String },
    #[error("--addr {addr:?}: {host:?} is not a host name or IP address a certificate can name: {error}")]
    BadServerName {
        addr: String,
        host: String,
        error: InvalidDnsNameError,
    },
    #[error("GET {url}: the TLS settings cannot be used: {error}")]
    Tls { url: String, error: TlsError },
    #[error("GET {url}: no answer within {deadline:?}")]
    Timeout { url: String, deadline: Duration },
    #[error("GET {url}: {error}")]
    Io { url: String, error: std::io::Error },
    #[error("GET {url}: not an HTTP response")]
    NotHttp { url: String },
    #[error("GET {url}: {status} {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
}

/// Whether the node is reached over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

/// Where to send the GET, from `--addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    scheme: Scheme,
    /// `host:port`, to connect to and for the `Host` header.
    authority: String,
    /// The host alone (an IPv6 address without its brackets): the name the
    /// node's certificate must list.
    host: String,
}

impl Target {
    /// `addr` with an explicit scheme, or without one: https when the
    /// command was given TLS settings.
    fn parse(addr: &str, tls_settings_given: bool) -> Result<Target, ProbeError> {
        let bad = || ProbeError::BadAddr {
            addr: addr.to_string(),
        };
        let (scheme, authority) = if let Some(rest) = addr.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = addr.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if addr.contains("://") {
            return Err(bad());
        } else if tls_settings_given {
            (Scheme::Https, addr)
        } else {
            (Scheme::Http, addr)
        };
        let authority = authority.trim_end_matches('/');
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        Ok(Target {
            scheme,
            authority: authority.to_string(),
            host: host.to_string(),
        })
    }

    fn url(&self, path: &str) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}{path}", self.authority)
    }
}

pub async fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let (status, body) = probe(&args).await?;
    outln!("{status} {body}")
}

/// The node's 2xx status and body, or why there is none.
async fn probe(args: &ProbeArgs) -> Result<(u16, String), ProbeError> {
    let tls_settings_given = args.ca.is_some() || args.cert.is_some();
    let target = Target::parse(&args.addr, tls_settings_given)?;
    let url = target.url(&args.path);
    let deadline = Duration::from_millis(args.timeout_ms);
    let response = tokio::time::timeout(deadline, get(&target, &args.path, args))
        .await
        .map_err(|_| ProbeError::Timeout {
            url: url.clone(),
            deadline,
        })??;
    let status = status_code(&response).ok_or_else(|| ProbeError::NotHttp { url: url.clone() })?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.trim())
        .unwrap_or("")
        .to_string();
    if !(200..300).contains(&status) {
        return Err(ProbeError::Status { url, status, body });
    }
    Ok((status, body))
}

/// The start of the answer to one `GET`, as text (the connection closes
/// after it), over TLS when the target says so.
async fn get(target: &Target, path: &str, args: &ProbeArgs) -> Result<String, ProbeError> {
    let url = target.url(path);
    let io_error = |error| ProbeError::Io {
        url: url.clone(),
        error,
    };
    // Settings are checked before connecting: a wrong file is the answer
    // even when the node is down.
    let connector = match target.scheme {
        Scheme::Http => None,
        Scheme::Https => Some(connector(args).map_err(|error| ProbeError::Tls {
            url: url.clone(),
            error,
        })?),
    };
    let tcp = TcpStream::connect(&target.authority)
        .await
        .map_err(io_error)?;
    let Some(connector) = connector else {
        return exchange(tcp, target, path).await.map_err(io_error);
    };
    let server_name =
        ServerName::try_from(target.host.clone()).map_err(|error| ProbeError::BadServerName {
            addr: args.addr.clone(),
            host: target.host.clone(),
            error,
        })?;
    let tls = connector
        .connect(server_name, tcp)
        .await
        .map_err(io_error)?;
    exchange(tls, target, path).await.map_err(io_error)
}

/// A connector trusting `--ca` (else the web's roots) and presenting
/// `--cert` if given.
fn connector(args: &ProbeArgs) -> Result<TlsConnector, TlsError> {
    let identity = args.cert.as_deref().zip(args.cert_key.as_deref());
    let config = ordo_tls::client_config(args.ca.as_deref(), identity)?;
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Sends the GET on `stream` and reads the answer until the server closes
/// the connection or [`MAX_RESPONSE_BYTES`] arrived.
async fn exchange<S>(mut stream: S, target: &Target, path: &str) -> std::io::Result<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.authority
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while response.len() < MAX_RESPONSE_BYTES {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            // A TLS server that closes without close_notify has still
            // answered: what arrived is the answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {
                break
            }
            Err(e) => return Err(e),
        }
    }
    response.truncate(MAX_RESPONSE_BYTES);
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

    #[test]
    fn the_scheme_says_tls_and_without_one_the_tls_settings_do() {
        let https = Target::parse("https://ordo-1:7001", false).expect("valid");
        assert_eq!(https.scheme, Scheme::Https);
        assert_eq!(https.authority, "ordo-1:7001");
        assert_eq!(https.host, "ordo-1");
        assert_eq!(
            Target::parse("http://127.0.0.1:7001/", true)
                .expect("valid")
                .scheme,
            Scheme::Http
        );
        assert_eq!(
            Target::parse("127.0.0.1:7001", true).expect("valid").scheme,
            Scheme::Https
        );
        assert_eq!(
            Target::parse("127.0.0.1:7001", false)
                .expect("valid")
                .scheme,
            Scheme::Http
        );
        let v6 = Target::parse("https://[::1]:7001", false).expect("valid");
        assert_eq!(
            (v6.authority.as_str(), v6.host.as_str()),
            ("[::1]:7001", "::1")
        );
        for bad in ["ftp://a:1", "no-port", "host:port", ":7001", "https://"] {
            assert!(
                matches!(Target::parse(bad, false), Err(ProbeError::BadAddr { .. })),
                "{bad} should be refused"
            );
        }
    }

    /// A TLS node in miniature: one connection, a TLS handshake with a node
    /// certificate for 127.0.0.1, the request read, `200 ready` answered.
    async fn one_shot_tls_server(dir: &std::path::Path) -> std::net::SocketAddr {
        use ordo_tls::{certs, ClientAuth, NodeTls, TlsFiles};
        certs::create_ca(dir).expect("CA written");
        let node = certs::create_node(dir, dir, 1, &["127.0.0.1".into()], false)
            .expect("node certificate written");
        let tls = NodeTls::load(
            TlsFiles {
                cert: node.cert,
                key: node.key,
                ca: dir.join("ca.crt"),
            },
            ClientAuth::None,
        )
        .expect("node TLS loads");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let Ok((mut stream, _)) = tls.accept(tcp).await else {
                return; // a client that refused the certificate
            };
            let mut request = Vec::new();
            let mut chunk = [0u8; 256];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let answer = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nready";
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
        addr
    }

    fn args(addr: String, ca: Option<PathBuf>) -> ProbeArgs {
        ProbeArgs {
            addr,
            path: "/readyz".into(),
            timeout_ms: 5_000,
            ca,
            cert: None,
            cert_key: None,
        }
    }

    #[tokio::test]
    async fn https_probe_verifies_the_node_against_the_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = one_shot_tls_server(dir.path()).await;
        let ca = dir.path().join("ca.crt");
        let answer = probe(&args(format!("https://{addr}"), Some(ca)))
            .await
            .expect("a 2xx over TLS");
        assert_eq!(answer, (200, "ready".to_string()));
    }

    #[tokio::test]
    async fn https_probe_refuses_a_node_another_ca_signed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = one_shot_tls_server(dir.path()).await;
        let other = tempfile::tempdir().expect("tempdir");
        ordo_tls::certs::create_ca(other.path()).expect("other CA written");
        let error = probe(&args(addr.to_string(), Some(other.path().join("ca.crt"))))
            .await
            .expect_err("the node's certificate is not the other CA's");
        assert!(
            matches!(error, ProbeError::Io { .. }),
            "unexpected: {error}"
        );
    }
}
