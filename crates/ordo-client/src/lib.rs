//! ordo's Rust client: one client for the CLI, the black-box tests, the
//! simulation's workload and the bench.
//!
//! - `client`: [`Client`] and its builder; the public calls by resource:
//!   `records`, `topics`, `consumers`, `queues`, `cluster`, each over the
//!   one request-and-decode helper in `exchange`.
//! - `call`: the retry loop, and the single place that decides what is safe
//!   to resend (reads always; appends only when they certainly did not
//!   happen).
//! - `producer`: [`Producer`], the idempotent producer: numbers appends
//!   and resends one whose outcome is unknown with the same seq.
//! - `worker`: [`Worker`], runs a work queue's jobs through a handler:
//!   claims, extends leases while a job runs, acks or nacks, and resends an
//!   ack or nack whose outcome is unknown.
//! - `tail`: [`Tail`], follows a topic by long-polling, optionally as a
//!   consumer group that commits its position.
//! - `routing`: which node to ask next (leader hint, last node that
//!   answered, failover order). Pure.
//! - `retry`: the retry budget and backoff ([`RetryPolicy`]). Pure.
//! - the network is `ordo-transport`'s [`Transport`] (reqwest in
//!   production; the simulation brings its own over turmoil).
//! - `addr`: node address parsing and path encoding.
//! - `error`: [`ClientError`].

pub mod addr;
mod call;
pub mod client;
mod cluster;
mod consumers;
pub mod error;
mod exchange;
pub mod producer;
pub mod queues;
mod records;
pub mod retry;
mod routing;
pub mod tail;
mod topics;
pub mod worker;

pub use client::{Client, ClientBuilder, DEFAULT_REQUEST_TIMEOUT};
pub use error::ClientError;
pub use ordo_transport::{Request, Response, Transport, TransportError};
pub use producer::Producer;
pub use retry::RetryPolicy;
pub use tail::Tail;
pub use worker::{Handler, Worker, WorkerEvent, WorkerReport};
