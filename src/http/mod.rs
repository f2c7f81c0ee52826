//! HTTP transport: the router, extractors, middleware, errors, and one module per resource.

pub mod admin;
pub mod error;
pub mod extract;
pub mod health;
pub mod middleware;
pub mod openapi;
pub mod preferences;
pub mod privacy;
pub mod profiles;
pub mod respond;
pub mod users_preferences;

use axum::{Router, extract::DefaultBodyLimit};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

/// Every API route with its OpenAPI description; router and spec come from this one list, so they cannot drift.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::routes())
        .merge(profiles::routes())
        .merge(preferences::routes())
        .merge(privacy::routes())
        .merge(users_preferences::routes())
        .merge(admin::routes())
}

/// The OpenAPI document served at `/api-docs/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(api_routes().into_openapi())
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let (routes, api) = api_routes().split_for_parts();
    let api = openapi::finish(api);
    let timeout = state.config.request_timeout;
    routes
        .merge(SwaggerUi::new("/docs").url("/api-docs/openapi.json", api))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            middleware::request_context,
        ))
        .with_state(state)
}
