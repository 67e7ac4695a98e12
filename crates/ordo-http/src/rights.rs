//! The right each `/v1` route needs (DESIGN.md §3b): pure, from a
//! request's method, its route and the path it was sent to, so that the
//! table below is the whole of the answer and is tested without a server.
//!
//! | route | method | right |
//! |---|---|---|
//! | `/v1/topics/{topic}/records` | GET | `read` on the topic (a read, a long-poll) |
//! | `/v1/topics/{topic}/records` | POST | `append` on the topic |
//! | `/v1/topics/{topic}/stream` | GET | `read` on the topic |
//! | `/v1/topics/{topic}` | GET | `read` on the topic |
//! | `/v1/topics/{topic}/offsets` | GET | `read` on the topic |
//! | `/v1/topics/{topic}` | PUT, DELETE | `admin` |
//! | `/v1/topics/{topic}/compact` | POST | `admin` |
//! | `/v1/consumers/{group}/offsets/{topic}` | GET, PUT | `groups` on the group and `read` on the topic |
//! | `/v1/consumers/{group}` | GET | `groups` on the group (it shows the topics the caller may read) |
//! | `/v1/queues/{group}/{topic}` | GET | `groups` on the group and `read` on the topic |
//! | `/v1/queues/{group}/{topic}/claim`, `…/ack`, `…/nack`, `…/extend` | POST | `groups` on the group and `read` on the topic |
//! | `/v1/queues/{group}/{topic}` | PUT, DELETE | `admin` (a queue appends to its dead-letter topic) |
//! | `/v1/queues` | GET | any principal (it lists the queues whose group and topic it may use) |
//! | `/v1/topics` | GET | any principal (it lists the topics it may read) |
//! | `/v1/cluster`, `/v1/cluster/nodes`, `/v1/events` | GET | any principal |
//! | `/v1/cluster/init`, `/v1/cluster/nodes[/{id}]`, `/v1/cluster/leader` | POST, DELETE | `admin` |
//! | `/v1/admin/snapshot` | GET | `admin` (a backup holds every topic) |
//!
//! A route missing from the table needs `admin`: a new route is closed
//! until someone decides who may use it.

use axum::http::Method;

use crate::acl::{Forbidden, Permission, Principal, Resource};

/// One permission on one resource, with the resource's name owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Right {
    Read(String),
    Append(String),
    Groups(String),
    Admin,
}

impl Right {
    fn check(&self, principal: &Principal) -> Result<(), Forbidden> {
        match self {
            Right::Read(topic) => principal.check(Permission::Read, Resource::Topic(topic)),
            Right::Append(topic) => principal.check(Permission::Append, Resource::Topic(topic)),
            Right::Groups(group) => principal.check(Permission::Groups, Resource::Group(group)),
            Right::Admin => principal.check(Permission::Admin, Resource::Cluster),
        }
    }
}

/// Every right a request to `route` (axum's matched path, e.g.
/// `/v1/topics/{topic}/records`) at `path` needs; none: any principal.
pub fn required(method: &Method, route: &str, path: &str) -> Vec<Right> {
    let param = |name: &str| path_param(route, path, name).unwrap_or_default();
    let reading = *method == Method::GET;
    match route {
        "/v1/topics/{topic}/records" if reading => vec![Right::Read(param("topic"))],
        "/v1/topics/{topic}/records" if *method == Method::POST => {
            vec![Right::Append(param("topic"))]
        }
        "/v1/topics/{topic}/stream" | "/v1/topics/{topic}/offsets" | "/v1/topics/{topic}"
            if reading =>
        {
            vec![Right::Read(param("topic"))]
        }
        "/v1/consumers/{group}/offsets/{topic}" => {
            vec![Right::Groups(param("group")), Right::Read(param("topic"))]
        }
        "/v1/consumers/{group}" if reading => vec![Right::Groups(param("group"))],
        "/v1/queues/{group}/{topic}" if reading => {
            vec![Right::Groups(param("group")), Right::Read(param("topic"))]
        }
        "/v1/queues/{group}/{topic}/claim"
        | "/v1/queues/{group}/{topic}/ack"
        | "/v1/queues/{group}/{topic}/nack"
        | "/v1/queues/{group}/{topic}/extend"
            if *method == Method::POST =>
        {
            vec![Right::Groups(param("group")), Right::Read(param("topic"))]
        }
        "/v1/topics" | "/v1/queues" | "/v1/cluster" | "/v1/cluster/nodes" | "/v1/events"
            if reading =>
        {
            Vec::new()
        }
        _ => vec![Right::Admin],
    }
}

/// Whether `principal` holds every one of `rights`: the first it lacks.
pub fn check(principal: &Principal, rights: &[Right]) -> Result<(), Forbidden> {
    rights.iter().try_for_each(|right| right.check(principal))
}

/// The value of `{name}` in `route` as sent in `path`, percent-decoded as
/// axum's `Path` extractor decodes it for the handler (so the name checked
/// is the name used). `None` if the route has no such parameter.
fn path_param(route: &str, path: &str, name: &str) -> Option<String> {
    let wanted = format!("{{{name}}}");
    route
        .split('/')
        .zip(path.split('/'))
        .find(|(template, _)| *template == wanted)
        .map(|(_, sent)| {
            // Anything not UTF-8 once decoded becomes U+FFFD, which no ACL
            // pattern but `*` matches (and no topic name holds).
            percent_encoding::percent_decode_str(sent)
                .decode_utf8_lossy()
                .into_owned()
        })
}

#[cfg(test)]
mod tests;
