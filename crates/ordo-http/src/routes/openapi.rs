//! `GET /openapi.json`: the OpenAPI 3.1 description of the public API (the
//! `/v1/*` routes and the operations endpoints), generated from the
//! handlers' `#[utoipa::path]` annotations and the wire types' schemas in
//! `ordo-core`. The internal `/raft/*` routes are left out on purpose: they
//! are between nodes, not for clients, and their bodies are opaque.
//!
//! A handler added to the route table without an annotation here fails the
//! test below that compares the two.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi as Spec, Ref, RefOr, ResponseBuilder, Type,
};
use utoipa::{Modify, OpenApi};

use super::{admin, cluster, consumers, events, ops, queues, records, stream, topics};
use ordo_api::limits::MAX_URI_BYTES;
use ordo_api::{Consistency, LEADER_HEADER};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ordo",
        description = "A Raft-replicated, totally ordered, append-only, durable log. \
            Any node accepts any request: writes and linearizable reads are forwarded \
            to the leader. Every response carries `ordo-leader` (the node id this node \
            believes leads) once a leader is known. Request bodies are JSON (one sent \
            without `content-type` is taken as JSON; another declared type is 415), and \
            every JSON answer ends with a newline. Errors are \
            `{\"error\":{\"code\",\"message\",\"leader\"?,\"current\"?}}`; a 503 is safe to \
            retry and carries `Retry-After`. Besides the statuses listed per operation, \
            any route may answer 404 `not_found` (no such route), 405 \
            `method_not_allowed`, and 500 `internal` (a storage failure, logged on the node); \
            on a node with principals (`--acl-file`, `--api-token-file`), every `/v1` route \
            may answer 401 `unauthorized` (no known principal: send `Authorization: Bearer \
            <token>` or a client certificate) and 403 `forbidden` (the message names the \
            permission and the resource)."
    ),
    paths(
        records::append,
        records::read,
        stream::stream,
        topics::list,
        topics::show,
        topics::put,
        topics::delete,
        topics::offset_for_time,
        topics::compact,
        consumers::get_offset,
        consumers::commit_offset,
        consumers::group,
        queues::list,
        queues::show,
        queues::put,
        queues::delete,
        queues::claim,
        queues::ack,
        queues::nack,
        queues::extend,
        cluster::status,
        cluster::nodes,
        cluster::init,
        cluster::add_node,
        cluster::remove_node,
        cluster::transfer_leader,
        events::list,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        admin::snapshot,
        spec,
    ),
    // Referenced only from query parameters, which utoipa does not collect.
    components(schemas(Consistency)),
    modifiers(&UriLimit, &CommonHeaders),
    tags(
        (name = "records", description = "Append, read and follow a topic's records."),
        (name = "topics", description = "Topic configs, cleanup, search by time."),
        (name = "consumers", description = "Consumer groups' committed positions."),
        (name = "queues", description = "Work queues: jobs handed out under leases, acked, \
            given back, dead-lettered."),
        (name = "cluster", description = "Cluster status and membership; recent events."),
        (name = "operations", description = "Liveness, readiness, metrics, this spec."),
    )
)]
pub struct ApiDoc;

/// Every operation in `spec`.
fn operations(spec: &mut Spec) -> impl Iterator<Item = &mut Operation> {
    spec.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
    })
}

/// Documents the 414 any operation may answer (the request URI over
/// [`MAX_URI_BYTES`], refused before routing), so each annotation need not.
struct UriLimit;

impl Modify for UriLimit {
    fn modify(&self, spec: &mut Spec) {
        let too_long = ResponseBuilder::new()
            .description(format!(
                "`uri_too_long`: the path and query are over {MAX_URI_BYTES} bytes."
            ))
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for operation in operations(spec) {
            operation
                .responses
                .responses
                .entry("414".to_string())
                .or_insert_with(|| RefOr::T(too_long.clone()));
        }
    }
}

/// Adds the headers every response may carry, so each annotation need not:
/// `ordo-leader` on all of them, `Retry-After` on a 503.
struct CommonHeaders;

impl Modify for CommonHeaders {
    fn modify(&self, spec: &mut Spec) {
        let integer = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
        };
        let leader = HeaderBuilder::new()
            .schema(integer())
            .description(Some(
                "The node id this node believes leads (absent while none is known).",
            ))
            .build();
        let retry_after = HeaderBuilder::new()
            .schema(integer())
            .description(Some("Seconds to wait before retrying."))
            .build();
        for operation in operations(spec) {
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                response
                    .headers
                    .insert(LEADER_HEADER.to_string(), leader.clone());
                if status == "503" {
                    response
                        .headers
                        .insert("Retry-After".to_string(), retry_after.clone());
                }
            }
        }
    }
}

/// Rendered once: the spec is fixed at build time.
static SPEC_JSON: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the generated spec always serializes")
});

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 description of this API.",
            content_type = "application/json", body = Object),
    )
)]
pub async fn spec() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        SPEC_JSON.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::testing::single_node_router;
    use ordo_api::limits::{
        MAX_CATCH_UP_TIMEOUT_MS, MAX_HEADERS_PER_RECORD, MAX_KEY_BYTES, MAX_READ_LIMIT,
        MAX_READ_WAIT_MS, MAX_RECORDS_PER_APPEND, MAX_TOPIC_NAME_BYTES,
    };

    fn spec_json() -> Value {
        serde_json::from_str(&SPEC_JSON).expect("the spec is JSON")
    }

    /// The spec served is exactly the one recorded in
    /// `tests/openapi.golden.json`: a change to the HTTP contract (a wire
    /// type, a handler's annotation) shows up here and must be meant.
    /// `UPDATE_OPENAPI_GOLDEN=1 cargo test -p ordo-http` records a new one.
    #[test]
    fn the_spec_is_the_recorded_one_byte_for_byte() {
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join("openapi.golden.json");
        if std::env::var_os("UPDATE_OPENAPI_GOLDEN").is_some() {
            std::fs::write(&golden, SPEC_JSON.as_bytes()).expect("the golden file is writable");
        }
        let recorded = std::fs::read_to_string(&golden).expect("the golden file exists");
        if recorded != *SPEC_JSON {
            let at = recorded
                .bytes()
                .zip(SPEC_JSON.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(recorded.len().min(SPEC_JSON.len()));
            let around = |text: &str| {
                let start = at.saturating_sub(80);
                text.get(start..(at + 80).min(text.len()))
                    .unwrap_or_default()
                    .to_string()
            };
            panic!(
                "the OpenAPI spec changed at byte {at}:\nrecorded: …{}…\nserved:   …{}…",
                around(&recorded),
                around(&SPEC_JSON)
            );
        }
    }

    /// Found by Schemathesis: a read with a long query got 414
    /// `uri_too_long`, which no operation listed.
    #[test]
    fn every_operation_documents_the_uri_limit() {
        let spec = spec_json();
        let methods = ["get", "put", "post", "delete"];
        let mut seen = 0;
        for (path, item) in spec["paths"].as_object().expect("paths") {
            for method in methods {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let too_long = &operation["responses"]["414"];
                let schema = &too_long["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path}");
                assert!(
                    too_long["headers"][LEADER_HEADER].is_object(),
                    "{method} {path}"
                );
                seen += 1;
            }
        }
        assert!(seen >= 20, "every operation was looked at: {seen}");
    }

    /// Path → methods, as the spec lists them.
    fn documented(spec: &Value) -> BTreeMap<String, BTreeSet<Method>> {
        let paths = spec["paths"].as_object().expect("the spec has paths");
        paths
            .iter()
            .map(|(path, item)| {
                let methods = item
                    .as_object()
                    .expect("a path item is an object")
                    .keys()
                    .filter_map(|m| Method::from_bytes(m.to_uppercase().as_bytes()).ok())
                    .collect();
                (path.clone(), methods)
            })
            .collect()
    }

    /// The paths the router serves. axum lists them only in its `Debug`
    /// form; the caller checks that this found the routes it knows of, so a
    /// change in that form fails the test instead of emptying it.
    fn routed_paths(router: &axum::Router) -> BTreeSet<String> {
        let debug = format!("{router:?}");
        // The fallback router (unmatched requests) comes after the routes.
        let (routes, _fallback) = debug
            .split_once("fallback_router")
            .expect("Router's Debug names its fallback router");
        routes
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| s.starts_with('/') && !s.contains("__private__"))
            .map(str::to_owned)
            .collect()
    }

    /// `path` with a plausible value for each `{parameter}`.
    fn concrete(path: &str) -> String {
        path.replace("{topic}", "t")
            .replace("{group}", "g")
            .replace("{id}", "1")
    }

    #[tokio::test]
    async fn openapi_json_is_served_as_json() {
        let router = single_node_router().await;
        let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let spec: Value = serde_json::from_slice(&body).expect("the body is JSON");
        assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
        assert!(spec["paths"]["/v1/topics/{topic}/records"]["post"].is_object());
        assert!(spec["components"]["schemas"]["ErrorBody"].is_object());
    }

    #[tokio::test]
    async fn every_public_route_is_in_the_spec_with_its_methods_and_no_other() {
        let router = single_node_router().await;
        let routed = routed_paths(&router);
        for known in ["/v1/topics/{topic}/records", "/healthz", "/raft/append"] {
            assert!(
                routed.contains(known),
                "could not read the routes from the router: {routed:?}"
            );
        }
        let documented = documented(&spec_json());
        for path in &routed {
            if path.starts_with("/raft/") {
                assert!(!documented.contains_key(path), "{path} is internal");
            } else if path == "/ui" || path.starts_with("/ui/") {
                // The console's own files: a page for people, not the API.
                assert!(!documented.contains_key(path), "{path} is the console");
            } else {
                assert!(
                    documented.contains_key(path),
                    "{path} is routed but not in /openapi.json: annotate its handler with \
                     #[utoipa::path] and list it in ApiDoc"
                );
            }
        }
        for (path, methods) in &documented {
            assert!(routed.contains(path), "{path} is in the spec, not routed");
            // A documented method reaches a handler; any other is 405.
            for method in [
                Method::GET,
                Method::PUT,
                Method::POST,
                Method::DELETE,
                Method::PATCH,
            ] {
                let request = Request::builder()
                    .method(method.clone())
                    .uri(concrete(path))
                    .body(Body::empty())
                    .unwrap();
                let status = router.clone().oneshot(request).await.unwrap().status();
                if methods.contains(&method) {
                    assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                } else {
                    assert_eq!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{method} {path} is routed but not in the spec"
                    );
                }
            }
        }
    }

    #[test]
    fn the_spec_states_the_limits_ordo_enforces() {
        let spec = spec_json();
        let schemas = &spec["components"]["schemas"];
        let records = &schemas["AppendRequest"]["properties"]["records"];
        assert_eq!(records["minItems"], 1);
        assert_eq!(records["maxItems"], MAX_RECORDS_PER_APPEND);
        let record = &schemas["NewRecord"]["properties"];
        assert_eq!(record["key"]["maxLength"], MAX_KEY_BYTES);
        assert_eq!(record["headers"]["maxProperties"], MAX_HEADERS_PER_RECORD);
        assert_eq!(schemas["TopicName"]["maxLength"], MAX_TOPIC_NAME_BYTES);
        assert_eq!(
            schemas["AddNodeRequest"]["properties"]["catch_up_timeout_ms"]["maximum"],
            MAX_CATCH_UP_TIMEOUT_MS
        );
        let read = &spec["paths"]["/v1/topics/{topic}/records"]["get"]["parameters"];
        let param = |name: &str| {
            read.as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("no parameter {name}"))["schema"]
                .clone()
        };
        assert_eq!(param("limit")["minimum"], 1);
        assert_eq!(param("limit")["maximum"], MAX_READ_LIMIT);
        assert_eq!(param("wait_ms")["maximum"], MAX_READ_WAIT_MS);
    }
}
