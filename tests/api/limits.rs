//! Per-caller rate limits: the request after the budget is 429 `rate_limited` with `Retry-After` and the
//! `RateLimit-*` headers; reads and writes, and callers, are counted apart; a token is verified once; the
//! count is shared through Redis (`TEST_REDIS_URL`; without it that test says so and skips) and falls back to
//! the process when Redis is unreachable.

use std::io::Write;

use axum::http::{Method, StatusCode};
use jsonwebtoken::Algorithm;
use serde_json::json;
use user_profile_service::{auth::jwt::Claims, clock::unix_now};

use crate::support::{
    TestApp, TestResponse,
    fake_auth::{FakeAuth, Verify, sign},
};

const ME: &str = "/api/v1/profiles/me";
const PREFERENCES: &str = "/api/v1/profiles/me/preferences";

/// An app with rate limits on: `writes` and `reads` a minute, plus `extra` variables.
async fn limited(writes: &str, reads: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("RATE_LIMIT_ENABLED", "true"),
        ("RATE_LIMIT_WRITES_PER_MINUTE", writes),
        ("RATE_LIMIT_READS_PER_MINUTE", reads),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

/// The `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` of an answer.
#[track_caller]
fn budget(response: &TestResponse) -> (u32, u32, u64) {
    let number = |name: &str| {
        response
            .header(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .parse::<u64>()
            .unwrap()
    };
    let reset = number("ratelimit-reset");
    assert!((1..=60).contains(&reset), "RateLimit-Reset {reset}");
    (
        number("ratelimit-limit") as u32,
        number("ratelimit-remaining") as u32,
        reset,
    )
}

/// Asserts a 429 `rate_limited` whose `Retry-After` equals its `RateLimit-Reset`; returns the limit.
#[track_caller]
fn assert_rate_limited(response: &TestResponse) -> u32 {
    response.assert_problem(429, "rate_limited");
    let (limit, remaining, reset) = budget(response);
    assert_eq!(remaining, 0);
    assert_eq!(
        response.header("retry-after"),
        Some(reset.to_string()),
        "Retry-After is the time until the window ends"
    );
    limit
}

fn profile(name: &str, email: &str) -> serde_json::Value {
    json!({"email": email, "display_name": name})
}

#[tokio::test]
async fn the_write_after_the_budget_is_answered_429_rate_limited_and_not_carried_out() {
    let app = limited("3", "100", &[]).await;
    let token = app.token("limits-w1");

    let mut remaining = Vec::new();
    for name in ["one", "two", "three"] {
        let response = app
            .put_json(ME, &token, &profile(name, "w1@example.com"))
            .await;
        assert!(response.status.is_success(), "{}", response.status);
        let (limit, left, _) = budget(&response);
        assert_eq!(limit, 3);
        remaining.push(left);
    }
    let refused = app
        .put_json(ME, &token, &profile("four", "w1@example.com"))
        .await;

    assert_eq!(remaining, [2, 1, 0]);
    assert_eq!(assert_rate_limited(&refused), 3);
    let body = refused.json();
    assert!(
        body["detail"].as_str().unwrap().contains("3 writes"),
        "{body}"
    );
    let current = app.get(ME, &token).await;
    assert_eq!(current.json()["display_name"], "three");
}

#[tokio::test]
async fn reads_and_writes_are_counted_apart() {
    let app = limited("1", "2", &[]).await;
    let token = app.create_profile("limits-rw", "rw@example.com").await;

    app.patch_json(PREFERENCES, &token, &json!({"language": "de"}))
        .await
        .assert_problem(429, "rate_limited");
    let first = app.get(ME, &token).await;
    let second = app.get(PREFERENCES, &token).await;
    let third = app.get(ME, &token).await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(budget(&first).1, 1);
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(budget(&second).1, 0);
    assert_eq!(assert_rate_limited(&third), 2);
}

#[tokio::test]
async fn each_caller_has_a_budget_of_its_own() {
    let app = limited("1", "100", &[]).await;
    let ada = app.create_profile("limits-ada", "ada@example.com").await;

    let refused = app
        .put_json(ME, &ada, &profile("Ada", "ada@example.com"))
        .await;
    let grace = app
        .put_json(
            ME,
            &app.token("limits-grace"),
            &profile("Grace", "grace@example.com"),
        )
        .await;

    assert_rate_limited(&refused);
    assert_eq!(grace.status, StatusCode::CREATED);
    assert_eq!(budget(&grace).1, 0);
}

#[tokio::test]
async fn the_email_taken_answer_is_throttled_by_the_write_budget() {
    let app = limited("5", "100", &[]).await;
    app.create_profile("limits-owner", "owner@example.com")
        .await;
    let prober = app.token("limits-prober");

    for _ in 0..5 {
        app.put_json(ME, &prober, &profile("Probe", "owner@example.com"))
            .await
            .assert_problem(409, "email_taken");
    }
    let refused = app
        .put_json(ME, &prober, &profile("Probe", "owner@example.com"))
        .await;

    assert_rate_limited(&refused);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_counted_per_client_address() {
    let app = limited(
        "100",
        "1",
        &[("RATE_LIMIT_CLIENT_IP_HEADER", "X-Forwarded-For")],
    )
    .await;
    let from = |address: &'static str| {
        let app = &app;
        async move {
            app.request(Method::GET, ME, None, None, &[("x-forwarded-for", address)])
                .await
        }
    };

    let first = from("198.51.100.7, 203.0.113.1").await;
    // The proxy's own (last) entry counts, not what the client wrote before it.
    let spoofed = from("192.0.2.99, 203.0.113.1").await;
    let other = from("203.0.113.2").await;
    let same_v6_subnet = (
        from("2001:db8:1:2::1").await,
        from("2001:db8:1:2:ffff::9").await,
    );
    let bad_token = app
        .request(
            Method::GET,
            ME,
            Some("not-a-token"),
            None,
            &[("x-forwarded-for", "203.0.113.3")],
        )
        .await;

    first.assert_problem(401, "unauthorized");
    assert_eq!(budget(&first).1, 0);
    assert_rate_limited(&spoofed);
    other.assert_problem(401, "unauthorized");
    same_v6_subnet.0.assert_problem(401, "unauthorized");
    assert_rate_limited(&same_v6_subnet.1);
    bad_token.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn probes_metrics_and_docs_are_not_counted() {
    let app = limited("1", "1", &[]).await;

    for path in [
        "/health",
        "/health/ready",
        "/metrics",
        "/api-docs/openapi.json",
    ] {
        for _ in 0..3 {
            let response = app.request(Method::GET, path, None, None, &[]).await;
            assert_eq!(response.status, StatusCode::OK, "{path}");
            assert_eq!(response.header("ratelimit-limit"), None, "{path}");
        }
    }
}

#[tokio::test]
async fn development_counts_nothing_and_sends_no_ratelimit_headers() {
    let app = TestApp::spawn().await;
    let token = app.token("limits-dev");

    let response = app
        .put_json(ME, &token, &profile("Dev", "dev@example.com"))
        .await;

    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.header("ratelimit-limit"), None);
}

#[tokio::test]
async fn a_token_is_verified_once_per_request_though_the_limiter_needs_its_caller() {
    let fake = FakeAuth::start(&[]).await;
    let mut vars = fake.env();
    vars.extend(
        [
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_READS_PER_MINUTE", "100"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_with(&vars).await;
    // RS384: no local key serves it, so every verification is a call to the auth service.
    let claims = Claims {
        sub: "limits-remote".into(),
        exp: unix_now() + 600,
        nbf: None,
        iat: Some(unix_now()),
        roles: vec!["user".into()],
        scope: None,
        iss: None,
        aud: None,
        auth_time: None,
    };
    let token = sign(Algorithm::RS384, "rsa-1", None, &claims);
    fake.answer(Verify::Unauthorized);

    let response = app.get(ME, &token).await;

    response.assert_problem(401, "invalid_token");
    assert_eq!(budget(&response).1, 99);
    assert_eq!(fake.verify_calls(), 1, "a refused token is not cached");
}

#[tokio::test]
async fn an_unreachable_redis_leaves_each_instance_counting_on_its_own() {
    // Nothing listens on port 1: every Redis call fails at once.
    let app = limited("1", "100", &[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let token = app.token("limits-no-redis");

    let first = app
        .put_json(ME, &token, &profile("One", "one@example.com"))
        .await;
    let second = app
        .put_json(ME, &token, &profile("Two", "one@example.com"))
        .await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert_rate_limited(&second);
}

#[allow(
    clippy::disallowed_methods,
    reason = "the suite's own TEST_REDIS_URL, not a service setting"
)]
fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        let _ = std::io::stderr().write_all(
            b"note: TEST_REDIS_URL is not set; the shared (Redis) rate-limit test is skipped\n",
        );
    }
    url
}

#[tokio::test]
async fn two_instances_on_one_redis_share_a_callers_budget() {
    let Some(redis) = redis_url() else { return };
    let app = limited(
        "2",
        "100",
        &[("REDIS_URL", &redis), ("REDIS_TIMEOUT_MS", "2000")],
    )
    .await;
    let other = app.second_instance().await;
    // Every run and test shares the one Redis: a caller of its own.
    let user = format!("limits-{}", uuid::Uuid::new_v4().simple());
    let token = app.token(&user);
    let email = format!("{user}@example.com");

    let first = app.put_json(ME, &token, &profile("One", &email)).await;
    let second = other.put_json(ME, &token, &profile("Two", &email)).await;
    let third = app.put_json(ME, &token, &profile("Three", &email)).await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(budget(&first).1, 1);
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(
        budget(&second).1,
        0,
        "the second instance saw the first write"
    );
    assert_eq!(assert_rate_limited(&third), 2);
}

#[tokio::test]
async fn the_openapi_document_describes_the_429_once_and_refers_to_it_from_every_api_operation() {
    let app = TestApp::spawn().await;
    let spec = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await
        .json();

    let shared = &spec["components"]["responses"]["RateLimited"];
    assert!(shared["headers"]["Retry-After"].is_object(), "{shared}");
    assert!(shared["headers"]["RateLimit-Reset"].is_object(), "{shared}");
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let declared = &op["responses"]["429"];
            if path.starts_with("/api/") {
                assert_eq!(
                    declared["$ref"], "#/components/responses/RateLimited",
                    "{method} {path}"
                );
            } else {
                assert!(declared.is_null(), "{method} {path} is not rate limited");
            }
        }
    }
}
