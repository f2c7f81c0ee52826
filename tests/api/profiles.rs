//! `/api/v1/profiles/me`.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

const ME: &str = "/api/v1/profiles/me";

fn full_profile() -> serde_json::Value {
    json!({
        "email": "ada@example.com",
        "display_name": "Ada",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+442079460000",
        "date_of_birth": "1990-12-10",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "avatar_url": "https://cdn.example.com/a.png"
    })
}

#[tokio::test]
async fn get_profile_returns_404_profile_not_found_before_one_is_created() {
    let app = TestApp::spawn().await;
    app.get(ME, &app.token("u1"))
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn put_profile_creates_it_with_201_location_and_etag_then_get_returns_it() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");

    let created = app.put_json(ME, &token, &full_profile()).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("location").as_deref(), Some(ME));
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    let body = created.json();
    assert_eq!(body["user_id"], "u1");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["date_of_birth"], "1990-12-10");
    assert_eq!(body["status"], "active");
    assert_eq!(body["version"], 1);
    let fetched = app.get(ME, &token).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json(), body);
    assert_eq!(fetched.header("etag").as_deref(), Some("\"1\""));
}

#[tokio::test]
async fn put_profile_replaces_an_existing_one_with_200_and_clears_omitted_fields() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    app.put_json(ME, &token, &full_profile()).await;

    let replaced = app
        .put_json(
            ME,
            &token,
            &json!({"email": "ada@example.com", "display_name": "Countess"}),
        )
        .await;

    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.header("etag").as_deref(), Some("\"2\""));
    let body = replaced.json();
    assert_eq!(body["display_name"], "Countess");
    assert_eq!(body["phone"], serde_json::Value::Null);
    assert_eq!(body["version"], 2);
}

#[tokio::test]
async fn put_profile_with_nothing_changed_keeps_the_version() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    app.put_json(ME, &token, &full_profile()).await;
    let again = app.put_json(ME, &token, &full_profile()).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["version"], 1);
}

#[tokio::test]
async fn put_profile_returns_422_naming_every_bad_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    let bad = json!({
        "email": "nope",
        "display_name": "",
        "phone": "12345",
        "date_of_birth": "2999-01-01",
        "locale": "en_GB",
        "timezone": "Nowhere/City",
        "avatar_url": "http://example.com/a.png"
    });

    let response = app.put_json(ME, &token, &bad).await;

    let problem = response.assert_problem(422, "validation_failed");
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    fields.dedup();
    assert_eq!(
        fields,
        [
            "avatar_url",
            "date_of_birth",
            "display_name",
            "email",
            "locale",
            "phone",
            "timezone"
        ]
    );
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn put_profile_requires_email_and_display_name() {
    let app = TestApp::spawn().await;
    let problem = app
        .put_json(ME, &app.token("u1"), &json!({}))
        .await
        .assert_problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["display_name", "email"]);
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["code"] == "required")
    );
}

#[tokio::test]
async fn put_profile_rejects_unknown_and_read_only_fields_with_422() {
    let app = TestApp::spawn().await;
    for field in ["nickname", "status", "version", "user_id"] {
        let mut body = full_profile();
        body[field] = json!("x");
        let problem = app
            .put_json(ME, &app.token("u1"), &body)
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field);
        assert_eq!(problem["errors"][0]["code"], "unknown_field");
    }
}

#[tokio::test]
async fn put_profile_returns_409_email_taken_when_another_user_has_the_email_in_any_case() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "shared@example.com").await;

    let response = app
        .put_json(
            ME,
            &app.token("u2"),
            &json!({"email": "SHARED@Example.com", "display_name": "B"}),
        )
        .await;

    response.assert_problem(409, "email_taken");
    app.get(ME, &app.token("u2"))
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn concurrent_creates_with_one_email_give_one_201_and_one_409() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "race@example.com", "display_name": "R"});
    let (t1, t2) = (app.token("r1"), app.token("r2"));

    let (a, b) = tokio::join!(app.put_json(ME, &t1, &body), app.put_json(ME, &t2, &body));

    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM profiles WHERE email_normalized = $1",
            "race@example.com"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn put_profile_with_if_none_match_star_creates_once_then_returns_412() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    let headers = [("if-none-match", "*")];
    let first = app
        .request(
            Method::PUT,
            ME,
            Some(&token),
            Some(&full_profile()),
            &headers,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);

    let second = app
        .request(
            Method::PUT,
            ME,
            Some(&token),
            Some(&full_profile()),
            &headers,
        )
        .await;

    let problem = second.assert_problem(412, "precondition_failed");
    assert_eq!(problem["current_version"], 1);
    assert_eq!(second.header("etag").as_deref(), Some("\"1\""));
}

#[tokio::test]
async fn get_profile_with_matching_if_none_match_returns_304() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

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
    assert!(response.body.is_empty());
    assert_eq!(response.header("etag").as_deref(), Some("\"1\""));

    let stale = app
        .request(
            Method::GET,
            ME,
            Some(&token),
            None,
            &[("if-none-match", "\"0\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::OK);
}

#[tokio::test]
async fn patch_profile_merges_fields_and_null_clears_an_optional_one() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    app.put_json(ME, &token, &full_profile()).await;

    let response = app
        .patch_json(
            ME,
            &token,
            &json!({"display_name": "Ada L.", "phone": null}),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    let body = response.json();
    assert_eq!(body["display_name"], "Ada L.");
    assert_eq!(body["phone"], serde_json::Value::Null);
    assert_eq!(body["last_name"], "Lovelace");
    assert_eq!(body["version"], 2);
    assert_eq!(response.header("etag").as_deref(), Some("\"2\""));
}

#[tokio::test]
async fn patch_profile_accepts_application_json_too() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let response = app
        .request(
            Method::PATCH,
            ME,
            Some(&token),
            Some(&json!({"locale": "de-DE"})),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["locale"], "de-DE");
}

#[tokio::test]
async fn patch_profile_clearing_a_required_field_is_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let problem = app
        .patch_json(ME, &token, &json!({"email": null}))
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(problem["errors"][0]["field"], "email");
    let current = app.get(ME, &token).await.json();
    assert_eq!(current["email"], "a@example.com");
    assert_eq!(current["version"], 1);
}

#[tokio::test]
async fn patch_profile_with_stale_if_match_returns_412_with_the_current_version() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    app.patch_json(ME, &token, &json!({"display_name": "v2"}))
        .await;

    let response = app
        .request(
            Method::PATCH,
            ME,
            Some(&token),
            Some(&json!({"display_name": "late"})),
            &[
                ("content-type", "application/merge-patch+json"),
                ("if-match", "\"1\""),
            ],
        )
        .await;

    let problem = response.assert_problem(412, "precondition_failed");
    assert_eq!(problem["current_version"], 2);
    assert_eq!(response.header("etag").as_deref(), Some("\"2\""));
    assert_eq!(app.get(ME, &token).await.json()["display_name"], "v2");
}

#[tokio::test]
async fn patch_profile_with_matching_if_match_applies() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let response = app
        .request(
            Method::PATCH,
            ME,
            Some(&token),
            Some(&json!({"display_name": "ok"})),
            &[
                ("content-type", "application/merge-patch+json"),
                ("if-match", "\"1\""),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn patch_profile_returns_404_when_there_is_no_profile() {
    let app = TestApp::spawn().await;
    app.patch_json(ME, &app.token("u1"), &json!({"display_name": "x"}))
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn patch_profile_to_an_email_of_another_user_returns_409() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "one@example.com").await;
    let token = app.create_profile("u2", "two@example.com").await;
    app.patch_json(ME, &token, &json!({"email": "ONE@example.com"}))
        .await
        .assert_problem(409, "email_taken");
}

#[tokio::test]
async fn delete_profile_answers_204_and_frees_the_email_at_once() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let response = app.delete(ME, &token).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.body.is_empty());
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
    app.create_profile("u2", "a@example.com").await;
    app.delete(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn delete_profile_with_stale_if_match_returns_412_and_keeps_it() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    app.request(
        Method::DELETE,
        ME,
        Some(&token),
        None,
        &[("if-match", "\"7\"")],
    )
    .await
    .assert_problem(412, "precondition_failed");
    assert_eq!(app.get(ME, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn every_profile_change_writes_an_audit_event_with_field_names_only() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "secret-address@example.com").await;
    app.patch_json(ME, &token, &json!({"phone": "+14155552671"}))
        .await;
    app.delete(ME, &token).await;

    let rows: Vec<(String, String, String)> = user_profile_service::with_pool!(
        app.db.reader(),
        |c| {
            sqlx::query_as(
            "SELECT action, actor_id, CAST(changed_fields AS TEXT) FROM audit_events WHERE target_user_id = $1 ORDER BY id",
        )
        .bind("u1")
        .fetch_all(c)
        .await
        .unwrap()
        }
    );
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        ["profile.created", "profile.updated", "profile.deleted"]
    );
    assert!(rows[1].2.contains("phone"));
    let all = format!("{rows:?}");
    assert!(
        !all.contains("secret-address") && !all.contains("+14155552671"),
        "{all}"
    );
}

#[tokio::test]
async fn a_failed_write_leaves_no_audit_event() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    app.request(
        Method::DELETE,
        ME,
        Some(&token),
        None,
        &[("if-match", "\"9\"")],
    )
    .await;
    app.patch_json(ME, &token, &json!({"email": "bad"})).await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE target_user_id = $1",
            "u1"
        )
        .await,
        1
    );
}

/// `If-Match` values that are not `*` or a list of strong entity tags, or that only look like the version.
const MALFORMED_IF_MATCH: [&str; 9] = [
    "1",
    "9",
    "garbage",
    "",
    "W/\"1\"",
    "\"1\", W/\"2\"",
    "\"1\", garbage",
    "\"1",
    "*, \"1\"",
];

#[tokio::test]
async fn writes_with_a_malformed_or_weak_if_match_return_412_and_write_nothing() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    for value in MALFORMED_IF_MATCH {
        let headers = [("if-match", value)];
        let put = app
            .request(
                Method::PUT,
                ME,
                Some(&token),
                Some(&full_profile()),
                &headers,
            )
            .await;
        let patch = app
            .request(
                Method::PATCH,
                ME,
                Some(&token),
                Some(&json!({"display_name": "changed"})),
                &[
                    ("if-match", value),
                    ("content-type", "application/merge-patch+json"),
                ],
            )
            .await;
        let delete = app
            .request(Method::DELETE, ME, Some(&token), None, &headers)
            .await;

        for response in [put, patch, delete] {
            let problem = response.assert_problem(412, "precondition_failed");
            assert_eq!(problem["current_version"], 1, "If-Match: {value:?}");
            assert_eq!(response.header("etag").as_deref(), Some("\"1\""));
        }
    }
    let profile = app.get(ME, &token).await.json();
    assert_eq!(
        (profile["version"].clone(), profile["display_name"].clone()),
        (json!(1), json!("u1"))
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
async fn if_match_holds_for_star_or_a_list_holding_the_exact_strong_tag() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let patch = |value: &'static str, name: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.request(
                Method::PATCH,
                ME,
                Some(&token),
                Some(&json!({"display_name": name})),
                &[
                    ("if-match", value),
                    ("content-type", "application/merge-patch+json"),
                ],
            )
            .await
        }
    };

    let listed = patch("\"7\", \"1\"", "second").await;
    let star = patch("*", "third").await;
    let padded = patch("\"03\"", "never").await;

    assert_eq!(listed.json()["version"], 2);
    assert_eq!(star.json()["version"], 3);
    assert_eq!(
        padded.assert_problem(412, "precondition_failed")["current_version"],
        3
    );
}

#[tokio::test]
async fn put_profile_with_a_malformed_if_match_and_no_profile_returns_412_without_current_version()
{
    let app = TestApp::spawn().await;
    let token = app.token("u1");

    for value in ["garbage", "*", "\"1\""] {
        let response = app
            .request(
                Method::PUT,
                ME,
                Some(&token),
                Some(&full_profile()),
                &[("if-match", value)],
            )
            .await;
        let problem = response.assert_problem(412, "precondition_failed");
        assert!(problem.get("current_version").is_none(), "{problem}");
        assert_eq!(response.header("etag"), None);
    }
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn put_profile_with_a_malformed_if_none_match_returns_412_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");

    for value in ["garbage", "", "1", "**"] {
        let response = app
            .request(
                Method::PUT,
                ME,
                Some(&token),
                Some(&full_profile()),
                &[("if-none-match", value)],
            )
            .await;
        response.assert_problem(412, "precondition_failed");
    }
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn get_profile_compares_if_none_match_weakly_and_ignores_a_malformed_one() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let get = |value: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.request(
                Method::GET,
                ME,
                Some(&token),
                None,
                &[("if-none-match", value)],
            )
            .await
            .status
        }
    };

    assert_eq!(get("W/\"1\"").await, StatusCode::NOT_MODIFIED);
    assert_eq!(get("\"0\", \"1\"").await, StatusCode::NOT_MODIFIED);
    assert_eq!(get("garbage").await, StatusCode::OK);
    assert_eq!(get("1").await, StatusCode::OK);
}

/// A `PATCH` reads the profile before its transaction and writes only if no other write came in between; when
/// one did, it is applied again to the newer profile. Twenty patches of one profile at once, each changing its
/// own field value, without `If-Match`: every one is answered 200 and counted, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_one_profile_are_each_applied_once() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let token = app.create_profile("p1", "p1@example.com").await;

    let mut patches = tokio::task::JoinSet::new();
    for n in 0..20 {
        let (app, token) = (app.clone(), token.clone());
        patches.spawn(async move {
            app.patch_json(ME, &token, &json!({"display_name": format!("Name {n}")}))
                .await
                .status
        });
    }
    let statuses = patches.join_all().await;

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let profile = app.get(ME, &token).await.json();
    assert_eq!(profile["version"], 21, "{profile}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE target_user_id = $1 AND action = 'profile.updated'",
            "p1"
        )
        .await,
        20
    );
}
