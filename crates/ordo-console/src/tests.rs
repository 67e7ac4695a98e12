use axum::body::Body;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use tower::ServiceExt;

use super::*;

/// What the console's files may weigh together: a small amount of plain
/// JavaScript, not a framework.
const MAX_ASSETS_BYTES: usize = 160 * 1024;

async fn get(path: &str, if_none_match: Option<&str>) -> (Response, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(tag) = if_none_match {
        request = request.header(IF_NONE_MATCH, tag);
    }
    let response = router::<()>()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (Response::from_parts(parts, Body::empty()), body.to_vec())
}

fn header<'a>(response: &'a Response, name: &axum::http::HeaderName) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn text(asset: &Asset) -> &'static str {
    std::str::from_utf8(asset.body()).expect("the console's files are UTF-8")
}

#[tokio::test]
async fn every_asset_is_served_with_its_type_and_the_security_headers() {
    let expected_types = [
        ("/ui", "text/html; charset=utf-8"),
        ("/ui/", "text/html; charset=utf-8"),
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"),
        ("/ui/favicon.svg", "image/svg+xml"),
    ];
    assert_eq!(expected_types.len(), ROUTES.len());
    for (path, content_type) in expected_types {
        let (response, body) = get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, &CONTENT_TYPE), content_type, "{path}");
        assert_eq!(header(&response, &CSP), CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(header(&response, &X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header(&response, &REFERRER_POLICY), "no-referrer");
        assert_eq!(header(&response, &CACHE_CONTROL), "no-cache");
        assert!(header(&response, &ETAG).starts_with('"'), "{path}");
        assert!(!body.is_empty(), "{path}");
    }
}

#[test]
fn the_policy_allows_this_origin_only_and_nothing_inline() {
    let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split("; ").collect();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    ] {
        assert!(directives.contains(&directive), "{directive}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    assert!(!CONTENT_SECURITY_POLICY.contains("http"));
}

#[tokio::test]
async fn a_request_naming_the_current_etag_is_answered_304_without_a_body() {
    let (first, _) = get("/ui/app.js", None).await;
    let etag = header(&first, &ETAG).to_owned();
    let (again, body) = get("/ui/app.js", Some(&etag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header(&again, &CSP), CONTENT_SECURITY_POLICY);
    assert_eq!(header(&again, &ETAG), etag);
    let (stale, body) = get("/ui/app.js", Some("\"0000000000000000\"")).await;
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(body, SCRIPT.body());
}

#[test]
fn each_file_has_its_own_etag() {
    let tags: std::collections::BTreeSet<String> = [SHELL, SCRIPT, STYLE, ICON]
        .iter()
        .map(Asset::etag)
        .collect();
    assert_eq!(tags.len(), 4);
}

#[tokio::test]
async fn paths_outside_the_console_are_not_answered_here() {
    // Left to the router this one is merged into, whose 404 is the API's
    // (tested in ordo-http).
    for path in ["/ui/nope", "/ui/app.js/x", "/uix"] {
        let (response, _) = get(path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// The values of every `src="…"` and `href="…"` attribute in `html`.
fn references(html: &str) -> Vec<&str> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .map(|rest| &rest[..rest.find('"').expect("a closed attribute")])
        .collect()
}

#[test]
fn the_shell_loads_only_console_files_and_holds_no_inline_script_or_style() {
    let html = text(&SHELL);
    for reference in references(html) {
        let served = ROUTES.iter().any(|(path, _)| *path == reference);
        assert!(
            served || reference.starts_with('#'),
            "{reference} is not a console route"
        );
    }
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=\"/ui/app.js\"").count(),
        "every script is the console's file"
    );
    for inline in ["<style", " style=", " onclick=", " onload=", "javascript:"] {
        assert!(!html.contains(inline), "{inline}");
    }
}

#[test]
fn the_script_builds_no_markup_from_strings_and_runs_no_strings_as_code() {
    let script = text(&SCRIPT);
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "createContextualFragment",
        "DOMParser",
    ] {
        assert!(!script.contains(sink), "app.js uses {sink}");
    }
}

#[test]
fn no_file_names_another_origin() {
    // The SVG namespace is a name, not a request.
    for asset in [SHELL, SCRIPT, STYLE, ICON] {
        let text = text(&asset).replace("http://www.w3.org/2000/svg", "");
        for scheme in ["http://", "https://", "//cdn", "@import"] {
            assert!(!text.contains(scheme), "{scheme} in a console file");
        }
    }
}

#[test]
fn the_console_stays_small() {
    let total: usize = [SHELL, SCRIPT, STYLE, ICON]
        .iter()
        .map(|asset| asset.body().len())
        .sum();
    assert!(
        total <= MAX_ASSETS_BYTES,
        "{total} bytes of assets, over {MAX_ASSETS_BYTES}"
    );
}
