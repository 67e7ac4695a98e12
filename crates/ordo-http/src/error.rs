//! `ApiError`: every error the API answers with, mapped to one HTTP status and
//! the `{"error":{"code","message"}}` body in exactly one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use serde_json::{json, Value};

use ordo_api::{ErrorBody, ErrorDetail};
use ordo_core::{AppendError, NodeId, Rejection};
use ordo_node::membership_rules::MembershipError;
use ordo_node::NodeError;

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECS: &str = "1";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub leader: Option<NodeId>,
    /// What a failed compare found instead (see `ErrorDetail::current`).
    pub current: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            leader: None,
            current: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// What a node whose storage failed answers (`ordo_node::storage_fault`).
    pub fn storage_failed(cause: &str) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_failed",
            format!(
                "this node's storage failed ({cause}); it serves nothing until it is \
                 started again: send the request to another node"
            ),
        )
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let message = e.to_string();
        let (status, code, leader) = match e {
            NodeError::Rejected { rejection } => return ApiError::from(rejection),
            NodeError::Membership(refusal) => return ApiError::from(refusal),
            NodeError::TopicNotFound { .. } => (StatusCode::NOT_FOUND, "topic_not_found", None),
            NodeError::PositionNotFound { .. } => {
                (StatusCode::NOT_FOUND, "position_not_found", None)
            }
            NodeError::GroupNotFound { .. } => (StatusCode::NOT_FOUND, "group_not_found", None),
            NodeError::OffsetOutOfRange { .. } => {
                (StatusCode::BAD_REQUEST, "offset_out_of_range", None)
            }
            NodeError::OffsetGone { start_offset, .. } => {
                return ApiError {
                    current: Some(json!({ "start_offset": start_offset })),
                    ..ApiError::new(StatusCode::GONE, "offset_gone", message)
                };
            }
            NodeError::NoLeader { leader, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "no_leader", leader)
            }
            NodeError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            // Not 503: a 503 promises nothing happened, and this may have.
            NodeError::OutcomeUnknown { .. } => {
                (StatusCode::GATEWAY_TIMEOUT, "outcome_unknown", None)
            }
            NodeError::InsufficientStorage {
                free_bytes,
                reserve_bytes,
                ..
            } => {
                return ApiError {
                    current: Some(json!({
                        "free_bytes": free_bytes,
                        "reserve_bytes": reserve_bytes,
                    })),
                    ..ApiError::new(
                        StatusCode::INSUFFICIENT_STORAGE,
                        "insufficient_storage",
                        message,
                    )
                };
            }
            NodeError::AlreadyInitialized => (StatusCode::CONFLICT, "already_initialized", None),
            NodeError::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request", None),
            NodeError::Internal { .. } => {
                tracing::error!(error = %message, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
        };
        ApiError {
            leader,
            ..ApiError::new(status, code, message)
        }
    }
}

/// The state machine's refusals. Each appended or changed nothing; a
/// conflict carries what was found, so the client can decide again.
impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let message = rejection.to_string();
        let (status, code, current) = match rejection {
            Rejection::ConditionFailed { current, .. } => (
                StatusCode::CONFLICT,
                "condition_failed",
                Some(serde_json::to_value(current).expect("a Current always serializes")),
            ),
            Rejection::SequenceSkipped { expected } => (
                StatusCode::CONFLICT,
                "sequence_out_of_order",
                Some(json!({ "expected_seq": expected })),
            ),
            Rejection::SequenceWentBack { last_seq } => (
                StatusCode::CONFLICT,
                "sequence_out_of_order",
                Some(json!({ "last_seq": last_seq })),
            ),
            Rejection::SequenceReused { seq, topic } => (
                StatusCode::CONFLICT,
                "sequence_out_of_order",
                Some(json!({ "last_seq": seq, "topic": topic })),
            ),
            Rejection::PositionConflict { current } => (
                StatusCode::CONFLICT,
                "position_conflict",
                Some(json!({ "offset": current })),
            ),
            Rejection::TopicNotFound { .. } => (StatusCode::NOT_FOUND, "topic_not_found", None),
            Rejection::NothingToClean { .. } => (StatusCode::CONFLICT, "nothing_to_clean", None),
            Rejection::KeyRequired { .. } => (StatusCode::BAD_REQUEST, "key_required", None),
            Rejection::TooManyTopics { limit, .. } => (
                StatusCode::CONFLICT,
                "too_many_topics",
                Some(json!({ "topics": limit })),
            ),
            Rejection::OffsetBeyondEnd { end_offset } => (
                StatusCode::BAD_REQUEST,
                "offset_out_of_range",
                Some(json!({ "end_offset": end_offset })),
            ),
            Rejection::QueueNotFound { .. } => (StatusCode::NOT_FOUND, "queue_not_found", None),
            Rejection::LeaseLost { offsets } => (
                StatusCode::CONFLICT,
                "lease_lost",
                Some(json!({ "offsets": offsets })),
            ),
            Rejection::JobNamedTwice { .. } => (StatusCode::BAD_REQUEST, "invalid_body", None),
            Rejection::DeadLetterIsSource { .. } => (StatusCode::BAD_REQUEST, "invalid_body", None),
            Rejection::TooManyQueues { limit } => (
                StatusCode::CONFLICT,
                "too_many_queues",
                Some(json!({ "queues": limit })),
            ),
        };
        ApiError {
            current,
            ..ApiError::new(status, code, message)
        }
    }
}

/// Refused membership changes and leadership transfers.
impl From<MembershipError> for ApiError {
    fn from(refusal: MembershipError) -> Self {
        let message = refusal.to_string();
        let (status, code) = match refusal {
            MembershipError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_body"),
            MembershipError::AlreadyMember { .. } => (StatusCode::CONFLICT, "already_member"),
            MembershipError::NodeNotFound { .. } => (StatusCode::NOT_FOUND, "node_not_found"),
            MembershipError::Fragile { .. } => (StatusCode::CONFLICT, "fragile_membership"),
            MembershipError::LastVoter { .. } => (StatusCode::CONFLICT, "last_voter"),
            MembershipError::NotAVoter { .. } => (StatusCode::CONFLICT, "not_a_voter"),
            MembershipError::NoTransferTarget => (StatusCode::CONFLICT, "no_transfer_target"),
            // Nothing changed and a retry shortly after may succeed.
            MembershipError::ChangeInProgress => (
                StatusCode::SERVICE_UNAVAILABLE,
                "membership_change_in_progress",
            ),
            // Not 503: the node was added, as a learner.
            MembershipError::CatchUpTimeout { .. } => {
                (StatusCode::GATEWAY_TIMEOUT, "catch_up_timeout")
            }
        };
        ApiError::new(status, code, message)
    }
}

/// The core's edge checks on an append.
impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        let message = e.to_string();
        match e {
            AppendError::NoRecords => ApiError::bad_request("empty_records", message),
            AppendError::TooManyRecords { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many_records", message)
            }
            AppendError::Record { .. } => ApiError::bad_request("invalid_record", message),
            AppendError::NoSingleKey { .. } => ApiError::bad_request("invalid_condition", message),
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
                current: self.current,
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
    use ordo_core::{Condition, Current, Offset, TopicName};

    fn rejected(rejection: Rejection) -> ApiError {
        ApiError::from(NodeError::Rejected { rejection })
    }

    #[test]
    fn conflicts_are_409_and_say_what_was_found() {
        let failed = rejected(Rejection::ConditionFailed {
            condition: Condition::KeyAbsent,
            current: Current::KeyLastOffset(Some(Offset(3))),
        });
        assert_eq!(
            (failed.status, failed.code),
            (StatusCode::CONFLICT, "condition_failed")
        );
        assert_eq!(failed.current, Some(json!({"key_last_offset": 3})));
        let failed = rejected(Rejection::ConditionFailed {
            condition: Condition::ExpectedOffset(Offset(1)),
            current: Current::NextOffset(Offset(2)),
        });
        assert_eq!(failed.current, Some(json!({"next_offset": 2})));

        for (rejection, current) in [
            (
                Rejection::SequenceSkipped { expected: 3 },
                json!({"expected_seq": 3}),
            ),
            (
                Rejection::SequenceWentBack { last_seq: 2 },
                json!({"last_seq": 2}),
            ),
            (
                Rejection::SequenceReused {
                    seq: 0,
                    topic: TopicName::new("t").unwrap(),
                },
                json!({"last_seq": 0, "topic": "t"}),
            ),
        ] {
            let error = rejected(rejection);
            assert_eq!(
                (error.status, error.code),
                (StatusCode::CONFLICT, "sequence_out_of_order")
            );
            assert_eq!(error.current, Some(current));
        }

        let conflict = rejected(Rejection::PositionConflict { current: None });
        assert_eq!(
            (conflict.status, conflict.code),
            (StatusCode::CONFLICT, "position_conflict")
        );
        assert_eq!(conflict.current, Some(json!({"offset": null})));
    }

    #[test]
    fn a_position_past_the_end_is_bad_input_and_an_unknown_topic_not_found() {
        let beyond = rejected(Rejection::OffsetBeyondEnd {
            end_offset: Offset(4),
        });
        assert_eq!(
            (beyond.status, beyond.code),
            (StatusCode::BAD_REQUEST, "offset_out_of_range")
        );
        let missing = rejected(Rejection::TopicNotFound {
            topic: TopicName::new("t").unwrap(),
        });
        assert_eq!(
            (missing.status, missing.code),
            (StatusCode::NOT_FOUND, "topic_not_found")
        );
    }

    #[test]
    fn membership_refusals_say_what_kind_they_are() {
        let cases = [
            (
                MembershipError::Fragile {
                    voters_before: 3,
                    voters_after: 2,
                },
                StatusCode::CONFLICT,
                "fragile_membership",
            ),
            (
                MembershipError::NodeNotFound { id: 9 },
                StatusCode::NOT_FOUND,
                "node_not_found",
            ),
            (
                MembershipError::AlreadyMember {
                    id: 2,
                    addr: "h:1".into(),
                    role: "voter".into(),
                },
                StatusCode::CONFLICT,
                "already_member",
            ),
            (
                MembershipError::Invalid { reason: "x".into() },
                StatusCode::BAD_REQUEST,
                "invalid_body",
            ),
            (
                MembershipError::ChangeInProgress,
                StatusCode::SERVICE_UNAVAILABLE,
                "membership_change_in_progress",
            ),
        ];
        for (refusal, status, code) in cases {
            let error = ApiError::from(NodeError::Membership(refusal));
            assert_eq!((error.status, error.code), (status, code));
        }
    }

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
