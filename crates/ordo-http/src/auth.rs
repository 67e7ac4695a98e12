//! Who may call what. On `/raft/*`: a peer, proven by the cluster secret
//! and, on a TLS node, by a client certificate its CA signed, checked by a
//! middleware before any handler (so a refused Raft message never reaches
//! openraft). On `/v1/*`: a principal (`principals`), known by its bearer
//! token or its client certificate's common name, holding the rights the
//! route needs (`rights`), checked by `layers::edge` before the handler.
//! The operations endpoints (`/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json`) are behind none of it.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::acl::Principal;
use crate::error::ApiError;
use crate::principals::Principals;
use crate::{rights, AppState};
use ordo_api::secret::{bearer_token, Secret, CLUSTER_SECRET_HEADER};
use ordo_api::Protections;

/// What a node checks of its callers; the defaults leave everything open.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// Every `/raft/*` request must carry it in [`CLUSTER_SECRET_HEADER`].
    pub cluster_secret: Option<Secret>,
    /// Every `/v1/*` request must come from one of them; `None`: open.
    pub principals: Option<Principals>,
    /// Every `/raft/*` request must come over a connection whose client
    /// presented a certificate the node's CA signed (a TLS node: its peers
    /// present their node certificates).
    pub peer_certificate_required: bool,
    /// A client certificate's common name names a principal
    /// (`--tls-client-auth optional` or `required`; with `none` only tokens
    /// do).
    pub certificate_principals: bool,
    /// With TLS, whether clients must present a certificate (`none`,
    /// `optional`, `required`); `None`: plain HTTP. Shown in the status.
    pub tls_client_auth: Option<String>,
    /// Started with `--insecure` and unprotected beyond loopback.
    pub insecure: bool,
}

impl Auth {
    /// What the status shows of these.
    pub fn protections(&self) -> Protections {
        Protections {
            tls: self.tls_client_auth.is_some(),
            client_auth: self.tls_client_auth.clone(),
            peer_certificates: self.peer_certificate_required,
            cluster_secret: self.cluster_secret.is_some(),
            principals: self.principals.is_some(),
            insecure: self.insecure,
        }
    }
}

/// The verified client certificate of the connection a request came on,
/// put in the request's extensions by the TLS server (absent: none was
/// presented, or the connection is plain HTTP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate's subject common name, if any: with
    /// [`Auth::certificate_principals`], the principal it names.
    pub common_name: Option<String>,
    /// A node's certificate (usable as a TLS server and client), not a
    /// client's: only a node may send Raft messages.
    pub node: bool,
}

/// The principal a `/v1` request was authorised as, in its extensions for
/// handlers that shape their answer by it (the topic list).
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub(crate) Arc<Principal>);

/// Whether the request's caller may do `permission` to `resource`: always,
/// where the node has no principals (no [`Caller`]). For answers that list
/// what a caller may see.
pub(crate) fn may(
    caller: &Option<axum::Extension<Caller>>,
    permission: crate::acl::Permission,
    resource: crate::acl::Resource<'_>,
) -> bool {
    caller
        .as_ref()
        .is_none_or(|axum::Extension(Caller(principal))| {
            principal.check(permission, resource).is_ok()
        })
}

/// Middleware on the `/raft/*` routes.
pub async fn require_peer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(message) = peer_refusal(&state.auth, &request) {
        // Debug, not warn: a misconfigured peer retries many times a
        // second; ordo_http_requests_total{status="401"} counts them.
        tracing::debug!(%message, "refused a Raft RPC");
        return unauthorized(message).into_response();
    }
    next.run(request).await
}

fn peer_refusal(auth: &Auth, request: &Request) -> Option<String> {
    let from_a_node = request
        .extensions()
        .get::<ClientCertificate>()
        .is_some_and(|certificate| certificate.node);
    if auth.peer_certificate_required && !from_a_node {
        return Some(
            "this node takes Raft messages only from peers presenting a node certificate its \
             CA signed (one usable as a TLS server and client)"
                .to_string(),
        );
    }
    let secret = auth.cluster_secret.as_ref()?;
    match request.headers().get(CLUSTER_SECRET_HEADER) {
        None => Some(format!(
            "this node requires the cluster secret in the {CLUSTER_SECRET_HEADER} header"
        )),
        Some(presented) if !secret.matches(presented.as_bytes()) => {
            Some("wrong cluster secret".to_string())
        }
        Some(_) => None,
    }
}

/// Lets a `/v1` request go on, with its [`Caller`] in its extensions, or
/// answers it: 401 without a known principal, 403 outside its rights.
/// Called by `layers::edge` for every `/v1` route, before the handler.
pub(crate) fn authorize(
    principals: Option<&Principals>,
    certificate_principals: bool,
    request: &mut Request,
) -> Option<Response> {
    let principals = principals?;
    match caller(principals, certificate_principals, request) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            None
        }
        Err(refusal) => Some(refusal.into_response()),
    }
}

/// Why a `/v1` request may not go on.
enum Refusal {
    /// No known principal: 401 with the challenge a client needs.
    Unknown {
        message: String,
        challenge: &'static str,
    },
    /// 403.
    Forbidden(crate::acl::Forbidden),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unknown { message, challenge } => {
                let mut response = unauthorized(message).into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
                response
            }
            Refusal::Forbidden(forbidden) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", forbidden.to_string())
                    .into_response()
            }
        }
    }
}

/// The principal `request` comes from, if it holds every right its route
/// needs. A bearer token wins over a client certificate.
fn caller(
    principals: &Principals,
    certificate_principals: bool,
    request: &Request,
) -> Result<Caller, Refusal> {
    let acl = principals.current();
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer_token(value.as_bytes()));
    let certificate = request
        .extensions()
        .get::<ClientCertificate>()
        .filter(|_| certificate_principals)
        .and_then(|certificate| certificate.common_name.as_deref());
    let principal = match (token, certificate) {
        (Some(token), _) => acl.by_token(token).ok_or(Refusal::Unknown {
            message: "unknown API token".to_string(),
            challenge: r#"Bearer realm="ordo", error="invalid_token""#,
        })?,
        (None, Some(common_name)) => {
            acl.by_cert_cn(common_name)
                .ok_or_else(|| Refusal::Unknown {
                    message: format!(
                        "the client certificate's common name {common_name:?} is not a \
                         principal of this cluster"
                    ),
                    challenge: r#"Bearer realm="ordo""#,
                })?
        }
        (None, None) => {
            return Err(Refusal::Unknown {
                message: "this node requires a principal: send Authorization: Bearer <token>, \
                          or connect with a client certificate"
                    .to_string(),
                challenge: r#"Bearer realm="ordo""#,
            })
        }
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", |route| route.as_str());
    let needed = rights::required(request.method(), route, request.uri().path());
    rights::check(principal, &needed).map_err(Refusal::Forbidden)?;
    Ok(Caller(Arc::clone(principal)))
}

fn unauthorized(message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

#[cfg(test)]
mod tests;
