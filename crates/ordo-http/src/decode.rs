//! The handlers' request decoding without a node, for the fuzz targets
//! (`fuzz/`): the append and read routes with the same extractors, the same
//! mapping of their rejections to `ApiError` and the same checks as
//! `routes::records`, behind the same principals' check as the API (when
//! given principals), answering with what was decoded instead of proposing
//! or reading it. Not part of the API.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request};
use axum::middleware::Next;
use axum::routing::post;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::extract::{self, JsonBody};
use crate::principals::Principals;
use crate::routes::records::{check_producer, check_read};
use ordo_api::{AppendRequest, ReadQuery};
use ordo_core::validate_append;

/// `POST|GET /v1/topics/{topic}/records`, decoding only (a body without a
/// content type taken as JSON, as by the API), for `principals` only when
/// given (401 and 403 as the API answers them).
pub fn router(principals: Option<Principals>) -> Router {
    Router::new()
        .route("/v1/topics/{topic}/records", post(append).get(read))
        .route_layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let principals = principals.clone();
                async move {
                    let mut request = crate::layers::json_when_undeclared(request).await;
                    match crate::auth::authorize(principals.as_ref(), true, &mut request) {
                        Some(refusal) => refusal,
                        None => next.run(request).await,
                    }
                }
            },
        ))
}

async fn append(
    topic: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<AppendRequest>, ApiError>,
) -> Result<Json<AppendRequest>, ApiError> {
    extract::topic(topic)?;
    let JsonBody(request) = body?;
    validate_append(&request.records, request.condition)?;
    check_producer(request.producer.as_ref())?;
    Ok(Json(request))
}

async fn read(
    topic: Result<Path<String>, PathRejection>,
    params: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Json<ReadQuery>, ApiError> {
    extract::topic(topic)?;
    let params = extract::query(params)?;
    check_read(&params)?;
    Ok(Json(params))
}
