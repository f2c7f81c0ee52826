//! SPEC section 6 probes.

use axum::http::{Method, StatusCode};

use user_profile_service::db::Pool;

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

/// The availability probe has a connection of its own: read connections all busy (as under 1,024 client
/// connections) say nothing about whether the database answers, and must not turn every API request into 503.
#[tokio::test]
async fn a_busy_read_pool_does_not_make_the_database_look_down() {
    let app = TestApp::spawn_with(&[("DATABASE_MAX_CONNECTIONS", "1")]).await;
    // The read pool's only connection, taken away for the length of the test.
    let held: Box<dyn std::any::Any + Send> = match app.db.reader() {
        Pool::Sqlite(pool) => Box::new(pool.acquire().await.unwrap()),
        Pool::Postgres(pool) => Box::new(pool.acquire().await.unwrap()),
    };
    app.db.spawn_availability_probe();

    // The probe asks every second and gives up on a round trip after one.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(
        !app.db.is_down(),
        "the probe took a busy pool for a database that does not answer"
    );
    drop(held);
}
