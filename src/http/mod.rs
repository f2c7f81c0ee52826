//! HTTP transport: the router, extractors, middleware, errors, and one module per resource.

pub mod address_formats;
pub mod addresses;
pub mod admin;
pub mod caller;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod language;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pages;
pub mod preferences;
pub mod privacy;
pub mod profiles;
pub mod rate_limit;
pub mod respond;
pub mod users;
pub mod users_preferences;

use axum::{Router, extract::DefaultBodyLimit};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::{config::Config, state::AppState};

/// Every API route with its OpenAPI description; router and spec come from this one list, so they cannot drift.
/// `/metrics` is left out when `METRICS_PORT` serves it on a listener of its own.
fn api_routes(with_metrics: bool) -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi()).merge(health::routes());
    let routes = if with_metrics {
        routes.merge(metrics::routes())
    } else {
        routes
    };
    routes
        .merge(profiles::routes())
        .merge(addresses::routes())
        .merge(address_formats::routes())
        .merge(users::routes())
        .merge(preferences::routes())
        .merge(privacy::routes())
        .merge(users_preferences::routes())
        .merge(admin::routes())
        .merge(events::routes())
}

/// The OpenAPI document served at `/api-docs/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(api_routes(true).into_openapi())
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    // Installed before the first request, so nothing is recorded into the void.
    metrics::handle();
    let (routes, api) = api_routes(state.config.metrics_port.is_none()).split_for_parts();
    let api = openapi::finish(api);
    // On every route, acting on those that take an `Idempotency-Key`; inside the rate limit and the database
    // gate, so a refused request never claims a key.
    let routes = routes.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        idempotency::enforce,
    ));
    // `DOCS_ENABLED=false` serves neither the UI nor the document: both fall through to 404 `not_found`.
    // The `openapi` command still prints the document.
    let routes = if state.config.docs_enabled {
        routes.merge(
            SwaggerUi::new("/docs")
                .url("/api-docs/openapi.json", api)
                .config(docs_config()),
        )
    } else {
        routes
    };
    let app = routes
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        // Inside the request context, so a 429 is logged and counted like any answer.
        .layer(tower::util::option_layer(
            rate_limit::Limits::new(&state)
                .map(|limits| axum::middleware::from_fn_with_state(limits, rate_limit::enforce)),
        ))
        // Outside the rate limit: while the database is known to be down, 503 at once, before any token is verified.
        .layer(axum::middleware::from_fn_with_state(
            // The whole state (one reference count per request), not a clone of its database handles.
            state.clone(),
            middleware::database_gate,
        ));
    with_layers(app, &state.config).with_state(state)
}

/// Swagger UI works offline under any host name: it never asks the public validator service for a badge (which
/// it does by default when the host is not `localhost`, sending it the document's URL).
fn docs_config() -> utoipa_swagger_ui::Config<'static> {
    utoipa_swagger_ui::Config::default().validator_url("none")
}

/// The layers every route gets. Outermost first: the protective headers and CORS (so every answer, timeouts
/// and preflights included, carries them), the language of problem answers (`Accept-Language`), the request
/// context (id, span, time limit, log line, metrics), panics answered as 500, gzip for large bodies, the body
/// size limit.
fn with_layers(app: Router<AppState>, config: &Config) -> Router<AppState> {
    app.layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(middleware::compression())
        .layer(middleware::catch_panic())
        .layer(axum::middleware::from_fn_with_state(
            config.request_timeout,
            middleware::request_context,
        ))
        .layer(axum::middleware::from_fn(language::negotiate))
        .layer(tower::util::option_layer(middleware::cors(
            &config.cors_allowed_origins,
        )))
        .layer(axum::middleware::from_fn(middleware::protective_headers))
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request, routing::get};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::db::Db;

    async fn explode() -> &'static str {
        panic!("a value that must not be logged")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_internal_error_with_its_request_id() {
        let config = Config::from_vars([("DATABASE_URL", "sqlite::memory:")]).unwrap();
        let db = Db::connect(&config).await.unwrap();
        let app = with_layers(Router::new().route("/explode", get(explode)), &config)
            .with_state(AppState::new(config, db));

        let request = Request::get("/explode")
            .header("x-request-id", "panic-1")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();

        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(response.headers()["x-request-id"], "panic-1");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["request_id"], "panic-1");
    }

    #[tokio::test]
    async fn a_500_is_as_opaque_in_every_language() {
        let config = Config::from_vars([("DATABASE_URL", "sqlite::memory:")]).unwrap();
        let db = Db::connect(&config).await.unwrap();
        let app = with_layers(Router::new().route("/explode", get(explode)), &config)
            .with_state(AppState::new(config, db));

        for (language, title, detail) in [
            (
                "de",
                "Interner Serverfehler",
                "ein interner Fehler ist aufgetreten",
            ),
            (
                "fr-FR",
                "Erreur interne du serveur",
                "une erreur interne s'est produite",
            ),
            (
                "es",
                "Error interno del servidor",
                "se produjo un error interno",
            ),
        ] {
            let request = Request::get("/explode")
                .header("accept-language", language)
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();

            assert_eq!(response.status(), 500);
            assert_eq!(
                response.headers()["content-language"],
                &language[..2],
                "{language}"
            );
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (
                    body["code"].as_str(),
                    body["title"].as_str(),
                    body["detail"].as_str()
                ),
                (Some("internal_error"), Some(title), Some(detail))
            );
            assert!(!body.to_string().contains("must not be logged"));
        }
    }
}
