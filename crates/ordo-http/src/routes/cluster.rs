//! Cluster administration: `GET /v1/cluster`, `POST /v1/cluster/init`.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;

use crate::error::ApiError;
use crate::{extract, AppState};
use ordo_core::api::{ClusterStatus, InitRequest};

pub async fn status(State(state): State<AppState>) -> Json<ClusterStatus> {
    Json(state.node.status())
}

/// With no body or no members, the node's configured peers form the cluster
/// (the node alone if it has none).
pub async fn init(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<ClusterStatus>, ApiError> {
    let request: InitRequest = if body.iter().all(u8::is_ascii_whitespace) {
        InitRequest::default()
    } else {
        extract::json_bytes(&body)?
    };
    let members = request
        .members
        .unwrap_or_else(|| state.node.config().peers.clone());
    state.node.init(members).await?;
    Ok(Json(state.node.status()))
}
