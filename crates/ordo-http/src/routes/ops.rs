//! Operations endpoints: liveness, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::error::ApiError;
use crate::AppState;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.node.is_ready() {
        Ok("ready\n")
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "no leader known yet, or this node has not applied all committed entries",
        ))
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = state
        .prometheus
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    body.push_str(&crate::metrics::render_state(&state.node.status()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
