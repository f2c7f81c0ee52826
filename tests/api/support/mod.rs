//! The test application: the real router over a fresh database per test (SQLite file, or a PostgreSQL schema
//! of its own when `TEST_DATABASE_URL` is set), driven without a socket.

#![allow(dead_code)]

pub mod contract;
pub mod replica;

#[allow(unused_imports)]
pub use replica::replica_urls;
pub mod fake_auth;

use std::io::Write;

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use user_profile_service::{
    auth::jwt::{Claims, mint_hs256},
    clock::unix_now,
    config::Config,
    db::Db,
    http,
    state::AppState,
};

pub const SECRET: &str = "test-secret-0123456789abcdef0123456789";

pub struct TestApp {
    pub router: Router,
    pub db: Db,
    pub state: AppState,
    /// The configuration variables this app was built with.
    vars: Vec<(String, String)>,
    /// Keeps the SQLite file alive for the test.
    _dir: std::sync::Arc<tempfile::TempDir>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// Asserts a problem+json answer with this status and `code`, and returns its body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json")
        );
        let body = self.json();
        assert_eq!(body["code"], code, "body: {body}");
        assert_eq!(body["status"], status);
        assert_eq!(
            body["request_id"].as_str(),
            self.header("x-request-id").as_deref()
        );
        let trace_id = body["trace_id"].as_str().unwrap_or_default();
        assert!(
            trace_id.len() == 32
                && trace_id
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && trace_id.bytes().any(|b| b != b'0'),
            "trace_id is not a W3C trace id: {body}"
        );
        body
    }
}

/// Says once, outside libtest's capture, which backend the database suites run on.
fn announce_backend(url: Option<&str>) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let line = match url {
            Some(_) => "note: database suites run on PostgreSQL (TEST_DATABASE_URL)\n",
            None => "note: TEST_DATABASE_URL is not set; database suites run on SQLite only (PostgreSQL skipped)\n",
        };
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// A fresh app whose configuration adds `vars` to the test defaults.
    #[allow(
        clippy::disallowed_methods,
        reason = "the suite's own TEST_DATABASE_URL, not a service setting"
    )]
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg_url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        announce_backend(pg_url.as_deref());
        let mut all: Vec<(String, String)> = match &pg_url {
            Some(url) => {
                let schema = fresh_postgres_schema(
                    url,
                    "TEST_DATABASE_URL must point at a running PostgreSQL",
                )
                .await;
                vec![
                    ("DATABASE_URL".into(), in_schema(url, &schema)),
                    // Many apps live at once in a test run: 4 write and 8 read connections each.
                    ("DATABASE_MAX_CONNECTIONS".into(), "8".into()),
                ]
            }
            None => {
                let path = dir.path().join("test.db");
                vec![(
                    "DATABASE_URL".into(),
                    format!("sqlite:{}?mode=rwc", path.display()),
                )]
            }
        };
        all.extend([
            ("JWT_SECRET".into(), SECRET.into()),
            ("DATA_DIR".into(), dir.path().display().to_string()),
        ]);
        all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::connect(all, dir).await
    }

    /// The app built from `vars` over a database it migrates first.
    async fn connect(vars: Vec<(String, String)>, dir: tempfile::TempDir) -> Self {
        let config = Config::from_vars(vars.clone()).expect("test configuration");
        let db = Db::connect(&config).await.expect("database");
        db.migrate().await.expect("migrations");
        let state = AppState::new(config, db.clone());
        state.outbox.spawn(&db, &state.config.events);
        TestApp {
            router: http::router(state.clone()),
            db,
            state,
            vars,
            _dir: std::sync::Arc::new(dir),
        }
    }

    /// A second service instance on the same database (its own pools, cache connection and state), as when
    /// two copies of the service run behind one load balancer.
    pub async fn second_instance(&self) -> TestApp {
        let config = Config::from_vars(self.vars.clone()).expect("test configuration");
        let db = Db::connect(&config).await.expect("database");
        let state = AppState::new(config, db.clone());
        state.outbox.spawn(&db, &state.config.events);
        TestApp {
            router: http::router(state.clone()),
            db,
            state,
            vars: self.vars.clone(),
            _dir: self._dir.clone(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.db.backend() == "postgres"
    }

    /// A valid token for `sub` with role `user`.
    pub fn token(&self, sub: &str) -> String {
        self.token_with(sub, &["user"], None)
    }

    pub fn token_with(&self, sub: &str, roles: &[&str], scope: Option<&str>) -> String {
        mint(&Claims {
            sub: sub.into(),
            exp: unix_now() + 3600,
            nbf: None,
            iat: Some(unix_now()),
            roles: roles.iter().map(std::string::ToString::to_string).collect(),
            scope: scope.map(str::to_owned),
            iss: None,
            aud: None,
            // Like a fresh login, as the `token` command mints by default.
            auth_time: Some(unix_now()),
        })
    }

    /// Sends a request; `body` is sent as `application/json` unless `headers` set a content type.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let body = body
            .map(|b| Body::from(serde_json::to_vec(b).unwrap()))
            .unwrap_or_else(Body::empty);
        self.send(builder.body(body).unwrap()).await
    }

    /// Sends a prepared request. Every answer must be one the OpenAPI document describes (`contract::check`).
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let (method, uri) = (request.method().clone(), request.uri().to_string());
        let response = self.send_unchecked(request).await;
        if let Err(mismatch) = contract::check(
            &method,
            &uri,
            response.status,
            &response.headers,
            &response.body,
        ) {
            panic!("contract: {mismatch}");
        }
        response
    }

    /// Sends a prepared request without the contract check: only for answers the document cannot describe.
    pub async fn send_unchecked(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::GET, path, Some(token), None, &[])
            .await
    }

    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.request(Method::PUT, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.request(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.request(
            Method::PATCH,
            path,
            Some(token),
            Some(body),
            &[("content-type", "application/merge-patch+json")],
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::DELETE, path, Some(token), None, &[])
            .await
    }

    /// Creates a profile for `sub` and returns its token.
    pub async fn create_profile(&self, sub: &str, email: &str) -> String {
        let token = self.token(sub);
        let response = self
            .put_json(
                "/api/v1/profiles/me",
                &token,
                &serde_json::json!({"email": email, "display_name": sub}),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        token
    }

    /// Runs a scalar count query (same SQL on both backends).
    pub async fn count(&self, sql: &'static str, user_id: &str) -> i64 {
        user_profile_service::with_pool!(self.db.reader(), |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(user_id)
                .fetch_one(c)
                .await
                .unwrap()
        })
    }
}

/// Signs claims with the test secret.
pub fn mint(claims: &Claims) -> String {
    mint_hs256(SECRET, claims).unwrap()
}

/// Creates an empty schema for one test on the PostgreSQL at `url` and returns its name; `unreachable` is the
/// failure message when it does not answer.
pub async fn fresh_postgres_schema(url: &str, unreachable: &str) -> String {
    use sqlx::Connection;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(url).await.expect(unreachable);
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    schema
}

/// `url` with `schema` as the `search_path` of every connection made from it.
pub fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}
