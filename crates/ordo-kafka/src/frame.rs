//! The Kafka framing, pure: a request's bytes (after the 4-byte size) to
//! its header and decoded body, and a response to the bytes sent back
//! (size included). What the connection does with each outcome is
//! `connection`'s; what a request means is `dispatch`'s.
//!
//! A request for an API key or version the listener does not serve
//! (`versions`) is answered, never dropped: with `UNSUPPORTED_VERSION`
//! in ApiVersions v0's form, which lists what is served. That is how Kafka
//! answers an ApiVersions request newer than it knows, and the form every
//! client can read whatever it asked.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_protocol::ResponseError;

use crate::versions::{is_served, SERVED};

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    pub header: RequestHeader,
    pub key: ApiKey,
    pub body: RequestKind,
}

impl Request {
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }
}

/// Why a frame is not a request the listener can handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Too short to name an API key, a version and a correlation id: there
    /// is nobody to answer, so the connection is closed.
    #[error("a frame of {len} bytes is too short for a request header")]
    Truncated { len: usize },
    /// Answered with [`unsupported_version`].
    #[error("API key {api_key} version {version} is not served")]
    Unsupported {
        correlation_id: i32,
        api_key: i16,
        version: i16,
    },
    /// A served key and version whose bytes do not decode: the connection
    /// is closed, as Kafka closes it (a client that sends a broken request
    /// cannot be trusted to read an answer to it).
    #[error("{what} does not decode: {reason}")]
    Malformed {
        correlation_id: i32,
        what: &'static str,
        reason: String,
    },
}

/// The request in `frame` (the bytes after the size prefix).
pub fn decode_request(frame: Bytes) -> Result<Request, FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::Truncated { len: frame.len() });
    }
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let unsupported = FrameError::Unsupported {
        correlation_id,
        api_key,
        version,
    };
    let Ok(key) = ApiKey::try_from(api_key) else {
        return Err(unsupported);
    };
    if !is_served(key, version) {
        return Err(unsupported);
    }
    let malformed = |what: &'static str, e: &dyn std::fmt::Display| FrameError::Malformed {
        correlation_id,
        what,
        reason: format!("{e:#}"),
    };
    let mut buf = frame;
    let header = RequestHeader::decode(&mut buf, key.request_header_version(version))
        .map_err(|e| malformed("the request header", &e))?;
    let body = RequestKind::decode(key, &mut buf, version)
        .map_err(|e| malformed("the request body", &e))?;
    Ok(Request { header, key, body })
}

/// `body`, the answer to `request`, as the bytes sent back: size, header
/// (whose version depends on the API and its version), body.
pub fn encode_response(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<Bytes, EncodeError> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0); // the size, filled in below
    header
        .encode(&mut out, key.response_header_version(version))
        .map_err(|e| EncodeError(format!("{e:#}")))?;
    body.encode(&mut out, version)
        .map_err(|e| EncodeError(format!("{e:#}")))?;
    finish(out)
}

/// A response that could not be encoded (a value out of its field's
/// range): a bug, logged, and the connection closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the response does not encode: {0}")]
pub struct EncodeError(pub String);

/// The answer to a request for an API key or version that is not served:
/// ApiVersions v0 (header v0, error code, the served keys).
pub fn unsupported_version(correlation_id: i32) -> Bytes {
    let body = ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(api_versions());
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0);
    // Both are fixed layouts of plain integers and a short list: they
    // always encode.
    let _ = header.encode(&mut out, 0);
    let _ = body.encode(&mut out, 0);
    finish(out).unwrap_or_default()
}

/// The served keys as ApiVersions lists them.
pub fn api_versions() -> Vec<ApiVersion> {
    SERVED
        .iter()
        .map(|s| {
            ApiVersion::default()
                .with_api_key(s.key as i16)
                .with_min_version(s.min)
                .with_max_version(s.max)
        })
        .collect()
}

fn finish(mut out: BytesMut) -> Result<Bytes, EncodeError> {
    let size = i32::try_from(out.len() - 4)
        .map_err(|_| EncodeError(format!("a response of {} bytes", out.len())))?;
    out[..4].copy_from_slice(&size.to_be_bytes());
    Ok(out.freeze())
}
