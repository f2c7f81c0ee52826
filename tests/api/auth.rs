//! SPEC section 4, local verification: 401 codes, `WWW-Authenticate`, claims checks.

use axum::http::Method;
use user_profile_service::{auth::jwt::Claims, clock::unix_now};

use crate::support::{TestApp, mint};

const ME: &str = "/api/v1/profiles/me";

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        exp: unix_now() + 600,
        nbf: None,
        iat: None,
        roles: vec!["user".into()],
        scope: None,
        iss: None,
        aud: None,
        auth_time: None,
    }
}

#[tokio::test]
async fn no_token_returns_401_unauthorized_with_bearer_challenge() {
    let app = TestApp::spawn().await;
    let response = app.request(Method::GET, ME, None, None, &[]).await;
    response.assert_problem(401, "unauthorized");
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some("Bearer")
    );
}

#[tokio::test]
async fn a_garbage_or_non_bearer_token_returns_401_invalid_token() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::GET, ME, Some("not.a.jwt"), None, &[])
        .await;
    response.assert_problem(401, "invalid_token");
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let basic = app
        .request(
            Method::GET,
            ME,
            None,
            None,
            &[("authorization", "Basic dXNlcjpwYXNz")],
        )
        .await;
    basic.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn an_expired_token_returns_401_token_expired() {
    let app = TestApp::spawn().await;
    let mut c = claims("u1");
    c.exp = unix_now() - 120;
    let response = app.get(ME, &mint(&c)).await;
    response.assert_problem(401, "token_expired");
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .contains("token_expired")
    );
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_is_accepted() {
    let app = TestApp::spawn().await;
    let mut c = claims("u1");
    c.exp = unix_now() - 5;
    app.get(ME, &mint(&c))
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn a_token_not_yet_valid_returns_401_invalid_token() {
    let app = TestApp::spawn().await;
    let mut c = claims("u1");
    c.nbf = Some(unix_now() + 600);
    app.get(ME, &mint(&c))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_returns_401_invalid_token() {
    let app = TestApp::spawn().await;
    let token = user_profile_service::auth::jwt::mint_hs256(
        "another-secret-0123456789abcdef012345",
        &claims("u1"),
    )
    .unwrap();
    app.get(ME, &token)
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn an_alg_none_token_returns_401_invalid_token() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let token = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(&serde_json::json!({"sub": "u1", "exp": unix_now() + 600}))
    );
    app.get(ME, &token)
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let app = TestApp::spawn_with(&[
        ("JWT_ISSUER", "https://auth.shop"),
        ("JWT_AUDIENCE", "profiles"),
    ])
    .await;
    let mut good = claims("u1");
    good.iss = Some("https://auth.shop".into());
    good.aud = Some(serde_json::json!("profiles"));
    app.get(ME, &mint(&good))
        .await
        .assert_problem(404, "profile_not_found");

    let mut wrong_iss = good.clone();
    wrong_iss.iss = Some("https://evil.example".into());
    app.get(ME, &mint(&wrong_iss))
        .await
        .assert_problem(401, "invalid_token");

    let mut wrong_aud = good.clone();
    wrong_aud.aud = Some(serde_json::json!("orders"));
    app.get(ME, &mint(&wrong_aud))
        .await
        .assert_problem(401, "invalid_token");

    let mut missing = good;
    missing.iss = None;
    app.get(ME, &mint(&missing))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_sub_longer_than_128_characters_is_refused() {
    let app = TestApp::spawn().await;
    app.get(ME, &mint(&claims(&"u".repeat(129))))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn users_only_ever_see_their_own_profile() {
    let app = TestApp::spawn().await;
    app.create_profile("alice", "alice@example.com").await;
    app.get(ME, &app.token("bob"))
        .await
        .assert_problem(404, "profile_not_found");
}

/// Every operation the OpenAPI document lists under `/api/v1/profiles/me`, with its path made concrete.
async fn profiles_me_operations(app: &TestApp) -> Vec<(Method, String)> {
    let spec = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await
        .json();
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.starts_with(ME) {
            continue;
        }
        let concrete = path.replace("{address_id}", "0193b7c2-6f1e-7d2a-9b1c-3f4e5a6b7c8d");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            operations.push((method, concrete.clone()));
        }
    }
    operations
}

#[tokio::test]
async fn every_profiles_me_operation_returns_403_forbidden_to_tokens_that_are_not_users() {
    let app = TestApp::spawn().await;
    let user = app.create_profile("u1", "a@example.com").await;
    // The same `sub` as the user: only the roles and scopes differ.
    let outsiders = [
        app.token_with("u1", &["service"], None),
        app.token_with("u1", &["admin"], None),
        app.token_with("u1", &["service", "admin"], None),
        app.token_with("u1", &[], Some("preferences:read addresses:read")),
    ];
    let operations = profiles_me_operations(&app).await;
    let body = serde_json::json!({"email": "b@example.com", "display_name": "B"});

    for token in &outsiders {
        for (method, path) in &operations {
            let response = app
                .request(method.clone(), path, Some(token), Some(&body), &[])
                .await;
            let problem = response.assert_problem(403, "forbidden");
            assert!(
                problem["detail"].as_str().unwrap().contains("for users"),
                "{method} {path}: {problem}"
            );
        }
    }

    assert!(operations.len() >= 14, "{operations:?}");
    let profile = app.get(ME, &user).await.json();
    assert_eq!(
        (profile["email"].clone(), profile["version"].clone()),
        (serde_json::json!("a@example.com"), serde_json::json!(1))
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE target_user_id = $1",
            "u1"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn tokens_with_role_user_or_with_no_known_role_and_no_scope_act_as_users() {
    let app = TestApp::spawn().await;

    for (n, token) in [
        app.token_with("shopper-1", &[], None),
        app.token_with("shopper-2", &["customer"], None),
        app.token_with("shopper-3", &["user"], Some("profile:read")),
        app.token_with("shopper-4", &["user", "admin"], None),
    ]
    .iter()
    .enumerate()
    {
        let body = serde_json::json!({"email": format!("s{n}@example.com"), "display_name": "S"});
        let response = app.put_json(ME, token, &body).await;
        assert_eq!(
            response.status.as_u16(),
            201,
            "token {n}: {}",
            response.json()
        );
    }
}
