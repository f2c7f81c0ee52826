//! Recent login: erasing your profile and changing your email need the token's `auth_time` within
//! `REAUTH_MAX_AGE_SECONDS` (default 300; 0 = off); otherwise 403 `reauthentication_required`.

use axum::http::StatusCode;
use jsonwebtoken::Algorithm;
use serde_json::json;
use user_profile_service::{auth::jwt::Claims, clock::unix_now};

use crate::support::{
    TestApp,
    fake_auth::{FakeAuth, Verify, sign},
    mint,
};

const ME: &str = "/api/v1/profiles/me";

fn claims(sub: &str, auth_time: Option<u64>) -> Claims {
    Claims {
        sub: sub.into(),
        exp: unix_now() + 600,
        nbf: None,
        iat: Some(unix_now()),
        roles: vec!["user".into()],
        scope: None,
        iss: None,
        aud: None,
        auth_time,
    }
}

/// A user's token from a login `age` seconds ago (`None`: a token without `auth_time`).
fn logged_in(sub: &str, age: Option<u64>) -> String {
    mint(&claims(sub, age.map(|a| unix_now() - a)))
}

#[tokio::test]
async fn erasing_with_a_login_older_than_five_minutes_is_403_reauthentication_required_and_erases_nothing()
 {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;

    let response = app.delete(ME, &logged_in("u1", Some(400))).await;

    let problem = response.assert_problem(403, "reauthentication_required");
    assert!(problem["detail"].as_str().unwrap().contains("300 seconds"));
    let challenge = response
        .header("www-authenticate")
        .expect("WWW-Authenticate");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\""),
        "{challenge}"
    );
    assert!(challenge.contains("max_age=\"300\""), "{challenge}");
    assert!(response.header("erasure-receipt").is_none());
    let still = app.get(ME, &logged_in("u1", Some(400))).await;
    assert_eq!(still.status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_without_auth_time_counts_as_an_old_login() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;

    app.delete(ME, &logged_in("u1", None))
        .await
        .assert_problem(403, "reauthentication_required");
}

#[tokio::test]
async fn erasing_with_a_recent_login_answers_204() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;

    let response = app.delete(ME, &logged_in("u1", Some(299))).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_maximum_age_is_configurable_and_zero_turns_the_check_off() {
    let strict = TestApp::spawn_with(&[("REAUTH_MAX_AGE_SECONDS", "60")]).await;
    strict.create_profile("u1", "u1@example.com").await;
    let off = TestApp::spawn_with(&[("REAUTH_MAX_AGE_SECONDS", "0")]).await;
    off.create_profile("u1", "u1@example.com").await;

    let too_old = strict.delete(ME, &logged_in("u1", Some(120))).await;
    let unchecked = off.delete(ME, &logged_in("u1", None)).await;

    let challenge = too_old.header("www-authenticate").unwrap();
    too_old.assert_problem(403, "reauthentication_required");
    assert!(challenge.contains("max_age=\"60\""), "{challenge}");
    assert_eq!(unchecked.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn changing_your_email_with_an_old_login_is_403_by_put_and_by_patch() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;
    let old = logged_in("u1", Some(3600));

    let patch = app
        .patch_json(ME, &old, &json!({"email": "new@example.com"}))
        .await;
    let put = app
        .put_json(
            ME,
            &old,
            &json!({"email": "new@example.com", "display_name": "u1"}),
        )
        .await;

    patch.assert_problem(403, "reauthentication_required");
    put.assert_problem(403, "reauthentication_required");
    let profile = app.get(ME, &old).await.json();
    assert_eq!(profile["email"], "u1@example.com");
    assert_eq!(profile["version"], 1);
}

#[tokio::test]
async fn other_changes_a_change_of_case_and_creating_a_profile_need_no_recent_login() {
    let app = TestApp::spawn().await;
    let old = logged_in("u1", Some(3600));

    let created = app
        .put_json(
            ME,
            &old,
            &json!({"email": "u1@example.com", "display_name": "u1"}),
        )
        .await;
    let renamed = app
        .patch_json(ME, &old, &json!({"display_name": "Ada"}))
        .await;
    let recased = app
        .patch_json(ME, &old, &json!({"email": "U1@Example.com"}))
        .await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(recased.status, StatusCode::OK);
    assert_eq!(recased.json()["email"], "U1@Example.com");
}

#[tokio::test]
async fn changing_your_email_with_a_recent_login_works() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;

    let response = app
        .patch_json(
            ME,
            &logged_in("u1", Some(10)),
            &json!({"email": "new@example.com"}),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["email"], "new@example.com");
}

#[tokio::test]
async fn admins_erase_and_change_emails_without_auth_time() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;
    app.create_profile("u2", "u2@example.com").await;
    let admin = app.token_with("ops", &["admin"], None);
    let shopping_admin = mint(&Claims {
        roles: vec!["user".into(), "admin".into()],
        ..claims("ops-2", None)
    });
    app.put_json(
        ME,
        &shopping_admin,
        &json!({"email": "ops2@example.com", "display_name": "ops"}),
    )
    .await;

    let email = app
        .patch_json(
            "/api/v1/admin/profiles/u1",
            &admin,
            &json!({"email": "moved@example.com"}),
        )
        .await;
    let erased = app.delete("/api/v1/admin/profiles/u2", &admin).await;
    let own = app.delete(ME, &shopping_admin).await;

    assert_eq!(email.status, StatusCode::OK);
    assert_eq!(erased.status, StatusCode::NO_CONTENT);
    assert_eq!(
        own.status,
        StatusCode::NO_CONTENT,
        "an admin who shops is an admin"
    );
}

#[tokio::test]
async fn a_remotely_verified_token_takes_auth_time_from_the_answer_else_from_the_token() {
    let fake = FakeAuth::start(&[]).await;
    let vars = fake.env();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_with(&vars).await;
    // RS384: no local key serves it, so the auth service judges it.
    let remote = |sub: &str, auth_time: Option<u64>| {
        sign(Algorithm::RS384, "rsa-1", None, &claims(sub, auth_time))
    };
    let now = unix_now();
    for user in ["u1", "u2", "u3"] {
        app.create_profile(user, &format!("{user}@example.com"))
            .await;
    }

    fake.answer(Verify::Valid(
        json!({"user_id": "u1", "roles": ["user"], "auth_time": now - 10}),
    ));
    let fresh_by_answer = app.delete(ME, &remote("u1", Some(now - 3600))).await;
    fake.answer(Verify::Valid(json!({"user_id": "u2", "roles": ["user"]})));
    let fresh_by_token = app.delete(ME, &remote("u2", Some(now - 10))).await;
    fake.answer(Verify::Valid(
        json!({"user_id": "u3", "roles": ["user"], "auth_time": now - 3600}),
    ));
    let stale_by_answer = app.delete(ME, &remote("u3", Some(now))).await;

    assert_eq!(fresh_by_answer.status, StatusCode::NO_CONTENT);
    assert_eq!(fresh_by_token.status, StatusCode::NO_CONTENT);
    stale_by_answer.assert_problem(403, "reauthentication_required");
}
