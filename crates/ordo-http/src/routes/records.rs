//! Append and read records: `POST|GET /v1/topics/{topic}/records`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use crate::error::ApiError;
use crate::{extract, AppState};
use ordo_core::api::{AppendRequest, AppendResponse, ReadParams, ReadResponse};
use ordo_core::limits::{MAX_READ_LIMIT, MAX_RECORDS_PER_APPEND};

pub async fn append(
    State(state): State<AppState>,
    topic: Result<Path<String>, PathRejection>,
    body: Result<Json<AppendRequest>, JsonRejection>,
) -> Result<Json<AppendResponse>, ApiError> {
    let topic = extract::topic(topic)?;
    let request = extract::json(body)?;
    if request.records.is_empty() {
        return Err(ApiError::bad_request(
            "empty_records",
            "an append needs at least one record",
        ));
    }
    if request.records.len() > MAX_RECORDS_PER_APPEND {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!(
                "{} records in one append; the limit is {MAX_RECORDS_PER_APPEND}",
                request.records.len()
            ),
        ));
    }
    for (i, record) in request.records.iter().enumerate() {
        record
            .validate()
            .map_err(|e| ApiError::bad_request("invalid_record", format!("record {i}: {e}")))?;
    }
    let response = state.node.append(topic, request.records).await?;
    Ok(Json(response))
}

pub async fn read(
    State(state): State<AppState>,
    topic: Result<Path<String>, PathRejection>,
    params: Result<Query<ReadParams>, QueryRejection>,
) -> Result<Json<ReadResponse>, ApiError> {
    let topic = extract::topic(topic)?;
    let params = extract::query(params)?;
    if params.limit == Some(0) || params.limit.is_some_and(|l| l > MAX_READ_LIMIT) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_READ_LIMIT}"),
        ));
    }
    Ok(Json(state.node.read(&topic, &params).await?))
}
