//! `/api/v1/profiles/me/preferences` and `/api/v1/users/{user_id}/preferences`.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

const PREFS: &str = "/api/v1/profiles/me/preferences";

fn defaults() -> Value {
    json!({
        "notifications": {
            "email": {"order_updates": true, "marketing": false, "newsletter": false},
            "sms": {"order_updates": false, "marketing": false, "newsletter": false},
            "push": {"order_updates": true, "marketing": false, "newsletter": false}
        },
        "language": null,
        "currency": null,
        "cart": {"save_for_later": true, "merge_guest_cart": true},
        "recommendations": {"personalized": false, "favorite_categories": []},
        "version": 0,
        "updated_at": null
    })
}

/// `(channel, purpose, granted)` of the user's consent records, oldest first.
async fn consents(app: &TestApp, user_id: &str) -> Vec<(String, String, bool)> {
    user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_as(
            "SELECT channel, purpose, granted FROM consent_records WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(c)
        .await
        .unwrap()
    })
}

/// `(action, changed_fields as JSON text)` of the audit events about `user_id`, oldest first.
async fn audit_events(app: &TestApp, user_id: &str) -> Vec<(String, String)> {
    user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_as(
            "SELECT action, CAST(changed_fields AS TEXT) FROM audit_events WHERE target_user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(c)
        .await
        .unwrap()
    })
}

async fn put_with(
    app: &TestApp,
    token: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> TestResponse {
    app.request(Method::PUT, PREFS, Some(token), Some(&body), headers)
        .await
}

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["field"].as_str().unwrap(),
                e["code"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn get_preferences_returns_the_documented_defaults_at_version_0_before_any_are_set() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let response = app.get(PREFS, &token).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("etag").as_deref(), Some("\"0\""));
    assert_eq!(response.json(), defaults());
}

#[tokio::test]
async fn preferences_need_a_profile_and_answer_404_profile_not_found_without_one() {
    let app = TestApp::spawn().await;
    let token = app.token("nobody");

    app.get(PREFS, &token)
        .await
        .assert_problem(404, "profile_not_found");
    app.put_json(PREFS, &token, &json!({}))
        .await
        .assert_problem(404, "profile_not_found");
    app.patch_json(PREFS, &token, &json!({"currency": "EUR"}))
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn put_preferences_stores_version_1_and_fills_omitted_fields_with_their_defaults() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let response = app
        .put_json(
            PREFS,
            &token,
            &json!({
                "notifications": {"sms": {"marketing": true}},
                "language": "de-DE",
                "currency": "EUR",
                "recommendations": {"favorite_categories": ["books", "garden"]}
            }),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("etag").as_deref(), Some("\"1\""));
    let body = response.json();
    assert_eq!(body["version"], 1);
    assert!(body["updated_at"].is_string());
    assert_eq!(
        body["notifications"]["sms"],
        json!({"order_updates": false, "marketing": true, "newsletter": false})
    );
    assert_eq!(
        body["notifications"]["email"],
        defaults()["notifications"]["email"]
    );
    assert_eq!(body["cart"], defaults()["cart"]);
    assert_eq!(body["language"], "de-DE");
    assert_eq!(
        body["recommendations"]["favorite_categories"],
        json!(["books", "garden"])
    );
    assert_eq!(app.get(PREFS, &token).await.json(), body);
}

#[tokio::test]
async fn put_preferences_replaces_the_document_so_omitted_fields_return_to_their_defaults() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    app.put_json(
        PREFS,
        &token,
        &json!({"currency": "EUR", "cart": {"save_for_later": false}}),
    )
    .await;

    let response = app
        .put_json(PREFS, &token, &json!({"language": "fr"}))
        .await;

    let body = response.json();
    assert_eq!(body["version"], 2);
    assert_eq!(body["currency"], Value::Null);
    assert_eq!(body["cart"]["save_for_later"], true);
    assert_eq!(body["language"], "fr");
}

#[tokio::test]
async fn a_write_that_changes_nothing_keeps_the_version_and_records_nothing() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let unchanged_defaults = app.put_json(PREFS, &token, &json!({})).await;
    app.put_json(PREFS, &token, &json!({"currency": "EUR"}))
        .await;
    let unchanged = app
        .patch_json(PREFS, &token, &json!({"currency": "EUR"}))
        .await;

    assert_eq!(unchanged_defaults.json()["version"], 0);
    assert_eq!(unchanged.status, StatusCode::OK);
    assert_eq!(unchanged.json()["version"], 1);
    let actions: Vec<String> = audit_events(&app, "u1")
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(actions, ["profile.created", "preferences.updated"]);
}

#[tokio::test]
async fn patch_preferences_merges_nested_fields_and_null_resets_a_field_to_its_default() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    app.put_json(
        PREFS,
        &token,
        &json!({"currency": "CHF", "cart": {"merge_guest_cart": false},
                "notifications": {"email": {"order_updates": false}}}),
    )
    .await;

    let response = app
        .patch_json(
            PREFS,
            &token,
            &json!({"notifications": {"email": {"newsletter": true, "order_updates": null}},
                    "cart": null, "language": "en-GB"}),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("etag").as_deref(), Some("\"2\""));
    let body = response.json();
    assert_eq!(
        body["notifications"]["email"],
        json!({"order_updates": true, "marketing": false, "newsletter": true})
    );
    assert_eq!(body["cart"], defaults()["cart"]);
    assert_eq!(body["currency"], "CHF");
    assert_eq!(body["language"], "en-GB");
}

#[tokio::test]
async fn patch_preferences_accepts_application_json_too() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let response = app
        .request(
            Method::PATCH,
            PREFS,
            Some(&token),
            Some(&json!({"currency": "JPY"})),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["currency"], "JPY");
}

#[tokio::test]
async fn unknown_keys_at_any_depth_are_refused_with_422_naming_their_path() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    for (body, field) in [
        (
            json!({"notifications": {"email": {"foo": true}}}),
            "notifications.email.foo",
        ),
        (json!({"notifications": {"fax": {}}}), "notifications.fax"),
        (json!({"cart": {"wishlist": true}}), "cart.wishlist"),
        (
            json!({"recommendations": {"brands": []}}),
            "recommendations.brands",
        ),
        (json!({"theme": "dark"}), "theme"),
        (json!({"version": 4}), "version"),
    ] {
        for response in [
            app.put_json(PREFS, &token, &body).await,
            app.patch_json(PREFS, &token, &body).await,
        ] {
            let problem = response.assert_problem(422, "validation_failed");
            assert_eq!(error_fields(&problem), [format!("{field}:unknown_field")]);
        }
    }
    assert_eq!(app.get(PREFS, &token).await.json()["version"], 0);
}

#[tokio::test]
async fn bad_values_are_refused_with_422_naming_each_field() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let problem = app
        .put_json(
            PREFS,
            &token,
            &json!({"language": "en_GB", "currency": "eur",
                    "recommendations": {"favorite_categories": ["books", "books"]}}),
        )
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(
        error_fields(&problem),
        [
            "currency:invalid_value",
            "language:invalid_format",
            "recommendations.favorite_categories:duplicate"
        ]
    );
    let wrong_type = app
        .patch_json(
            PREFS,
            &token,
            &json!({"notifications": {"push": {"marketing": "yes"}}}),
        )
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(
        error_fields(&wrong_type),
        ["notifications.push.marketing:invalid_type"]
    );
    let too_many: Vec<String> = (0..21).map(|i| format!("category {i}")).collect();
    let problem = app
        .patch_json(
            PREFS,
            &token,
            &json!({"recommendations": {"favorite_categories": too_many}}),
        )
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(
        error_fields(&problem),
        ["recommendations.favorite_categories:length"]
    );
    assert_eq!(app.get(PREFS, &token).await.json()["version"], 0);
}

#[tokio::test]
async fn get_preferences_with_a_matching_if_none_match_returns_304() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let headers = [("if-none-match", "\"0\"")];

    let at_defaults = app
        .request(Method::GET, PREFS, Some(&token), None, &headers)
        .await;
    app.put_json(PREFS, &token, &json!({"currency": "EUR"}))
        .await;
    let after_change = app
        .request(Method::GET, PREFS, Some(&token), None, &headers)
        .await;

    assert_eq!(at_defaults.status, StatusCode::NOT_MODIFIED);
    assert_eq!(after_change.status, StatusCode::OK);
}

#[tokio::test]
async fn if_match_0_applies_to_the_defaults_and_if_none_match_star_only_to_the_first_write() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let first = put_with(
        &app,
        &token,
        &[("if-none-match", "*")],
        json!({"currency": "EUR"}),
    )
    .await;
    let second = put_with(
        &app,
        &token,
        &[("if-none-match", "*")],
        json!({"currency": "USD"}),
    )
    .await;
    let stale = put_with(
        &app,
        &token,
        &[("if-match", "\"0\"")],
        json!({"currency": "USD"}),
    )
    .await;
    let current = put_with(
        &app,
        &token,
        &[("if-match", "\"1\"")],
        json!({"currency": "USD"}),
    )
    .await;

    assert_eq!(first.status, StatusCode::OK);
    let problem = second.assert_problem(412, "precondition_failed");
    assert_eq!(problem["current_version"], 1);
    assert_eq!(second.header("etag").as_deref(), Some("\"1\""));
    stale.assert_problem(412, "precondition_failed");
    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(current.json()["version"], 2);
}

#[tokio::test]
async fn a_failed_write_leaves_no_audit_event_and_no_consent_record() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let body = json!({"notifications": {"email": {"marketing": true}}});

    app.request(
        Method::PATCH,
        PREFS,
        Some(&token),
        Some(&body),
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", "\"3\""),
        ],
    )
    .await
    .assert_problem(412, "precondition_failed");
    app.put_json(
        PREFS,
        &token,
        &json!({"notifications": {"email": {"marketing": true}}, "currency": "XYZ"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    assert_eq!(
        audit_events(&app, "u1").await.len(),
        1,
        "only profile.created"
    );
    assert!(consents(&app, "u1").await.is_empty());
}

#[tokio::test]
async fn every_change_of_a_marketing_or_newsletter_opt_in_is_kept_as_a_consent_record() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    app.patch_json(
        PREFS,
        &token,
        &json!({"notifications": {"email": {"marketing": true}, "sms": {"newsletter": true}}}),
    )
    .await;
    app.patch_json(
        PREFS,
        &token,
        &json!({"notifications": {"email": {"order_updates": false}}, "currency": "EUR"}),
    )
    .await;
    app.put_json(
        PREFS,
        &token,
        &json!({"notifications": {"sms": {"newsletter": true}}}),
    )
    .await;

    let records = consents(&app, "u1").await;
    let expected: Vec<(String, String, bool)> = [
        ("email", "marketing", true),
        ("sms", "newsletter", true),
        ("email", "marketing", false),
    ]
    .iter()
    .map(|(c, p, g)| (c.to_string(), p.to_string(), *g))
    .collect();
    assert_eq!(records, expected);
}

#[tokio::test]
async fn each_preferences_change_writes_an_audit_event_naming_the_changed_fields() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    app.patch_json(
        PREFS,
        &token,
        &json!({"notifications": {"email": {"marketing": true}},
                "recommendations": {"favorite_categories": ["very-private-interest"]}}),
    )
    .await;

    let events = audit_events(&app, "u1").await;
    let (action, fields) = events.last().unwrap();
    assert_eq!(action, "preferences.updated");
    let fields: Vec<String> = serde_json::from_str(fields).unwrap();
    assert_eq!(
        fields,
        [
            "notifications.email.marketing",
            "recommendations.favorite_categories"
        ]
    );
    assert!(!format!("{events:?}").contains("very-private-interest"));
}

#[tokio::test]
async fn a_suspended_user_can_read_preferences_but_writes_return_403_profile_suspended() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let admin = app.token_with("ops", &["admin"], None);
    app.patch_json(
        "/api/v1/admin/profiles/u1",
        &admin,
        &json!({"status": "suspended"}),
    )
    .await;

    let read = app.get(PREFS, &token).await;
    let put = app
        .put_json(PREFS, &token, &json!({"currency": "EUR"}))
        .await;
    let patch = app
        .patch_json(PREFS, &token, &json!({"currency": "EUR"}))
        .await;

    assert_eq!(read.status, StatusCode::OK);
    put.assert_problem(403, "profile_suspended");
    patch.assert_problem(403, "profile_suspended");
    assert_eq!(app.get(PREFS, &token).await.json()["version"], 0);
}

#[tokio::test]
async fn services_admins_scoped_tokens_and_the_user_read_preferences_by_user_id() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    app.put_json(PREFS, &token, &json!({"currency": "EUR"}))
        .await;
    let path = "/api/v1/users/u1/preferences";

    for reader in [
        app.token_with("order-service", &["service"], None),
        app.token_with("ops", &["admin"], None),
        app.token_with("cart", &[], Some("addresses:read preferences:read")),
        token,
    ] {
        let response = app.get(path, &reader).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("etag").as_deref(), Some("\"1\""));
        assert_eq!(response.json()["currency"], "EUR");
    }
}

#[tokio::test]
async fn reading_another_users_preferences_without_a_role_or_scope_returns_403() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "a@example.com").await;
    for token in [
        app.token("u2"),
        app.token_with("cart", &[], Some("addresses:read")),
    ] {
        app.get("/api/v1/users/u1/preferences", &token)
            .await
            .assert_problem(403, "forbidden");
    }
}

#[tokio::test]
async fn service_reads_return_defaults_for_a_profile_without_preferences_and_404_for_no_profile() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "a@example.com").await;
    let service = app.token_with("notifier", &["service"], None);

    let defaults_response = app.get("/api/v1/users/u1/preferences", &service).await;
    let missing = app.get("/api/v1/users/ghost/preferences", &service).await;

    assert_eq!(defaults_response.json(), defaults());
    missing.assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn writes_with_a_malformed_or_weak_if_match_return_412_with_version_0_and_store_nothing() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let body = json!({"notifications": {"email": {"marketing": true}}});

    for value in ["0", "garbage", "", "W/\"0\"", "\"0\", W/\"1\""] {
        let put = put_with(&app, &token, &[("if-match", value)], body.clone()).await;
        let patch = app
            .request(
                Method::PATCH,
                PREFS,
                Some(&token),
                Some(&body),
                &[
                    ("if-match", value),
                    ("content-type", "application/merge-patch+json"),
                ],
            )
            .await;

        for response in [put, patch] {
            let problem = response.assert_problem(412, "precondition_failed");
            assert_eq!(problem["current_version"], 0, "If-Match: {value:?}");
            assert_eq!(response.header("etag").as_deref(), Some("\"0\""));
        }
    }
    let malformed_none_match = put_with(&app, &token, &[("if-none-match", "garbage")], body).await;

    malformed_none_match.assert_problem(412, "precondition_failed");
    assert_eq!(app.get(PREFS, &token).await.json()["version"], 0);
    assert!(consents(&app, "u1").await.is_empty());
}
