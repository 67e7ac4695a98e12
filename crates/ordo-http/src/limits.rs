//! The node's defences against load and slow or hostile clients, as one
//! middleware: a cap on client requests in flight and another on streams and
//! long-polls (503 `overloaded` at once, never a queue), a deadline for a
//! request body to arrive (408) and for a client request to be answered
//! (504), and a bound on the URI (414). The header-read timeout lives in
//! `serve`, where hyper reads the headers.
//!
//! `/raft/*` and the operations endpoints take no permit: a node flooded by
//! clients still answers its peers, its probes and its scraper.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::ApiError;
use crate::MAX_RAFT_RPC_BODY_BYTES;
use ordo_api::limits::{
    DEFAULT_HEADER_READ_TIMEOUT_MS, DEFAULT_MAX_INFLIGHT_REQUESTS, DEFAULT_MAX_STREAMS,
    DEFAULT_REQUEST_TIMEOUT_MS, MAX_CATCH_UP_TIMEOUT_MS, MAX_CLAIM_WAIT_MS, MAX_READ_WAIT_MS,
    MAX_REQUEST_BODY_BYTES, MAX_URI_BYTES, MIN_LOG_INDEX_WAIT_MS,
};

/// What `POST /v1/topics/{topic}/compact` gets on top of the request
/// timeout: it runs up to 100 bounded passes through the log.
pub const COMPACT_EXTRA_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTP server's limits; `ordo serve` settings, defaults in
/// `ordo_core::limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Client requests handled at once (streams and long-polls aside).
    pub max_inflight_requests: usize,
    /// Streams and long-polling reads served at once.
    pub max_streams: usize,
    /// From a client request's headers to its answer (plus each route's own
    /// waits); also how long any request body may take to arrive.
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers, and how long
    /// an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_inflight_requests: DEFAULT_MAX_INFLIGHT_REQUESTS,
            max_streams: DEFAULT_MAX_STREAMS,
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            header_read_timeout: Duration::from_millis(DEFAULT_HEADER_READ_TIMEOUT_MS),
        }
    }
}

/// The permits behind the caps, shared by every connection (in the state
/// `serve` runs its router with).
pub(crate) struct Limiter {
    limits: HttpLimits,
    inflight: Arc<Semaphore>,
    streams: Arc<Semaphore>,
}

impl Limiter {
    pub(crate) fn new(limits: HttpLimits) -> Self {
        Limiter {
            inflight: Arc::new(Semaphore::new(limits.max_inflight_requests)),
            streams: Arc::new(Semaphore::new(limits.max_streams)),
            limits,
        }
    }
}

/// What a request is, for the limits.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    /// `/raft/*`, operations, unknown routes: no permit, no answer deadline.
    Internal,
    /// A client request: an in-flight permit, answered within `budget`.
    Request { budget: Duration },
    /// A stream (no deadline: it ends when the client or the node goes; its
    /// permit is held until its body is done) or a long-poll (answered
    /// within `budget`): a stream permit.
    Waiting { budget: Option<Duration> },
}

fn classify(method: &Method, route: Option<&str>, query: Option<&str>, timeout: Duration) -> Class {
    let Some(route) = route else {
        return Class::Internal;
    };
    // A read may wait for `min_log_index`, then long-poll for `wait_ms`.
    let read_budget = timeout
        + Duration::from_millis(MIN_LOG_INDEX_WAIT_MS)
        + Duration::from_millis(MAX_READ_WAIT_MS);
    match (method, route) {
        (&Method::GET, "/v1/topics/{topic}/stream") => Class::Waiting { budget: None },
        // A backup writes the whole state before it answers, then streams
        // it: as long as the state is large, like a stream.
        (&Method::GET, "/v1/admin/snapshot") => Class::Waiting { budget: None },
        (&Method::GET, "/v1/topics/{topic}/records") if long_polls(query) => Class::Waiting {
            budget: Some(read_budget),
        },
        (&Method::GET, "/v1/topics/{topic}/records") => Class::Request {
            budget: timeout + Duration::from_millis(MIN_LOG_INDEX_WAIT_MS),
        },
        // A claim long-polls up to the `wait_ms` its body names (at most
        // `MAX_CLAIM_WAIT_MS`), then waits for its entry to be applied here.
        (&Method::POST, "/v1/queues/{group}/{topic}/claim") => Class::Waiting {
            budget: Some(
                timeout
                    + Duration::from_millis(MAX_CLAIM_WAIT_MS)
                    + Duration::from_millis(MIN_LOG_INDEX_WAIT_MS),
            ),
        },
        (&Method::POST, "/v1/cluster/nodes") => Class::Request {
            budget: timeout + Duration::from_millis(MAX_CATCH_UP_TIMEOUT_MS),
        },
        (&Method::POST, "/v1/topics/{topic}/compact") => Class::Request {
            budget: timeout + COMPACT_EXTRA_TIMEOUT,
        },
        (_, route) if route.starts_with("/v1/") || route == "/v1" => {
            Class::Request { budget: timeout }
        }
        _ => Class::Internal,
    }
}

/// A read with `wait_ms` above 0 (a malformed query is the handler's to refuse).
fn long_polls(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        query.split('&').any(|pair| {
            pair.strip_prefix("wait_ms=")
                .and_then(|ms| ms.parse::<u64>().ok())
                .is_some_and(|ms| ms > 0)
        })
    })
}

fn overloaded(what: &str, limit: usize) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        format!(
            "this node is serving its limit of {limit} {what}; retry shortly or use another node"
        ),
    )
    .into_response()
}

/// The limits around `inner`, which answers the request (the rest of the
/// middleware and the handler; see `layers::edge`). Without a [`Limiter`]
/// (a router not run by `serve`) it passes every request through unchanged.
pub(crate) async fn enforce<Inner, Answer>(
    limiter: Option<&Limiter>,
    request: Request,
    inner: Inner,
) -> Response
where
    Inner: FnOnce(Request) -> Answer,
    Answer: Future<Output = Response>,
{
    let Some(limiter) = limiter else {
        return inner(request).await;
    };
    let started = Instant::now();
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request URI is {uri_bytes} bytes; the limit is {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let is_raft = route.is_some_and(|r| r.starts_with("/raft/"));
    let limits = &limiter.limits;
    let class = classify(
        request.method(),
        route,
        request.uri().query(),
        limits.request_timeout,
    );
    // Taken before the body is read, so buffered bodies are bounded too.
    let (permit, budget) = match class {
        Class::Internal => (None, None),
        Class::Request { budget } => match limiter.inflight.clone().try_acquire_owned() {
            Ok(permit) => (Some(permit), Some(budget)),
            Err(_) => return overloaded("requests in flight", limits.max_inflight_requests),
        },
        Class::Waiting { budget } => match limiter.streams.clone().try_acquire_owned() {
            Ok(permit) => (Some(permit), budget),
            Err(_) => return overloaded("streams and long-polls", limits.max_streams),
        },
    };
    let body_limit = if is_raft {
        MAX_RAFT_RPC_BODY_BYTES
    } else {
        MAX_REQUEST_BODY_BYTES
    };
    let request = match read_body(request, body_limit, started + limits.request_timeout).await {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let response = match budget {
        Some(budget) => match tokio::time::timeout_at(started + budget, inner(request)).await {
            Ok(response) => response,
            Err(_) => {
                return ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request was not answered within {} ms; a write may or may not have taken effect",
                        budget.as_millis()
                    ),
                )
                .into_response()
            }
        },
        None => inner(request).await,
    };
    match (class, permit) {
        // A stream's permit lives as long as its body; any other is given
        // back once the answer is ready.
        (Class::Waiting { budget: None }, Some(permit)) => with_permit(response, permit),
        _ => response,
    }
}

/// How much of a body over the limit is read (and dropped) before the 413,
/// so that a client still sending it gets the answer.
const MAX_DRAINED_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Reads the whole body by `deadline`, at most `limit` bytes, so no handler
/// ever waits on a client that trickles its body.
async fn read_body(request: Request, limit: usize, deadline: Instant) -> Result<Request, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body is over the limit of {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Far too large: refuse at once (the client may see its connection
    // reset while it still sends, rather than the 413).
    if declared.is_some_and(|len| len > MAX_DRAINED_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let mut over = declared.is_some_and(|len| len > limit as u64);
    let (parts, body) = request.into_parts();
    let collect = async {
        let mut chunks = body.into_data_stream();
        let capacity = if over {
            0
        } else {
            declared.map_or(0, |len| len as usize)
        };
        let mut buffer = Vec::with_capacity(capacity);
        let mut received = 0usize;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request("invalid_body", format!("reading the request body: {e}"))
            })?;
            received = received.saturating_add(chunk.len());
            if over || buffer.len() + chunk.len() > limit {
                // Over the limit: read on, dropping it, what the client is
                // still sending (up to a bound), so it reads the 413
                // instead of a connection reset under its write.
                over = true;
                buffer = Vec::new();
                if received > MAX_DRAINED_BODY_BYTES {
                    break;
                }
                continue;
            }
            buffer.extend_from_slice(&chunk);
        }
        if over {
            Err(too_large())
        } else {
            Ok(buffer)
        }
    };
    match tokio::time::timeout_at(deadline, collect).await {
        Ok(Ok(buffer)) => Ok(Request::from_parts(parts, Body::from(buffer))),
        Ok(Err(refusal)) => Err(refusal),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body did not arrive in time",
        )),
    }
}

fn with_permit(response: Response, permit: OwnedSemaphorePermit) -> Response {
    response.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _held = &permit;
            chunk
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(30);

    #[test]
    fn routes_are_classed_by_what_they_hold() {
        let class = |method: Method, route: Option<&str>, query: Option<&str>| {
            classify(&method, route, query, T)
        };
        let records = Some("/v1/topics/{topic}/records");
        assert_eq!(
            class(Method::GET, Some("/v1/topics/{topic}/stream"), None),
            Class::Waiting { budget: None }
        );
        assert!(matches!(
            class(Method::GET, records, Some("from=0&wait_ms=1000")),
            Class::Waiting { budget: Some(_) }
        ));
        for query in [None, Some("wait_ms=0"), Some("from=1"), Some("wait_ms=x")] {
            assert!(
                matches!(class(Method::GET, records, query), Class::Request { .. }),
                "{query:?}"
            );
        }
        assert_eq!(
            class(Method::POST, records, None),
            Class::Request { budget: T }
        );
        assert_eq!(
            class(Method::POST, Some("/v1/cluster/nodes"), None),
            Class::Request {
                budget: T + Duration::from_millis(MAX_CATCH_UP_TIMEOUT_MS)
            }
        );
        for internal in [
            Some("/raft/append"),
            Some("/healthz"),
            Some("/metrics"),
            None,
        ] {
            assert_eq!(class(Method::POST, internal, None), Class::Internal);
        }
    }
}
