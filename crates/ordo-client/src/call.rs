//! The retry loop every call goes through, and the one place that decides
//! what is safe to send again.
//!
//! The rule: a request is retried only when resending cannot change what
//! happened. Reads and status have no effect, so any failure is retried. An
//! append is retried only when it certainly never reached a server (connect
//! failed) or a server answered 503 (it appended nothing). A timeout, a
//! dropped connection or any other 5xx leaves the append's outcome unknown,
//! and that is reported, never papered over by a retry that could append
//! the records twice.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use ordo_api::{ClusterStatus, ErrorBody};

use crate::client::Client;
use crate::error::ClientError;
use ordo_transport::{Method, Request, Response, TransportError};

/// Longest server error text kept in an error when the body is not JSON.
const MAX_ERROR_TEXT_CHARS: usize = 200;

/// Whether a request may be resent after an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// Same effect however often it runs: reads, status, init, an
    /// unconditional position commit.
    Idempotent,
    /// An append, or a compare-and-set of a position: sent twice, it may
    /// take effect twice (or refuse itself the second time).
    AppendOnce,
}

/// What an HTTP status means for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Success,
    /// A definite refusal: asking again would get the same answer.
    Refused,
    /// Did not happen, may succeed elsewhere or later.
    Retry,
    /// May have happened.
    Unknown,
}

fn verdict(status: u16, safety: Safety) -> Verdict {
    match (status, safety) {
        (200..=299, _) => Verdict::Success,
        // 503 is the server's promise that it did nothing (no leader, no
        // quorum), so even an append may go again.
        (503, _) => Verdict::Retry,
        // Gateway errors: a proxy or a forward failed, possibly after the
        // leader acted.
        (502 | 504, Safety::Idempotent) => Verdict::Retry,
        (500..=599, Safety::AppendOnce) => Verdict::Unknown,
        _ => Verdict::Refused,
    }
}

impl Client {
    /// Sends `method path` to the best node, retrying as `safety` allows,
    /// each exchange with deadline `timeout`, and returns the first success
    /// with the address that gave it.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        safety: Safety,
        timeout: std::time::Duration,
    ) -> Result<(String, Response), ClientError> {
        let policy = self.inner.retry;
        let started = Instant::now();
        // Nodes that failed in the current sweep; cleared after a backoff.
        let mut failed: Vec<String> = Vec::new();
        let mut sweep = 0u32;
        let mut attempts = 0u32;
        let mut retry_after = None;
        let mut discovered = false;
        let mut give_up = GiveUp::default();
        loop {
            let Some(addr) = self.routing().pick(&failed) else {
                sweep += 1;
                let delay = policy.backoff(sweep, retry_after.take());
                let never_answered = !self.inner.answered.load(Ordering::Relaxed);
                if started.elapsed() + delay > policy.total_budget
                    || (never_answered && started.elapsed() >= policy.unreachable_budget)
                {
                    return Err(give_up.into_error(attempts, started));
                }
                tokio::time::sleep(delay).await;
                failed.clear();
                give_up.new_sweep();
                continue;
            };
            attempts += 1;
            let request = Request {
                body: body.clone(),
                ..self.request(method, format!("{addr}{path}"), timeout)
            };
            match self.inner.transport.send(request).await {
                Ok(response) => {
                    self.inner.answered.store(true, Ordering::Relaxed);
                    match verdict(response.status, safety) {
                        Verdict::Success => {
                            self.routing().on_answer(&addr, response.leader, true);
                            return Ok((addr, response));
                        }
                        Verdict::Refused => {
                            self.routing().on_answer(&addr, response.leader, true);
                            return Err(api_error(&response));
                        }
                        Verdict::Unknown => {
                            self.routing().on_answer(&addr, response.leader, false);
                            return Err(ClientError::OutcomeUnknown {
                                reason: describe(&response),
                                addr,
                            });
                        }
                        Verdict::Retry => {
                            self.routing().on_answer(&addr, response.leader, false);
                            give_up.answered(&addr, &response);
                            retry_after = retry_after.max(response.retry_after);
                            // The node is up but cannot serve; it may name a
                            // leader whose address we lack. Ask it, once.
                            if !discovered && self.routing().leader_addr_unknown() {
                                discovered = true;
                                self.discover(&addr).await;
                            }
                        }
                    }
                }
                Err(error) if !error.not_sent() && safety == Safety::AppendOnce => {
                    return Err(ClientError::OutcomeUnknown {
                        addr,
                        reason: error.cause(),
                    });
                }
                Err(error) => give_up.not_answered(&addr, &error),
            }
            tracing::debug!(attempt = attempts, addr, "retrying");
            failed.push(addr);
            if attempts >= policy.max_attempts || started.elapsed() >= policy.total_budget {
                return Err(give_up.into_error(attempts, started));
            }
        }
    }

    /// Best effort: learns members and the leader from one node's status.
    async fn discover(&self, addr: &str) {
        let request = self.request(
            Method::Get,
            format!("{addr}/v1/cluster"),
            self.inner.timeout,
        );
        let Ok(response) = self.inner.transport.send(request).await else {
            return;
        };
        if let Ok(status) = serde_json::from_slice::<ClusterStatus>(&response.body) {
            self.learn(&status);
        }
    }
}

/// What a call that runs out of retries reports: the last answer a node
/// gave (its own words for why it could not serve: no leader, no quorum),
/// which says more than any connection failure; else the nodes of the last
/// sweep that could not be reached, and why.
#[derive(Debug, Default)]
struct GiveUp {
    last_answer: Option<String>,
    unreachable: Vec<String>,
    /// The previous sweep's failures, kept until this sweep has its own.
    previous: Vec<String>,
}

impl GiveUp {
    fn answered(&mut self, addr: &str, response: &Response) {
        self.last_answer = Some(format!(
            "{} answered {}",
            display_addr(addr),
            describe(response)
        ));
    }

    fn not_answered(&mut self, addr: &str, error: &TransportError) {
        self.unreachable
            .push(format!("{} ({})", display_addr(addr), error.cause()));
    }

    fn new_sweep(&mut self) {
        self.previous = std::mem::take(&mut self.unreachable);
    }

    fn into_error(self, attempts: u32, started: Instant) -> ClientError {
        let unreachable = if self.unreachable.is_empty() {
            self.previous
        } else {
            self.unreachable
        };
        ClientError::Unavailable {
            attempts,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            answer: self.last_answer,
            last_error: match unreachable.as_slice() {
                [] => "no node could be asked".to_string(),
                [one] => format!("could not reach {one}"),
                many => format!("could not reach any of {}", many.join(", ")),
            },
        }
    }
}

/// A node's base URL as a person writes it: `127.0.0.1:7001` for plain HTTP.
pub(crate) fn display_addr(addr: &str) -> &str {
    addr.strip_prefix("http://").unwrap_or(addr)
}

/// The server's error as a typed error; a body that is not an [`ErrorBody`]
/// (a proxy's page, a framework's plain-text rejection) keeps its text.
pub(crate) fn api_error(response: &Response) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(&response.body) {
        Ok(body) => ClientError::Api {
            status: response.status,
            code: body.error.code,
            message: body.error.message,
            leader: body.error.leader.or(response.leader),
            current: body.error.current,
        },
        Err(_) => ClientError::Api {
            status: response.status,
            code: format!("http_{}", response.status),
            message: body_text(&response.body),
            leader: response.leader,
            current: None,
        },
    }
}

fn describe(response: &Response) -> String {
    match api_error(response) {
        ClientError::Api { code, message, .. } => {
            format!("{} {code}: {message}", response.status)
        }
        other => other.to_string(),
    }
}

fn body_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() > MAX_ERROR_TEXT_CHARS {
        let cut: String = text.chars().take(MAX_ERROR_TEXT_CHARS).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_503_lets_an_append_go_again() {
        assert_eq!(verdict(503, Safety::AppendOnce), Verdict::Retry);
        for status in [500, 502, 504] {
            assert_eq!(verdict(status, Safety::AppendOnce), Verdict::Unknown);
        }
        for status in [400, 404, 409, 413] {
            assert_eq!(verdict(status, Safety::AppendOnce), Verdict::Refused);
            assert_eq!(verdict(status, Safety::Idempotent), Verdict::Refused);
        }
    }

    #[test]
    fn reads_retry_unavailable_and_gateway_errors() {
        for status in [502, 503, 504] {
            assert_eq!(verdict(status, Safety::Idempotent), Verdict::Retry);
        }
        assert_eq!(verdict(500, Safety::Idempotent), Verdict::Refused);
        assert_eq!(verdict(200, Safety::Idempotent), Verdict::Success);
    }

    #[test]
    fn non_json_error_bodies_keep_their_text() {
        let response = Response {
            status: 413,
            leader: Some(2),
            retry_after: None,
            body: b"length limit exceeded".to_vec(),
        };
        assert_eq!(
            api_error(&response),
            ClientError::Api {
                status: 413,
                code: "http_413".into(),
                message: "length limit exceeded".into(),
                leader: Some(2),
                current: None,
            }
        );
    }
}
