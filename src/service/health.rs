//! Readiness: each dependency's state, and whether the service can serve.

use std::{collections::BTreeMap, time::Instant};

use serde::Serialize;
use utoipa::ToSchema;

use crate::{db, state::AppState};

/// One dependency's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyCheck {
    /// `up`, `down`, `degraded`, `disabled`, or `unknown` (the auth service before any call has succeeded).
    #[schema(value_type = DependencyStatus)]
    pub status: String,
    /// Whether readiness fails when this dependency is down.
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Extra state, e.g. the circuit breaker's `closed`/`open`/`half_open`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The state of one dependency, as readiness reports it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DependencyStatus {
    Up,
    Down,
    Degraded,
    Disabled,
    Unknown,
}

/// Whether the service can serve.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadinessStatus {
    Ready,
    Degraded,
    Unavailable,
    Draining,
}

/// Readiness report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, `degraded` (an optional dependency is down), `unavailable` (a required one is) or `draining`
    /// (the process is stopping: take it out of the load balancer).
    #[schema(value_type = ReadinessStatus)]
    pub status: &'static str,
    pub checks: BTreeMap<String, DependencyCheck>,
}

/// Checks every dependency: the database is required; the replica, cache and auth service only degrade. A
/// stopping process is `draining` whatever its dependencies say.
pub async fn readiness(state: &AppState) -> Readiness {
    let mut checks = BTreeMap::new();
    let mut database = check_database(state.db.reader(), true).await;
    if state.db.is_starting() {
        // The database may answer already while the migrations still run: not ready for traffic yet.
        database.status = "down".to_string();
        database.detail = Some("starting: waiting for the database and the migrations".to_string());
    }
    checks.insert("database".to_string(), database);
    if state.db.backend() == "sqlite" {
        checks.insert("database_writer".to_string(), check_writer(&state.db).await);
    }
    if state.db.has_replica() {
        checks.insert(
            "read_replica".to_string(),
            check_database(state.db.replica(), false).await,
        );
    }
    if let Some(up) = state.cache.ping().await {
        let status = if up { "up" } else { "down" };
        checks.insert(
            "cache".to_string(),
            DependencyCheck {
                status: status.to_string(),
                required: false,
                latency_ms: None,
                detail: None,
            },
        );
    }
    checks.insert("auth_service".to_string(), check_auth_service(state));
    if let Some(relay) = state.outbox.relay_state() {
        checks.insert("broker".to_string(), check_broker(relay));
    }
    let failed = checks.values().any(|c| c.required && c.status == "down");
    let degraded = checks
        .values()
        .any(|c| !matches!(c.status.as_str(), "up" | "disabled" | "unknown"));
    let status = match (failed, degraded) {
        _ if state.draining.is_draining() => "draining",
        (true, _) => "unavailable",
        (false, true) => "degraded",
        (false, false) => "ready",
    };
    Readiness { status, checks }
}

async fn check_database(pool: &db::Pool, required: bool) -> DependencyCheck {
    let started = Instant::now();
    let result = tokio::time::timeout(std::time::Duration::from_secs(2), db::ping(pool)).await;
    let up = matches!(result, Ok(Ok(())));
    DependencyCheck {
        status: if up { "up" } else { "down" }.to_string(),
        required,
        latency_ms: Some((started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0),
        detail: None,
    }
}

/// SQLite's one write connection and the file's write lock, within 1 s: `down` (and readiness 503) while
/// another process holds the lock or the file cannot be written, with the reason in `detail`.
async fn check_writer(db: &db::Db) -> DependencyCheck {
    let started = Instant::now();
    let result = tokio::time::timeout(std::time::Duration::from_secs(1), db.check_writer()).await;
    let detail = match result {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(err.to_string()),
        Err(_) => Some("the write lock was not granted within 1 s".to_string()),
    };
    DependencyCheck {
        status: if detail.is_none() { "up" } else { "down" }.to_string(),
        required: true,
        latency_ms: Some((started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0),
        detail,
    }
}

/// The auth service (JWKS and remote verification), judged by its circuit breaker (no call is made): `unknown`
/// until a call has succeeded, `degraded` while the breaker is not closed. Optional: never fails readiness.
fn check_auth_service(state: &AppState) -> DependencyCheck {
    use crate::auth::breaker::BreakerState;
    let known = state.verifier.auth_service_state();
    DependencyCheck {
        status: match known {
            None => "disabled",
            Some((BreakerState::Open | BreakerState::HalfOpen, _)) => "degraded",
            Some((BreakerState::Closed, false)) => "unknown",
            Some((BreakerState::Closed, true)) => "up",
        }
        .to_string(),
        required: false,
        latency_ms: None,
        detail: known.map(|(b, _)| b.as_str().to_string()),
    }
}

/// The change feed's NATS relay on this instance (no call is made): `down` while NATS cannot be reached or
/// refuses publishes (writes still succeed; events wait in the outbox). Optional: never fails readiness.
fn check_broker(relay: crate::outbox::RelayState) -> DependencyCheck {
    use crate::outbox::RelayState;
    let (status, detail) = match relay {
        RelayState::Starting => ("unknown", "connecting"),
        RelayState::Publishing => ("up", "publishing"),
        RelayState::Standby => ("up", "standby: another instance publishes"),
        RelayState::Down => ("down", "NATS unreachable: events wait in the outbox"),
    };
    DependencyCheck {
        status: status.to_string(),
        required: false,
        latency_ms: None,
        detail: Some(detail.to_string()),
    }
}
