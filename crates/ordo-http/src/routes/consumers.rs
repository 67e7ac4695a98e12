//! Consumer positions: `GET|PUT /v1/consumers/{group}/offsets/{topic}` and
//! `GET /v1/consumers/{group}`. Positions go through the Raft log like
//! appends, and are read like records (linearizable unless asked otherwise).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;

use crate::error::ApiError;
use crate::{extract, AppState};
use ordo_core::api::{
    CommitOffsetRequest, CommitOffsetResponse, ConsumerGroup, ConsumerOffset, PositionParams,
};

pub async fn get_offset(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<ConsumerOffset>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let params = extract::query(params)?;
    let offset = state
        .node
        .consumer_offset(&group, &topic, params.consistency)
        .await?;
    Ok(Json(offset))
}

pub async fn commit_offset(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<CommitOffsetRequest>, JsonRejection>,
) -> Result<Json<CommitOffsetResponse>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let request = extract::json(body)?;
    Ok(Json(state.node.commit_offset(group, topic, request).await?))
}

pub async fn group(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let group = extract::group(path)?;
    let params = extract::query(params)?;
    Ok(Json(
        state
            .node
            .consumer_group(&group, params.consistency)
            .await?,
    ))
}
