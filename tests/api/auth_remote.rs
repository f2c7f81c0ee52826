//! SPEC section 4 beyond the shared secret: JWKS keys, the remote verification fallback, its answer cache and
//! its circuit breaker, against a fake auth service on a real socket.

use std::time::{Duration, Instant};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;
use user_profile_service::{auth::jwt::Claims, clock::unix_now};

use crate::support::{
    TestApp, TestResponse,
    fake_auth::{FakeAuth, Verify, public_pem, sign},
};

const ME: &str = "/api/v1/profiles/me";

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        exp: unix_now() + 600,
        nbf: None,
        iat: Some(unix_now()),
        roles: vec!["user".into()],
        scope: None,
        iss: None,
        aud: None,
        auth_time: None,
    }
}

/// An app pointed at `fake` for both JWKS and remote verification, plus `extra` variables.
async fn app_for(fake: &FakeAuth, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = fake.env();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_with(&vars).await
}

/// A token of a kind no local key serves (RS384), so only the auth service can judge it.
fn remote_only_token(sub: &str) -> String {
    sign(Algorithm::RS384, "rsa-1", None, &claims(sub))
}

fn valid_answer(user_id: &str) -> Verify {
    Verify::Valid(json!({"user_id": user_id, "roles": ["user"], "scopes": "profile:read"}))
}

/// Asserts a 503 `auth_service_unavailable` with a `Retry-After` of at least one second; returns it.
#[track_caller]
fn assert_unavailable(response: &TestResponse) -> u64 {
    response.assert_problem(503, "auth_service_unavailable");
    let retry_after: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    retry_after
}

async fn readiness(app: &TestApp) -> Value {
    let response = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()
}

#[tokio::test]
async fn valid_hs256_rs256_and_es256_tokens_are_verified_locally_without_remote_calls() {
    let fake = FakeAuth::start(&["rsa-1", "ec-1"]).await;
    fake.answer(valid_answer("someone-else"));
    let app = app_for(&fake, &[]).await;

    let hs256 = app.token("u-hs");
    let rs256 = sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &claims("u-rs"));
    let es256 = sign(Algorithm::ES256, "ec-1", Some("ec-1"), &claims("u-es"));
    for token in [&hs256, &rs256, &es256, &rs256] {
        app.get(ME, token)
            .await
            .assert_problem(404, "profile_not_found");
    }
    let created = app
        .put_json(
            ME,
            &es256,
            &json!({"email": "es@example.com", "display_name": "ES"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["user_id"], "u-es");

    assert_eq!(fake.verify_calls(), 0);
    assert_eq!(
        fake.jwks_calls(),
        1,
        "the JWKS is fetched once, on first need"
    );
}

#[tokio::test]
async fn a_token_without_kid_is_verified_by_the_key_of_its_algorithm() {
    let fake = FakeAuth::start(&["rsa-1", "ec-1"]).await;
    let app = app_for(&fake, &[]).await;
    let token = sign(Algorithm::RS256, "rsa-1", None, &claims("u1"));
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
    let forged = sign(Algorithm::RS256, "rsa-2", None, &claims("u1"));
    app.get(ME, &forged)
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(fake.verify_calls(), 0);
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_jwks_once_then_asks_the_auth_service() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    fake.answer(valid_answer("remote-user"));
    let app = app_for(&fake, &[]).await;
    let known = sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &claims("u0"));
    app.get(ME, &known)
        .await
        .assert_problem(404, "profile_not_found");
    let token = sign(
        Algorithm::RS256,
        "rsa-2",
        Some("rsa-2"),
        &claims("remote-user"),
    );

    let created = app
        .put_json(
            ME,
            &token,
            &json!({"email": "r@example.com", "display_name": "R"}),
        )
        .await;

    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.json()["user_id"], "remote-user");
    assert_eq!(
        fake.jwks_calls(),
        2,
        "the first load, then one refresh for the unknown kid"
    );
    assert_eq!(fake.verify_calls(), 1);
    assert_eq!(
        fake.last_authorization().as_deref(),
        Some(format!("Bearer {token}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_fetches_the_jwks_at_most_twice() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    let app = app_for(&fake, &[]).await;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..50 {
        let token = sign(
            Algorithm::RS256,
            "rsa-2",
            Some(&format!("unknown-{i}")),
            &claims("u1"),
        );
        let router = app.router.clone();
        requests.spawn(async move {
            let request = Request::get(ME)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert!(
        fake.jwks_calls() <= 2,
        "JWKS fetched {} times",
        fake.jwks_calls()
    );
    assert_eq!(
        fake.verify_calls(),
        50,
        "each unknown kid is left to the auth service"
    );
}

#[tokio::test]
async fn a_positive_remote_answer_is_reused_from_the_cache() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    fake.answer(valid_answer("cached-user"));
    let app = app_for(&fake, &[]).await;
    let token = remote_only_token("cached-user");

    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
    assert_eq!(fake.verify_calls(), 1);
    // Even if the auth service went away, the answer is reused within its lifetime.
    fake.answer(Verify::ServerError);
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
    assert_eq!(
        fake.verify_calls(),
        1,
        "second request served from the cache"
    );

    // Another token is another question.
    app.get(ME, &remote_only_token("cached-user-2"))
        .await
        .assert_problem(503, "auth_service_unavailable");
    assert_eq!(fake.verify_calls(), 2);
}

#[tokio::test]
async fn remote_401_and_403_answers_give_401_invalid_token_and_are_not_cached() {
    let fake = FakeAuth::start(&[]).await;
    let app = app_for(&fake, &[]).await;
    let token = remote_only_token("u1");

    fake.answer(Verify::Unauthorized);
    app.get(ME, &token)
        .await
        .assert_problem(401, "invalid_token");
    fake.answer(Verify::Forbidden);
    app.get(ME, &token)
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(fake.verify_calls(), 2);
    assert_eq!(
        readiness(&app).await["checks"]["auth_service"]["detail"],
        "closed"
    );
}

#[tokio::test]
async fn remote_5xx_a_hang_or_a_stopped_auth_service_give_503_with_retry_after() {
    let fake = FakeAuth::start(&[]).await;
    let app = app_for(&fake, &[("AUTH_BREAKER_FAILURE_THRESHOLD", "10")]).await;
    let token = remote_only_token("u1");

    fake.answer(Verify::ServerError);
    assert_unavailable(&app.get(ME, &token).await);

    fake.answer(Verify::Hang(Duration::from_secs(1)));
    let started = Instant::now();
    assert_unavailable(&app.get(ME, &token).await);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the 300 ms timeout applies"
    );

    fake.stop().await;
    assert_unavailable(&app.get(ME, &token).await);
    assert_eq!(fake.verify_calls(), 2);
}

#[tokio::test]
async fn after_5_failures_the_breaker_fails_fast_then_half_opens_and_closes_on_success() {
    let fake = FakeAuth::start(&[]).await;
    fake.answer(Verify::ServerError);
    let app = app_for(&fake, &[("AUTH_BREAKER_RESET_SECONDS", "1")]).await;
    let token = remote_only_token("u1");
    assert_eq!(
        readiness(&app).await["checks"]["auth_service"]["status"],
        "unknown"
    );

    for _ in 0..5 {
        assert_unavailable(&app.get(ME, &token).await);
    }
    assert_eq!(fake.verify_calls(), 5);
    let ready = readiness(&app).await;
    assert_eq!(ready["status"], "degraded");
    assert_eq!(
        ready["checks"]["auth_service"],
        json!({"status": "degraded", "required": false, "detail": "open"})
    );

    // Open: fails fast, without a call.
    fake.answer(valid_answer("u1"));
    for _ in 0..3 {
        assert_eq!(assert_unavailable(&app.get(ME, &token).await), 1);
    }
    assert_eq!(fake.verify_calls(), 5);

    // Wait (bounded) for the reset period to end.
    let deadline = Instant::now() + Duration::from_secs(5);
    while readiness(&app).await["checks"]["auth_service"]["detail"] != "half_open" {
        assert!(Instant::now() < deadline, "breaker never half-opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
    assert_eq!(fake.verify_calls(), 6, "one trial call went through");
    let ready = readiness(&app).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["auth_service"]["detail"], "closed");
}

#[tokio::test]
async fn a_failed_trial_call_opens_the_breaker_again() {
    let fake = FakeAuth::start(&[]).await;
    fake.answer(Verify::ServerError);
    let app = app_for(
        &fake,
        &[
            ("AUTH_BREAKER_RESET_SECONDS", "1"),
            ("AUTH_BREAKER_FAILURE_THRESHOLD", "1"),
        ],
    )
    .await;
    let token = remote_only_token("u1");
    assert_unavailable(&app.get(ME, &token).await);
    let deadline = Instant::now() + Duration::from_secs(5);
    while readiness(&app).await["checks"]["auth_service"]["detail"] != "half_open" {
        assert!(Instant::now() < deadline, "breaker never half-opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_unavailable(&app.get(ME, &token).await);
    assert_eq!(fake.verify_calls(), 2);
    assert_eq!(
        readiness(&app).await["checks"]["auth_service"]["detail"],
        "open"
    );
}

#[tokio::test]
async fn rotated_keys_work_after_the_refresh_and_removed_keys_stop_working() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    // JWKS only: no auth service to fall back on.
    let jwks_url = fake.jwks_url();
    let app = TestApp::spawn_with(&[("JWT_JWKS_URL", jwks_url.as_str())]).await;
    let old = sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &claims("u1"));
    let new = sign(Algorithm::RS256, "rsa-2", Some("rsa-2"), &claims("u1"));
    app.get(ME, &old)
        .await
        .assert_problem(404, "profile_not_found");

    fake.publish(&["rsa-2"]);
    app.get(ME, &new)
        .await
        .assert_problem(404, "profile_not_found");
    app.get(ME, &old).await.assert_problem(401, "invalid_token");

    assert_eq!(fake.jwks_calls(), 2);
    assert_eq!(fake.verify_calls(), 0);
}

#[tokio::test]
async fn without_an_auth_service_a_token_no_local_key_can_judge_is_401() {
    let app = TestApp::spawn().await;
    app.get(ME, &remote_only_token("u1"))
        .await
        .assert_problem(401, "invalid_token");
    let rs256 = sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &claims("u1"));
    app.get(ME, &rs256)
        .await
        .assert_problem(401, "invalid_token");
    let ready = readiness(&app).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["checks"]["auth_service"],
        json!({"status": "disabled", "required": false})
    );
}

#[tokio::test]
async fn an_unreachable_jwks_falls_back_to_the_auth_service_or_gives_503() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    let auth = FakeAuth::start(&[]).await;
    auth.answer(valid_answer("u1"));
    fake.stop().await;
    let token = sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &claims("u1"));

    // JWKS only: the key may exist, we cannot tell; the client should retry, not log in again.
    let jwks_url = fake.jwks_url();
    let app = TestApp::spawn_with(&[
        ("JWT_JWKS_URL", jwks_url.as_str()),
        ("AUTH_SERVICE_TIMEOUT_MS", "300"),
    ])
    .await;
    app.state.verifier.warm_up().await;
    assert_unavailable(&app.get(ME, &token).await);

    // With a working auth service elsewhere, it decides.
    let app = TestApp::spawn_with(&[
        ("JWT_JWKS_URL", jwks_url.as_str()),
        ("AUTH_SERVICE_URL", auth.url.as_str()),
        ("AUTH_SERVICE_TIMEOUT_MS", "300"),
    ])
    .await;
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
    assert_eq!(auth.verify_calls(), 1);
}

/// Tokens every local rule refuses; none may reach the auth service, which would accept anything.
#[tokio::test]
async fn forged_expired_and_misaddressed_tokens_are_refused_locally_without_remote_calls() {
    let fake = FakeAuth::start(&["rsa-1", "ec-1"]).await;
    fake.answer(valid_answer("attacker"));
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = b64(&serde_json::to_value(claims("u1")).unwrap());
    let hmac_with = |secret: &[u8], kid: Option<&str>| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, &claims("u1"), &EncodingKey::from_secret(secret)).unwrap()
    };
    let rsa_public = public_pem("rsa-1");

    let mut cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!(
                "{}.{payload}.",
                b64(&json!({"alg": "none", "kid": "rsa-1"}))
            ),
            "invalid_token",
        ),
        (
            "alg none, lower case, no signature part",
            format!("{}.{payload}", b64(&json!({"alg": "None"}))),
            "invalid_token",
        ),
        (
            "HS256 signed with the RSA public key",
            hmac_with(rsa_public.as_bytes(), Some("rsa-1")),
            "invalid_token",
        ),
        (
            "HS256 signed with the RSA public key, no kid",
            hmac_with(rsa_public.as_bytes(), None),
            "invalid_token",
        ),
        (
            "bad signature with a known kid",
            sign(Algorithm::RS256, "rsa-2", Some("rsa-1"), &claims("u1")),
            "invalid_token",
        ),
        (
            "ES256 naming an RSA key",
            sign(Algorithm::ES256, "ec-1", Some("rsa-1"), &claims("u1")),
            "invalid_token",
        ),
        (
            "RS384 naming an RS256 key",
            sign(Algorithm::RS384, "rsa-1", Some("rsa-1"), &claims("u1")),
            "invalid_token",
        ),
        (
            "tampered payload",
            {
                let good = sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &claims("u1"));
                let parts: Vec<&str> = good.split('.').collect();
                let forged = b64(&serde_json::to_value(claims("admin")).unwrap());
                format!("{}.{forged}.{}", parts[0], parts[2])
            },
            "invalid_token",
        ),
    ];
    let mut expired = claims("u1");
    expired.exp = unix_now() - 120;
    let mut early = claims("u1");
    early.nbf = Some(unix_now() + 600);
    cases.push((
        "expired RS256",
        sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &expired),
        "token_expired",
    ));
    cases.push((
        "expired ES256",
        sign(Algorithm::ES256, "ec-1", Some("ec-1"), &expired),
        "token_expired",
    ));
    cases.push((
        "nbf in the future",
        sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &early),
        "invalid_token",
    ));
    cases.push((
        "expired, for the auth service",
        sign(Algorithm::RS384, "rsa-1", None, &expired),
        "token_expired",
    ));
    cases.push((
        "nbf in the future, for the auth service",
        sign(Algorithm::RS384, "rsa-1", None, &early),
        "invalid_token",
    ));
    let mut no_exp = serde_json::to_value(claims("u1")).unwrap();
    no_exp.as_object_mut().unwrap().remove("exp");
    cases.push((
        "no exp, for the auth service",
        format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "RS384", "typ": "JWT"})),
            b64(&no_exp)
        ),
        "invalid_token",
    ));

    let app = app_for(&fake, &[]).await;
    for (name, token, code) in &cases {
        let response = app.get(ME, token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(response.json()["code"], *code, "{name}");
    }
    assert_eq!(fake.verify_calls(), 0);

    // The same without a shared secret: an HS256 token naming an RSA key is refused locally (that key only
    // verifies RS256); the kid-less one is a fair question for the auth service, which refuses it.
    fake.answer(Verify::Unauthorized);
    let app = app_for(&fake, &[("JWT_SECRET", "")]).await;
    for (name, token, code) in &cases {
        let response = app.get(ME, token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(response.json()["code"], *code, "{name}");
    }
    assert_eq!(fake.verify_calls(), 1);
}

#[tokio::test]
async fn issuer_and_audience_are_checked_on_jwks_and_remote_tokens_without_remote_calls() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    fake.answer(valid_answer("u1"));
    let app = app_for(
        &fake,
        &[
            ("JWT_ISSUER", "https://auth.shop"),
            ("JWT_AUDIENCE", "profiles"),
        ],
    )
    .await;
    let mut good = claims("u1");
    good.iss = Some("https://auth.shop".into());
    good.aud = Some(json!(["orders", "profiles"]));
    let mut wrong_iss = good.clone();
    wrong_iss.iss = Some("https://evil.example".into());
    let mut wrong_aud = good.clone();
    wrong_aud.aud = Some(json!("orders"));

    for (alg, kid) in [(Algorithm::RS256, Some("rsa-1")), (Algorithm::RS384, None)] {
        for bad in [&wrong_iss, &wrong_aud] {
            app.get(ME, &sign(alg, "rsa-1", kid, bad))
                .await
                .assert_problem(401, "invalid_token");
        }
    }
    assert_eq!(fake.verify_calls(), 0);
    app.get(ME, &sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &good))
        .await
        .assert_problem(404, "profile_not_found");
    app.get(ME, &sign(Algorithm::RS384, "rsa-1", None, &good))
        .await
        .assert_problem(404, "profile_not_found");
    assert_eq!(fake.verify_calls(), 1);
}

#[tokio::test]
async fn a_hung_jwks_costs_one_timeout_then_every_call_to_the_auth_service_fails_fast() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    fake.hang_jwks(Some(Duration::from_secs(2)));
    fake.answer(Verify::Hang(Duration::from_secs(2)));
    let app = app_for(&fake, &[("AUTH_BREAKER_FAILURE_THRESHOLD", "1")]).await;
    let unknown_kid = sign(Algorithm::RS256, "rsa-2", Some("rsa-2"), &claims("u1"));

    // The JWKS fetch waits its 300 ms timeout and opens the breaker, so the verify call is not even tried.
    let started = Instant::now();
    assert_unavailable(&app.get(ME, &unknown_kid).await);
    let first = started.elapsed();
    assert!(first >= Duration::from_millis(300), "first {first:?}");
    assert!(
        first < Duration::from_millis(600),
        "one timeout, not two: {first:?}"
    );
    assert_eq!(fake.verify_calls(), 0);
    assert_eq!(
        readiness(&app).await["checks"]["auth_service"],
        json!({"status": "degraded", "required": false, "detail": "open"})
    );

    // While the breaker is open, nothing waits and nothing is sent.
    let started = Instant::now();
    for _ in 0..5 {
        assert_unavailable(&app.get(ME, &unknown_kid).await);
        assert_unavailable(&app.get(ME, &remote_only_token("u1")).await);
    }
    let next_ten = started.elapsed();
    assert!(
        next_ten < Duration::from_millis(300),
        "next ten {next_ten:?}"
    );
    assert_eq!(fake.jwks_calls(), 1);
    assert_eq!(fake.verify_calls(), 0);
}

#[tokio::test]
async fn readiness_reports_an_auth_service_never_reached_as_unknown_until_a_call_succeeds() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    let app = app_for(&fake, &[]).await;
    let ready = readiness(&app).await;
    assert_eq!(
        ready["checks"]["auth_service"],
        json!({"status": "unknown", "required": false, "detail": "closed"})
    );
    assert_eq!(ready["status"], "ready", "not knowing yet is not degraded");

    let known = sign(Algorithm::RS256, "rsa-1", Some("rsa-1"), &claims("u0"));
    app.get(ME, &known)
        .await
        .assert_problem(404, "profile_not_found");
    assert_eq!(
        readiness(&app).await["checks"]["auth_service"]["status"],
        "up",
        "the JWKS fetch reached it"
    );
}

#[tokio::test]
async fn every_auth_breaker_and_cache_series_is_listed_before_any_request() {
    let app = TestApp::spawn().await;
    let metrics = app.request(Method::GET, "/metrics", None, None, &[]).await;
    let text = String::from_utf8_lossy(&metrics.body);
    for series in [
        r#"auth_verifications_total{method="local",outcome="ok"}"#,
        r#"auth_verifications_total{method="jwks",outcome="unavailable"}"#,
        r#"auth_verifications_total{method="remote",outcome="failed"}"#,
        r#"auth_verifications_total{method="cached",outcome="ok"}"#,
        "auth_breaker_state ",
        r#"cache_requests_total{outcome="hit"}"#,
        r#"cache_requests_total{outcome="error"}"#,
        r#"cache_requests_total{outcome="skipped"}"#,
    ] {
        assert!(text.contains(series), "{series} missing from\n{text}");
    }
}
