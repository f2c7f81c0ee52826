//! Logging: pretty lines in development, JSON in production; every line inside a request carries its span
//! (request id, method, route template, user id). Emails, phones, addresses and tokens are never logged:
//! handlers log ids and codes, errors are logged by message (never by `Debug`), and sqlx logs SQL text with
//! `$n` placeholders (debug level), never bound values.

use tracing::Subscriber;
use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*, registry::LookupSpan};

use crate::config::LogFormat;

/// Installs the global subscriber; `RUST_LOG` overrides the default `info` filter.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry.with(json_layer(std::io::stdout)).try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

/// One JSON object per line: `timestamp`, `level`, `target`, `message`, the event's fields at the top level,
/// and the request span's fields (`request_id`, `method`, `route`, `user_id`) under `span`.
pub fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_writer(writer)
}
