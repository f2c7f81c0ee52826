//! The request a log line belongs to: its ids, method and route template, held once per request in a
//! task-local and written into every JSON line made while serving it (under `span`, as a tracing span's fields
//! would be), the request's own access-log line included.
//!
//! Why not a tracing span: creating, entering and leaving a span on every poll of the request cost about a
//! fifth of a cached read (docs/benchmarks.md, "The request log line"). The development (pretty) format still
//! uses a span, so the request shows in its familiar place there.

use std::{
    future::Future,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static CURRENT: Arc<RequestFields>;
}

/// Set when the log format shows spans (development): requests then also get a `request` span.
static AS_SPAN: AtomicBool = AtomicBool::new(false);

pub(super) fn show_as_span(on: bool) {
    AS_SPAN.store(on, Ordering::Relaxed);
}

/// What every log line of one request carries.
#[derive(Debug)]
pub struct RequestFields {
    /// `"request_id":…,"method":…,"route":…,"trace_id":…,"span_id":…`, written once.
    json: String,
    /// The caller, once the bearer token is verified.
    user_id: OnceLock<String>,
}

impl RequestFields {
    pub fn new(
        request_id: &str,
        method: &str,
        route: &str,
        trace_id: &str,
        span_id: &str,
    ) -> Arc<Self> {
        let mut json = String::with_capacity(160);
        for (i, (name, value)) in [
            ("request_id", request_id),
            ("method", method),
            ("route", route),
            ("trace_id", trace_id),
            ("span_id", span_id),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                json.push(',');
            }
            super::push_json_str(&mut json, name);
            json.push(':');
            super::push_json_str(&mut json, value);
        }
        Arc::new(Self {
            json,
            user_id: OnceLock::new(),
        })
    }

    /// Runs `work` (the request) with these fields in every line it logs.
    pub fn scope<F: Future>(self: &Arc<Self>, work: F) -> TaskLocalFuture<Arc<Self>, F> {
        CURRENT.scope(self.clone(), work)
    }

    /// Logs from `log` with these fields: the access-log line, written once the request's scope has ended.
    pub fn in_scope<R>(self: &Arc<Self>, log: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self.clone(), log)
    }

    /// Appends `,"span":{"name":"request",…}` to a JSON line.
    fn write_json(&self, out: &mut String) {
        out.push_str(",\"span\":{\"name\":\"request\",");
        out.push_str(&self.json);
        if let Some(user_id) = self.user_id.get() {
            out.push_str(",\"user_id\":");
            super::push_json_str(out, user_id);
        }
        out.push('}');
    }
}

/// True when requests also get a `request` span (the development log format shows spans, not these fields).
pub fn wants_span() -> bool {
    AS_SPAN.load(Ordering::Relaxed)
}

/// Records the caller of the running request, for its later log lines.
pub fn record_user_id(user_id: &str) {
    let _ = CURRENT.try_with(|fields| fields.user_id.set(user_id.to_owned()));
    if wants_span() {
        tracing::Span::current().record("user_id", user_id);
    }
}

/// Appends the running request's fields to a JSON line; false when no request is running on this task.
pub(super) fn write_current(out: &mut String) -> bool {
    CURRENT.try_with(|fields| fields.write_json(out)).is_ok()
}
