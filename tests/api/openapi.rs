//! The OpenAPI document and Swagger UI: every served route is documented, and the UI works offline.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

async fn spec(app: &TestApp) -> Value {
    let response = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()
}

/// The routes SPEC.md promises that exist so far; each must be in the document.
const EXPECTED: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/health/ready"),
    ("get", "/api/v1/profiles/me"),
    ("put", "/api/v1/profiles/me"),
    ("patch", "/api/v1/profiles/me"),
    ("delete", "/api/v1/profiles/me"),
    ("get", "/api/v1/profiles/me/addresses"),
    ("post", "/api/v1/profiles/me/addresses"),
    ("get", "/api/v1/profiles/me/addresses/{address_id}"),
    ("put", "/api/v1/profiles/me/addresses/{address_id}"),
    ("patch", "/api/v1/profiles/me/addresses/{address_id}"),
    ("delete", "/api/v1/profiles/me/addresses/{address_id}"),
    ("get", "/api/v1/users/{user_id}/addresses"),
    ("get", "/api/v1/users/{user_id}/addresses/defaults"),
    ("get", "/api/v1/users/{user_id}/addresses/{address_id}"),
    (
        "get",
        "/api/v1/users/{user_id}/addresses/{address_id}/revisions/{revision}",
    ),
    ("get", "/api/v1/profiles/me/preferences"),
    ("put", "/api/v1/profiles/me/preferences"),
    ("patch", "/api/v1/profiles/me/preferences"),
    ("get", "/api/v1/profiles/me/export"),
    ("get", "/api/v1/users/{user_id}/preferences"),
    ("get", "/api/v1/admin/profiles"),
    ("get", "/api/v1/admin/profiles/{user_id}"),
    ("patch", "/api/v1/admin/profiles/{user_id}"),
    ("delete", "/api/v1/admin/profiles/{user_id}"),
    ("get", "/api/v1/admin/kept-suspensions/{user_id}"),
    ("delete", "/api/v1/admin/kept-suspensions/{user_id}"),
    ("get", "/api/v1/admin/audit-events"),
];

#[tokio::test]
async fn the_spec_documents_every_promised_route_with_bearer_security() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    for (method, path) in EXPECTED {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} is missing from the spec"
        );
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(spec["components"]["schemas"]["ProblemDetails"].is_object());
}

#[tokio::test]
async fn every_documented_operation_is_served_by_the_router_and_documents_its_errors() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let concrete = path.replace(['{', '}'], "");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app
                .request(method.clone(), &concrete, None, None, &[])
                .await;
            assert_ne!(
                response.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
            if response.status == StatusCode::NOT_FOUND {
                assert_ne!(
                    response.json()["code"],
                    "not_found",
                    "{method} {path} is documented but not routed"
                );
            }
            assert!(
                op["responses"]["500"].is_object(),
                "{method} {path} does not document 500"
            );
            let status = response.status.as_u16().to_string();
            assert!(
                op["responses"][&status].is_object(),
                "{method} {path} answered {status}, which is not documented"
            );
        }
    }
    assert!(operations >= EXPECTED.len());
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app.request(Method::GET, "/docs/", None, None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.body).contains("swagger"));
    let asset = app
        .request(Method::GET, "/docs/swagger-ui-bundle.js", None, None, &[])
        .await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(
        asset.body.len() > 100_000,
        "the UI bundle is vendored in the binary"
    );
}

#[tokio::test]
async fn the_openapi_command_prints_the_same_document() {
    let app = TestApp::spawn().await;
    let served = spec(&app).await;
    let printed = serde_json::to_value(user_profile_service::http::openapi()).unwrap();
    assert_eq!(served, printed);
}
