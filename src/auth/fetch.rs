//! Outgoing HTTP to the auth service: the client with our settings, a span per call, and a body reader with a
//! size limit.

use std::future::Future;

use anyhow::Context;
use tracing::Instrument;

use crate::{config::Config, trace_context};

/// The client for the JWKS and the verification endpoint.
pub fn http_client(config: &Config) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(config.auth_service_timeout)
        // A redirect would carry the bearer token somewhere we did not configure.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("user-profile-service/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot build the auth HTTP client with our settings; using defaults");
            reqwest::Client::new()
        })
}

/// Reads a response body, refusing one larger than `limit` bytes.
pub async fn read_body(mut response: reqwest::Response, limit: usize) -> anyhow::Result<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        anyhow::bail!("answer larger than {limit} bytes");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.context("reading the answer")? {
        if body.len() + chunk.len() > limit {
            anyhow::bail!("answer larger than {limit} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Runs `call`, one call to the auth service, in a span of its own named `operation` (for traces only). The
/// request it builds with [`request`] carries that span's trace context, and [`record_status`] notes the answer.
pub async fn traced<T>(
    operation: &'static str,
    call: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let span = tracing::info_span!(
        target: trace_context::SPAN_TARGET,
        "auth",
        otel.name = operation,
        otel.kind = "client",
        http.request.method = "GET",
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let result = call.instrument(span.clone()).await;
    if result.is_err() {
        span.record("otel.status_code", "ERROR");
    }
    result
}

/// A GET of `url` carrying the current trace context (`traceparent`, `tracestate`).
pub fn request(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
    trace_context::inject(client.get(url))
}

/// Notes the auth service's answer on the span of the call being made.
pub fn record_status(status: reqwest::StatusCode) {
    tracing::Span::current().record("http.response.status_code", status.as_u16());
}
