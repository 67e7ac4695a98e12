//! Topics: `GET /v1/topics`, `GET|PUT|DELETE /v1/topics/{topic}` and the
//! search by time, `GET /v1/topics/{topic}/offsets?timestamp_ms=T`. Changes
//! go through the Raft log; reads are linearizable unless asked otherwise.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use crate::acl::{Permission, Resource};
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::extract::{self, JsonBody};
use crate::AppState;
use ordo_api::openapi::schema;
use ordo_api::{
    CleanupResponse, ErrorBody, OffsetForTime, OffsetForTimeParams, PositionParams, TopicInfo,
    TopicList,
};
use ordo_core::{TopicConfig, TopicName, TopicState};

/// Every topic, by name; with principals, the topics the caller may read.
#[utoipa::path(
    get,
    path = "/v1/topics",
    tag = "topics",
    params(PositionParams),
    responses(
        (status = 200, description = "Every topic.", body = TopicList),
        (status = 400, description = "`invalid_query`.", body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`, `unavailable` (linearizable only).",
            body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<TopicList>, ApiError> {
    let params = extract::query(params)?;
    let topics = state.node.topics(params.consistency).await?;
    let readable =
        |topic: &TopicName| auth::may(&caller, Permission::Read, Resource::Topic(topic.as_str()));
    Ok(Json(TopicList {
        topics: topics
            .into_iter()
            .filter(|(topic, _)| readable(topic))
            .map(|(t, s)| info(t, &s))
            .collect(),
    }))
}

/// One topic: its config, start and end offsets, records and bytes.
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}",
    tag = "topics",
    params(("topic" = schema::TopicName, Path, description = "The topic."), PositionParams),
    responses(
        (status = 200, description = "The topic.", body = TopicInfo),
        (status = 400, description = "`invalid_topic`, `invalid_query`.", body = ErrorBody),
        (status = 404, description = "`topic_not_found`.", body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`, `unavailable` (linearizable only).",
            body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<TopicInfo>, ApiError> {
    let topic = extract::topic(path)?;
    let params = extract::query(params)?;
    let topic_state = state.node.topic(&topic, params.consistency).await?;
    Ok(Json(info(topic, &topic_state)))
}

/// Creates the topic with this config, or sets an existing topic's config
/// (its records stay).
#[utoipa::path(
    put,
    path = "/v1/topics/{topic}",
    tag = "topics",
    params(("topic" = schema::TopicName, Path, description = "The topic.")),
    request_body = schema::TopicConfig,
    responses(
        (status = 200, description = "The topic with its new config.", body = TopicInfo),
        (status = 400, description = "`invalid_topic`, `invalid_body` (including a config \
            that breaks the rules of `TopicConfig`).", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
        (status = 507, description = "`insufficient_storage`: the leader's free disk space is \
            below its reserve (`--min-free-bytes`); `current` has `free_bytes` and \
            `reserve_bytes`. Nothing changed; retry once space returns.", body = ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<TopicConfig>, ApiError>,
) -> Result<Json<TopicInfo>, ApiError> {
    let topic = extract::topic(path)?;
    let JsonBody(config) = body?;
    let topic_state = state.node.put_topic(topic.clone(), config).await?;
    Ok(Json(info(topic, &topic_state)))
}

/// Deletes the topic: its records, key index and every group's position
/// in it. The name may be used again (offsets restart at 0).
#[utoipa::path(
    delete,
    path = "/v1/topics/{topic}",
    tag = "topics",
    params(("topic" = schema::TopicName, Path, description = "The topic.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`invalid_topic`.", body = ErrorBody),
        (status = 404, description = "`topic_not_found`.", body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let topic = extract::topic(path)?;
    state.node.delete_topic(topic).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/topics/{topic}/compact`: one cleanup pass now (no body).
#[utoipa::path(
    post,
    path = "/v1/topics/{topic}/compact",
    tag = "topics",
    params(("topic" = schema::TopicName, Path, description = "The topic.")),
    responses(
        (status = 200, description = "The topic after the pass, and what it removed.",
            body = CleanupResponse),
        (status = 400, description = "`invalid_topic`.", body = ErrorBody),
        (status = 404, description = "`topic_not_found`.", body = ErrorBody),
        (status = 409, description = "`nothing_to_clean`: the topic's cleanup is `none`.",
            body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
    )
)]
pub async fn compact(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<CleanupResponse>, ApiError> {
    let topic = extract::topic(path)?;
    let cleaned = state.node.clean_topic(topic.clone()).await?;
    Ok(Json(CleanupResponse {
        topic: info(topic, &cleaned.topic),
        removed_records: cleaned.removed_records,
        removed_bytes: cleaned.removed_bytes,
        log_index: cleaned.log_index,
    }))
}

/// Seek by time: the first offset whose record's `timestamp_ms` is at or
/// after `timestamp_ms` (the end offset if there is none).
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}/offsets",
    tag = "topics",
    params(("topic" = schema::TopicName, Path, description = "The topic."), OffsetForTimeParams),
    responses(
        (status = 200, description = "The offset.", body = OffsetForTime),
        (status = 400, description = "`invalid_topic`, `invalid_query` (`timestamp_ms` \
            missing or not an integer).", body = ErrorBody),
        (status = 404, description = "`topic_not_found`.", body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`, `unavailable` (linearizable only).",
            body = ErrorBody),
    )
)]
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
    Ok(Json(OffsetForTime { offset }))
}

/// A topic as the API shows it.
fn info(topic: TopicName, state: &TopicState) -> TopicInfo {
    TopicInfo {
        topic,
        config: state.config,
        start_offset: state.start_offset,
        end_offset: state.end_offset,
        records: state.stored_records,
        bytes: state.stored_bytes,
    }
}
