//! Logging: pretty lines in development, JSON in production; every line inside a request carries the request's
//! fields (request id, method, route template, user id, trace id and span id; `request`). Emails, phones, addresses and tokens
//! are never logged: handlers log ids and codes, errors are logged by message (never by `Debug`), and sqlx logs
//! SQL text with `$n` placeholders (debug level), never bound values.
//!
//! Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the spans made for traces (`trace_context::SPAN_TARGET`)
//! are exported over OTLP (`export`); log lines never show them, and without an exporter no layer wants them.

mod export;
pub mod request;

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span::Record,
};
use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    field::RecordFields,
    fmt::{self, FmtContext, FormatEvent, FormattedFields, format::Writer},
    prelude::*,
    registry::LookupSpan,
};

use crate::{
    config::{Config, LogFormat},
    trace_context::SPAN_TARGET,
};

/// What [`init`] started that needs stopping: the trace exporter, when there is one.
#[must_use = "call `shutdown` at exit, so the last spans are sent"]
pub struct Telemetry {
    exporter: Option<export::Exporter>,
}

impl Telemetry {
    /// Sends the spans still queued (for at most two seconds); nothing to do without an exporter.
    pub async fn shutdown(self) {
        if let Some(exporter) = self.exporter {
            exporter.shutdown().await;
        }
    }
}

/// Installs the global subscriber: log lines (`RUST_LOG` overrides the default `info` filter), and the trace
/// exporter when `config.traces` is set. An exporter that cannot be built is logged and left out: traces are
/// never a reason not to serve.
pub fn init(config: &Config) -> Telemetry {
    let logs = match config.log_format {
        LogFormat::Json => json_layer(std::io::stdout)
            .with_filter(log_filter())
            .boxed(),
        // Colours only on a terminal: in a file or a pipe the escape codes are noise.
        LogFormat::Pretty => {
            request::show_as_span(true);
            fmt::layer()
                .compact()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .with_filter(log_filter())
                .boxed()
        }
    };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![logs];
    let mut failure = None;
    let exporter = match config.traces.as_ref().map(export::Exporter::start) {
        Some(Ok(exporter)) => {
            layers.push(exporter.layer());
            Some(exporter)
        }
        Some(Err(err)) => {
            failure = Some(err);
            None
        }
        None => None,
    };
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layers).try_init();
    if let Some(err) = failure {
        tracing::warn!(error = %format!("{err:#}"), "traces cannot be exported; serving without them");
    } else if let Some(settings) = &config.traces {
        tracing::info!(
            endpoint = %export::safe_endpoint(&settings.endpoint),
            sampler = ?settings.sampler,
            service_name = %settings.service_name,
            "exporting traces over OTLP/HTTP"
        );
    }
    Telemetry { exporter }
}

/// The filter of log lines: `RUST_LOG`, else `info`; spans made for traces are never shown, whatever it says.
fn log_filter() -> EnvFilter {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match format!("{SPAN_TARGET}=off").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// One JSON object per line: `timestamp`, `level`, `message`, the event's fields at the top level, `target`,
/// and under `span` the running request's fields (`request_id`, `method`, `route`, `trace_id`, `span_id`,
/// `user_id`; see `request`), or outside a request the innermost span's.
pub fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .event_format(JsonLines)
        .fmt_fields(JsonLines)
        .with_writer(writer)
}

/// The JSON line format. Written by hand because tracing-subscriber's JSON formatter builds a JSON document
/// for every span's fields and parses it again for every event: on a cached read that was a fifth of the
/// service's CPU time (docs/benchmarks.md). Span fields are kept as a ready JSON fragment instead.
pub struct JsonLines;

impl<'w> fmt::FormatFields<'w> for JsonLines {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        let mut out = String::new();
        fields.record(&mut JsonFields {
            out: &mut out,
            first: true,
        });
        writer.write_str(&out)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> std::fmt::Result {
        let first = current.fields.is_empty();
        fields.record(&mut JsonFields {
            out: &mut current.fields,
            first,
        });
        Ok(())
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut out = String::with_capacity(256);
        let now = time::OffsetDateTime::now_utc();
        out.push_str("{\"timestamp\":\"");
        out.push_str(
            &now.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        );
        out.push_str("\",\"level\":\"");
        out.push_str(meta.level().as_str());
        out.push('"');
        event.record(&mut JsonFields {
            out: &mut out,
            first: false,
        });
        out.push_str(",\"target\":");
        push_json_str(&mut out, meta.target());
        if request::write_current(&mut out) {
            out.push_str("}\n");
            return writer.write_str(&out);
        }
        let span_fields = ctx.event_scope().and_then(|scope| {
            // Spans made for traces carry nothing a log line needs (and are filtered out in production).
            let mut logged = scope
                .into_iter()
                .filter(|span| span.metadata().target() != SPAN_TARGET);
            logged.find_map(|span| {
                let extensions = span.extensions();
                let fields = extensions.get::<FormattedFields<N>>()?;
                (!fields.fields.is_empty()).then(|| (span.name(), fields.fields.clone()))
            })
        });
        if let Some((name, fields)) = span_fields {
            out.push_str(",\"span\":{\"name\":");
            push_json_str(&mut out, name);
            out.push(',');
            out.push_str(&fields);
            out.push('}');
        }
        out.push_str("}\n");
        writer.write_str(&out)
    }
}

/// Writes fields as `"name":value` pairs, comma-separated.
struct JsonFields<'a> {
    out: &'a mut String,
    first: bool,
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_str(self.out, field.name());
        self.out.push(':');
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_json_str(self.out, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.out.push_str(&value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.out.push_str(&value.to_string());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        match serde_json::Number::from_f64(value) {
            Some(n) => self.out.push_str(&n.to_string()),
            None => self.out.push_str("null"),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        push_json_str(self.out, &format!("{value:?}"));
    }
}

pub(crate) fn push_json_str(out: &mut String, value: &str) {
    // Serializing a `&str` cannot fail.
    out.push_str(&serde_json::to_string(value).unwrap_or_default());
}
