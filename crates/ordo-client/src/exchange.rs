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

/// No wait beyond the client's timeout.
pub(crate) const NO_WAIT: Duration = Duration::ZERO;

impl Client {
    /// GETs `path` (resent after any failure) and decodes its JSON answer;
    /// `waits` is added to the client's timeout (a long-poll).
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        waits: Duration,
    ) -> Result<T, ClientError> {
        self.send(Method::Get, path, None::<&()>, Safety::Idempotent, waits)
            .await
    }

    /// Sends `method path` with `body` as JSON, resent as `safety` allows,
    /// and decodes its JSON answer; `waits` is added to the client's
    /// timeout (a call that waits by design, such as a catch-up).
    pub(crate) async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        safety: Safety,
        waits: Duration,
    ) -> Result<T, ClientError> {
        let (addr, response) = self
            .send_for_effect(method, path, body, safety, waits)
            .await?;
        decode(&addr, &response.body)
    }

    /// [`Self::send`] without decoding the answer: for calls whose answer
    /// says nothing but success. Answers the address that answered.
    pub(crate) async fn send_for_effect<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        safety: Safety,
        waits: Duration,
    ) -> Result<(String, Response), ClientError> {
        let body = body.map(|body| {
            serde_json::to_vec(body)
                .expect("a wire type serializes: string keys, plain data and JSON values")
        });
        self.call(method, path, body, safety, self.inner.timeout + waits)
            .await
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
