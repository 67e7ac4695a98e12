//! The limits of a request to the HTTP API and the HTTP server's defaults
//! (each an `ordo serve` setting; see `ordo-http`), as named constants;
//! `docs/api.md`'s limits tables list them. The log's own limits (names,
//! keys, headers, records per append, pages) are `ordo_core::limits`',
//! re-exported here so that an HTTP caller finds every limit in one place.

pub use crate::queues::{
    MAX_CLAIM_WAIT_MS, MAX_DELIVERIES_LIMIT, MAX_JOBS_PER_REQUEST, MAX_LEASE_MS, MIN_LEASE_MS,
};
pub use ordo_core::limits::*;
pub use ordo_core::queue::{MAX_CLAIM_JOBS, MAX_CLAIM_SCAN};

/// Largest HTTP request body the API accepts.
pub const MAX_REQUEST_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Longest a read may long-poll (`wait_ms`) for a record at or after `from`.
pub const MAX_READ_WAIT_MS: u64 = 30_000;
/// Longest a read with `min_log_index` waits for this node to apply that
/// index before answering 503 (the node is lagging, nothing is wrong).
pub const MIN_LOG_INDEX_WAIT_MS: u64 = 5_000;
/// How long `POST /v1/cluster/nodes` waits by default for a new node to
/// catch up with the leader's log before promoting it to voter.
pub const DEFAULT_CATCH_UP_TIMEOUT_MS: u64 = 60_000;
/// Longest a client may ask an add to wait for the new node to catch up.
pub const MAX_CATCH_UP_TIMEOUT_MS: u64 = 600_000;
/// How many events `GET /v1/events` returns without a `limit`.
pub const DEFAULT_EVENTS_LIMIT: usize = 100;
/// The most events `GET /v1/events` returns (its `limit`'s maximum; also
/// how many each node keeps).
pub const MAX_EVENTS_LIMIT: usize = 1_000;
/// How often an idle stream sends a keep-alive (an SSE comment, or an empty
/// NDJSON line), so proxies and clients see that it is alive.
pub const STREAM_KEEPALIVE_MS: u64 = 10_000;

// The HTTP server's defaults (each an `ordo serve` setting; see `ordo-http`).

/// Client requests (`/v1/*`, streams and long-polls aside) a node handles at
/// once; one more is 503 `overloaded` at once, never queued. Bounds the
/// memory of buffered bodies to this many times `MAX_REQUEST_BODY_BYTES`.
pub const DEFAULT_MAX_INFLIGHT_REQUESTS: usize = 512;
/// Streams and long-polling reads (`wait_ms` > 0) a node serves at once;
/// one more is 503 `overloaded`.
pub const DEFAULT_MAX_STREAMS: usize = 1024;
/// How long a client request may take, from its headers to its answer
/// (routes that wait by design get their waits on top); also how long any
/// request body may take to arrive.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// How long a client may take to send a request's headers (and how long an
/// idle keep-alive connection stays open); then the connection is closed.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Longest request URI (path and query) the API reads.
pub const MAX_URI_BYTES: usize = 8 * 1024;
