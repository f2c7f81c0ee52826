//! The Redis read cache: reads served from it, invalidated by every committed write, and never needed.
//! Runs against the Redis of `TEST_REDIS_URL` (CI sets it); without it the suite says so and skips.

use std::io::Write;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

const ME: &str = "/api/v1/profiles/me";
/// These tests assert cache hits; a loaded CI machine must not turn them into timeouts (and database reads).
const PATIENT: &str = "2000";

#[allow(
    clippy::disallowed_methods,
    reason = "the suite's own TEST_REDIS_URL, not a service setting"
)]
fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let _ = std::io::stderr()
                .write_all(b"note: TEST_REDIS_URL is not set; the Redis cache suite is skipped\n");
        });
    }
    url
}

/// A user id no other test (or earlier run) shares, since all tests share one Redis.
fn unique_user() -> String {
    format!("cache-{}", uuid::Uuid::new_v4().simple())
}

async fn set_display_name_behind_the_service(app: &TestApp, user_id: &str, name: &str) {
    user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query("UPDATE profiles SET display_name = $1 WHERE user_id = $2")
            .bind(name)
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            .unwrap()
    });
}

#[tokio::test]
async fn profile_reads_are_served_from_redis_until_a_write_invalidates_them() {
    let Some(redis) = redis_url() else { return };
    let app = TestApp::spawn_with(&[("REDIS_URL", &redis), ("REDIS_TIMEOUT_MS", PATIENT)]).await;
    let user = unique_user();
    let token = app
        .create_profile(&user, &format!("{user}@example.com"))
        .await;
    assert_eq!(
        app.get(ME, &token).await.json()["display_name"],
        user.as_str()
    );

    // A change the service did not make stays invisible while the cached copy lives...
    set_display_name_behind_the_service(&app, &user, "changed-directly").await;
    let cached = app.get(ME, &token).await;
    assert_eq!(cached.status, StatusCode::OK);
    assert_eq!(cached.json()["display_name"], user.as_str());
    assert_eq!(cached.header("etag").as_deref(), Some("\"1\""));

    // ...and a write through the service drops it at once.
    let patched = app
        .patch_json(ME, &token, &json!({"locale": "de-DE"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let fresh = app.get(ME, &token).await.json();
    assert_eq!(fresh["locale"], "de-DE");
    assert_eq!(fresh["display_name"], "changed-directly");
}

#[tokio::test]
async fn a_cached_read_still_answers_304_for_a_current_etag() {
    let Some(redis) = redis_url() else { return };
    let app = TestApp::spawn_with(&[("REDIS_URL", &redis), ("REDIS_TIMEOUT_MS", PATIENT)]).await;
    let user = unique_user();
    let token = app
        .create_profile(&user, &format!("{user}@example.com"))
        .await;
    app.get(ME, &token).await;
    let response = app
        .request(
            Method::GET,
            ME,
            Some(&token),
            None,
            &[("if-none-match", "\"1\"")],
        )
        .await;
    assert_eq!(response.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn two_instances_sharing_database_and_redis_never_serve_a_stale_profile() {
    let Some(redis) = redis_url() else { return };
    let a = TestApp::spawn_with(&[("REDIS_URL", &redis), ("REDIS_TIMEOUT_MS", PATIENT)]).await;
    let b = a.second_instance().await;
    let user = unique_user();
    let token = a
        .create_profile(&user, &format!("{user}@example.com"))
        .await;

    for round in 0..20 {
        let (reader, writer) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        reader.get(ME, &token).await; // fills the cache
        let name = format!("name-{round}");
        let written = writer
            .patch_json(ME, &token, &json!({"display_name": name}))
            .await;
        assert_eq!(written.status, StatusCode::OK);

        for instance in [&a, &b] {
            let read = instance.get(ME, &token).await.json();
            assert_eq!(
                read["display_name"],
                name.as_str(),
                "round {round}: stale read"
            );
            assert_eq!(read["version"], round + 2);
        }
    }
}

#[tokio::test]
async fn erasure_drops_the_cached_profile() {
    let Some(redis) = redis_url() else { return };
    let app = TestApp::spawn_with(&[("REDIS_URL", &redis), ("REDIS_TIMEOUT_MS", PATIENT)]).await;
    let user = unique_user();
    let token = app
        .create_profile(&user, &format!("{user}@example.com"))
        .await;
    app.get(ME, &token).await;
    assert_eq!(app.delete(ME, &token).await.status, StatusCode::NO_CONTENT);
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn with_redis_down_requests_are_served_from_the_database_and_readiness_degrades() {
    // Nothing listens on port 1: every cache call fails at once.
    let app = TestApp::spawn_with(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let token = app.create_profile("u1", "u1@example.com").await;
    assert_eq!(app.get(ME, &token).await.status, StatusCode::OK);
    assert_eq!(
        app.patch_json(ME, &token, &json!({"locale": "fr-FR"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.get(ME, &token).await.json()["locale"], "fr-FR");

    let ready = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;
    assert_eq!(ready.status, StatusCode::OK);
    let body = ready.json();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["cache"]["status"], "down");
    assert_eq!(body["checks"]["cache"]["required"], false);
}

#[tokio::test]
async fn with_redis_hanging_requests_are_still_served_from_the_database() {
    // A server that accepts connections and never answers: every cache call times out.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[("REDIS_URL", &url)]).await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let read = app.get(ME, &token).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json()["email"], "u1@example.com");
    let ready = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;
    assert_eq!(ready.json()["checks"]["cache"]["status"], "down");
}

fn address(city: &str) -> serde_json::Value {
    json!({
        "recipient_name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": city,
        "postal_code": "SW1Y 4JH",
        "country": "GB"
    })
}

#[tokio::test]
async fn default_addresses_are_cached_for_services_and_every_address_write_invalidates_them() {
    let Some(redis) = redis_url() else { return };
    let a = TestApp::spawn_with(&[("REDIS_URL", &redis), ("REDIS_TIMEOUT_MS", PATIENT)]).await;
    let b = a.second_instance().await;
    let user = unique_user();
    let token = a
        .create_profile(&user, &format!("{user}@example.com"))
        .await;
    let service = a.token_with("orders", &["service"], None);
    let defaults = format!("/api/v1/users/{user}/addresses/defaults");

    let created = a
        .post_json(&format!("{ME}/addresses"), &token, &address("London"))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let first = b.get(&defaults, &service).await;
    assert_eq!(first.json()["shipping"]["city"], "London");
    // Cached now: the same bytes again.
    assert_eq!(b.get(&defaults, &service).await.body, first.body);

    // An edit through the other instance is visible to both at once.
    let edited = a
        .patch_json(
            &format!("{ME}/addresses/{id}"),
            &token,
            &json!({"city": "Bath"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    for instance in [&a, &b] {
        let read = instance.get(&defaults, &service).await.json();
        assert_eq!(read["shipping"]["city"], "Bath");
        assert_eq!(read["billing"]["revision"], 2);
    }

    // Deleting the only address leaves no defaults.
    assert_eq!(
        a.delete(&format!("{ME}/addresses/{id}"), &token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let none = b.get(&defaults, &service).await.json();
    assert_eq!(none["shipping"], serde_json::Value::Null);

    // Erasure: the cached defaults go with the profile.
    b.get(&defaults, &service).await;
    assert_eq!(a.delete(ME, &token).await.status, StatusCode::NO_CONTENT);
    b.get(&defaults, &service)
        .await
        .assert_problem(410, "profile_erased");
}

#[tokio::test]
async fn an_admin_suspension_or_erasure_reaches_cached_reads_at_once() {
    let Some(redis) = redis_url() else { return };
    let app = TestApp::spawn_with(&[("REDIS_URL", &redis), ("REDIS_TIMEOUT_MS", PATIENT)]).await;
    let user = unique_user();
    let token = app
        .create_profile(&user, &format!("{user}@example.com"))
        .await;
    let admin = app.token_with("ops", &["admin"], None);
    app.get(ME, &token).await;

    let suspended = app
        .patch_json(
            &format!("/api/v1/admin/profiles/{user}"),
            &admin,
            &json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK);
    assert_eq!(app.get(ME, &token).await.json()["status"], "suspended");

    let erased = app
        .delete(&format!("/api/v1/admin/profiles/{user}"), &admin)
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT);
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn without_redis_sqlite_serves_reads_from_the_in_process_cache_until_a_write() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    app.get(ME, &token).await;

    set_display_name_behind_the_service(&app, "u1", "changed-directly").await;
    let read = app.get(ME, &token).await.json();

    if app.is_postgres() {
        // PostgreSQL may be shared by many instances: without Redis nothing is cached.
        assert_eq!(read["display_name"], "changed-directly");
    } else {
        // One process owns a SQLite file: its own writes are the only ones to invalidate for.
        assert_eq!(read["display_name"], "u1");
    }
    let patched = app
        .patch_json(ME, &token, &json!({"locale": "it-IT"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let fresh = app.get(ME, &token).await.json();
    assert_eq!(fresh["locale"], "it-IT");
    assert_eq!(fresh["display_name"], "changed-directly");
}

/// A redis-server of the test's own, on its own port, persisting to a snapshot in its own directory (never the
/// shared one: it is killed and restarted).
struct ThrowawayRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl ThrowawayRedis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = ThrowawayRedis {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.restart().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts redis-server, which loads the snapshot `SAVE` left, and waits until it answers.
    async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--dbfilename",
                "dump.rdb",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        for _ in 0..100 {
            if self.command::<String>(&["PING"]).await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the throwaway redis-server did not answer");
    }

    async fn command<T: redis::FromRedisValue>(&self, args: &[&str]) -> redis::RedisResult<T> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query_async(&mut conn).await
    }

    /// SIGKILL: nothing is saved on the way down.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn a_redis_restarted_from_its_snapshot_never_serves_an_entry_a_failed_invalidation_missed() {
    // TEST_REDIS_URL is only the signal that Redis tests run here; this one owns its redis-server.
    if redis_url().is_none() {
        return;
    }
    let mut redis = ThrowawayRedis::start().await;
    let app =
        TestApp::spawn_with(&[("REDIS_URL", &redis.url()), ("REDIS_TIMEOUT_MS", PATIENT)]).await;
    let user = unique_user();
    let token = app
        .create_profile(&user, &format!("{user}@example.com"))
        .await;
    assert_eq!(app.get(ME, &token).await.json()["version"], 1);
    // The cached profile is in the snapshot.
    redis.command::<String>(&["SAVE"]).await.unwrap();

    redis.kill();
    let written = app
        .patch_json(ME, &token, &json!({"display_name": "after-the-snapshot"}))
        .await;
    assert_eq!(written.status, StatusCode::OK, "a write needs no cache");
    redis.restart().await;

    // Every read from now on, during the back-off and after the cache is used again, is the new profile.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(2500);
    while std::time::Instant::now() < until {
        let read = app.get(ME, &token).await.json();
        assert_eq!(read["display_name"], "after-the-snapshot", "stale read");
        assert_eq!(read["version"], 2);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Redis serves again, under an epoch the snapshot's entries do not belong to.
    let epoch: i64 = redis.command(&["GET", "ups:v1:epoch"]).await.unwrap();
    assert!(epoch >= 1, "epoch {epoch}");
    let cached: Option<String> = redis
        .command(&["GET", &format!("ups:v1:{epoch}:profile:{user}")])
        .await
        .unwrap();
    assert!(
        cached.is_some_and(|c| c.contains("after-the-snapshot")),
        "the cache is filled again"
    );
}

#[tokio::test]
async fn while_redis_hangs_only_the_first_read_waits_for_its_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[("REDIS_URL", &url), ("REDIS_TIMEOUT_MS", "300")]).await;
    let token = app.create_profile("u1", "u1@example.com").await;

    let started = std::time::Instant::now();
    assert_eq!(app.get(ME, &token).await.status, StatusCode::OK);
    let first = started.elapsed();

    // Within the back-off that follows, reads skip Redis instead of waiting for it again.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(app.get(ME, &token).await.status, StatusCode::OK);
    }
    let next_five = started.elapsed();
    assert!(
        next_five < std::time::Duration::from_millis(500),
        "first read {first:?}, the next five {next_five:?}"
    );
}
