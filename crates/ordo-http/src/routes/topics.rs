//! Topics: `GET /v1/topics`, `GET|PUT|DELETE /v1/topics/{topic}` and the
//! search by time, `GET /v1/topics/{topic}/offsets?timestamp_ms=T`. Changes
//! go through the Raft log; reads are linearizable unless asked otherwise.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use crate::error::ApiError;
use crate::{extract, AppState};
use ordo_core::api::{
    CleanupResponse, OffsetForTime, OffsetForTimeParams, PositionParams, TopicInfo, TopicList,
};
use ordo_core::TopicConfig;

pub async fn list(
    State(state): State<AppState>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<TopicList>, ApiError> {
    let params = extract::query(params)?;
    Ok(Json(state.node.topics(params.consistency).await?))
}

pub async fn show(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<TopicInfo>, ApiError> {
    let topic = extract::topic(path)?;
    let params = extract::query(params)?;
    Ok(Json(state.node.topic(&topic, params.consistency).await?))
}

pub async fn put(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<TopicConfig>, JsonRejection>,
) -> Result<Json<TopicInfo>, ApiError> {
    let topic = extract::topic(path)?;
    let config = extract::json(body)?;
    Ok(Json(state.node.put_topic(topic, config).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let topic = extract::topic(path)?;
    state.node.delete_topic(topic).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/topics/{topic}/compact`: one cleanup pass now (no body).
pub async fn compact(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<CleanupResponse>, ApiError> {
    let topic = extract::topic(path)?;
    Ok(Json(state.node.clean_topic(topic).await?))
}

pub async fn offset_for_time(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<OffsetForTimeParams>, QueryRejection>,
) -> Result<Json<OffsetForTime>, ApiError> {
    let topic = extract::topic(path)?;
    let params = extract::query(params)?;
    let offset = state
        .node
        .offset_for_timestamp(&topic, params.timestamp_ms, params.consistency)
        .await?;
    Ok(Json(offset))
}
