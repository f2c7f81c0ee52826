//! SPEC section 6 probes.

use axum::http::{Method, StatusCode};

use crate::support::TestApp;

#[tokio::test]
async fn health_answers_200_without_a_token() {
    let app = TestApp::spawn().await;
    let response = app.request(Method::GET, "/health", None, None, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["status"], "ok");
}

#[tokio::test]
async fn readiness_reports_the_database_up() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let body = response.json();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["database"]["required"], true);
}

#[tokio::test]
async fn readiness_answers_503_when_the_database_does_not() {
    let app = TestApp::spawn().await;
    app.db.close().await;
    let response = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = response.json();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"]["status"], "down");
    let me = app.get("/api/v1/profiles/me", &app.token("u1")).await;
    me.assert_problem(503, "service_unavailable");
}
