//! Request decoding: arbitrary bytes as the topic segment, query, content
//! type and body of `POST|GET /v1/topics/{topic}/records`, through the same
//! axum extractors and checks as the real handlers (`ordo_http::decode`).
//! Whatever comes in, the answer is a 2xx or a 4xx with a JSON body, never
//! a panic or a 5xx; and an append taken is JSON a parser takes whole
//! (record values are kept as their text, so the edge's check is all that
//! stands between a client's bytes and the log). Requests go through the
//! API's principals' check too, with no token, a reader's, an appender's
//! or arbitrary bytes as the bearer token: an append is taken only from
//! the principal that may append to that topic.
#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// A reader of every topic, and an appender to `orders*` only.
const ACL: &str = r#"
[[principals]]
name = "reader"
token = "reader-token"
read = ["*"]

[[principals]]
name = "appender"
token = "appender-token"
append = ["orders*"]
"#;

fn principals() -> ordo_http::Principals {
    static PRINCIPALS: std::sync::OnceLock<ordo_http::Principals> = std::sync::OnceLock::new();
    PRINCIPALS
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("ordo-fuzz-acl-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a temporary dir");
            let file = dir.join("acl.toml");
            std::fs::write(&file, ACL).expect("the ACL file");
            ordo_http::Principals::load(Some(file), None)
                .expect("a valid ACL")
                .expect("principals")
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    // Fields separated by 0xFF, a byte that valid UTF-8 never holds.
    let mut fields = data.splitn(5, |b| *b == 0xFF);
    let selector = fields.next().unwrap_or_default();
    let topic = fields.next().unwrap_or_default();
    let query = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();
    let token = fields.next();
    let method = if selector.first().is_some_and(|b| b & 1 == 1) {
        "GET"
    } else {
        "POST"
    };
    let content_type = match selector.get(1).map(|b| b % 4) {
        Some(1) => "text/plain",
        Some(2) => "application/json; charset=utf-8",
        Some(3) => "",
        _ => "application/json",
    };
    // The URI as a client could send it: bytes outside a URI's alphabet
    // percent-encoded, the rest as they are.
    let encode = |bytes: &[u8]| -> String {
        bytes
            .iter()
            .map(|&b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'%'
                | b'=' | b'&' | b'+' | b'/' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let uri = format!("/v1/topics/{}/records?{}", encode(topic), encode(query));
    let mut request = Request::builder().method(method).uri(uri);
    if !content_type.is_empty() {
        request = request.header("content-type", content_type);
    }
    // Who asks: the appender by default, so most inputs reach the decoding.
    let bearer: Option<Vec<u8>> = match (selector.get(2).map(|b| b % 4), token) {
        (_, Some(token)) => Some([b"Bearer ".as_slice(), token].concat()),
        (Some(1), None) => None,
        (Some(2), None) => Some(b"Bearer reader-token".to_vec()),
        _ => Some(b"Bearer appender-token".to_vec()),
    };
    let is_appender = bearer.as_deref() == Some(b"Bearer appender-token".as_slice());
    if let Some(bearer) = &bearer {
        match axum::http::HeaderValue::from_bytes(bearer) {
            Ok(value) => request = request.header("authorization", value),
            Err(_) => return, // not a header a client could send
        }
    }
    let is_append = method == "POST";
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return; // not a request a client could send
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let response = ordo_http::decode::router(Some(principals()))
            .oneshot(request)
            .await
            .expect("a router never fails");
        let status = response.status();
        assert!(
            status.is_success() || status.is_client_error(),
            "answered {status}"
        );
        if is_append && status.is_success() {
            assert!(is_appender, "an append taken from {bearer:?}");
            // (A `%` may spell the name otherwise once decoded.)
            assert!(
                topic.starts_with(b"orders") || topic.contains(&b'%'),
                "an append to a topic the appender may not append to"
            );
            serde_json::from_slice::<serde_json::Value>(body)
                .unwrap_or_else(|e| panic!("an append taken that a parser refuses ({e})"));
        }
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a buffered body");
        // 404 and 405 come from axum's own router here (the real one maps
        // them to JSON errors too); everything else carries JSON.
        if status != 404 && status != 405 {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {bytes:?}"));
        }
    });
});
