//! Request middleware: the request id and trace context, the per-request spans, log line and metrics, the
//! request time limit; the headers that keep answers out of caches; and the CORS, compression and
//! panic-catching layers.

use std::{
    any::Any,
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{CompressionLayer, DefaultPredicate, Predicate, predicate::SizeAbove},
    cors::{AllowOrigin, CorsLayer},
};
use tracing::Instrument;

use crate::{
    http::{error::ApiError, metrics},
    request_id,
    telemetry::request::{self, RequestFields},
    trace_context,
};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id, its trace context, the fields its log lines carry (`telemetry::request`), a time
/// limit, and one log line and its metrics when it is answered. With traces exported, the request also gets an
/// OpenTelemetry server span (the child of the caller's `traceparent`) that carries no user id.
pub async fn request_context(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // The caller's id only in the strict format; the response header says which id was used.
    let request_id = request_id::accept_or_generate(
        request
            .headers()
            .get(&X_REQUEST_ID)
            .map(HeaderValue::as_bytes),
    );
    // The route template, never the raw path: it may hold ids, and it keeps metric labels bounded.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().clone();
    let (server_span, trace) = request_trace(&request, &request_id, &method, &route);
    let fields = RequestFields::new(
        &request_id,
        method.as_str(),
        &route,
        &trace.trace_id(),
        &trace.span_id(),
    );
    let span = if request::wants_span() {
        request_span(&request_id, &method, &route, &trace)
    } else {
        tracing::Span::none()
    };
    let run = async move {
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Timeout.into_response(),
        }
    };
    // The server span is entered around the log span, so spans made while serving are its children.
    let run = run.instrument(span.clone()).instrument(server_span.clone());
    let mut response = trace_context::scope(
        trace,
        request_id::scope(request_id.clone(), fields.scope(run)),
    )
    .await;
    let status = response.status().as_u16();
    server_span.record("http.response.status_code", status);
    if status >= 500 {
        server_span.record("otel.status_code", "ERROR");
    }
    answered(&fields, &span, &method, route, status, started.elapsed());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

/// The request's metrics and its access-log line, with the request's fields (the pretty format takes them from
/// its span).
fn answered(
    fields: &std::sync::Arc<RequestFields>,
    span: &tracing::Span,
    method: &Method,
    route: String,
    status: u16,
    elapsed: Duration,
) {
    let elapsed = elapsed.as_secs_f64();
    let latency_ms = elapsed * 1000.0;
    let method = metrics::method_label(method);
    ::metrics::counter!(metrics::HTTP_REQUESTS_TOTAL,
        "method" => method, "route" => route.clone(), "status" => status.to_string())
    .increment(1);
    ::metrics::histogram!(metrics::HTTP_REQUEST_DURATION_SECONDS, "method" => method, "route" => route)
        .record(elapsed);
    fields.in_scope(|| {
        span.in_scope(|| {
            if status >= 500 {
                tracing::error!(status, latency_ms, "request answered");
            } else {
                tracing::info!(status, latency_ms, "request answered");
            }
        });
    });
}

/// A request's OpenTelemetry server span (disabled, and free, without an exporter) and its trace context.
fn request_trace(
    request: &Request,
    request_id: &str,
    method: &Method,
    route: &str,
) -> (tracing::Span, trace_context::RequestTrace) {
    let server_span = tracing::info_span!(
        target: trace_context::SPAN_TARGET,
        "http.server",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        request_id,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let trace = trace_context::begin(
        &server_span,
        single_header(request.headers(), trace_context::TRACEPARENT),
        joined_header(request.headers(), trace_context::TRACESTATE).as_deref(),
    );
    (server_span, trace)
}

/// The request's log span, for the development format, which shows spans: the same fields as
/// [`RequestFields`], which the JSON format writes instead.
fn request_span(
    request_id: &str,
    method: &Method,
    route: &str,
    trace: &trace_context::RequestTrace,
) -> tracing::Span {
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        user_id = tracing::field::Empty,
        trace_id = %trace.trace_id(),
        span_id = %trace.span_id(),
    )
}

/// The value of a header sent exactly once (a second `traceparent` makes both invalid, as W3C asks).
fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value.as_bytes()),
        _ => None,
    }
}

/// The values of a header sent on several lines, joined by commas as one list (`tracestate`).
fn joined_header(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let mut values = headers.get_all(name).iter();
    let mut joined = values.next()?.as_bytes().to_vec();
    for value in values {
        joined.push(b',');
        joined.extend_from_slice(value.as_bytes());
    }
    Some(joined)
}

/// `Cache-Control: no-store` on every answer under `/api/v1`, errors included (a problem body can hold the
/// caller's data too, and no shared cache should keep either), unless the handler chose a policy itself (the
/// public address formats); and `X-Content-Type-Options: nosniff` on every answer, so a browser never runs a
/// JSON body as something else.
pub async fn protective_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_api = path == "/api/v1" || path.starts_with("/api/v1/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A handler that panics is answered like any unexpected error (500 `internal_error`, logged once with the
/// request's span, counted) instead of with a dropped connection. The panic's payload is not logged here: it
/// may hold values (the default panic hook still prints it to stderr).
pub fn catch_panic() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    fn answer(_payload: Box<dyn Any + Send + 'static>) -> Response {
        ApiError::internal(anyhow::anyhow!("a handler panicked")).into_response()
    }
    CatchPanicLayer::custom(answer as fn(Box<dyn Any + Send + 'static>) -> Response)
}

/// CORS for the configured origins only; `None` (no CORS headers at all) when none are configured.
pub fn cors(allowed_origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::PUT,
                Method::PATCH,
                Method::POST,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                X_REQUEST_ID.clone(),
                crate::http::idempotency::IDEMPOTENCY_KEY.clone(),
                // A browser front end that starts the trace sends its context (W3C Trace Context).
                HeaderName::from_static(trace_context::TRACEPARENT),
                HeaderName::from_static(trace_context::TRACESTATE),
            ])
            .expose_headers([
                header::ETAG,
                header::CONTENT_LANGUAGE,
                header::LOCATION,
                X_REQUEST_ID.clone(),
                header::RETRY_AFTER,
                header::CONTENT_DISPOSITION,
                crate::http::idempotency::IDEMPOTENT_REPLAYED.clone(),
                HeaderName::from_static("erasure-receipt"),
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
            ])
            // Bearer tokens, not cookies: browsers need no credentials mode.
            .max_age(Duration::from_secs(600)),
    )
}

/// Gzip for bodies of 1 KiB and more when the client accepts it. Responses with a strong `ETag` stay as they
/// are, so a strong validator always names one byte sequence (and they are small JSON documents anyway); a weak
/// one (the large public address formats) allows it.
pub fn compression() -> CompressionLayer<impl Predicate> {
    fn has_no_etag(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
        headers
            .get(header::ETAG)
            .is_none_or(|tag| tag.as_bytes().starts_with(b"W/"))
    }
    CompressionLayer::new().compress_when(
        DefaultPredicate::new()
            .and(SizeAbove::new(1024))
            .and(has_no_etag),
    )
}

/// While the database is known to be down, API requests are answered 503 `service_unavailable` (with
/// `Retry-After`) at once instead of each waiting for a pool connection; probes, metrics and the address
/// formats (compiled in) still answer.
pub async fn database_gate(
    State(state): State<crate::state::AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if state.db.is_down()
        && path.starts_with("/api/")
        && !path.starts_with("/api/v1/address-formats")
    {
        return crate::http::error::ApiError::ServiceUnavailable.into_response();
    }
    next.run(request).await
}
