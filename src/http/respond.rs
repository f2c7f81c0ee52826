//! Small response helpers shared by the resource handlers.

use axum::{
    Json,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    cache::Entry,
    domain::{fields::FieldMask, precondition::Preconditions, privacy::ErasureReceipt},
    http::{error::ApiError, extract::etag_value},
    service::address_formats::Published,
};

/// The response header naming an erasure's receipt.
pub const ERASURE_RECEIPT: HeaderName = HeaderName::from_static("erasure-receipt");

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

/// How long a shared cache or a browser may keep a public document before it asks again (with `If-None-Match`).
pub const PUBLIC_MAX_AGE: &str = "public, max-age=86400";

/// A public JSON document the same for every caller: 200 with a weak `ETag` and `Cache-Control: public`, or 304
/// when the client's `If-None-Match` copy is current.
pub fn cacheable(pre: &Preconditions, published: &'static Published) -> Response {
    let status = if pre.not_modified(&published.etag) {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut response = if status == StatusCode::OK {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            published.json.as_str(),
        )
            .into_response()
    } else {
        status.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PUBLIC_MAX_AGE),
    );
    // Weak: the body may be sent gzipped, and a weak validator does not promise one byte sequence.
    if let Ok(value) = HeaderValue::from_str(&format!("W/{}", etag_value(&published.etag))) {
        headers.insert(header::ETAG, value);
    }
    response
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

/// 204 for an erasure, with `Erasure-Receipt: <receipt id>`.
pub fn erased(receipt: &ErasureReceipt) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(id) = HeaderValue::from_str(&receipt.id.to_string()) {
        response.headers_mut().insert(ERASURE_RECEIPT, id);
    }
    response
}

/// `value` as JSON holding only the fields of `mask`.
pub fn masked(mask: &FieldMask, value: &impl Serialize) -> Result<Json<Value>, ApiError> {
    let mut json = serde_json::to_value(value).map_err(ApiError::internal)?;
    mask.apply(&mut json);
    Ok(Json(json))
}

/// `value` as JSON with `mask` applied to the object under each of `keys` (a list's items, the defaults'
/// addresses).
pub fn masked_within(mask: &FieldMask, mut json: Value, keys: &[&str]) -> Json<Value> {
    for key in keys {
        match json.get_mut(*key) {
            Some(Value::Array(items)) => items.iter_mut().for_each(|item| mask.apply(item)),
            Some(object) => mask.apply(object),
            None => {}
        }
    }
    Json(json)
}
