//! Small response helpers shared by the resource handlers.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::http::extract::etag_value;

/// A response with `ETag: "<version>"`.
pub fn with_etag(status: StatusCode, version: impl ToString, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag_value(&version.to_string())) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// 200 with an already-serialized JSON body and its `ETag`, or 304 when the client's copy is current.
pub fn respond_json(
    pre: &crate::http::extract::Preconditions,
    version: &str,
    json: impl Into<axum::body::Bytes>,
) -> Response {
    if pre.not_modified(version) {
        return with_etag(StatusCode::NOT_MODIFIED, version, ());
    }
    let mut response = with_etag(StatusCode::OK, version, json.into() as axum::body::Bytes);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// 200 with an already-serialized JSON body.
pub fn json_body(json: impl Into<axum::body::Bytes>) -> Response {
    let mut response = (StatusCode::OK, json.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
