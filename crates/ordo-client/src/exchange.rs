//! The one helper every resource call goes through: send a request (a JSON
//! body, if any) through the retry loop and decode the JSON answer; and the
//! paths and queries more than one resource builds.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use ordo_api::{Consistency, PositionParams};
use ordo_transport::Method;

use crate::addr::encode_path_segment;
use crate::call::Safety;
use crate::client::Client;
use crate::error::ClientError;

/// What a resource call sends: a method, a path (with its query) and maybe
/// a JSON body, with what may be resent ([`Safety`]).
pub(crate) struct Exchange<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<Vec<u8>>,
    pub safety: Safety,
    /// Added to the client's timeout: a call that waits by design (a
    /// long-poll, a catch-up).
    pub waits: Duration,
}

impl<'a> Exchange<'a> {
    /// A GET, resent after any failure.
    pub fn get(path: &'a str) -> Self {
        Exchange {
            method: Method::Get,
            path,
            body: None,
            safety: Safety::Idempotent,
            waits: Duration::ZERO,
        }
    }

    /// `method` with `body` as JSON (or none), resent as `safety` allows.
    pub fn send<B: Serialize + ?Sized>(
        method: Method,
        path: &'a str,
        body: Option<&B>,
        safety: Safety,
    ) -> Self {
        Exchange {
            method,
            path,
            body: body.map(|body| {
                serde_json::to_vec(body)
                    .expect("a wire type serializes: string keys, plain data and JSON values")
            }),
            safety,
            waits: Duration::ZERO,
        }
    }

    pub fn waiting(mut self, waits: Duration) -> Self {
        self.waits = waits;
        self
    }
}

impl Client {
    /// Runs `exchange` and decodes its answer's JSON as `T`.
    pub(crate) async fn exchange<T: DeserializeOwned>(
        &self,
        exchange: Exchange<'_>,
    ) -> Result<T, ClientError> {
        let (addr, response) = self
            .call(
                exchange.method,
                exchange.path,
                exchange.body,
                exchange.safety,
                self.inner.timeout + exchange.waits,
            )
            .await?;
        decode(&addr, &response.body)
    }

    /// Runs `exchange` for its effect only: the answer's body is not read.
    pub(crate) async fn exchange_ignoring_body(
        &self,
        exchange: Exchange<'_>,
    ) -> Result<(), ClientError> {
        self.call(
            exchange.method,
            exchange.path,
            exchange.body,
            exchange.safety,
            self.inner.timeout + exchange.waits,
        )
        .await?;
        Ok(())
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
