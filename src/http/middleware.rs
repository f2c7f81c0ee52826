//! Request middleware: the request id, the per-request span and log line, and the request time limit.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Instrument;

use crate::http::error::ApiError;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Accepts the caller's id when it is 1-128 safe characters; anything else gets a fresh UUID.
fn request_id_from(value: Option<&HeaderValue>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Gives every request an id, a span carrying it, a time limit, and one log line when it is answered.
pub async fn request_context(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request_id_from(request.headers().get(&X_REQUEST_ID));
    // The route template, never the raw path: it may hold ids, and it keeps metric labels bounded.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        user_id = tracing::field::Empty,
    );
    let run = async move {
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Timeout.into_response(),
        }
    };
    let mut response = REQUEST_ID
        .scope(request_id.clone(), run.instrument(span.clone()))
        .await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_ms, "request answered");
        } else {
            tracing::info!(status, latency_ms, "request answered");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_safe_caller_id_and_replaces_an_unsafe_one() {
        assert_eq!(
            request_id_from(Some(&HeaderValue::from_static("abc-123_x.y:z"))),
            "abc-123_x.y:z"
        );
        let replaced = request_id_from(Some(&HeaderValue::from_static("bad id with spaces")));
        assert!(uuid::Uuid::parse_str(&replaced).is_ok());
        let too_long = "a".repeat(129);
        let replaced = request_id_from(Some(&HeaderValue::from_str(&too_long).unwrap()));
        assert_ne!(replaced, too_long);
        assert!(uuid::Uuid::parse_str(&request_id_from(None)).is_ok());
    }
}
