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
