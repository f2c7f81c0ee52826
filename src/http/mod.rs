//! HTTP transport: the router, extractors, middleware, errors, and one module per resource.

pub mod error;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod profiles;
pub mod respond;

use axum::{Router, extract::DefaultBodyLimit};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

/// Every API route with its OpenAPI description; router and spec come from this one list, so they cannot drift.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(profiles::routes())
}

/// The OpenAPI document served at `/api-docs/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(api_routes().into_openapi())
}

/// The whole application.
///
/// Layers, outermost first: CORS (so every answer, timeouts included, carries its headers), the request
/// context (id, span, time limit, log line, metrics), gzip for large bodies, the body size limit.
pub fn router(state: AppState) -> Router {
    // Installed before the first request, so nothing is recorded into the void.
    metrics::handle();
    let (routes, api) = api_routes().split_for_parts();
    let api = openapi::finish(api);
    let timeout = state.config.request_timeout;
    let cors = middleware::cors(&state.config.cors_allowed_origins);
    routes
        .merge(SwaggerUi::new("/docs").url("/api-docs/openapi.json", api))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(middleware::compression())
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            middleware::request_context,
        ))
        .layer(tower::util::option_layer(cors))
        .with_state(state)
}
