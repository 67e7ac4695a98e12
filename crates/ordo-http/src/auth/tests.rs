//! The rights of DESIGN.md §3b on the real router over one in-memory node:
//! what each kind of principal may and may not do, route by route.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use super::*;

const ACL: &str = r#"
[[principals]]
name = "reader"
token = "reader-token"
read = ["*"]

[[principals]]
name = "orders-app"
token = "orders-token"
read = ["orders.*"]
append = ["orders.*"]
groups = ["orders-*"]

[[principals]]
name = "by-cert"
cert_cn = "billing"
read = ["payments"]
"#;

async fn router() -> axum::Router {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acl.toml");
    std::fs::write(&file, ACL).unwrap();
    let admin = Secret::new("admin-token").unwrap();
    let principals = Principals::load(Some(file), Some(admin)).unwrap();
    let node = ordo_node::testing::leading_alone().await;
    let auth = Auth {
        principals,
        certificate_principals: true,
        ..Auth::default()
    };
    crate::router(AppState::new(node, None, auth))
}

/// `method path` with `body`, as `token`'s principal: the status and, but
/// for a 200 (a stream never ends), the body.
async fn call(
    router: &axum::Router,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body.to_string())).unwrap();
    with_request(router, request).await
}

async fn with_request(router: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    if status == StatusCode::OK {
        return (status, String::new());
    }
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    // The error's message, unescaped, where the body is an error.
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    (status, format!("{} {message}", body["error"]["code"]))
}

const RECORD: &str = r#"{"records":[{"value":1}]}"#;

#[tokio::test]
async fn without_a_known_principal_every_v1_route_is_401_and_the_probes_stay_open() {
    let router = router().await;
    for token in [None, Some("not-a-token")] {
        let (status, body) = call(&router, token, "GET", "/v1/cluster", "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
        assert!(!body.contains("not-a-token"), "the token is echoed: {body}");
    }
    for path in ["/healthz", "/metrics", "/openapi.json"] {
        let (status, _) = call(&router, None, "GET", path, "").await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn a_read_only_principal_reads_and_is_403_on_append_compaction_and_membership() {
    let router = router().await;
    let admin = Some("admin-token");
    let (status, body) = call(
        &router,
        admin,
        "POST",
        "/v1/topics/orders.eu/records",
        RECORD,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let reader = Some("reader-token");
    for path in [
        "/v1/topics/orders.eu/records?from=0",
        "/v1/topics/orders.eu/records?from=1&wait_ms=10",
        "/v1/topics/orders.eu/stream",
        "/v1/topics/orders.eu",
        "/v1/topics/orders.eu/offsets?timestamp_ms=0",
        "/v1/topics",
        "/v1/cluster",
    ] {
        let (status, body) = call(&router, reader, "GET", path, "").await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    for (method, path, body, action) in [
        (
            "POST",
            "/v1/topics/orders.eu/records",
            RECORD,
            "append to topic \"orders.eu\"",
        ),
        ("POST", "/v1/topics/orders.eu/compact", "", "administer"),
        ("PUT", "/v1/topics/orders.eu", "{}", "administer"),
        ("DELETE", "/v1/topics/orders.eu", "", "administer"),
        (
            "POST",
            "/v1/cluster/nodes",
            r#"{"id":2,"addr":"127.0.0.1:1"}"#,
            "administer",
        ),
        ("DELETE", "/v1/cluster/nodes/2", "", "administer"),
        ("POST", "/v1/cluster/leader", "{}", "administer"),
        ("GET", "/v1/admin/snapshot", "", "administer"),
        (
            "PUT",
            "/v1/consumers/g/offsets/orders.eu",
            r#"{"offset":1}"#,
            "consumer group \"g\"",
        ),
    ] {
        let (status, answer) = call(&router, reader, method, path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert!(answer.contains("\"forbidden\""), "{answer}");
        assert!(answer.contains("principal \"reader\""), "{answer}");
        assert!(answer.contains(action), "{method} {path}: {answer}");
    }
}

#[tokio::test]
async fn a_principal_limited_to_some_topics_cannot_read_others_by_any_route() {
    let router = router().await;
    let admin = Some("admin-token");
    for topic in ["orders.eu", "payments"] {
        let path = format!("/v1/topics/{topic}/records");
        assert_eq!(
            call(&router, admin, "POST", &path, RECORD).await.0,
            StatusCode::OK
        );
    }
    let orders = Some("orders-token");
    let (status, body) = call(
        &router,
        orders,
        "POST",
        "/v1/topics/orders.eu/records",
        RECORD,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for path in [
        "/v1/topics/payments/records?from=0",
        "/v1/topics/payments/records?from=1&wait_ms=1000",
        "/v1/topics/payments/stream",
        "/v1/topics/payments",
        "/v1/topics/payments/offsets?timestamp_ms=0",
        "/v1/topics/pay%6Dents/records",
        "/v1/admin/snapshot",
    ] {
        let (status, body) = call(&router, orders, "GET", path, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, body) = call(
        &router,
        orders,
        "POST",
        "/v1/topics/payments/records",
        RECORD,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The topic list shows only what it may read.
    let request = Request::get("/v1/topics")
        .header(header::AUTHORIZATION, "Bearer orders-token")
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("orders.eu") && !body.contains("payments"),
        "{body}"
    );
}

#[tokio::test]
async fn a_group_limited_principal_cannot_move_or_see_another_groups_position() {
    let router = router().await;
    let admin = Some("admin-token");
    assert_eq!(
        call(
            &router,
            admin,
            "POST",
            "/v1/topics/orders.eu/records",
            RECORD
        )
        .await
        .0,
        StatusCode::OK
    );
    let orders = Some("orders-token");
    let commit = r#"{"offset":1}"#;
    let (status, body) = call(
        &router,
        orders,
        "PUT",
        "/v1/consumers/orders-1/offsets/orders.eu",
        commit,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (method, path) in [
        ("PUT", "/v1/consumers/shipping/offsets/orders.eu"),
        ("GET", "/v1/consumers/shipping/offsets/orders.eu"),
        ("GET", "/v1/consumers/shipping"),
    ] {
        let (status, body) = call(&router, orders, method, path, commit).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert!(body.contains("consumer group \"shipping\""), "{body}");
    }
    let (status, _) = call(
        &router,
        admin,
        "GET",
        "/v1/consumers/shipping/offsets/orders.eu",
        "",
    )
    .await;
    assert_ne!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_client_certificate_is_a_principal_by_its_common_name_and_a_token_wins() {
    let router = router().await;
    let as_cert = |common_name: &str, token: Option<&str>| {
        let mut request = Request::get("/v1/topics/payments");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let mut request = request.body(Body::empty()).unwrap();
        request.extensions_mut().insert(ClientCertificate {
            common_name: Some(common_name.to_string()),
            node: false,
        });
        request
    };
    // 404: past the rights check, to a topic that does not exist.
    let (status, body) = with_request(&router, as_cert("billing", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = with_request(&router, as_cert("stranger", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("\"stranger\" is not a principal"), "{body}");
    let (status, body) = with_request(&router, as_cert("billing", Some("orders-token"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn raft_messages_need_a_peer_certificate_where_the_node_asks_for_one() {
    let node = ordo_node::testing::leading_alone().await;
    let auth = Auth {
        peer_certificate_required: true,
        ..Auth::default()
    };
    let router = crate::router(AppState::new(node, None, auth));
    let vote = || Request::post("/raft/vote").body(Body::from("x")).unwrap();
    let (status, body) = with_request(&router, vote()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("certificate"), "{body}");
    let with_certificate = |node: bool| {
        let mut request = vote();
        request.extensions_mut().insert(ClientCertificate {
            common_name: Some("ordo-node-2".into()),
            node,
        });
        request
    };
    // A client's certificate from the same CA is no peer's.
    let (status, body) = with_request(&router, with_certificate(false)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = with_request(&router, with_certificate(true)).await;
    assert_ne!(status, StatusCode::UNAUTHORIZED);
}
