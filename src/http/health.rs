//! `/health` (liveness) and `/health/ready` (readiness, with each dependency's state).

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    service::{self, health::Readiness},
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: 200 while the process serves.
///
/// No token needed. Answers 200 while the process serves requests, whatever its dependencies; for load
/// balancers' liveness checks.
#[utoipa::path(get, path = "/health", tag = "operations", security(()),
    responses((status = 200, description = "The process serves", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: 200 when the database answers, 503 when it does not or while the process drains to stop.
///
/// No token needed. Reports each dependency (database, read replica, cache, auth service with its breaker
/// state); an optional one that is down makes the report `degraded` (still 200).
#[utoipa::path(get, path = "/health/ready", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready (possibly degraded)", body = Readiness),
        (status = 503, description = "The database does not answer, or the process is stopping", body = Readiness),
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let readiness = service::health::readiness(&state).await;
    let code = if matches!(readiness.status, "unavailable" | "draining") {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(readiness))
}
