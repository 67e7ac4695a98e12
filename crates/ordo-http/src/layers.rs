//! Cross-cutting request and response behaviour: the `ordo-leader` header
//! on every response, a debug-level tracing span per request with node id,
//! term, method and route, request metrics, on the `/v1` routes a missing
//! content type taken as JSON, the caller's rights checked and, once this node's
//! storage failed, a 503 naming the cause, and a newline at
//! the end of every JSON answer; and the one middleware that runs them all
//! ([`edge`]).

use std::future::Future;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::AppState;
use ordo_api::LEADER_HEADER;

/// Every request's way in and its answer's way out, as one middleware
/// rather than a layer each (each layer is a boxed service cloned and a
/// boxed future per request: a few per cent of a leader's CPU per append):
/// [`observe`] around `limits::enforce` around, on a `/v1` route,
/// [`json_when_undeclared`] and `auth::authorize`, around the router;
/// then [`newline_after_json`].
pub async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = observe(&state, request, |request| {
        crate::limits::enforce(state.limiter(), request, |request| async {
            if !is_api_route(&request) {
                return next.run(request).await;
            }
            let mut request = json_when_undeclared(request).await;
            let auth = &state.auth;
            let principals = auth.principals.as_ref();
            if let Some(refusal) =
                crate::auth::authorize(principals, auth.certificate_principals, &mut request)
            {
                return refusal;
            }
            match storage_failure_refusal(&state, &request) {
                Some(refusal) => refusal,
                None => next.run(request).await,
            }
        })
    })
    .await;
    newline_after_json(response).await
}

/// A node whose storage failed answers every `/v1` request but its status
/// (which says why) with 503 and the cause: it can neither append nor
/// serve reads it could vouch for, and a client should try another node.
fn storage_failure_refusal(state: &AppState, request: &Request) -> Option<Response> {
    let cause = state.node.storage_failure()?;
    let status_read = request.method() == axum::http::Method::GET
        && request
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|route| route.as_str() == "/v1/cluster");
    (!status_read).then(|| crate::error::ApiError::storage_failed(&cause).into_response())
}

/// Whether `request` was routed to one of the `/v1` routes (an unrouted
/// request has no matched path: it is answered 404 whatever it carries).
fn is_api_route(request: &Request) -> bool {
    request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|route| route.as_str().starts_with("/v1/"))
}

/// The tracing span, request metrics and leader header around `inner`,
/// which answers the request.
async fn observe<Inner, Answer>(state: &AppState, request: Request, inner: Inner) -> Response
where
    Inner: FnOnce(Request) -> Answer,
    Answer: Future<Output = Response>,
{
    let node = &state.node;
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    // At debug, as tower-http's `TraceLayer` makes its spans: an enabled
    // span per request (made, formatted, entered on every poll, closed) was
    // 3 % of a leader's samples at 64 clients (`docs/performance.md`). At
    // the default level a line logged while serving still names the node:
    // each connection has an info span of its own (`serve_with_limits`).
    let span = tracing::debug_span!(
        "request",
        node = node.id(),
        term = node.current_term().0,
        %method,
        route = %route,
    );
    let started = Instant::now();
    let mut response = inner(request).instrument(span).await;
    crate::metrics::request_answered(route, response.status().as_u16(), started.elapsed());
    if let Some(leader) = node.current_leader() {
        response
            .headers_mut()
            .insert(LEADER_HEADER, HeaderValue::from(leader));
    }
    response
}

/// A request that declares no content type is taken as JSON, which is what
/// every `/v1` body is, so a client need not say so. One that declares
/// another type is still refused with 415 (`curl -d` declares a form).
pub async fn json_when_undeclared(mut request: Request) -> Request {
    if !request.headers().contains_key(CONTENT_TYPE) {
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    request
}

/// Ends every JSON answer with a newline, so what `curl` prints ends its
/// line on a terminal. JSON answers are built whole in memory (`Json`,
/// `ApiError`), so collecting one never waits, and the newline usually
/// goes into the buffer's spare room; streams are NDJSON or SSE,
/// line-based already, and pass through untouched.
pub async fn newline_after_json(response: Response) -> Response {
    if !is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "a JSON answer could not be read back");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
        }
    };
    if bytes.ends_with(b"\n") {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let line = match bytes.try_into_mut() {
        Ok(mut unique) => {
            unique.extend_from_slice(b"\n");
            unique.freeze()
        }
        Err(shared) => Bytes::from([&shared[..], b"\n"].concat()),
    };
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(line))
}

/// `application/json`, with or without parameters such as a charset.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::testing::single_node_router;

    async fn answer(router: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn json_answers_end_with_one_newline_and_text_is_left_as_it_is() {
        let router = single_node_router().await;
        for uri in ["/v1/cluster", "/v1/nowhere", "/openapi.json"] {
            let (_, body) = answer(&router, Request::get(uri).body(Body::empty()).unwrap()).await;
            assert!(
                body.ends_with("}\n") && !body.ends_with("\n\n"),
                "{uri}: {body:?}"
            );
        }
        let healthz = Request::get("/healthz").body(Body::empty()).unwrap();
        assert_eq!(answer(&router, healthz).await.1, "ok\n");
    }

    #[tokio::test]
    async fn a_body_without_a_content_type_is_json_and_one_declared_otherwise_is_415() {
        let router = crate::decode::router(None);
        let append = |content_type: Option<&str>| {
            let mut request = Request::post("/v1/topics/t/records");
            if let Some(content_type) = content_type {
                request = request.header(CONTENT_TYPE, content_type);
            }
            request
                .body(Body::from(r#"{"records":[{"value":1}]}"#))
                .unwrap()
        };
        assert_eq!(answer(&router, append(None)).await.0, StatusCode::OK);
        let (status, body) = answer(&router, append(Some("text/plain"))).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        assert!(
            body.contains("send content-type: application/json"),
            "{body}"
        );
    }

    /// The API token guards every `/v1` route, whatever the method, and
    /// nothing else: an unrouted `/v1` path is still a 404 and the health
    /// check stays open.
    #[tokio::test]
    async fn the_api_token_is_asked_on_v1_routes_only() {
        let node = ordo_node::testing::leading_alone().await;
        let auth = crate::Auth {
            principals: Some(crate::Principals::api_token(
                ordo_api::secret::Secret::new("t0ken").unwrap(),
            )),
            ..crate::Auth::default()
        };
        let router = crate::router(AppState::new(node, None, auth));
        let append = || {
            Request::post("/v1/topics/t/records").body(Body::from(r#"{"records":[{"value":"x"}]}"#))
        };
        for (request, expected) in [
            (append().unwrap(), StatusCode::UNAUTHORIZED),
            (
                Request::get("/v1/topics").body(Body::empty()).unwrap(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                Request::get("/v1/nowhere").body(Body::empty()).unwrap(),
                StatusCode::NOT_FOUND,
            ),
            (
                Request::get("/healthz").body(Body::empty()).unwrap(),
                StatusCode::OK,
            ),
        ] {
            let uri = request.uri().to_string();
            let (status, body) = answer(&router, request).await;
            assert_eq!(status, expected, "{uri}: {body}");
        }
        let mut with_token = append().unwrap();
        with_token.headers_mut().insert(
            axum::http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer t0ken"),
        );
        let (status, body) = answer(&router, with_token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("\"offsets\":[0]"), "{body}");
    }
}
