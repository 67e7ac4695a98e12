//! `GET /v1/topics/{topic}/stream`: an endless stream of a topic's records
//! from this node's applied state (like a `local` read: may lag, never shows
//! an uncommitted record), NDJSON by default, Server-Sent Events with
//! `Accept: text/event-stream`.
//!
//! Memory per stream is bounded by design: the body is a pull stream, so the
//! next page (at most `MAX_READ_LIMIT` records, about `MAX_READ_BYTES`) is
//! read from the store only when the connection has taken the previous one.
//! A consumer that stops reading stalls its own stream, nothing else.
//! An idle stream sends a keep-alive every `STREAM_KEEPALIVE_MS`; every
//! stream ends (cleanly, with the body's last chunk) when the server shuts
//! down, and when retention removes the records it was about to send (a
//! client that reconnects from there gets the 410 that names the start).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::{extract, AppState};
use ordo_api::limits::STREAM_KEEPALIVE_MS;
use ordo_api::openapi::schema;
use ordo_api::{Consistency, ErrorBody, StreamParams};
use ordo_core::{Offset, Record, TopicName};
use ordo_node::{Node, NodeError, ReadRequest};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Ndjson,
    Sse,
}

/// Follows a topic: an endless stream of its records from `from`, served
/// from this node's applied state (like a `local` read), with a keep-alive
/// every 10 s while idle.
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}/stream",
    tag = "records",
    params(
        ("topic" = schema::TopicName, Path, description = "The topic (waited for if it does not exist yet)."),
        StreamParams,
        ("Last-Event-ID" = Option<u64>, Header, description = "SSE reconnect: resume after \
            this offset (wins over `from`)."),
    ),
    responses(
        (status = 200, description = "Never ends by itself (only on shutdown, or when \
            retention removes the records it was about to send). NDJSON by default: one \
            record per line, an empty line as keep-alive. With `Accept: text/event-stream`, \
            Server-Sent Events: `id: <offset>` and `data: <record>`, a comment as keep-alive.",
            content(
                (String = "application/x-ndjson"),
                (String = "text/event-stream"),
            )),
        (status = 400, description = "`invalid_topic`, `invalid_query`, \
            `invalid_last_event_id`, `offset_out_of_range` (`from` past the topic's end).",
            body = ErrorBody),
        (status = 410, description = "`offset_gone`: `from` is below the topic's start; \
            `current` has `start_offset`.", body = ErrorBody),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    topic: Result<Path<String>, PathRejection>,
    params: Result<Query<StreamParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let topic = extract::topic(topic)?;
    let params = extract::query(params)?;
    let format = if accepts_sse(&headers) {
        Format::Sse
    } else {
        Format::Ndjson
    };
    let from = match headers.get("last-event-id") {
        Some(id) => resume_after(id)?,
        None => params.from,
    };
    state.node.check_stream_from(&topic, from)?;
    let tail = Tail {
        node: state.node.clone(),
        topic,
        next: from,
        format,
        shutdown: state.streams_end(),
    };
    let body = Body::from_stream(futures::stream::unfold(tail, next_chunk));
    let content_type = match format {
        Format::Ndjson => "application/x-ndjson",
        Format::Sse => "text/event-stream",
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // Tells nginx-style proxies not to buffer the stream.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response())
}

fn accepts_sse(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// `Last-Event-ID` is the offset of the last record the client saw.
fn resume_after(id: &HeaderValue) -> Result<Offset, ApiError> {
    id.to_str()
        .ok()
        .and_then(|id| id.trim().parse::<u64>().ok())
        .and_then(|offset| offset.checked_add(1))
        .map(Offset)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_last_event_id",
                "Last-Event-ID must be the offset of a record",
            )
        })
}

struct Tail {
    node: Arc<Node>,
    topic: TopicName,
    next: Offset,
    format: Format,
    shutdown: Option<watch::Receiver<bool>>,
}

/// The stream's next chunk: the next page of records once one exists, a
/// keep-alive after an idle interval, or the end on shutdown.
async fn next_chunk(mut tail: Tail) -> Option<(Result<Bytes, Infallible>, Tail)> {
    let keepalive = Duration::from_millis(STREAM_KEEPALIVE_MS);
    let request = ReadRequest {
        wait: keepalive,
        ..ReadRequest::starting_at(tail.next, Consistency::Local)
    };
    let page = tokio::select! {
        page = tail.node.wait_page(&tail.topic, &request) => page,
        () = shutting_down(&mut tail.shutdown) => return None,
    };
    let chunk = match page {
        Ok(page) if !page.records.is_empty() => {
            tail.next = page.next_offset;
            encode(tail.format, &page.records)
        }
        Ok(_) | Err(NodeError::TopicNotFound { .. }) => keepalive_chunk(tail.format),
        Err(e) => {
            tracing::warn!(topic = %tail.topic, error = %e, "ending a stream");
            return None;
        }
    };
    Some((Ok(chunk), tail))
}

async fn shutting_down(shutdown: &mut Option<watch::Receiver<bool>>) {
    match shutdown {
        // A dropped sender means the server is gone as well.
        Some(rx) => {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
        None => std::future::pending().await,
    }
}

fn encode(format: Format, records: &[Record]) -> Bytes {
    let mut out = Vec::new();
    for record in records {
        let json = serde_json::to_vec(record).expect("a Record always serializes");
        match format {
            Format::Ndjson => {
                out.extend_from_slice(&json);
                out.push(b'\n');
            }
            Format::Sse => {
                // Compact JSON has no raw newline, so one `data:` line holds it.
                out.extend_from_slice(format!("id: {}\ndata: ", record.offset).as_bytes());
                out.extend_from_slice(&json);
                out.extend_from_slice(b"\n\n");
            }
        }
    }
    Bytes::from(out)
}

fn keepalive_chunk(format: Format) -> Bytes {
    match format {
        Format::Ndjson => Bytes::from_static(b"\n"),
        Format::Sse => Bytes::from_static(b": keep-alive\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_id_resumes_after_that_offset() {
        assert_eq!(
            resume_after(&HeaderValue::from_static("41")).unwrap(),
            Offset(42)
        );
        assert!(resume_after(&HeaderValue::from_static("x")).is_err());
        assert!(resume_after(&HeaderValue::from_static("-1")).is_err());
    }

    #[test]
    fn sse_frames_carry_the_offset_as_id() {
        let record: Record =
            serde_json::from_str(r#"{"offset":7,"value":"a\nb","timestamp_ms":1}"#).unwrap();
        let sse = encode(Format::Sse, std::slice::from_ref(&record));
        let text = std::str::from_utf8(&sse).unwrap();
        assert!(text.starts_with("id: 7\ndata: {"), "{text}");
        assert!(text.ends_with("}\n\n"));
        assert_eq!(text.matches('\n').count(), 3);
        let ndjson = encode(Format::Ndjson, &[record.clone(), record]);
        assert_eq!(ndjson.iter().filter(|b| **b == b'\n').count(), 2);
    }

    #[test]
    fn a_value_of_bytes_that_are_not_utf8_streams_as_value_b64() {
        let record = Record {
            offset: Offset(7),
            key: None,
            value: ordo_core::RecordValue::from_bytes(b"\xff\x00".to_vec()),
            headers: Default::default(),
            timestamp_ms: 1,
        };
        let ndjson = encode(Format::Ndjson, std::slice::from_ref(&record));
        assert_eq!(
            std::str::from_utf8(&ndjson).unwrap(),
            "{\"offset\":7,\"value_b64\":\"/wA=\",\"timestamp_ms\":1}\n"
        );
    }
}
