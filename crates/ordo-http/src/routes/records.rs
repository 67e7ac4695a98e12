//! Append and read records: `POST|GET /v1/topics/{topic}/records`; a
//! read may long-poll (`wait_ms`) and wait for this node to apply an index
//! (`min_log_index`).

use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;

use crate::error::ApiError;
use crate::extract::{self, JsonBody};
use crate::AppState;
use ordo_api::limits::{MAX_READ_LIMIT, MAX_READ_WAIT_MS};
use ordo_api::openapi::schema;
use ordo_api::{AppendRequest, AppendResponse, ErrorBody, ReadQuery, ReadResponse};
use ordo_core::{validate_append, Append, Numbering, Producer};
use ordo_node::ReadRequest;

/// Appends records, atomically and at contiguous offsets. The topic is
/// created with the default config on its first append.
#[utoipa::path(
    post,
    path = "/v1/topics/{topic}/records",
    tag = "records",
    params(("topic" = schema::TopicName, Path, description = "The topic.")),
    request_body = AppendRequest,
    responses(
        (status = 200, description = "Appended; with `duplicate`, a producer's retry, answered \
            with the original offsets and log index (nothing appended).", body = AppendResponse),
        (status = 400, description = "`invalid_topic`, `invalid_body`, `empty_records`, \
            `invalid_record`, `invalid_condition`, `key_required` (a `compact` topic).",
            body = ErrorBody),
        (status = 409, description = "`condition_failed` (with `current`: `next_offset` or \
            `key_last_offset`), `sequence_out_of_order` (with `current`: `expected_seq` or \
            `last_seq`, and `topic`). Nothing was appended.", body = ErrorBody),
        (status = 413, description = "`body_too_large` (over 4 MiB), `too_many_records` \
            (over 10,000).", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is declared as \
            something other than `application/json` (no content type is taken as JSON).",
            body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader`: nothing was appended, safe to retry.",
            body = ErrorBody),
        (status = 504, description = "`outcome_unknown`: the append may or may not have \
            happened; retry with the same `producer` id and seq to be safe.", body = ErrorBody),
        (status = 507, description = "`insufficient_storage`: the leader's free disk space is \
            below its reserve (`--min-free-bytes`); `current` has `free_bytes` and \
            `reserve_bytes`. Nothing changed; retry once space returns.", body = ErrorBody),
    )
)]
pub async fn append(
    State(state): State<AppState>,
    topic: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<AppendRequest>, ApiError>,
) -> Result<Json<AppendResponse>, ApiError> {
    let topic = extract::topic(topic)?;
    let JsonBody(AppendRequest {
        records,
        producer,
        condition,
    }) = body?;
    validate_append(&records, condition)?;
    check_producer(producer.as_ref())?;
    let append = Append {
        records,
        producer,
        condition,
    };
    let appended = state.node.append(topic, append).await?;
    Ok(Json(AppendResponse {
        offsets: appended.offsets(),
        log_index: appended.log_index,
        duplicate: appended.duplicate,
    }))
}

/// Reads a page of records from `from`, skipping those compaction removed.
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}/records",
    tag = "records",
    params(("topic" = schema::TopicName, Path, description = "The topic."), ReadQuery),
    responses(
        (status = 200, description = "A page of records (empty if none at or after `from` \
            exists, after any `wait_ms`).", body = ReadResponse),
        (status = 400, description = "`invalid_topic`, `invalid_query`, `invalid_limit`, \
            `invalid_wait`, `offset_out_of_range` (`from` past the topic's end).",
            body = ErrorBody),
        (status = 404, description = "`topic_not_found` (after `wait_ms`, if any).",
            body = ErrorBody),
        (status = 410, description = "`offset_gone`: `from` is below the topic's start \
            (retention removed those records); `current` has `start_offset`.", body = ErrorBody),
        (status = 503, description = "`storage_failed` (this node's storage failed: try another node), `no_leader` or `unavailable` (no quorum for a \
            linearizable read, or `min_log_index` not applied within 5 s).", body = ErrorBody),
    )
)]
pub async fn read(
    State(state): State<AppState>,
    topic: Result<Path<String>, PathRejection>,
    params: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<ReadResponse>, ApiError> {
    let topic = extract::topic(topic)?;
    let params = extract::query(params)?;
    check_read(&params)?;
    let request = ReadRequest {
        from: params.from,
        limit: params.limit,
        consistency: params.consistency,
        wait: Duration::from_millis(params.wait_ms.unwrap_or(0)),
        min_log_index: params.min_log_index,
    };
    let page = state.node.read_waiting(&topic, &request).await?;
    Ok(Json(ReadResponse {
        records: page.records,
        next_offset: page.next_offset,
        end_offset: page.end_offset,
    }))
}

/// An HTTP producer numbers its appends: Kafka's record numbering is the
/// Kafka listener's alone and not part of the API, so a body that asks for
/// it is as invalid as one with any other field the API does not have.
pub(crate) fn check_producer(producer: Option<&Producer>) -> Result<(), ApiError> {
    match producer.map(|producer| producer.numbering) {
        None | Some(Numbering::Appends) => Ok(()),
        Some(Numbering::Records) => Err(ApiError::bad_request(
            "invalid_body",
            "producer: \"numbering\": \"records\" is for Kafka producers only; over HTTP a \
             producer numbers its appends 0, 1, 2, … (leave \"numbering\" out)",
        )),
    }
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use crate::testing::single_node_router;

    async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// Raw bytes (as a Kafka producer sends them, here as `value_b64`) read
    /// back as JSON when they are JSON, a string when they are UTF-8, and
    /// else as `value_b64`.
    #[tokio::test]
    async fn raw_byte_values_read_back_as_json_a_string_or_value_b64() {
        let router = single_node_router().await;
        let records = json!({"records": [
            {"value_b64": "eyJhIjoxfQ=="},  // {"a":1}
            {"value_b64": "aGVsbG8="},      // hello
            {"value_b64": "/wA="},          // ff 00
            {"value_b64": "IDEg"},          // " 1 "
            {"value": [1]},
        ]});
        let append = Request::post("/v1/topics/raw/records")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(records.to_string()))
            .unwrap();
        let (status, body) = call(&router, append).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let read = Request::get("/v1/topics/raw/records?consistency=linearizable")
            .body(Body::empty())
            .unwrap();
        let (status, page) = call(&router, read).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let values: Vec<Value> = page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let r = r.as_object_mut().unwrap();
                r.remove("offset");
                r.remove("timestamp_ms");
                Value::Object(r.clone())
            })
            .collect();
        assert_eq!(
            values,
            vec![
                json!({"value": {"a": 1}}),
                json!({"value": "hello"}),
                json!({"value_b64": "/wA="}),
                json!({"value": 1}),
                json!({"value": [1]}),
            ]
        );
    }

    async fn append(router: &axum::Router, body: Value) -> (StatusCode, Value) {
        let request = Request::post("/v1/topics/t/records")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("a valid request");
        let response = router.clone().oneshot(request).await.expect("answered");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (
            status,
            serde_json::from_slice(&body).expect("a JSON answer"),
        )
    }

    #[tokio::test]
    async fn an_http_producer_that_asks_for_kafka_numbering_is_refused_and_appends_nothing() {
        let router = single_node_router().await;
        let kafka = json!({
            "records": [{"value": 1}],
            "producer": {"id": "p", "seq": 0, "numbering": "records"},
        });
        let (status, body) = append(&router, kafka).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "invalid_body");
        let message = body["error"]["message"].as_str().expect("a message");
        assert!(message.contains("numbering"), "{message}");

        let ordo = json!({
            "records": [{"value": 1}],
            "producer": {"id": "p", "seq": 0, "numbering": "appends"},
        });
        let (status, body) = append(&router, ordo).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["offsets"],
            json!([0]),
            "the refused append took no offset"
        );
    }
}
