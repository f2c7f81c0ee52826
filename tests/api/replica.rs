//! Issue 7: with `DATABASE_READ_URL`, reads by others go to the read replica while a user's own reads stay on
//! the primary. Runs against a real streaming replica (`.ci/pg-replica start`, then `TEST_REPLICA_PRIMARY_URL`
//! and `TEST_REPLICA_URL`); skipped with a note otherwise.

use axum::http::{Method, StatusCode};

use crate::support::{TestApp, replica_urls};

const PROFILES_OF: &str = "SELECT count(*) FROM profiles WHERE user_id = $1";

#[tokio::test]
async fn a_users_own_profile_read_sees_their_write_at_once_while_the_replica_lags() {
    let Some(app) = TestApp::spawn_with_replica().await else {
        return;
    };
    let paused = app.pause_replica_replay().await;

    let token = app
        .create_profile("replica-u1", "replica-u1@example.com")
        .await;
    let me = app.get("/api/v1/profiles/me", &token).await;

    assert_eq!(
        me.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&me.body)
    );
    assert_eq!(me.json()["email"], "replica-u1@example.com");
    assert_eq!(
        app.count_on(app.db.reader(), PROFILES_OF, "replica-u1")
            .await,
        1
    );
    assert_eq!(
        app.count_on(app.db.replica(), PROFILES_OF, "replica-u1")
            .await,
        0,
        "replay is paused, so the replica must not have the new profile yet"
    );

    paused.resume().await;
    app.eventually_on_replica("the new profile on the replica", |pool| async move {
        sqlx::query_scalar::<_, i64>(PROFILES_OF)
            .bind("replica-u1")
            .fetch_one(&pool)
            .await
            .unwrap()
            == 1
    })
    .await;
}

#[tokio::test]
async fn readiness_reports_the_read_replica_up_and_optional() {
    let Some(app) = TestApp::spawn_with_replica().await else {
        return;
    };

    let response = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;

    assert_eq!(response.status, StatusCode::OK);
    let body = response.json();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["read_replica"]["status"], "up");
    assert_eq!(body["checks"]["read_replica"]["required"], false);
}

#[tokio::test]
async fn readiness_is_degraded_with_200_when_the_replica_pool_is_closed() {
    let Some(app) = TestApp::spawn_with_replica().await else {
        return;
    };
    user_profile_service::with_pool!(app.db.replica(), |pool| pool.close().await);

    let response = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;

    assert_degraded_by_the_replica(&response);
    // The user's own reads and writes use the primary and carry on.
    let token = app
        .create_profile("replica-u2", "replica-u2@example.com")
        .await;
    assert_eq!(
        app.get("/api/v1/profiles/me", &token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn readiness_is_degraded_with_200_and_the_service_starts_when_the_replica_port_is_dead() {
    let Some(urls) = replica_urls() else {
        return;
    };
    let dead = dead_port_url();

    let app = TestApp::spawn_with_replica_urls(&urls.primary, &dead).await;
    let response = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;

    assert_degraded_by_the_replica(&response);
    let token = app
        .create_profile("replica-u3", "replica-u3@example.com")
        .await;
    assert_eq!(
        app.get("/api/v1/profiles/me", &token).await.status,
        StatusCode::OK
    );
}

#[track_caller]
fn assert_degraded_by_the_replica(response: &crate::support::TestResponse) {
    assert_eq!(
        response.status,
        StatusCode::OK,
        "an optional dependency must not fail readiness"
    );
    let body = response.json();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["read_replica"]["status"], "down");
    assert_eq!(body["checks"]["read_replica"]["required"], false);
}

/// A PostgreSQL URL on a loopback port nobody listens on (just released by the OS).
fn dead_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("postgres://postgres@127.0.0.1:{port}/test")
}

#[tokio::test]
async fn service_reads_and_admin_listings_are_served_by_the_replica() {
    let Some(app) = TestApp::spawn_with_replica().await else {
        return;
    };
    let token = app
        .create_profile("replica-u2", "replica-u2@example.com")
        .await;
    let address = serde_json::json!({"recipient_name": "R", "line1": "1 Old Street", "city": "Old Town",
                                     "postal_code": "10115", "country": "DE"});
    let created = app
        .post_json("/api/v1/profiles/me/addresses", &token, &address)
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json()["id"].as_str().unwrap().to_string();
    app.wait_for_replica().await;
    let service = app.token_with("orders", &["service"], None);
    let admin = app.token_with("ops", &["admin"], None);
    let paused = app.pause_replica_replay().await;

    let edited = app
        .patch_json(
            &format!("/api/v1/profiles/me/addresses/{id}"),
            &token,
            &serde_json::json!({"city": "New Town"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    app.create_profile("replica-u3", "replica-u3@example.com")
        .await;

    // The user's own read comes from the primary...
    let own = app
        .get(&format!("/api/v1/profiles/me/addresses/{id}"), &token)
        .await;
    assert_eq!(own.json()["city"], "New Town");
    // ...the order service's and the admin listing from the replica, which has not replayed the edit yet.
    let theirs = app
        .get(
            &format!("/api/v1/users/replica-u2/addresses/{id}"),
            &service,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.json()["city"], "Old Town");
    let listing = app.get("/api/v1/admin/profiles?q=replica-u3", &admin).await;
    assert_eq!(listing.status, StatusCode::OK);
    assert_eq!(listing.json()["items"], serde_json::json!([]));

    paused.resume().await;
    app.wait_for_replica().await;
    let caught_up = app
        .get(
            &format!("/api/v1/users/replica-u2/addresses/{id}"),
            &service,
        )
        .await;
    assert_eq!(caught_up.json()["city"], "New Town");
}
