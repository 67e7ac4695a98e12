//! Every limit ordo enforces, as a named constant. `docs/api.md`'s limits
//! tables list these; a request beyond one gets a clear 4xx, never an out-of-memory.

/// Longest topic name, in bytes (names are ASCII).
pub const MAX_TOPIC_NAME_BYTES: usize = 249;
/// Longest consumer group name, in bytes (the topic name rule applies).
pub const MAX_GROUP_NAME_BYTES: usize = MAX_TOPIC_NAME_BYTES;
/// Longest producer id, in bytes (printable ASCII).
pub const MAX_PRODUCER_ID_BYTES: usize = 128;
/// Largest HTTP request body the API accepts.
pub const MAX_REQUEST_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most records in one append request.
pub const MAX_RECORDS_PER_APPEND: usize = 10_000;
/// Longest record key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The deepest a record's value may nest (arrays and objects): a JSON
/// parser refuses text nested 128 deep (serde_json's limit, which ordo's
/// client shares), and a value sits 3 deep in a page of records
/// (`{"records":[{"value": ...}]}`), as in an append's body.
pub const MAX_VALUE_NESTING: usize = 124;
/// Most headers on one record.
pub const MAX_HEADERS_PER_RECORD: usize = 64;
/// Longest record header name, in bytes.
pub const MAX_HEADER_NAME_BYTES: usize = 256;
/// Longest record header value, in bytes.
pub const MAX_HEADER_VALUE_BYTES: usize = 4096;
/// Most bytes of header names and values together on one record.
pub const MAX_HEADER_BYTES_PER_RECORD: usize = 16 * 1024;
/// Most topics the cluster holds. Decided by `apply` when a command would
/// create one, so every replica refuses the same creation; a constant, not a
/// setting, since replicas configured differently would decide differently.
pub const MAX_TOPICS: usize = 10_000;
/// Most records one read returns; also the default `limit`.
pub const MAX_READ_LIMIT: usize = 1000;
/// Most bytes of record values one read returns (at least one record is
/// always returned if one exists, however large).
pub const MAX_READ_BYTES: usize = 4 * 1024 * 1024;
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
