//! One request to one node and its answer, as plain data: the transport
//! fills in HTTP's details (headers, the body's framing).

use std::time::Duration;

use ordo_api::secret::Secret;
use ordo_core::NodeId;

/// The HTTP methods ordo's callers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// What a request's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// The API's bodies (`/v1/*`).
    Json,
    /// Raft messages and forwarded requests between nodes (`/raft/*`).
    OctetStream,
}

impl ContentType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Json => "application/json",
            ContentType::OctetStream => "application/octet-stream",
        }
    }
}

/// Who the caller is, when the cluster asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A client's API token, as `Authorization: Bearer <token>` (`/v1/*`).
    ApiToken(Secret),
    /// The cluster secret a node shows its peers, in
    /// [`ordo_api::secret::CLUSTER_SECRET_HEADER`] (`/raft/*`).
    ClusterSecret(Secret),
}

/// One HTTP request to one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// Full URL: the node's base URL (`http://host:port`), path and query.
    pub url: String,
    /// The body, if any, of type `content_type`.
    pub body: Option<Vec<u8>>,
    pub content_type: ContentType,
    /// Deadline for the whole exchange, connect to last body byte.
    pub timeout: Duration,
    pub credential: Option<Credential>,
}

impl Request {
    /// A request without a body or a credential.
    pub fn new(method: Method, url: String, timeout: Duration) -> Self {
        Request {
            method,
            url,
            body: None,
            content_type: ContentType::Json,
            timeout,
            credential: None,
        }
    }

    /// The node the request goes to, `host:port`, for messages.
    pub fn addr(&self) -> &str {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest);
        rest.split(['/', '?']).next().unwrap_or(rest)
    }
}

/// A node's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `ordo-leader` header, when present and a valid node id.
    pub leader: Option<NodeId>,
    /// The `Retry-After` header, in whole seconds, when present.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_addr_is_the_urls_host_and_port() {
        let at = |url: &str| Request::new(Method::Get, url.into(), Duration::ZERO);
        assert_eq!(
            at("http://127.0.0.1:7001/v1/cluster").addr(),
            "127.0.0.1:7001"
        );
        assert_eq!(at("https://node-2:7001?x=1").addr(), "node-2:7001");
        assert_eq!(at("node-3:7001/raft/append").addr(), "node-3:7001");
    }
}
