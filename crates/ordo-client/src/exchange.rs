//! The one helper every resource call goes through: send a request (a JSON
//! body, if any) through the retry loop and decode its JSON answer; and the
//! paths and queries more than one resource builds.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use ordo_api::{Consistency, PositionParams};
use ordo_transport::{Method, Response};

use crate::addr::encode_path_segment;
use crate::call::Safety;
use crate::client::Client;
use crate::error::ClientError;

/// One call of a resource: a method and path, maybe a JSON body, what may
/// be resent ([`Safety`]) and how long it may wait beyond the client's
/// timeout.
pub(crate) struct Call<'a> {
    method: Method,
    path: &'a str,
    body: Option<Vec<u8>>,
    safety: Safety,
    waits: Duration,
}

impl<'a> Call<'a> {
    /// A GET, resent after any failure.
    pub fn get(path: &'a str) -> Self {
        Call::new(Method::Get, path, None, Safety::Idempotent)
    }

    /// A POST of `body` as JSON.
    pub fn post<B: Serialize + ?Sized>(path: &'a str, body: &B, safety: Safety) -> Self {
        Call::new(Method::Post, path, Some(json(body)), safety)
    }

    /// A PUT of `body` as JSON.
    pub fn put<B: Serialize + ?Sized>(path: &'a str, body: &B, safety: Safety) -> Self {
        Call::new(Method::Put, path, Some(json(body)), safety)
    }

    /// `method` without a body.
    pub fn bare(method: Method, path: &'a str, safety: Safety) -> Self {
        Call::new(method, path, None, safety)
    }

    /// Allowed `waits` beyond the client's timeout: a long-poll, a catch-up.
    pub fn waiting(self, waits: Duration) -> Self {
        Call { waits, ..self }
    }

    fn new(method: Method, path: &'a str, body: Option<Vec<u8>>, safety: Safety) -> Self {
        let waits = Duration::ZERO;
        Call {
            method,
            path,
            body,
            safety,
            waits,
        }
    }
}

fn json<B: Serialize + ?Sized>(body: &B) -> Vec<u8> {
    serde_json::to_vec(body)
        .expect("a wire type serializes: string keys, plain data and JSON values")
}

impl Client {
    /// Sends `call` through the retry loop; [`Answer::json`] decodes the
    /// answer.
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<Answer, ClientError> {
        let timeout = self.inner.timeout + call.waits;
        let (addr, response) = self
            .call(call.method, call.path, call.body, call.safety, timeout)
            .await?;
        Ok(Answer { addr, response })
    }
}

/// A success answer and the node that gave it.
pub(crate) struct Answer {
    addr: String,
    response: Response,
}

impl Answer {
    /// The answer's JSON as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        decode(&self.addr, &self.response.body)
    }
}

/// `body` as `T`, or why not, naming the node that sent it.
pub(crate) fn decode<T: DeserializeOwned>(addr: &str, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Decode {
        addr: addr.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn topic_path(topic: &str) -> String {
    format!("/v1/topics/{}", encode_path_segment(topic))
}

pub(crate) fn consistency_query(consistency: Consistency) -> String {
    serde_urlencoded::to_string(PositionParams { consistency })
        .expect("PositionParams is one unit enum")
}
