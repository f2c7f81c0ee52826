//! What answers reveal beyond their body: request ids only in the strict format (issue 12, item 9), the
//! headers that keep personal data out of caches, and the documentation switch `DOCS_ENABLED`.

use axum::http::{Method, StatusCode};
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::json;

use crate::support::TestApp;

const ME: &str = "/api/v1/profiles/me";

#[tokio::test]
async fn an_email_sent_as_request_id_is_replaced_and_never_reaches_the_audit_trail() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");

    let created = app
        .request(
            Method::PUT,
            ME,
            Some(&token),
            Some(&json!({"email": "ada@example.com", "display_name": "Ada"})),
            &[("x-request-id", "ada@example.com")],
        )
        .await;

    assert_eq!(created.status, StatusCode::CREATED);
    let used = created.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(&used).is_ok(), "{used}");
    let admin = app.token_with("ops-1", &["admin"], None);
    let events = app
        .get("/api/v1/admin/audit-events?user_id=u1", &admin)
        .await
        .json();
    assert_eq!(events["items"][0]["request_id"], used.as_str());
    assert!(!events.to_string().contains("ada@example.com"));
}

#[tokio::test]
async fn request_ids_are_kept_only_when_they_are_1_to_64_letters_digits_hyphens_or_underscores() {
    let app = TestApp::spawn().await;
    let longest = "a".repeat(64);
    let too_long = "a".repeat(65);
    let uuid = uuid::Uuid::now_v7().to_string();

    for (sent, kept) in [
        ("checkout-42_a", true),
        (uuid.as_str(), true),
        (longest.as_str(), true),
        (too_long.as_str(), false),
        ("checkout-42.a", false),
        ("trace:1", false),
        ("a/b", false),
    ] {
        let response = app
            .request(Method::GET, ME, None, None, &[("x-request-id", sent)])
            .await;
        let used = response.header("x-request-id").unwrap();
        assert_eq!(used == sent, kept, "{sent} -> {used}");
        assert_eq!(response.json()["request_id"], used.as_str());
    }
}

/// Whatever bytes a client sends as `X-Request-Id`, the id used (header and problem body) has the strict format.
#[test]
fn the_request_id_used_always_has_the_strict_format() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(64));
    let values = proptest::collection::vec(
        any::<u8>().prop_filter("a header value byte", |b| {
            *b == b'\t' || *b >= 0x20 && *b != 0x7f
        }),
        0..100,
    );
    runner
        .run(&values, |raw| {
            let request = axum::http::Request::get(ME)
                .header(
                    "x-request-id",
                    axum::http::HeaderValue::from_bytes(&raw).unwrap(),
                )
                .body(axum::body::Body::empty())
                .unwrap();
            let response = runtime.block_on(app.send(request));
            let used = response.header("x-request-id").unwrap();
            prop_assert!(
                user_profile_service::request_id::is_valid(&used),
                "{}",
                used
            );
            let problem = response.json();
            prop_assert_eq!(problem["request_id"].as_str(), Some(used.as_str()));
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn every_api_answer_says_no_store_and_nosniff_errors_included() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;

    let answers = [
        app.get(ME, &token).await,
        app.get("/api/v1/profiles/me/export", &token).await,
        app.request(Method::GET, ME, None, None, &[]).await,
        app.get("/api/v1/profiles/me/addresses/nope", &token).await,
        app.get("/api/v1/nothing-here", &token).await,
        app.request(Method::POST, ME, Some(&token), None, &[]).await,
    ];

    for answer in &answers {
        assert_eq!(
            answer.header("cache-control").as_deref(),
            Some("no-store"),
            "{}",
            answer.status
        );
        assert_eq!(
            answer.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{}",
            answer.status
        );
    }
}

#[tokio::test]
async fn answers_outside_the_api_say_nosniff_and_may_be_cached() {
    let app = TestApp::spawn().await;

    for path in [
        "/health",
        "/docs/",
        "/api-docs/openapi.json",
        "/nothing-here",
    ] {
        let answer = app.request(Method::GET, path, None, None, &[]).await;
        assert_eq!(
            answer.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(answer.header("cache-control"), None, "{path}");
    }
}

#[tokio::test]
async fn docs_disabled_serves_neither_the_ui_nor_the_document() {
    let app = TestApp::spawn_with(&[("DOCS_ENABLED", "false")]).await;

    for path in [
        "/docs",
        "/docs/",
        "/docs/swagger-ui-bundle.js",
        "/api-docs/openapi.json",
    ] {
        app.request(Method::GET, path, None, None, &[])
            .await
            .assert_problem(404, "not_found");
    }
    app.get(ME, &app.token("u1"))
        .await
        .assert_problem(404, "profile_not_found");
    let printed = serde_json::to_value(user_profile_service::http::openapi()).unwrap();
    assert!(
        printed["paths"][ME].is_object(),
        "the `openapi` command still prints it"
    );
}
