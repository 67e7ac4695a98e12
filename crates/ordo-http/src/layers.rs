//! Cross-cutting response behaviour: the `ordo-leader` header on every
//! response, a tracing span per request with node id and term, and request
//! metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::metrics::{HTTP_REQUESTS_TOTAL, HTTP_REQUEST_SECONDS};
use crate::AppState;
use ordo_core::api::LEADER_HEADER;

pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let node = &state.node;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        node = node.id(),
        term = node.current_term(),
        %method,
        route = %route,
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS_TOTAL, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_REQUEST_SECONDS, "route" => route)
        .record(started.elapsed().as_secs_f64());
    if let Some(leader) = node.current_leader() {
        response
            .headers_mut()
            .insert(LEADER_HEADER, HeaderValue::from(leader));
    }
    response
}
