//! Request decoding: arbitrary bytes as the topic segment, query, content
//! type and body of `POST|GET /v1/topics/{topic}/records`, through the same
//! axum extractors and checks as the real handlers (`ordo_http::decode`).
//! Whatever comes in, the answer is a 2xx or a 4xx with a JSON body, never
//! a panic or a 5xx; and an append taken is JSON a parser takes whole
//! (record values are kept as their text, so the edge's check is all that
//! stands between a client's bytes and the log).
#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

fuzz_target!(|data: &[u8]| {
    // Fields separated by 0xFF, a byte that valid UTF-8 never holds.
    let mut fields = data.splitn(4, |b| *b == 0xFF);
    let selector = fields.next().unwrap_or_default();
    let topic = fields.next().unwrap_or_default();
    let query = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();
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
    let is_append = method == "POST";
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return; // not a request a client could send
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let response = ordo_http::decode::router()
            .oneshot(request)
            .await
            .expect("a router never fails");
        let status = response.status();
        assert!(
            status.is_success() || status.is_client_error(),
            "answered {status}"
        );
        if is_append && status.is_success() {
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
