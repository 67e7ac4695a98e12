//! The log's own limits, as named constants: names, keys, headers, records
//! per append, topics, and the size of a page of records. `docs/api.md`'s
//! limits tables list these (the HTTP request's own limits and the server's
//! defaults are `ordo_api::limits`); a request beyond one gets a clear 4xx,
//! never an out-of-memory.

/// Longest topic name, in bytes (names are ASCII).
pub const MAX_TOPIC_NAME_BYTES: usize = 249;
/// Longest consumer group name, in bytes (the topic name rule applies).
pub const MAX_GROUP_NAME_BYTES: usize = MAX_TOPIC_NAME_BYTES;
/// Longest producer id, in bytes (printable ASCII).
pub const MAX_PRODUCER_ID_BYTES: usize = 128;
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
/// Most work queues the cluster holds, decided by `apply` like
/// `MAX_TOPICS`.
pub const MAX_QUEUES: usize = 1_000;
/// Most records one read returns; also the default `limit`.
pub const MAX_READ_LIMIT: usize = 1000;
/// Most bytes of record values one read returns (at least one record is
/// always returned if one exists, however large).
pub const MAX_READ_BYTES: usize = 4 * 1024 * 1024;
