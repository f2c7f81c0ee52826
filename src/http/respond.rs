//! Small response helpers shared by the resource handlers.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use axum::body::Bytes;

use crate::http::extract::{Preconditions, etag_value};

/// A response with `ETag: "<version>"`.
pub fn with_etag(status: StatusCode, version: impl ToString, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag_value(&version.to_string())) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// 200 with `body` and its `ETag`, or 304 (no body) when the client's `If-None-Match` copy is current.
pub fn versioned(pre: &Preconditions, version: impl ToString, body: impl IntoResponse) -> Response {
    let version = version.to_string();
    if pre.not_modified(&version) {
        return with_etag(StatusCode::NOT_MODIFIED, version, ());
    }
    with_etag(StatusCode::OK, version, body)
}

/// [`versioned`] for an already-serialized JSON body.
pub fn respond_json(pre: &Preconditions, version: &str, json: impl Into<Bytes>) -> Response {
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    versioned(pre, version, (content_type, json.into()))
}

/// 200 with an already-serialized JSON body.
pub fn json_body(json: impl Into<Bytes>) -> Response {
    let mut response = (StatusCode::OK, json.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
