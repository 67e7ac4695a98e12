//! A scripted HTTP node on 127.0.0.1:0: answers every request with what its
//! script says and counts what it received, so tests can assert exactly how
//! many requests the client sent where.

// Each test binary uses only part of the stub.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

/// What the stub answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub leader: Option<u64>,
    pub retry_after_s: Option<u64>,
    pub body: String,
    /// Wait this long before answering (to provoke client timeouts).
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            leader: None,
            retry_after_s: None,
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn error(status: u16, code: &str) -> Reply {
        Reply::json(
            status,
            serde_json::json!({"error": {"code": code, "message": format!("stub says {code}")}}),
        )
    }

    pub fn leader(mut self, id: u64) -> Reply {
        self.leader = Some(id);
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Reply {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One received request: method and path with query.
pub type Seen = (String, String);

type Script = dyn Fn(&str, &str, usize) -> Reply + Send + Sync;

struct Shared {
    script: Box<Script>,
    seen: Mutex<Vec<Seen>>,
    /// The JSON body of each received request that had one, with its
    /// method and path.
    bodies: Mutex<Vec<(Seen, serde_json::Value)>>,
}

/// A running stub node.
pub struct Stub {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Stub {
    /// Starts a stub; `script(method, path, n)` decides the answer to the
    /// `n`-th (0-based) request with that method and path.
    pub async fn start(
        script: impl Fn(&str, &str, usize) -> Reply + Send + Sync + 'static,
    ) -> Stub {
        let shared = Arc::new(Shared {
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
            bodies: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Stub { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far whose path starts with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.seen()
            .iter()
            .filter(|(m, p)| m == method && p.starts_with(prefix))
            .count()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The JSON bodies received with `method` on paths starting with `prefix`.
    pub fn bodies(&self, method: &str, prefix: &str) -> Vec<serde_json::Value> {
        self.shared
            .bodies
            .lock()
            .unwrap()
            .iter()
            .filter(|((m, p), _)| m == method && p.starts_with(prefix))
            .map(|(_, body)| body.clone())
            .collect()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let n = {
        let mut seen = shared.seen.lock().unwrap();
        let n = seen
            .iter()
            .filter(|(m, p)| *m == method && *p == path)
            .count();
        seen.push((method.clone(), path.clone()));
        n
    };
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    if let Ok(body) = serde_json::from_slice(&bytes) {
        let seen = (method.clone(), path.clone());
        shared.bodies.lock().unwrap().push((seen, body));
    }
    let reply = (shared.script)(&method, &path, n);
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap())
        .header("content-type", "application/json");
    if let Some(leader) = reply.leader {
        response = response.header("ordo-leader", leader.to_string());
    }
    if let Some(seconds) = reply.retry_after_s {
        response = response.header("retry-after", seconds.to_string());
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// An address nothing listens on: bound, then released.
pub fn dead_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
