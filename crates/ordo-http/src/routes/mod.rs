//! The route table: which path goes to which handler (the web console's
//! files at `/ui` included), and the limits and layers each group of routes
//! runs under.

mod admin;
mod cluster;
mod consumers;
mod events;
mod openapi;
mod ops;
pub(crate) mod queues;
mod raft;
pub(crate) mod records;
pub(crate) mod stream;
mod topics;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;

use crate::error::ApiError;
use crate::{auth, layers, AppState, MAX_RAFT_RPC_BODY_BYTES};
use ordo_api::limits::MAX_REQUEST_BODY_BYTES;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/v1/topics/{topic}/records",
            post(records::append).get(records::read),
        )
        .route("/v1/topics/{topic}/stream", get(stream::stream))
        .route("/v1/topics", get(topics::list))
        .route(
            "/v1/topics/{topic}",
            get(topics::show).put(topics::put).delete(topics::delete),
        )
        .route("/v1/topics/{topic}/offsets", get(topics::offset_for_time))
        .route("/v1/topics/{topic}/compact", post(topics::compact))
        .route(
            "/v1/consumers/{group}/offsets/{topic}",
            get(consumers::get_offset).put(consumers::commit_offset),
        )
        .route("/v1/consumers/{group}", get(consumers::group))
        .route("/v1/queues", get(queues::list))
        .route(
            "/v1/queues/{group}/{topic}",
            get(queues::show).put(queues::put).delete(queues::delete),
        )
        .route("/v1/queues/{group}/{topic}/claim", post(queues::claim))
        .route("/v1/queues/{group}/{topic}/ack", post(queues::ack))
        .route("/v1/queues/{group}/{topic}/nack", post(queues::nack))
        .route("/v1/queues/{group}/{topic}/extend", post(queues::extend))
        .route("/v1/cluster", get(cluster::status))
        .route("/v1/cluster/init", post(cluster::init))
        .route(
            "/v1/cluster/nodes",
            get(cluster::nodes).post(cluster::add_node),
        )
        .route("/v1/cluster/nodes/{id}", delete(cluster::remove_node))
        .route("/v1/cluster/leader", post(cluster::transfer_leader))
        .route("/v1/events", get(events::list))
        .route("/v1/admin/snapshot", get(admin::snapshot))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES));
    // Open whatever secrets are set: probes and scrapers carry none, and
    // the console's files hold no data (its API calls carry the token).
    let operations = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::spec))
        .merge(ordo_console::router());
    let raft = raft::router()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_peer,
        ))
        .layer(DefaultBodyLimit::max(MAX_RAFT_RPC_BODY_BYTES));
    Router::new()
        .merge(api)
        .merge(operations)
        .merge(raft)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Limits, tracing, metrics, the leader header and the newline after
        // JSON, for every route and every refusal; the content type and the
        // caller's rights for the `/v1` routes.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            layers::edge,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;

    use crate::{AppState, Auth, Principals};
    use ordo_api::secret::Secret;

    /// The console is served without a token where the API needs one, and
    /// a path under `/ui/` that is none of its files is the API's 404.
    #[tokio::test]
    async fn the_console_needs_no_token_and_its_unknown_paths_are_the_apis_404() {
        let node = ordo_node::testing::leading_alone().await;
        let auth = Auth {
            principals: Some(Principals::api_token(Secret::new("t0ken").unwrap())),
            ..Auth::default()
        };
        let router = crate::router(AppState::new(node, None, auth));
        let get = |path: &str| {
            router
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
        };
        for path in ["/ui", "/ui/", "/ui/app.js"] {
            let response = get(path).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY));
        }
        assert_eq!(
            get("/v1/topics").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        let missing = get("/ui/nope.js").await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(missing.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{body}");
    }
}
