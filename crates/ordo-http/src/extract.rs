//! Request parsing at the edge: path, query and JSON body into validated
//! types, with axum's plain-text rejections turned into `ApiError`s.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::layers::is_json;
use ordo_core::{GroupName, TopicName};

/// The `{topic}` path segment, validated (a segment that is not even UTF-8
/// after percent-decoding is refused the same way).
pub fn topic(path: Result<Path<String>, PathRejection>) -> Result<TopicName, ApiError> {
    let Path(raw) =
        path.map_err(|rejection| ApiError::bad_request("invalid_topic", rejection.body_text()))?;
    parse_topic(raw)
}

/// The `{group}` and `{topic}` path segments of a consumer position.
pub fn group_and_topic(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(GroupName, TopicName), ApiError> {
    let Path((group, topic)) =
        path.map_err(|rejection| ApiError::bad_request("invalid_path", rejection.body_text()))?;
    Ok((parse_group(group)?, parse_topic(topic)?))
}

/// The `{group}` path segment, validated.
pub fn group(path: Result<Path<String>, PathRejection>) -> Result<GroupName, ApiError> {
    let Path(raw) =
        path.map_err(|rejection| ApiError::bad_request("invalid_group", rejection.body_text()))?;
    parse_group(raw)
}

fn parse_group(raw: String) -> Result<GroupName, ApiError> {
    GroupName::new(raw).map_err(|e| ApiError::bad_request("invalid_group", e.to_string()))
}

fn parse_topic(raw: String) -> Result<TopicName, ApiError> {
    TopicName::new(raw).map_err(|e| ApiError::bad_request("invalid_topic", e.to_string()))
}

/// What axum's `Json` extracted, its rejections as `ApiError`s.
fn json<T: DeserializeOwned>(body: Result<axum::Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|axum::Json(value)| value).map_err(json_rejection)
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "request body is over the limit of {} bytes",
                ordo_api::limits::MAX_REQUEST_BODY_BYTES
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON: send content-type: application/json (or no \
             content-type at all)",
        ),
        _ => ApiError::bad_request("invalid_body", rejection.body_text()),
    }
}

/// A JSON body, as axum's `Json` extracts it, with the same rejections
/// (as `ApiError`s), but parsed in one plain pass:
/// `Json` tracks the path to every value it parses, so that an error can
/// name where it was, which costs a large share of a batch append's parse.
/// Here only a body that fails is parsed again through `Json`, for that
/// error; one that parses never pays for it.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            // Whatever `Json` makes of another content type (it also takes
            // `+json` types), answered its way.
            return json(axum::Json::from_request(request, state).await).map(JsonBody);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| json_rejection(rejection.into()))?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(JsonBody(value)),
            Err(_) => json(axum::Json::from_bytes(&bytes)).map(JsonBody),
        }
    }
}

/// Parses a JSON body that may also be empty (the caller decides what empty means).
pub fn json_bytes<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

pub fn query<T>(params: Result<axum::extract::Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|axum::extract::Query(value)| value)
        .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::header::CONTENT_TYPE;
    use ordo_api::AppendRequest;

    use super::*;

    fn request(content_type: Option<&str>, body: &'static str) -> Request {
        let mut builder = Request::builder().method("POST").uri("/");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body)).expect("a request")
    }

    /// What `JsonBody` answers, and what axum's `Json` (through [`json`])
    /// answers for the same request.
    async fn both(
        content_type: Option<&str>,
        body: &'static str,
    ) -> (
        Result<AppendRequest, ApiError>,
        Result<AppendRequest, ApiError>,
    ) {
        let ours = JsonBody::from_request(request(content_type, body), &())
            .await
            .map(|JsonBody(value)| value);
        let axums = json(axum::Json::from_request(request(content_type, body), &()).await);
        (ours, axums)
    }

    #[tokio::test]
    async fn json_body_answers_as_axum_json_does() {
        let good = r#"{"records":[{"key":"k","value":{"n":[1,2]}},{"value":null}]}"#;
        for content_type in ["application/json", "Application/JSON; charset=utf-8"] {
            let (ours, axums) = both(Some(content_type), good).await;
            let (ours, axums) = (ours.expect("parses"), axums.expect("parses"));
            assert_eq!(ours.records, axums.records);
        }
        let cases = [
            (
                Some("application/json"),
                r#"{"records":[{"value":1},{"valu":2}]}"#,
            ),
            (Some("application/json"), r#"{"records":"#),
            (Some("application/json"), ""),
            (Some("application/json"), r#"{"records":[]} x"#),
            (Some("text/plain"), good),
            (None, good),
        ];
        for (content_type, body) in cases {
            let (ours, axums) = both(content_type, body).await;
            let (ours, axums) = (ours.expect_err("refused"), axums.expect_err("refused"));
            assert_eq!(
                (ours.status, ours.code, &ours.message),
                (axums.status, axums.code, &axums.message),
                "{content_type:?} {body}"
            );
        }
        let (ours, _) = both(
            Some("application/json"),
            r#"{"records":[{"value":1},{"valu":2}]}"#,
        )
        .await;
        let message = ours.expect_err("refused").message;
        assert!(message.contains("records[1]"), "names where: {message}");
    }
}
