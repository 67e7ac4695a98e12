//! The internal node-to-node endpoints (`/raft/*`). The bodies are opaque
//! here: `ordo-node` encodes and decodes them on both ends.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;
use ordo_node::rpc::RpcKind;

pub fn router() -> Router<AppState> {
    RpcKind::ALL.iter().fold(Router::new(), |router, kind| {
        let kind = *kind;
        router.route(
            kind.path(),
            post(move |state: State<AppState>, body: Bytes| handle(state, kind, body)),
        )
    })
}

async fn handle(
    State(state): State<AppState>,
    kind: RpcKind,
    body: Bytes,
) -> Result<Vec<u8>, ApiError> {
    state
        .node
        .handle_rpc(kind, &body)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_rpc", e.to_string()))
}
