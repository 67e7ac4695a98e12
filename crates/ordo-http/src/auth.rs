//! Who may call what: the cluster secret on `/raft/*` and the API token on
//! `/v1/*`, each checked by a middleware before any handler (so a refused
//! Raft message never reaches openraft). The operations endpoints
//! (`/healthz`, `/readyz`, `/metrics`) are never behind either.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::AppState;
use ordo_api::secret::{bearer_token, Secret, CLUSTER_SECRET_HEADER};

/// The secrets a node checks; `None` leaves that part of the API open.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// Every `/raft/*` request must carry it in [`CLUSTER_SECRET_HEADER`].
    pub cluster_secret: Option<Secret>,
    /// Every `/v1/*` request must carry `Authorization: Bearer <token>`.
    pub api_token: Option<Secret>,
}

/// Middleware on the `/raft/*` routes.
pub async fn require_cluster_secret(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(secret) = &state.auth.cluster_secret {
        let refusal = match request.headers().get(CLUSTER_SECRET_HEADER) {
            None => Some(format!(
                "this node requires the cluster secret in the {CLUSTER_SECRET_HEADER} header"
            )),
            Some(presented) if !secret.matches(presented.as_bytes()) => {
                Some("wrong cluster secret".to_string())
            }
            Some(_) => None,
        };
        if let Some(message) = refusal {
            // Debug, not warn: a misconfigured peer retries many times a
            // second; ordo_http_requests_total{status="401"} counts them.
            tracing::debug!(%message, "refused a Raft RPC");
            return unauthorized(message).into_response();
        }
    }
    next.run(request).await
}

/// Why a `/v1/*` request may not go on, if it may not: its refusal, with
/// the challenge a client needs. Checked by `layers::edge` for every `/v1`
/// route, before the handler.
pub(crate) fn api_token_refusal(state: &AppState, request: &Request) -> Option<Response> {
    let token = state.auth.api_token.as_ref()?;
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer_token(value.as_bytes()));
    let (message, challenge) = match presented {
        None => (
            "this node requires an API token: send Authorization: Bearer <token>",
            r#"Bearer realm="ordo""#,
        ),
        Some(presented) if !token.matches(presented) => (
            "wrong API token",
            r#"Bearer realm="ordo", error="invalid_token""#,
        ),
        Some(_) => return None,
    };
    let mut response = unauthorized(message.to_string()).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    Some(response)
}

fn unauthorized(message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}
