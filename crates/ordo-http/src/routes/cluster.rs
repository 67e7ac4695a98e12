//! Cluster administration: `GET /v1/cluster`, `POST /v1/cluster/init`, and
//! membership: `POST /v1/cluster/nodes`, `DELETE /v1/cluster/nodes/{id}`,
//! `POST /v1/cluster/leader`. Any node takes them; the node layer routes
//! them to the leader.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;

use crate::error::ApiError;
use crate::{extract, AppState};
use ordo_core::api::{
    AddNodeRequest, ClusterStatus, InitRequest, MembershipResponse, RemoveNodeParams,
    TransferLeaderRequest,
};
use ordo_core::NodeId;

pub async fn status(State(state): State<AppState>) -> Json<ClusterStatus> {
    Json(state.node.status())
}

/// With no body or no members, the node's configured peers form the cluster
/// (the node alone if it has none).
pub async fn init(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<ClusterStatus>, ApiError> {
    let request: InitRequest = if is_blank(&body) {
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

/// Adds a learner, waits for it to catch up, promotes it to voter.
pub async fn add_node(
    State(state): State<AppState>,
    body: Result<Json<AddNodeRequest>, JsonRejection>,
) -> Result<Json<MembershipResponse>, ApiError> {
    let request = extract::json(body)?;
    Ok(Json(state.node.add_node(request).await?))
}

pub async fn remove_node(
    State(state): State<AppState>,
    path: Result<Path<NodeId>, PathRejection>,
    params: Result<Query<RemoveNodeParams>, QueryRejection>,
) -> Result<Json<MembershipResponse>, ApiError> {
    let Path(id) =
        path.map_err(|rejection| ApiError::bad_request("invalid_path", rejection.body_text()))?;
    let params = extract::query(params)?;
    Ok(Json(state.node.remove_node(id, params.force).await?))
}

/// With no body, or no `id`, the leader picks the most caught-up voter.
pub async fn transfer_leader(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<MembershipResponse>, ApiError> {
    let request: TransferLeaderRequest = if is_blank(&body) {
        TransferLeaderRequest::default()
    } else {
        extract::json_bytes(&body)?
    };
    Ok(Json(state.node.transfer_leader(request.id).await?))
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}
