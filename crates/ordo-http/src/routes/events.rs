//! `GET /v1/events`: what the members saw happen lately (elections,
//! membership changes, snapshots, cleanup passes, storage trouble), each
//! member asked by this node, merged by time.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;

use crate::error::ApiError;
use crate::extract;
use crate::AppState;
use ordo_api::limits::{DEFAULT_EVENTS_LIMIT, MAX_EVENTS_LIMIT};
use ordo_api::{ErrorBody, EventList, EventsParams};

/// The newest events of this node and of every member that answered it
/// within 500 ms, oldest first, by each node's clock. Each node keeps its
/// last 1000 in memory (gone when it restarts); `after` filters this
/// node's own by `seq` only.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "cluster",
    params(EventsParams),
    responses(
        (status = 200, description = "The newest events, oldest first.", body = EventList),
        (status = 400, description = "`invalid_query` (also a `limit` of 0 or over 1000).",
            body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<EventList>, ApiError> {
    let params = extract::query(params)?;
    let limit = params.limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
    if !(1..=MAX_EVENTS_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_EVENTS_LIMIT}"),
        ));
    }
    let events = state.node.cluster_events(limit, params.after).await;
    Ok(Json(EventList { events }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use crate::testing::single_node_router;

    async fn get(router: &axum::Router, uri: &str) -> (StatusCode, Value) {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).expect("a JSON body"))
    }

    #[tokio::test]
    async fn a_bad_limit_or_query_is_400_invalid_query() {
        let router = single_node_router().await;
        for uri in [
            "/v1/events?limit=0",
            "/v1/events?limit=1001",
            "/v1/events?limit=-1",
            "/v1/events?limit=ten",
            "/v1/events?after=x",
            "/v1/events?since=3",
        ] {
            let (status, body) = get(&router, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["error"]["code"], "invalid_query", "{uri}: {body}");
            assert!(body["error"]["message"].is_string(), "{uri}: {body}");
        }
    }

    #[tokio::test]
    async fn a_node_alone_lists_its_own_events_and_itself() {
        let router = single_node_router().await;
        let (status, body) = get(&router, "/v1/events?limit=1000&after=0").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let events = body["events"].as_array().expect("a list of events");
        assert!(events.iter().all(|e| e["node_id"] == 1), "{body}");

        let (status, body) = get(&router, "/v1/cluster/nodes").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let nodes = body["nodes"].as_array().expect("a list of nodes");
        assert_eq!(nodes.len(), 1, "{body}");
        assert_eq!(nodes[0]["id"], 1);
        assert_eq!(nodes[0]["reachable"], true);
        assert_eq!(nodes[0]["role"], "leader");
        assert_eq!(nodes[0]["lag_entries"], 0);
        assert_eq!(nodes[0]["error"], Value::Null);
    }
}
