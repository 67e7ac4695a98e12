//! The web console (DESIGN.md §3e): one HTML shell, one script, one
//! stylesheet and an icon under `assets/`, compiled into the binary and
//! served at `/ui` by [`router`]. The console is one more client of the
//! public HTTP API: its script calls `/v1/*` on the node that served it,
//! with the user's token. This crate serves files and nothing else: no API,
//! no state, no access rules (the assets hold no data; the API calls carry
//! the token and are checked like anyone's).
//!
//! Every answer carries [`CONTENT_SECURITY_POLICY`], which lets the page
//! load its own script, style and icon and call its own origin, nothing
//! else: no inline script or style, no other origin, and no HTML built
//! from strings (Trusted Types), so a value read from the log and shown by
//! the console can never run as code. Assets are revalidated by ETag on
//! every load (`Cache-Control: no-cache`): cheap 304s, and an upgraded
//! node serves its new console at once.

mod asset;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;

pub use asset::{Asset, CONTENT_SECURITY_POLICY};

/// The page every console URL starts from; the script routes by the URL's
/// fragment (`#/topics/orders`), so this is the only HTML.
pub const SHELL: Asset = Asset::new(
    "text/html; charset=utf-8",
    include_bytes!("../assets/index.html"),
);
pub const SCRIPT: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_bytes!("../assets/app.js"),
);
pub const STYLE: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_bytes!("../assets/app.css"),
);
pub const ICON: Asset = Asset::new("image/svg+xml", include_bytes!("../assets/favicon.svg"));

/// Each console path and what it serves. Anything else under `/ui/` is left
/// to the router this one is merged into (the API's 404).
pub const ROUTES: [(&str, &Asset); 5] = [
    ("/ui", &SHELL),
    ("/ui/", &SHELL),
    ("/ui/app.js", &SCRIPT),
    ("/ui/app.css", &STYLE),
    ("/ui/favicon.svg", &ICON),
];

/// `GET` (and `HEAD`) of every path in [`ROUTES`], for any router state.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    ROUTES.iter().fold(Router::new(), |router, &(path, asset)| {
        router.route(
            path,
            get(move |headers: HeaderMap| async move { asset.respond(&headers) }),
        )
    })
}

#[cfg(test)]
mod tests;
