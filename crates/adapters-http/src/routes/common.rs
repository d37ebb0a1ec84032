//! Small helpers the resource modules share: path ids, answers carrying an `ETag`, and the
//! `total` of lists answered whole (the group tree, roles, flows).

use std::str::FromStr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::ServiceError;
use serde::Serialize;

use crate::extract::etag;
use crate::problem::{ApiError, ApiResult};

/// An id in the path; text that is no id of this kind is `not_found`, as an unknown id is
/// (decision 0013).
pub(crate) fn path_id<T: FromStr>(text: &str, kind: &'static str) -> ApiResult<T> {
    text.parse().map_err(|_| ApiError::from(ServiceError::not_found(kind)))
}

/// A JSON answer with the resource's `ETag` and, for a creation, its `Location`.
pub(crate) fn tagged(status: StatusCode, version: u64, location: Option<String>, body: impl Serialize) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// The `total` of a list answered whole (the group tree, roles, flows): its length.
pub(crate) fn total_of<T>(items: &[T]) -> Option<u64> {
    Some(u64::try_from(items.len()).unwrap_or(u64::MAX))
}
