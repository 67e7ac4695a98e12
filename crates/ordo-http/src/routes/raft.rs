//! The internal node-to-node endpoints (`/raft/*`). The bodies are opaque
//! here: `ordo-node` encodes and decodes them on both ends, and answers a
//! Raft stream ([`ordo_node::raft_stream`]) once this module has switched
//! the connection over to it.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, UPGRADE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::TokioIo;

use crate::error::ApiError;
use crate::{AppState, MAX_RAFT_RPC_BODY_BYTES};
use ordo_node::raft_stream::{self, PROTOCOL, STREAM_PATH};
use ordo_node::rpc::RpcKind;

pub fn router() -> Router<AppState> {
    RpcKind::ALL
        .iter()
        .fold(Router::new(), |router, kind| {
            let kind = *kind;
            router.route(
                kind.path(),
                post(move |state: State<AppState>, body: Bytes| handle(state, kind, body)),
            )
        })
        .route(STREAM_PATH, get(open_stream))
}

/// Switches the connection to a Raft stream (`Upgrade: ordo-raft/1`) and
/// answers its messages on a task of their own until it ends.
async fn open_stream(State(state): State<AppState>, mut request: Request) -> Response {
    let asks_for_stream = request.headers().get(UPGRADE).is_some_and(|protocol| {
        protocol
            .as_bytes()
            .eq_ignore_ascii_case(PROTOCOL.as_bytes())
    });
    let upgrade = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>();
    // No upgrade to take when the router runs without `serve` (in tests).
    let (true, Some(upgrade), Some(end)) = (asks_for_stream, upgrade, state.streams_end()) else {
        return ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            format!(
                "{STREAM_PATH} opens a Raft stream: send Connection: upgrade and Upgrade: {PROTOCOL}"
            ),
        )
        .into_response();
    };
    let node = state.node.clone();
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                raft_stream::serve(node, TokioIo::new(upgraded), MAX_RAFT_RPC_BODY_BYTES, end).await
            }
            Err(e) => tracing::debug!(error = %e, "a Raft stream's upgrade failed"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, PROTOCOL)
        .body(Body::empty())
        .expect("a fixed status and valid headers")
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use crate::testing::single_node_router;
    use ordo_node::raft_stream::{PROTOCOL, STREAM_PATH};

    #[tokio::test]
    async fn a_stream_needs_an_upgrade_to_switch_to() {
        let router = single_node_router().await;
        let plain = Request::get(STREAM_PATH).body(Body::empty()).unwrap();
        // Asked for, but from a router run without `serve`: no connection
        // to hand over.
        let asked = Request::get(STREAM_PATH)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, PROTOCOL)
            .body(Body::empty())
            .unwrap();
        for request in [plain, asked] {
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"]["code"], "upgrade_required");
        }
    }
}
