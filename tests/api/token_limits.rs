//! SPEC section 7, production refusals: tokens over the configured lifetime or size are 401 `invalid_token`,
//! whether a local key or the auth service would judge them, and the auth service is never asked about them.

use jsonwebtoken::Algorithm;
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::json;
use user_profile_service::{auth::jwt::Claims, clock::unix_now};

use crate::support::{
    TestApp,
    fake_auth::{FakeAuth, Verify, sign},
    mint,
};

const ME: &str = "/api/v1/profiles/me";

fn claims(sub: &str, lifetime: u64, iat: bool) -> Claims {
    let now = unix_now();
    Claims {
        sub: sub.into(),
        exp: now + lifetime,
        nbf: None,
        iat: iat.then_some(now),
        roles: vec!["user".into()],
        scope: None,
        iss: None,
        aud: None,
        auth_time: None,
    }
}

/// Claims whose token is about `bytes` long, through a long scope.
fn padded(sub: &str, bytes: usize) -> Claims {
    let mut claims = claims(sub, 600, true);
    claims.scope = Some("x".repeat(bytes * 3 / 4));
    claims
}

#[tokio::test]
async fn a_token_living_longer_than_a_day_returns_401_invalid_token_by_default() {
    let app = TestApp::spawn().await;

    let a_day = app.get(ME, &mint(&claims("u1", 86_400, true))).await;
    let longer = app.get(ME, &mint(&claims("u1", 86_401, true))).await;
    let thirty_one_years = app
        .get(ME, &mint(&claims("u1", 31 * 365 * 86_400, false)))
        .await;

    a_day.assert_problem(404, "profile_not_found");
    longer.assert_problem(401, "invalid_token");
    thirty_one_years.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn the_lifetime_cap_follows_jwt_max_lifetime_seconds_with_or_without_iat() {
    let app = TestApp::spawn_with(&[("JWT_MAX_LIFETIME_SECONDS", "600")]).await;

    for iat in [true, false] {
        app.get(ME, &mint(&claims("u1", 600, iat)))
            .await
            .assert_problem(404, "profile_not_found");
        let response = app.get(ME, &mint(&claims("u1", 3600, iat))).await;
        response.assert_problem(401, "invalid_token");
        assert!(
            response
                .header("www-authenticate")
                .unwrap()
                .starts_with("Bearer")
        );
    }
}

#[tokio::test]
async fn a_token_larger_than_jwt_max_token_bytes_returns_401_invalid_token() {
    let app = TestApp::spawn().await;

    app.get(ME, &mint(&padded("u1", 4096)))
        .await
        .assert_problem(404, "profile_not_found");
    app.get(ME, &mint(&padded("u1", 9000)))
        .await
        .assert_problem(401, "invalid_token");
    app.get(ME, &"a".repeat(133 * 1024))
        .await
        .assert_problem(401, "invalid_token");

    let strict = TestApp::spawn_with(&[("JWT_MAX_TOKEN_BYTES", "1024")]).await;
    strict
        .get(ME, &mint(&padded("u1", 2048)))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn tokens_over_the_limits_are_refused_without_asking_the_auth_service() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    fake.answer(Verify::Valid(
        json!({"user_id": "remote-u1", "roles": ["user"]}),
    ));
    let mut vars = fake.env();
    vars.push(("JWT_MAX_LIFETIME_SECONDS".into(), "600".into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_with(&vars).await;
    // RS384: no local key serves it, so only the auth service could judge it.
    let remote_only = |claims: &Claims| sign(Algorithm::RS384, "rsa-1", None, claims);

    let long_lived = app
        .get(ME, &remote_only(&claims("remote-u1", 3600, true)))
        .await;
    let oversized = app.get(ME, &remote_only(&padded("remote-u1", 9000))).await;
    let unknown_kid_oversized = app
        .get(
            ME,
            &sign(
                Algorithm::RS256,
                "rsa-2",
                Some("rsa-2"),
                &padded("u1", 9000),
            ),
        )
        .await;

    long_lived.assert_problem(401, "invalid_token");
    oversized.assert_problem(401, "invalid_token");
    unknown_kid_oversized.assert_problem(401, "invalid_token");
    assert_eq!(fake.verify_calls(), 0);
    assert_eq!(fake.jwks_calls(), 0, "not even a JWKS refresh");

    app.get(ME, &remote_only(&claims("remote-u1", 600, true)))
        .await
        .assert_problem(404, "profile_not_found");
    assert_eq!(fake.verify_calls(), 1);
}

/// Arbitrary strings as bearer tokens: always 401, never a 5xx (or a panic, which would be a 500).
#[test]
fn arbitrary_bearer_tokens_are_answered_401() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(64));
    let tokens = prop_oneof![
        "[ -~]{1,200}",
        "[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,60}",
        "eyJ[A-Za-z0-9_-]{0,80}\\.eyJ[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,60}",
    ];
    runner
        .run(&tokens, |token| {
            let token = token.trim();
            prop_assume!(!token.is_empty());
            let response = runtime.block_on(app.get(ME, token));
            prop_assert_eq!(response.status.as_u16(), 401, "{}", token);
            let code = response.json()["code"].clone();
            prop_assert!(
                code == "invalid_token" || code == "token_expired",
                "{}",
                code
            );
            Ok(())
        })
        .unwrap();
}
