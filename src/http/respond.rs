//! Small response helpers shared by the resource handlers.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{cache::Entry, domain::precondition::Preconditions, http::extract::etag_value};

/// A response with `ETag: "<version>"`.
pub fn with_etag(status: StatusCode, version: i64, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag_value(&version.to_string())) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// 200 with `body` and its `ETag`, or 304 (no body) when the client's `If-None-Match` copy is current.
pub fn versioned(pre: &Preconditions, version: i64, body: impl IntoResponse) -> Response {
    if pre.not_modified(&version.to_string()) {
        return with_etag(StatusCode::NOT_MODIFIED, version, ());
    }
    with_etag(StatusCode::OK, version, body)
}

/// An already-serialized JSON body: [`versioned`] when it has a version, else a plain 200.
pub fn respond_entry(pre: &Preconditions, entry: Entry) -> Response {
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    let body = (content_type, entry.json);
    match entry.version {
        Some(version) => versioned(pre, version, body),
        None => (StatusCode::OK, body).into_response(),
    }
}
