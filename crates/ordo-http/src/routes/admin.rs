//! `GET /v1/admin/snapshot`: a backup. The node exports its applied state
//! as a snapshot (the format followers are sent; see `ordo_store::backup`)
//! and streams it, 1 MiB at a time, read from the exported file on tokio's
//! blocking pool. The state is one point in time: this node's last applied
//! log index, given in `ordo-snapshot-index` (and its term in
//! `ordo-snapshot-term`); a follower's backup may lag its leader by the
//! entries it has not applied yet.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use ordo_node::types::SnapshotData;

use crate::error::ApiError;
use crate::AppState;

const CHUNK_BYTES: usize = 1024 * 1024;
pub const SNAPSHOT_INDEX_HEADER: &str = "ordo-snapshot-index";
pub const SNAPSHOT_TERM_HEADER: &str = "ordo-snapshot-term";

/// A backup: this node's applied state as one snapshot stream.
#[utoipa::path(
    get,
    path = "/v1/admin/snapshot",
    tag = "operations",
    responses(
        (status = 200, description = "The snapshot stream (restore it with `ordo restore`); \
            `ordo-snapshot-index` and `ordo-snapshot-term` name the last log entry it holds.",
            content_type = "application/octet-stream", body = Vec<u8>,
            headers(
                ("ordo-snapshot-index" = u64, description = "The last log index the backup holds."),
                ("ordo-snapshot-term" = u64, description = "That entry's term."),
            )),
        (status = 500, description = "`internal`: the state could not be exported.", body = ordo_api::ErrorBody),
    )
)]
pub async fn snapshot(State(state): State<AppState>) -> Result<Response, ApiError> {
    let ordo_node::Backup { last_log_id, data } = state.node.export_snapshot().await?;
    let len = data.len();
    let body = Body::from_stream(futures::stream::unfold(
        (data, 0u64),
        |(data, offset)| async move {
            if offset >= data.len() {
                return None;
            }
            let reader = data.clone();
            let chunk = tokio::task::spawn_blocking(move || reader.read_chunk(offset, CHUNK_BYTES))
                .await
                .map_err(std::io::Error::other)
                .and_then(|chunk| chunk);
            Some(match chunk {
                Ok(chunk) => {
                    let next = offset + chunk.len() as u64;
                    (Ok(Bytes::from(chunk)), (data, next))
                }
                // Ends the body early: the client sees a truncated
                // download, which restore refuses (the end frame is missing).
                Err(e) => (Err(e), (SnapshotData::from_bytes(Vec::new()), 0)),
            })
        },
    ));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Some((index, term)) = last_log_id {
        headers.insert(SNAPSHOT_INDEX_HEADER, HeaderValue::from(index.0));
        headers.insert(SNAPSHOT_TERM_HEADER, HeaderValue::from(term.0));
    }
    Ok(response)
}
