//! Operations endpoints: liveness, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::error::ApiError;
use crate::AppState;
use ordo_api::ErrorBody;

/// Liveness: 200 while the process runs.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`ok`.", content_type = "text/plain", body = String))
)]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: this node is in touch with a quorum (on the leader, a
/// majority of the voters acknowledged it lately; elsewhere, the leader
/// reached it lately) and has applied all it knows to be committed.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "`ready`.", content_type = "text/plain", body = String),
        (status = 503, description = "`not_ready`, with why in `message` (the `health` of \
            `GET /v1/cluster`): no quorum, no leader, the leader out of reach, or applying \
            committed entries still.", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    let health = state.node.health();
    if health.is_ready() {
        Ok("ready\n")
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            health.summary(),
        ))
    }
}

/// Prometheus metrics: Raft term, leader, log indexes, follower lag, HTTP
/// requests.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "The Prometheus text format (empty where no \
        recorder is installed).", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = state
        .prometheus
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    body.push_str(&crate::metrics::render_state(&state.node.status()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
