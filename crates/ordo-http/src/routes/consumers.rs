//! Consumer positions: `GET|PUT /v1/consumers/{group}/offsets/{topic}` and
//! `GET /v1/consumers/{group}`. Positions go through the Raft log like
//! appends, and are read like records (linearizable unless asked otherwise).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::Json;

use crate::acl::{Permission, Resource};
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::extract::{self, JsonBody};
use crate::AppState;
use ordo_api::{
    CommitOffsetRequest, CommitOffsetResponse, ConsumerGroup, ConsumerOffset, ErrorBody,
    PositionParams,
};

use ordo_api::openapi::schema;

/// The group's committed position in the topic: the next offset it reads.
#[utoipa::path(
    get,
    path = "/v1/consumers/{group}/offsets/{topic}",
    tag = "consumers",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group."),
        ("topic" = schema::TopicName, Path, description = "The topic."),
        PositionParams,
    ),
    responses(
        (status = 200, description = "The position.", body = ConsumerOffset),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`, \
            `invalid_query`.", body = ErrorBody),
        (status = 404, description = "`position_not_found`: the group never committed one \
            in the topic.", body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`, `unavailable` (linearizable only).",
            body = ErrorBody),
    )
)]
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
    Ok(Json(ConsumerOffset { offset }))
}

/// Commits the group's position in the topic, through the Raft log.
#[utoipa::path(
    put,
    path = "/v1/consumers/{group}/offsets/{topic}",
    tag = "consumers",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group."),
        ("topic" = schema::TopicName, Path, description = "The topic."),
    ),
    request_body = CommitOffsetRequest,
    responses(
        (status = 200, description = "Committed.", body = CommitOffsetResponse),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`, \
            `invalid_body`, `offset_out_of_range` (past the topic's end; `current` has \
            `end_offset`).", body = ErrorBody),
        (status = 404, description = "`topic_not_found`.", body = ErrorBody),
        (status = 409, description = "`position_conflict`: the position is not `expected`; \
            `current` has `offset` (or null).", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
        (status = 507, description = "`insufficient_storage`: the leader's free disk space is \
            below its reserve (`--min-free-bytes`); `current` has `free_bytes` and \
            `reserve_bytes`. Nothing changed; retry once space returns.", body = ErrorBody),
    )
)]
pub async fn commit_offset(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<JsonBody<CommitOffsetRequest>, ApiError>,
) -> Result<Json<CommitOffsetResponse>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let JsonBody(CommitOffsetRequest { offset, expected }) = body?;
    let log_index = state
        .node
        .commit_offset(group, topic, offset, expected)
        .await?;
    Ok(Json(CommitOffsetResponse { offset, log_index }))
}

/// Every position the group committed, with each topic's end and lag.
#[utoipa::path(
    get,
    path = "/v1/consumers/{group}",
    tag = "consumers",
    params(("group" = schema::GroupName, Path, description = "The consumer group."), PositionParams),
    responses(
        (status = 200, description = "The group's positions.", body = ConsumerGroup),
        (status = 400, description = "`invalid_group`, `invalid_query`.", body = ErrorBody),
        (status = 404, description = "`group_not_found`: no positions at all.",
            body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`, `unavailable` (linearizable only).",
            body = ErrorBody),
    )
)]
pub async fn group(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let group = extract::group(path)?;
    let params = extract::query(params)?;
    let topics = state
        .node
        .consumer_group(&group, params.consistency)
        .await?;
    let mut topics = ordo_node::status::topic_positions(topics);
    // Only the topics the caller may read (the route asks only `groups`).
    topics.retain(|topic, _| auth::may(&caller, Permission::Read, Resource::Topic(topic.as_str())));
    Ok(Json(ConsumerGroup { group, topics }))
}
