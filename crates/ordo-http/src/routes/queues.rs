//! Work queues (DESIGN.md §3c): `PUT|GET|DELETE /v1/queues/{group}/{topic}`,
//! `GET /v1/queues`, and a queue's jobs: `POST …/claim` (long-polls up to
//! `wait_ms`), `…/ack`, `…/nack`, `…/extend`. Every change goes through the
//! Raft log; the limits are checked here, before anything is proposed.

use std::time::Duration;

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
use ordo_api::queues::{
    DEAD_LETTER_SUFFIX, DEFAULT_LEASE_MS, DEFAULT_MAX_DELIVERIES, MAX_CLAIM_WAIT_MS,
    MAX_DELIVERIES_LIMIT, MAX_JOBS_PER_REQUEST, MAX_LEASE_MS, MIN_LEASE_MS,
};
use ordo_api::{
    AckRequest, ClaimRequest, ClaimResponse, ErrorBody, ExtendRequest, ExtendResponse,
    ExtendedLease, Job, JobLease, JobsDone, LeaseToken, NackRequest, PositionParams,
    PutQueueRequest, QueueInfo, QueueList,
};
use ordo_core::queue::MAX_CLAIM_JOBS;
use ordo_core::{HeldJob, QueueConfig, TopicName};
use ordo_node::QueueView;

/// Makes the queue, or sets an existing one's config (its jobs stay).
#[utoipa::path(
    put,
    path = "/v1/queues/{group}/{topic}",
    tag = "queues",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group the queue belongs to."),
        ("topic" = schema::TopicName, Path, description = "The topic whose records are the jobs."),
    ),
    request_body = PutQueueRequest,
    responses(
        (status = 200, description = "The queue.", body = QueueInfo),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`, \
            `invalid_body` (a setting out of its bounds, or the dead-letter topic is the \
            queue's own).", body = ErrorBody),
        (status = 409, description = "`too_many_queues`, `too_many_topics` (the dead-letter \
            topic would be one too many).", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 503, description = "`storage_failed`, `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
        (status = 507, description = "`insufficient_storage`.", body = ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<JsonBody<PutQueueRequest>, ApiError>,
) -> Result<Json<QueueInfo>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let JsonBody(request) = body?;
    let config = queue_config(&topic, request)?;
    let view = state.node.put_queue(group, topic, config).await?;
    Ok(Json(state.node.queue_info(&view)))
}

/// One queue: its settings and where its jobs stand.
#[utoipa::path(
    get,
    path = "/v1/queues/{group}/{topic}",
    tag = "queues",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group."),
        ("topic" = schema::TopicName, Path, description = "The topic."),
        PositionParams,
    ),
    responses(
        (status = 200, description = "The queue.", body = QueueInfo),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`, \
            `invalid_query`.", body = ErrorBody),
        (status = 404, description = "`queue_not_found`.", body = ErrorBody),
        (status = 503, description = "`storage_failed`, `no_leader`, `unavailable` \
            (linearizable only).", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<QueueInfo>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let params = extract::query(params)?;
    let view = state.node.queue(&group, &topic, params.consistency).await?;
    Ok(Json(state.node.queue_info(&view)))
}

/// Deletes the queue and where its jobs stand; the topic stays.
#[utoipa::path(
    delete,
    path = "/v1/queues/{group}/{topic}",
    tag = "queues",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group."),
        ("topic" = schema::TopicName, Path, description = "The topic."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`.",
            body = ErrorBody),
        (status = 404, description = "`queue_not_found`.", body = ErrorBody),
        (status = 503, description = "`storage_failed`, `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    state.node.delete_queue(group, topic).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every queue; with principals, those whose group and topic the caller
/// may use.
#[utoipa::path(
    get,
    path = "/v1/queues",
    tag = "queues",
    params(PositionParams),
    responses(
        (status = 200, description = "The queues, by topic then group.", body = QueueList),
        (status = 400, description = "`invalid_query`.", body = ErrorBody),
        (status = 503, description = "`storage_failed`, `no_leader`, `unavailable` \
            (linearizable only).", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    params: Result<Query<PositionParams>, QueryRejection>,
) -> Result<Json<QueueList>, ApiError> {
    let params = extract::query(params)?;
    let views = state.node.queues(params.consistency).await?;
    let usable = |view: &QueueView| {
        auth::may(
            &caller,
            Permission::Groups,
            Resource::Group(view.group.as_str()),
        ) && auth::may(
            &caller,
            Permission::Read,
            Resource::Topic(view.topic.as_str()),
        )
    };
    Ok(Json(QueueList {
        queues: views
            .iter()
            .filter(|view| usable(view))
            .map(|view| state.node.queue_info(view))
            .collect(),
    }))
}

/// Hands out up to `max` jobs in offset order, each under a lease; with
/// none ready, long-polls up to `wait_ms`.
#[utoipa::path(
    post,
    path = "/v1/queues/{group}/{topic}/claim",
    tag = "queues",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group."),
        ("topic" = schema::TopicName, Path, description = "The topic."),
    ),
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "The jobs handed out (none at the end of `wait_ms`).",
            body = ClaimResponse),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`, \
            `invalid_body` (`max`, `lease_ms` or `wait_ms` out of bounds).", body = ErrorBody),
        (status = 404, description = "`queue_not_found`.", body = ErrorBody),
        (status = 413, description = "`body_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 503, description = "`storage_failed`, `no_leader`: nothing was handed out.",
            body = ErrorBody),
        (status = 504, description = "`outcome_unknown`: jobs may have been handed out; \
            their leases end unused.", body = ErrorBody),
    )
)]
pub async fn claim(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<JsonBody<ClaimRequest>, ApiError>,
) -> Result<Json<ClaimResponse>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let JsonBody(request) = body?;
    if !(1..=MAX_CLAIM_JOBS as u32).contains(&request.max) {
        return Err(invalid(format!(
            "max must be 1 to {MAX_CLAIM_JOBS}, not {}",
            request.max
        )));
    }
    if let Some(lease_ms) = request.lease_ms {
        check_lease("lease_ms", lease_ms)?;
    }
    if request.wait_ms > MAX_CLAIM_WAIT_MS {
        return Err(invalid(format!(
            "wait_ms must be at most {MAX_CLAIM_WAIT_MS}, not {}",
            request.wait_ms
        )));
    }
    let wait = Duration::from_millis(request.wait_ms);
    let claimed = state
        .node
        .claim(group, topic, request.max, request.lease_ms, wait)
        .await?;
    let jobs = claimed
        .jobs
        .into_iter()
        .map(|(job, record)| Job {
            offset: job.offset,
            delivery: job.delivery,
            lease: LeaseToken(job.lease),
            lease_expires_ms: job.expires_ms,
            key: record.key,
            value: record.value,
            headers: record.headers,
            timestamp_ms: record.timestamp_ms,
        })
        .collect();
    Ok(Json(ClaimResponse {
        jobs,
        log_index: claimed.log_index,
    }))
}

/// The jobs are done. All or nothing: one lease no longer held is `409
/// lease_lost`, and no job is acked.
#[utoipa::path(
    post,
    path = "/v1/queues/{group}/{topic}/ack",
    tag = "queues",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group."),
        ("topic" = schema::TopicName, Path, description = "The topic."),
    ),
    request_body = AckRequest,
    responses(
        (status = 200, description = "Acked.", body = JobsDone),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`, \
            `invalid_body` (no jobs, too many, one named twice).", body = ErrorBody),
        (status = 404, description = "`queue_not_found`.", body = ErrorBody),
        (status = 409, description = "`lease_lost`: a lease expired and the job moved on, or \
            the job is done; `current` has `offsets`. Nothing changed.", body = ErrorBody),
        (status = 503, description = "`storage_failed`, `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
    )
)]
pub async fn ack(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<JsonBody<AckRequest>, ApiError>,
) -> Result<Json<JobsDone>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let JsonBody(AckRequest { jobs }) = body?;
    let jobs = held(&jobs)?;
    let log_index = state.node.ack(group, topic, jobs).await?;
    Ok(Json(JobsDone {
        log_index,
        dead_lettered: Vec::new(),
    }))
}

/// The worker gives the jobs back, to go again after `delay_ms`; a job on
/// its last delivery goes to the dead-letter topic instead.
#[utoipa::path(
    post,
    path = "/v1/queues/{group}/{topic}/nack",
    tag = "queues",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group."),
        ("topic" = schema::TopicName, Path, description = "The topic."),
    ),
    request_body = NackRequest,
    responses(
        (status = 200, description = "Given back; `dead_lettered` names those that went to \
            the dead-letter topic.", body = JobsDone),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`, \
            `invalid_body`.", body = ErrorBody),
        (status = 404, description = "`queue_not_found`.", body = ErrorBody),
        (status = 409, description = "`lease_lost`. Nothing changed.", body = ErrorBody),
        (status = 503, description = "`storage_failed`, `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
    )
)]
pub async fn nack(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<JsonBody<NackRequest>, ApiError>,
) -> Result<Json<JobsDone>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let JsonBody(NackRequest { jobs, delay_ms }) = body?;
    let jobs = held(&jobs)?;
    if delay_ms > MAX_LEASE_MS {
        return Err(invalid(format!(
            "delay_ms must be at most {MAX_LEASE_MS}, not {delay_ms}"
        )));
    }
    let (log_index, dead) = state.node.nack(group, topic, jobs, delay_ms).await?;
    Ok(Json(JobsDone {
        log_index,
        dead_lettered: dead.into_iter().map(|job| job.offset).collect(),
    }))
}

/// The worker keeps the jobs `lease_ms` from now.
#[utoipa::path(
    post,
    path = "/v1/queues/{group}/{topic}/extend",
    tag = "queues",
    params(
        ("group" = schema::GroupName, Path, description = "The consumer group."),
        ("topic" = schema::TopicName, Path, description = "The topic."),
    ),
    request_body = ExtendRequest,
    responses(
        (status = 200, description = "Each job's new expiry.", body = ExtendResponse),
        (status = 400, description = "`invalid_group`, `invalid_topic`, `invalid_path`, \
            `invalid_body`.", body = ErrorBody),
        (status = 404, description = "`queue_not_found`.", body = ErrorBody),
        (status = 409, description = "`lease_lost`. Nothing changed.", body = ErrorBody),
        (status = 503, description = "`storage_failed`, `no_leader`: nothing changed.", body = ErrorBody),
        (status = 504, description = "`outcome_unknown`.", body = ErrorBody),
    )
)]
pub async fn extend(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<JsonBody<ExtendRequest>, ApiError>,
) -> Result<Json<ExtendResponse>, ApiError> {
    let (group, topic) = extract::group_and_topic(path)?;
    let JsonBody(ExtendRequest { jobs, lease_ms }) = body?;
    let held_jobs = held(&jobs)?;
    if let Some(lease_ms) = lease_ms {
        check_lease("lease_ms", lease_ms)?;
    }
    let (log_index, expires) = state.node.extend(group, topic, held_jobs, lease_ms).await?;
    Ok(Json(ExtendResponse {
        jobs: jobs
            .iter()
            .zip(expires)
            .map(|(job, lease_expires_ms)| ExtendedLease {
                offset: job.offset,
                lease_expires_ms,
            })
            .collect(),
        log_index,
    }))
}

/// A queue's config from a put, with the defaults filled in.
fn queue_config(topic: &TopicName, request: PutQueueRequest) -> Result<QueueConfig, ApiError> {
    let lease_ms = request.lease_ms.unwrap_or(DEFAULT_LEASE_MS);
    check_lease("lease_ms", lease_ms)?;
    let max_deliveries = request.max_deliveries.unwrap_or(DEFAULT_MAX_DELIVERIES);
    if !(1..=MAX_DELIVERIES_LIMIT).contains(&max_deliveries) {
        return Err(invalid(format!(
            "max_deliveries must be 1 to {MAX_DELIVERIES_LIMIT}, not {max_deliveries}"
        )));
    }
    let dead_letter_topic = match request.dead_letter_topic {
        Some(dead_letter_topic) => dead_letter_topic,
        None => TopicName::new(format!("{topic}{DEAD_LETTER_SUFFIX}")).map_err(|e| {
            invalid(format!(
                "the default dead-letter topic {topic}{DEAD_LETTER_SUFFIX} is no topic name \
                 ({e}): name one in dead_letter_topic"
            ))
        })?,
    };
    if dead_letter_topic == *topic {
        return Err(invalid(format!(
            "the dead-letter topic must not be the queue's own topic {topic}"
        )));
    }
    Ok(QueueConfig {
        lease_ms,
        max_deliveries,
        dead_letter_topic,
        ordered_by_key: request.ordered_by_key,
    })
}

/// The jobs an ack, nack or extend names, within its limits.
fn held(jobs: &[JobLease]) -> Result<Vec<HeldJob>, ApiError> {
    if jobs.is_empty() || jobs.len() > MAX_JOBS_PER_REQUEST {
        return Err(invalid(format!(
            "jobs must name 1 to {MAX_JOBS_PER_REQUEST} jobs, not {}",
            jobs.len()
        )));
    }
    Ok(jobs
        .iter()
        .map(|job| HeldJob {
            offset: job.offset,
            lease: job.lease.0,
        })
        .collect())
}

fn check_lease(field: &str, lease_ms: u64) -> Result<(), ApiError> {
    if (MIN_LEASE_MS..=MAX_LEASE_MS).contains(&lease_ms) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be {MIN_LEASE_MS} to {MAX_LEASE_MS}, not {lease_ms}"
        )))
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}
