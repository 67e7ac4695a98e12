//! `ApiError`: every error the API answers with, mapped to one HTTP status and
//! the `{"error":{"code","message"}}` body in exactly one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use ordo_core::api::{ErrorBody, ErrorDetail};
use ordo_core::NodeId;
use ordo_node::NodeError;

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECS: &str = "1";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub leader: Option<NodeId>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            leader: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let message = e.to_string();
        let (status, code, leader) = match e {
            NodeError::TopicNotFound { .. } => (StatusCode::NOT_FOUND, "topic_not_found", None),
            NodeError::OffsetOutOfRange { .. } => {
                (StatusCode::BAD_REQUEST, "offset_out_of_range", None)
            }
            NodeError::NoLeader { leader, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "no_leader", leader)
            }
            NodeError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            // Not 503: a 503 promises nothing happened, and this may have.
            NodeError::OutcomeUnknown { .. } => {
                (StatusCode::GATEWAY_TIMEOUT, "outcome_unknown", None)
            }
            NodeError::AlreadyInitialized => (StatusCode::CONFLICT, "already_initialized", None),
            NodeError::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request", None),
            NodeError::Internal { .. } => {
                tracing::error!(error = %message, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
        };
        ApiError {
            status,
            code,
            message,
            leader,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                leader: self.leader,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_carries_retry_after_and_outcome_unknown_is_not_503() {
        let r = ApiError::from(NodeError::NoLeader {
            leader: Some(2),
            reason: "x".into(),
        })
        .into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = ApiError::from(NodeError::OutcomeUnknown { reason: "x".into() }).into_response();
        assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
    }
}
