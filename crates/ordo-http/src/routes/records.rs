//! Append and read records: `POST|GET /v1/topics/{topic}/records`; a
//! read may long-poll (`wait_ms`) and wait for this node to apply an index
//! (`min_log_index`).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;

use crate::error::ApiError;
use crate::{extract, AppState};
use ordo_core::api::{AppendRequest, AppendResponse, ReadQuery, ReadResponse};
use ordo_core::limits::{MAX_READ_LIMIT, MAX_READ_WAIT_MS};
use ordo_core::validate_append;

pub async fn append(
    State(state): State<AppState>,
    topic: Result<Path<String>, PathRejection>,
    body: Result<Json<AppendRequest>, JsonRejection>,
) -> Result<Json<AppendResponse>, ApiError> {
    let topic = extract::topic(topic)?;
    let request = extract::json(body)?;
    validate_append(&request.records, request.condition)?;
    let response = state.node.append(topic, request).await?;
    Ok(Json(response))
}

pub async fn read(
    State(state): State<AppState>,
    topic: Result<Path<String>, PathRejection>,
    params: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<ReadResponse>, ApiError> {
    let topic = extract::topic(topic)?;
    let params = extract::query(params)?;
    check_read(&params)?;
    Ok(Json(state.node.read_waiting(&topic, &params).await?))
}

/// A read's `limit` and `wait_ms` within their limits.
pub(crate) fn check_read(params: &ReadQuery) -> Result<(), ApiError> {
    if params.limit == Some(0) || params.limit.is_some_and(|l| l > MAX_READ_LIMIT) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_READ_LIMIT}"),
        ));
    }
    if params.wait_ms.is_some_and(|w| w > MAX_READ_WAIT_MS) {
        return Err(ApiError::bad_request(
            "invalid_wait",
            format!("wait_ms must be at most {MAX_READ_WAIT_MS}"),
        ));
    }
    Ok(())
}
