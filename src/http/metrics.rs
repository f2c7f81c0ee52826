//! `GET /metrics`: Prometheus text exposition of the process-wide `metrics` recorder.
//!
//! Series are emitted through the `metrics` facade wherever they happen (HTTP in `middleware`, auth in `auth/`,
//! the cache in its module); this module installs the recorder once, describes every series, and refreshes the
//! database pool gauges at scrape time. The endpoint has no auth: keep it off the public ingress.

use std::{sync::OnceLock, time::Duration};

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// Requests answered, by `method`, `route` (the template, `unmatched` for unknown paths) and `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Time to answer a request, in seconds, by `method` and `route`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Open connections of a database pool, by `pool` and `state` (`idle` or `in_use`). `pool` is `writer` and
/// `reader`, `primary` when one pool serves both (an in-memory SQLite database), and `replica` when configured.
pub const DB_POOL_CONNECTIONS: &str = "db_pool_connections";
/// The most connections a database pool may open, by `pool`.
pub const DB_POOL_MAX_CONNECTIONS: &str = "db_pool_max_connections";
/// Token verifications, by `method` (`local`, `jwks`, `remote`, or `cached` for a remote verdict still in
/// its cache) and `outcome` (`ok`, `failed` for an invalid or expired token, `unavailable` when the verdict
/// needed a service that did not answer); emitted by `auth/`.
pub const AUTH_VERIFICATIONS_TOTAL: &str = "auth_verifications_total";
/// The auth service's circuit breaker (JWKS and remote verification): 0 closed, 1 half-open, 2 open; emitted by
/// `auth/`, present (0) from start-up.
pub const AUTH_BREAKER_STATE: &str = "auth_breaker_state";
/// Read-cache lookups by `outcome` (`hit`, `miss`), failed Redis calls of any kind (lookup, store,
/// invalidation, `error`), and Redis calls skipped during the back-off after a failure (`skipped`); emitted by
/// the cache, Redis or in-process.
pub const CACHE_REQUESTS_TOTAL: &str = "cache_requests_total";
/// Requests answered 429 `rate_limited`, by `class` (`reads`, `writes`); emitted by `http::rate_limit`.
pub const RATE_LIMITED_TOTAL: &str = "rate_limited_total";
/// Rate-limit checks counted in process because Redis failed or was resting after a failure; emitted by
/// `rate_limit`.
pub const RATE_LIMIT_FALLBACKS_TOTAL: &str = "rate_limit_fallbacks_total";
/// 1 while the primary database answers (and the start-up's migrations are done), 0 while API requests get 503
/// for want of it; read at scrape time.
pub const DATABASE_AVAILABLE: &str = "database_available";
/// Open client connections; emitted by `server`.
pub const HTTP_CONNECTIONS_OPEN: &str = "http_connections_open";
/// Connections closed for missing a deadline, by `timeout` (`header_read`, `idle`, `send`); emitted by `server`.
pub const HTTP_CONNECTION_TIMEOUTS_TOTAL: &str = "http_connection_timeouts_total";

/// Change events the NATS relay has yet to publish (0 without a relay); emitted by `outbox`.
pub const OUTBOX_PENDING: &str = crate::outbox::OUTBOX_PENDING;
/// Age in seconds of the oldest change event the relay has yet to publish (0 when none waits).
pub const OUTBOX_OLDEST_PENDING_SECONDS: &str = crate::outbox::OUTBOX_OLDEST_PENDING_SECONDS;
/// Publishes to NATS JetStream by `outcome`: `ok`, `duplicate` (the server had it already: a publish repeated
/// after a crash or a hand-over, dropped by `Nats-Msg-Id`), `error`; emitted by `outbox::relay`.
pub const OUTBOX_PUBLISH_TOTAL: &str = crate::outbox::OUTBOX_PUBLISH_TOTAL;

/// Latency buckets for a service whose requests take 1 ms to 1 s; the tail up to 10 s shows trouble.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `Content-Type` of the Prometheus text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(render_metrics))
}

/// The whole application of the metrics listener (`METRICS_PORT`): `GET /metrics`, 404 for anything else.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(render_metrics))
        .fallback(super::error::route_not_found)
        .with_state(state)
}

/// The process-wide recorder's handle, installed on first use (every router calls this, tests build many).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.into()),
                LATENCY_BUCKETS,
            )
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will stay empty");
        }
        describe();
        register_at_start_up();
        handle
    })
}

/// Drains histogram samples into their buckets every few seconds, so memory stays flat between scrapes.
pub fn spawn_upkeep() {
    let handle = handle().clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}

/// `# HELP` lines for every series the service emits, including those other modules record.
fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by method, route template and status"
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route template"
    );
    metrics::describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Open database connections, by pool (writer|reader|primary|replica) and state (idle|in_use)"
    );
    metrics::describe_gauge!(
        DB_POOL_MAX_CONNECTIONS,
        "Maximum connections of each database pool"
    );
    metrics::describe_counter!(
        AUTH_VERIFICATIONS_TOTAL,
        "Bearer token verifications, by method (local|jwks|remote|cached) and outcome (ok|failed|unavailable)"
    );
    metrics::describe_gauge!(
        AUTH_BREAKER_STATE,
        "Auth-service circuit breaker: 0 closed, 1 half-open, 2 open"
    );
    metrics::describe_counter!(
        CACHE_REQUESTS_TOTAL,
        "Read-cache lookups by outcome (hit|miss), failed Redis calls (error), Redis calls skipped after a failure (skipped)"
    );
    metrics::describe_counter!(
        RATE_LIMITED_TOTAL,
        "Requests refused 429 over their caller's budget, by class (reads|writes)"
    );
    metrics::describe_counter!(
        RATE_LIMIT_FALLBACKS_TOTAL,
        "Rate-limit checks counted in process because Redis was unavailable"
    );
    metrics::describe_gauge!(HTTP_CONNECTIONS_OPEN, "Open client connections");
    metrics::describe_gauge!(
        DATABASE_AVAILABLE,
        "1 while the primary database answers and API requests can be served, 0 while they get 503"
    );
    describe_outbox();
    metrics::describe_counter!(
        HTTP_CONNECTION_TIMEOUTS_TOTAL,
        "Client connections closed for missing a deadline, by timeout (header_read|idle|send)"
    );
}

/// `# HELP` lines of the change feed's relay series.
fn describe_outbox() {
    metrics::describe_gauge!(
        OUTBOX_PENDING,
        "Change events the NATS relay has yet to publish"
    );
    metrics::describe_gauge!(
        OUTBOX_OLDEST_PENDING_SECONDS,
        Unit::Seconds,
        "Age of the oldest change event the NATS relay has yet to publish"
    );
    metrics::describe_counter!(
        OUTBOX_PUBLISH_TOTAL,
        "Change events published to NATS JetStream, by outcome (ok|duplicate|error)"
    );
}

/// Every auth, breaker and cache series at zero, so dashboards and alerts see them before first use.
fn register_at_start_up() {
    for method in ["local", "jwks", "remote", "cached"] {
        for outcome in ["ok", "failed", "unavailable"] {
            metrics::counter!(AUTH_VERIFICATIONS_TOTAL, "method" => method, "outcome" => outcome)
                .increment(0);
        }
    }
    metrics::gauge!(AUTH_BREAKER_STATE).set(0.0);
    for outcome in ["hit", "miss", "error", "skipped"] {
        metrics::counter!(CACHE_REQUESTS_TOTAL, "outcome" => outcome).increment(0);
    }
    metrics::gauge!(OUTBOX_PENDING).set(0.0);
    metrics::gauge!(OUTBOX_OLDEST_PENDING_SECONDS).set(0.0);
    for outcome in ["ok", "duplicate", "error"] {
        metrics::counter!(OUTBOX_PUBLISH_TOTAL, "outcome" => outcome).increment(0);
    }
}

/// The metric `method` label: the standard methods by name, anything else as `other` (labels stay bounded).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Prometheus metrics of this process (text format). Not for the public internet: expose it only to the
/// scraper's network.
///
/// No token needed. Requests by method, route template and status, latency histograms, pool, cache and
/// auth-verification counters, breaker state. With `METRICS_PORT` set it is served on that port only, and the
/// API port answers 404.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
        content_type = "text/plain; version=0.0.4", body = String)))]
async fn render_metrics(State(state): State<AppState>) -> Response {
    for pool in state.db.pool_stats() {
        let in_use = pool.size.saturating_sub(pool.idle);
        metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool.name, "state" => "idle")
            .set(f64::from(pool.idle));
        metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool.name, "state" => "in_use")
            .set(f64::from(in_use));
        metrics::gauge!(DB_POOL_MAX_CONNECTIONS, "pool" => pool.name).set(f64::from(pool.max));
    }
    metrics::gauge!(DATABASE_AVAILABLE).set(if state.db.is_down() { 0.0 } else { 1.0 });
    let body = handle().render();
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response()
}
