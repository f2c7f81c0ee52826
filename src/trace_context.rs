//! W3C Trace Context: the trace a request belongs to, continued from its `traceparent`/`tracestate` headers or
//! started here, readable anywhere on the request's task (log lines, problem bodies, outbox events); and the
//! `traceparent` that calls to the auth service and published events carry onward (docs/operations.md#traces).
//!
//! Ids exist even when no trace is exported: without an exporter they are drawn here (two random numbers, no
//! OpenTelemetry span at all); with one (`telemetry`), they are those of the request's OpenTelemetry server span,
//! a child of the caller's span, and an outgoing call names the span that makes it.

use std::{fmt, future::Future};

use opentelemetry::{
    Context,
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
};
use tokio::task::futures::TaskLocalFuture;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of the spans made for traces only: the OpenTelemetry layer sees them, log lines never do, and
/// without an exporter no layer wants them, so they cost nothing.
pub const SPAN_TARGET: &str = "ups::otel";

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// The longest `tracestate` passed on; W3C asks that at least 512 characters be.
const MAX_TRACESTATE_LEN: usize = 512;

tokio::task_local! {
    static CURRENT: RequestTrace;
}

/// A `traceparent`: the trace, the span that made the call (or this request's own span), and whether the trace
/// is being recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

impl TraceParent {
    /// Parses a `traceparent` value (W3C Trace Context, section 3.2): version `00` exactly, a later version by
    /// its first four fields. Anything else (upper-case hex, all-zero ids, version `ff`, a wrong length) is
    /// `None`, and the request starts a trace of its own.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        if raw.len() < 55 || raw[2] != b'-' || raw[35] != b'-' || raw[52] != b'-' {
            return None;
        }
        let version = hex(&raw[0..2])?;
        let length_ok = match version {
            0xff => false,
            0 => raw.len() == 55,
            _ => raw.len() == 55 || raw[55] == b'-',
        };
        let trace_id = hex(&raw[3..35])?;
        let span_id = u64::try_from(hex(&raw[36..52])?).ok()?;
        let flags = hex(&raw[53..55])?;
        (length_ok && trace_id != 0 && span_id != 0).then_some(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

/// The value of lower-case hex digits (at most 32), `None` for any other character.
fn hex(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |acc, &d| {
        let value = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        Some((acc << 4) | u128::from(value))
    })
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = if self.sampled { "01" } else { "00" };
        write!(f, "00-{:032x}-{:016x}-{flags}", self.trace_id, self.span_id)
    }
}

/// The trace context of the request being served: its own span in the trace, and the caller's `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTrace {
    pub span: TraceParent,
    pub tracestate: Option<String>,
}

impl RequestTrace {
    /// The trace id as 32 lower-case hex digits, as log lines, problem bodies and trace back-ends show it.
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.span.trace_id)
    }

    /// This request's span id as 16 lower-case hex digits.
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.span.span_id)
    }
}

/// The trace context of a request whose server span is `span` (disabled without an exporter): the child of the
/// caller's `traceparent` when it is valid, else the root of a new trace. The caller's `tracestate` is kept only
/// with a valid `traceparent`, and only when it is printable ASCII of at most 512 characters.
pub fn begin(
    span: &tracing::Span,
    traceparent: Option<&[u8]>,
    tracestate: Option<&[u8]>,
) -> RequestTrace {
    let parent = traceparent.and_then(TraceParent::parse);
    let tracestate = parent.and(tracestate).and_then(accept_tracestate);
    if let Some(exported) = attach(span, parent, tracestate.as_deref()) {
        return exported;
    }
    RequestTrace {
        span: TraceParent {
            trace_id: parent.map_or_else(|| nonzero(rand::random::<u128>), |p| p.trace_id),
            span_id: nonzero(rand::random::<u64>),
            sampled: parent.is_some_and(|p| p.sampled),
        },
        tracestate,
    }
}

fn accept_tracestate(raw: &[u8]) -> Option<String> {
    let printable = raw.iter().all(|b| (b' '..=b'~').contains(b));
    (printable && !raw.is_empty() && raw.len() <= MAX_TRACESTATE_LEN)
        .then(|| String::from_utf8_lossy(raw).into_owned())
}

/// A random id; zero, which W3C reserves for "no id", is drawn again.
fn nonzero<T: PartialEq + Default>(draw: impl Fn() -> T) -> T {
    loop {
        let id = draw();
        if id != T::default() {
            return id;
        }
    }
}

/// Runs `work` (the request) with `trace` as the current trace context.
pub fn scope<F: Future>(trace: RequestTrace, work: F) -> TaskLocalFuture<RequestTrace, F> {
    CURRENT.scope(trace, work)
}

/// The trace id of the request being served on this task, if any (problem bodies carry it).
pub fn current_trace_id() -> Option<String> {
    CURRENT.try_with(RequestTrace::trace_id).ok()
}

/// True on the task of a request being served.
pub fn in_request() -> bool {
    CURRENT.try_with(|_| ()).is_ok()
}

/// The context an outgoing call or message made now carries: the current span's when traces are exported
/// (the auth call's own span, say), else the request's; `None` outside a request when nothing is exported.
pub fn outgoing() -> Option<RequestTrace> {
    of_span(&tracing::Span::current()).or_else(|| CURRENT.try_with(Clone::clone).ok())
}

/// Adds the current trace context (`traceparent`, and `tracestate` when there is one) to an outgoing request.
pub fn inject(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let Some(trace) = outgoing() else {
        return request;
    };
    let request = request.header(TRACEPARENT, trace.span.to_string());
    match trace.tracestate {
        Some(state) => request.header(TRACESTATE, state),
        None => request,
    }
}

/// The `traceparent` of a message published now for an event whose request had `stored`: when traces are
/// exported, that of the publishing `span`, made the child of `stored`; else `stored` as it is.
pub fn continue_from(span: &tracing::Span, stored: Option<&str>) -> Option<String> {
    let parent = stored.and_then(|s| TraceParent::parse(s.as_bytes()));
    match attach(span, parent, None) {
        Some(publishing) => Some(publishing.span.to_string()),
        None => parent.map(|p| p.to_string()),
    }
}

/// With the OpenTelemetry layer, makes `span` the child of the remote `parent` (when there is one) and reads the
/// ids it got; `None` without it.
fn attach(
    span: &tracing::Span,
    parent: Option<TraceParent>,
    tracestate: Option<&str>,
) -> Option<RequestTrace> {
    if span.is_disabled() {
        return None;
    }
    if let Some(parent) = parent {
        let state = tracestate
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        let flags = if parent.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let remote = SpanContext::new(
            TraceId::from_bytes(parent.trace_id.to_be_bytes()),
            SpanId::from_bytes(parent.span_id.to_be_bytes()),
            flags,
            true,
            state,
        );
        let _ = span.set_parent(Context::new().with_remote_span_context(remote));
    }
    of_span(span)
}

/// The ids OpenTelemetry gave `span`; `None` when it gave none (no exporter, or a span it does not see).
fn of_span(span: &tracing::Span) -> Option<RequestTrace> {
    let context = span.context();
    let otel = context.span();
    let ids = otel.span_context();
    if !ids.is_valid() {
        return None;
    }
    let state = ids.trace_state().header();
    Some(RequestTrace {
        span: TraceParent {
            trace_id: u128::from_be_bytes(ids.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(ids.span_id().to_bytes()),
            sampled: ids.is_sampled(),
        },
        tracestate: (!state.is_empty()).then_some(state),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_version_00_traceparent_is_read_and_written_back_the_same() {
        let parent = TraceParent::parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(parent.trace_id, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert_eq!(parent.span_id, 0x00f0_67aa_0ba9_02b7);
        assert!(parent.sampled);
        assert_eq!(parent.to_string(), EXAMPLE);
        let unsampled = EXAMPLE.replace("-01", "-00");
        assert!(!TraceParent::parse(unsampled.as_bytes()).unwrap().sampled);
    }

    #[test]
    fn a_later_version_is_read_by_its_first_four_fields() {
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-comes-next";
        let parent = TraceParent::parse(future.as_bytes()).unwrap();
        assert_eq!(parent.to_string(), EXAMPLE);
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
        ] {
            assert_eq!(TraceParent::parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn without_an_exporter_a_request_continues_the_callers_trace_with_a_span_of_its_own() {
        let trace = begin(
            &tracing::Span::none(),
            Some(EXAMPLE.as_bytes()),
            Some(b"vendor=opaque"),
        );
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(trace.span.span_id, 0x00f0_67aa_0ba9_02b7);
        assert!(trace.span.sampled);
        assert_eq!(trace.tracestate.as_deref(), Some("vendor=opaque"));
    }

    #[test]
    fn without_a_valid_traceparent_a_request_starts_an_unsampled_trace_and_drops_tracestate() {
        let first = begin(&tracing::Span::none(), Some(b"garbage"), Some(b"vendor=x"));
        let second = begin(&tracing::Span::none(), None, None);
        assert_ne!(first.span.trace_id, second.span.trace_id);
        assert!(!first.span.sampled);
        assert_eq!(first.tracestate, None);
        assert_eq!(first.trace_id().len(), 32);
        assert_eq!(first.span_id().len(), 16);
    }

    #[test]
    fn a_tracestate_that_is_not_printable_or_too_long_is_dropped() {
        let long = "a=".to_string() + &"b".repeat(MAX_TRACESTATE_LEN);
        for bad in [&b"a=\xffb"[..], b"a=\nb", b"", long.as_bytes()] {
            let trace = begin(&tracing::Span::none(), Some(EXAMPLE.as_bytes()), Some(bad));
            assert_eq!(trace.tracestate, None);
        }
    }

    #[test]
    fn without_an_exporter_a_stored_traceparent_is_published_as_it_is() {
        let span = tracing::Span::none();
        assert_eq!(
            continue_from(&span, Some(EXAMPLE)).as_deref(),
            Some(EXAMPLE)
        );
        assert_eq!(continue_from(&span, Some("garbage")), None);
        assert_eq!(continue_from(&span, None), None);
    }

    proptest! {
        /// Any valid traceparent written by us is read back as itself.
        #[test]
        fn what_we_write_we_read(trace_id in 1u128.., span_id in 1u64.., sampled: bool) {
            let parent = TraceParent { trace_id, span_id, sampled };
            prop_assert_eq!(TraceParent::parse(parent.to_string().as_bytes()), Some(parent));
        }

        /// Whatever the header holds, parsing never panics, and what it accepts is 55 characters or longer.
        #[test]
        fn parsing_any_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..80)) {
            if TraceParent::parse(&raw).is_some() {
                prop_assert!(raw.len() >= 55);
            }
        }
    }
}
