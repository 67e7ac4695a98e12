//! Each request to the room that answers it, and the answer's bytes.

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestKind, ResponseKind, SaslAuthenticateResponse,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::frame::{self, Request};
use crate::session::Session;
use crate::{admin, commits, fetch, groups, list_offsets, metadata, produce, producer_ids, Broker};

/// Why a connection must end after a request.
pub(crate) enum Failed {
    /// The answer did not encode (a bug, logged).
    Encode(String),
    /// Authentication failed; nothing more to say.
    Sasl,
    /// Authentication failed; this answer says so, then the connection
    /// ends.
    SaslAnswered(Bytes),
}

/// What a client may ask before it has authenticated.
pub(crate) fn before_authentication(key: ApiKey) -> bool {
    matches!(
        key,
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
    )
}

/// The answer to `request`, as bytes to send; `None` for a Produce with
/// `acks=0`, which Kafka answers with nothing.
pub(crate) async fn answer(
    broker: &Broker,
    session: &mut Session,
    request: Request,
) -> Result<Option<Bytes>, Failed> {
    let (key, version) = (request.key, request.version());
    let correlation_id = request.header.correlation_id;
    let client_id = request
        .header
        .client_id
        .as_ref()
        .map_or_else(String::new, |id| id.as_str().to_owned());
    let encode = |body: ResponseKind| {
        frame::encode_response(key, version, correlation_id, &body)
            .map_err(|e| Failed::Encode(e.to_string()))
    };
    let body = match request.body {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(
            ApiVersionsResponse::default().with_api_keys(frame::api_versions()),
        ),
        RequestKind::SaslHandshake(request) => {
            let plain = request.mechanism.as_str().eq_ignore_ascii_case("PLAIN");
            // v0: the token follows as a bare frame; v1: in SaslAuthenticate.
            session.bare_sasl_token_next = plain && version == 0;
            ResponseKind::SaslHandshake(
                SaslHandshakeResponse::default()
                    .with_error_code(if plain {
                        0
                    } else {
                        ResponseError::UnsupportedSaslMechanism.code()
                    })
                    .with_mechanisms(vec![StrBytes::from_static_str("PLAIN")]),
            )
        }
        RequestKind::SaslAuthenticate(request) => {
            return match session.plain(broker, &request.auth_bytes) {
                Ok(()) => encode(ResponseKind::SaslAuthenticate(
                    SaslAuthenticateResponse::default(),
                ))
                .map(Some),
                Err(e) => {
                    let refused = ResponseKind::SaslAuthenticate(
                        SaslAuthenticateResponse::default()
                            .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                            .with_error_message(Some(StrBytes::from_string(e.to_string()))),
                    );
                    Err(encode(refused).map_or(Failed::Sasl, Failed::SaslAnswered))
                }
            };
        }
        RequestKind::Metadata(request) => {
            ResponseKind::Metadata(metadata::answer(broker, session, request, version).await)
        }
        RequestKind::Produce(request) => {
            let acks = request.acks;
            let response = produce::answer(broker, session, request).await;
            if acks == 0 {
                return Ok(None);
            }
            ResponseKind::Produce(response)
        }
        RequestKind::Fetch(request) => {
            ResponseKind::Fetch(fetch::answer(broker, session, request, version).await)
        }
        RequestKind::ListOffsets(request) => {
            ResponseKind::ListOffsets(list_offsets::answer(broker, session, request, version).await)
        }
        RequestKind::InitProducerId(request) => {
            ResponseKind::InitProducerId(producer_ids::answer(broker, request).await)
        }
        RequestKind::CreateTopics(request) => {
            ResponseKind::CreateTopics(admin::create_topics(broker, session, request).await)
        }
        RequestKind::DeleteTopics(request) => ResponseKind::DeleteTopics(
            admin::delete_topics(broker, session, request, version).await,
        ),
        RequestKind::DescribeConfigs(request) => {
            ResponseKind::DescribeConfigs(admin::describe_configs(broker, session, request).await)
        }
        RequestKind::OffsetCommit(request) => {
            ResponseKind::OffsetCommit(commits::commit(broker, session, request).await)
        }
        RequestKind::OffsetFetch(request) => {
            ResponseKind::OffsetFetch(commits::fetch(broker, session, request, version).await)
        }
        RequestKind::FindCoordinator(request) => {
            ResponseKind::FindCoordinator(groups::find_coordinator(broker, request).await)
        }
        RequestKind::JoinGroup(request) => ResponseKind::JoinGroup(
            groups::join(broker, session, request, client_id, version).await,
        ),
        RequestKind::SyncGroup(request) => {
            ResponseKind::SyncGroup(groups::sync(broker, session, request).await)
        }
        RequestKind::Heartbeat(request) => {
            ResponseKind::Heartbeat(groups::heartbeat(broker, session, request).await)
        }
        RequestKind::LeaveGroup(request) => {
            ResponseKind::LeaveGroup(groups::leave(broker, session, request).await)
        }
        RequestKind::DescribeGroups(request) => {
            ResponseKind::DescribeGroups(groups::describe(broker, session, request).await)
        }
        RequestKind::ListGroups(request) => {
            ResponseKind::ListGroups(groups::list(broker, session, request).await)
        }
        // `frame::decode_request` lets through only the keys above.
        other => {
            tracing::warn!(?key, "kafka: a decoded request no room answers: {other:?}");
            return Ok(Some(frame::unsupported_version(correlation_id)));
        }
    };
    encode(body).map(Some)
}
