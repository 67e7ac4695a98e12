//! Request parsing at the edge: path, query and JSON body into validated
//! types, with axum's plain-text rejections turned into `ApiError`s.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::Path;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use ordo_core::{GroupName, TopicName};

/// The `{topic}` path segment, validated (a segment that is not even UTF-8
/// after percent-decoding is refused the same way).
pub fn topic(path: Result<Path<String>, PathRejection>) -> Result<TopicName, ApiError> {
    let Path(raw) =
        path.map_err(|rejection| ApiError::bad_request("invalid_topic", rejection.body_text()))?;
    parse_topic(raw)
}

/// The `{group}` and `{topic}` path segments of a consumer position.
pub fn group_and_topic(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(GroupName, TopicName), ApiError> {
    let Path((group, topic)) =
        path.map_err(|rejection| ApiError::bad_request("invalid_path", rejection.body_text()))?;
    Ok((parse_group(group)?, parse_topic(topic)?))
}

/// The `{group}` path segment, validated.
pub fn group(path: Result<Path<String>, PathRejection>) -> Result<GroupName, ApiError> {
    let Path(raw) =
        path.map_err(|rejection| ApiError::bad_request("invalid_group", rejection.body_text()))?;
    parse_group(raw)
}

fn parse_group(raw: String) -> Result<GroupName, ApiError> {
    GroupName::new(raw).map_err(|e| ApiError::bad_request("invalid_group", e.to_string()))
}

fn parse_topic(raw: String) -> Result<TopicName, ApiError> {
    TopicName::new(raw).map_err(|e| ApiError::bad_request("invalid_topic", e.to_string()))
}

pub fn json<T: DeserializeOwned>(
    body: Result<axum::Json<T>, JsonRejection>,
) -> Result<T, ApiError> {
    match body {
        Ok(axum::Json(value)) => Ok(value),
        Err(rejection) => Err(match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "request body is over the limit of {} bytes",
                    ordo_core::limits::MAX_REQUEST_BODY_BYTES
                ),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON: send content-type: application/json (or no \
                 content-type at all)",
            ),
            _ => ApiError::bad_request("invalid_body", rejection.body_text()),
        }),
    }
}

/// Parses a JSON body that may also be empty (the caller decides what empty means).
pub fn json_bytes<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

pub fn query<T>(params: Result<axum::extract::Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|axum::extract::Query(value)| value)
        .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
}
