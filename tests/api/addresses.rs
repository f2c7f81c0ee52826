//! `/api/v1/profiles/me/addresses`.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

const ADDRESSES: &str = "/api/v1/profiles/me/addresses";

fn home() -> Value {
    json!({
        "label": "Home",
        "recipient_name": "Ada Lovelace",
        "company": "Analytical Engines Ltd",
        "line1": "12 St James's Square",
        "line2": "Flat 3",
        "city": "London",
        "region": "Greater London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
        "phone": "+442079460000"
    })
}

fn office() -> Value {
    json!({
        "label": "Office",
        "recipient_name": "Ada Lovelace",
        "line1": "Unter den Linden 1",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE"
    })
}

fn at(id: &Value) -> String {
    format!("{ADDRESSES}/{}", id.as_str().unwrap())
}

/// Adds an address and returns its body.
async fn add(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = app.post_json(ADDRESSES, token, body).await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

fn fields_of(problem: &Value) -> Vec<String> {
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

async fn live_defaults(app: &TestApp, user_id: &str) -> (i64, i64) {
    let shipping = app
        .count(
            "SELECT COUNT(*) FROM addresses WHERE user_id = $1 AND deleted_at IS NULL AND is_default_shipping",
            user_id,
        )
        .await;
    let billing = app
        .count(
            "SELECT COUNT(*) FROM addresses WHERE user_id = $1 AND deleted_at IS NULL AND is_default_billing",
            user_id,
        )
        .await;
    (shipping, billing)
}

async fn suspend(app: &TestApp, user_id: &str) {
    let mut tx = app.db.begin().await.unwrap();
    user_profile_service::db::profiles::set_status(
        &mut tx,
        user_id,
        "suspended",
        user_profile_service::clock::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn request_with(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> TestResponse {
    app.request(method, path, Some(token), body, headers).await
}

#[tokio::test]
async fn addresses_need_a_profile_first() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");

    app.get(ADDRESSES, &token)
        .await
        .assert_problem(404, "profile_not_found");
    app.post_json(ADDRESSES, &token, &home())
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn post_address_creates_it_with_201_location_and_etag_then_get_returns_it() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let created = app.post_json(ADDRESSES, &token, &home()).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    let body = created.json();
    let location = at(&body["id"]);
    assert_eq!(created.header("location"), Some(location.clone()));
    assert_eq!(body["recipient_name"], "Ada Lovelace");
    assert_eq!(body["postal_code"], "SW1Y 4JH");
    assert_eq!(body["revision"], 1);
    assert_eq!(body["created_at"], body["updated_at"]);
    assert!(body.get("deleted_at").is_none());
    let fetched = app.get(&location, &token).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(fetched.json(), body);
}

#[tokio::test]
async fn the_first_address_becomes_the_default_for_shipping_and_billing_and_the_next_does_not() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let first = add(&app, &token, &home()).await;
    let second = add(&app, &token, &office()).await;

    assert_eq!(first["is_default_shipping"], true);
    assert_eq!(first["is_default_billing"], true);
    assert_eq!(second["is_default_shipping"], false);
    assert_eq!(second["is_default_billing"], false);
    let first_now = app.get(&at(&first["id"]), &token).await.json();
    assert_eq!(
        first_now["revision"], 1,
        "the first address was not touched"
    );
}

#[tokio::test]
async fn post_address_returns_422_naming_every_bad_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let bad = json!({
        "label": "",
        "recipient_name": "   ",
        "line1": "1 Main St\nInjected line",
        "city": "x".repeat(101),
        "postal_code": "12345",
        "country": "UK",
        "phone": "020 7946 0000"
    });

    let problem = app
        .post_json(ADDRESSES, &token, &bad)
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(
        fields_of(&problem),
        [
            "city",
            "country",
            "label",
            "line1",
            "phone",
            "recipient_name"
        ]
    );
    assert_eq!(app.get(ADDRESSES, &token).await.json()["items"], json!([]));
}

#[tokio::test]
async fn post_address_requires_recipient_line1_city_postal_code_and_country() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let problem = app
        .post_json(ADDRESSES, &token, &json!({"label": "Home"}))
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(
        fields_of(&problem),
        ["city", "country", "line1", "postal_code", "recipient_name"]
    );
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["code"] == "required")
    );
}

#[tokio::test]
async fn a_postal_code_that_does_not_fit_the_country_is_422_on_postal_code() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let mut body = home();
    body["postal_code"] = json!("10117");

    let problem = app
        .post_json(ADDRESSES, &token, &body)
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(fields_of(&problem), ["postal_code"]);
    assert_eq!(problem["errors"][0]["code"], "invalid_format");
    body["country"] = json!("DE");
    add(&app, &token, &body).await;
}

#[tokio::test]
async fn post_address_rejects_unknown_and_read_only_fields_with_422() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    for field in ["nickname", "id", "revision", "created_at", "deleted_at"] {
        let mut body = home();
        body[field] = json!("x");
        let problem = app
            .post_json(ADDRESSES, &token, &body)
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field);
        assert_eq!(problem["errors"][0]["code"], "unknown_field");
    }
}

#[tokio::test]
async fn the_list_is_keyset_paginated_oldest_first() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let mut created = Vec::new();
    for i in 0..5 {
        let mut body = office();
        body["label"] = json!(format!("Address {i}"));
        created.push(add(&app, &token, &body).await["id"].clone());
    }

    let mut seen = Vec::new();
    let mut path = format!("{ADDRESSES}?limit=2");
    let mut pages = 0;
    loop {
        let page = app.get(&path, &token).await;
        assert_eq!(page.status, StatusCode::OK);
        let page = page.json();
        pages += 1;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("{ADDRESSES}?limit=2&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(pages, 3);
    assert_eq!(seen, created);
    let all = app.get(ADDRESSES, &token).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    assert_eq!(all["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage!", "cursor"),
    ] {
        let problem = app
            .get(&format!("{ADDRESSES}?{query}"), &token)
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn making_another_address_default_clears_the_old_one_with_a_new_revision() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let first = add(&app, &token, &home()).await;
    let mut body = office();
    body["is_default_shipping"] = json!(true);

    let second = add(&app, &token, &body).await;

    assert_eq!(second["is_default_shipping"], true);
    assert_eq!(second["is_default_billing"], false);
    let first_now = app.get(&at(&first["id"]), &token).await.json();
    assert_eq!(first_now["is_default_shipping"], false);
    assert_eq!(first_now["is_default_billing"], true);
    assert_eq!(first_now["revision"], 2);
    assert_eq!(live_defaults(&app, "u1").await, (1, 1));

    let patched = app
        .patch_json(
            &at(&first["id"]),
            &token,
            &json!({"is_default_shipping": true}),
        )
        .await;

    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.json()["revision"], 3);
    let second_now = app.get(&at(&second["id"]), &token).await.json();
    assert_eq!(second_now["is_default_shipping"], false);
    assert_eq!(second_now["revision"], 2);
    assert_eq!(live_defaults(&app, "u1").await, (1, 1));
}

#[tokio::test]
async fn false_on_the_default_address_is_422_because_a_user_with_addresses_always_has_one() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let mut first = home();
    first["is_default_billing"] = json!(false);
    let problem = app
        .post_json(ADDRESSES, &token, &first)
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(fields_of(&problem), ["is_default_billing"]);
    let default = add(&app, &token, &home()).await;

    let problem = app
        .patch_json(
            &at(&default["id"]),
            &token,
            &json!({"is_default_shipping": false}),
        )
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(fields_of(&problem), ["is_default_shipping"]);
    let mut other = office();
    other["is_default_shipping"] = json!(false);
    let other = add(&app, &token, &other).await;
    assert_eq!(other["is_default_shipping"], false);
}

#[tokio::test]
async fn put_address_replaces_fields_clears_omitted_optional_ones_and_keeps_the_defaults() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;

    let replaced = app.put_json(&at(&address["id"]), &token, &office()).await;

    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.header("etag").as_deref(), Some("\"2\""));
    let body = replaced.json();
    assert_eq!(body["city"], "Berlin");
    assert_eq!(body["company"], Value::Null);
    assert_eq!(body["phone"], Value::Null);
    assert_eq!(body["is_default_shipping"], true);
    assert_eq!(body["revision"], 2);
    assert_eq!(body["created_at"], address["created_at"]);
}

#[tokio::test]
async fn patch_address_merges_fields_and_null_clears_an_optional_one() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;

    let response = app
        .patch_json(
            &at(&address["id"]),
            &token,
            &json!({"line2": null, "label": "Old home"}),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    let body = response.json();
    assert_eq!(body["line2"], Value::Null);
    assert_eq!(body["label"], "Old home");
    assert_eq!(body["line1"], "12 St James's Square");
    assert_eq!(body["revision"], 2);
    assert_eq!(response.header("etag").as_deref(), Some("\"2\""));
}

#[tokio::test]
async fn patch_address_clearing_a_required_field_or_breaking_the_postal_code_is_422() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;

    let problem = app
        .patch_json(
            &at(&address["id"]),
            &token,
            &json!({"city": null, "country": "DE"}),
        )
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(fields_of(&problem), ["city", "postal_code"]);
    let current = app.get(&at(&address["id"]), &token).await.json();
    assert_eq!(current["revision"], 1);
}

#[tokio::test]
async fn a_write_that_changes_nothing_keeps_the_revision() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;
    let mut same = home();
    same["is_default_shipping"] = json!(true);

    let put = app.put_json(&at(&address["id"]), &token, &same).await;
    let patch = app
        .patch_json(&at(&address["id"]), &token, &json!({"city": "London"}))
        .await;

    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.json()["revision"], 1);
    assert_eq!(patch.json()["revision"], 1);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM address_revisions WHERE user_id = $1",
            "u1"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn writes_with_a_stale_if_match_return_412_with_the_current_revision() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;
    let path = at(&address["id"]);
    app.patch_json(&path, &token, &json!({"label": "v2"})).await;
    let stale = [("if-match", "\"1\"")];

    let put = request_with(&app, Method::PUT, &path, &token, Some(&office()), &stale).await;
    let patch = request_with(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(&json!({"label": "late"})),
        &stale,
    )
    .await;
    let delete = request_with(&app, Method::DELETE, &path, &token, None, &stale).await;

    for response in [put, patch, delete] {
        let problem = response.assert_problem(412, "precondition_failed");
        assert_eq!(problem["current_version"], 2);
        assert_eq!(response.header("etag").as_deref(), Some("\"2\""));
    }
    let current = app.get(&path, &token).await.json();
    assert_eq!(current["label"], "v2");
    let fresh = [("if-match", "\"2\"")];
    let ok = request_with(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(&json!({"label": "v3"})),
        &fresh,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn get_address_with_a_matching_if_none_match_returns_304() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;
    let path = at(&address["id"]);

    let current = request_with(
        &app,
        Method::GET,
        &path,
        &token,
        None,
        &[("if-none-match", "\"1\"")],
    )
    .await;
    let stale = request_with(
        &app,
        Method::GET,
        &path,
        &token,
        None,
        &[("if-none-match", "\"0\"")],
    )
    .await;

    assert_eq!(current.status, StatusCode::NOT_MODIFIED);
    assert!(current.body.is_empty());
    assert_eq!(current.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(stale.status, StatusCode::OK);
}

#[tokio::test]
async fn delete_address_answers_204_and_hides_it_from_the_shopper() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;
    let path = at(&address["id"]);

    let response = app.delete(&path, &token).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.body.is_empty());
    app.get(&path, &token)
        .await
        .assert_problem(404, "address_not_found");
    assert_eq!(app.get(ADDRESSES, &token).await.json()["items"], json!([]));
    app.delete(&path, &token)
        .await
        .assert_problem(404, "address_not_found");
    app.patch_json(&path, &token, &json!({"label": "x"}))
        .await
        .assert_problem(404, "address_not_found");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM address_revisions WHERE user_id = $1",
            "u1"
        )
        .await,
        2,
        "its revisions stay, the last one marking the deletion"
    );
}

#[tokio::test]
async fn deleting_the_default_passes_it_to_the_most_recently_created_remaining_address() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let default = add(&app, &token, &home()).await;
    let older = add(&app, &token, &office()).await;
    let newer = add(&app, &token, &office()).await;

    app.delete(&at(&default["id"]), &token).await;

    let newer_now = app.get(&at(&newer["id"]), &token).await.json();
    assert_eq!(newer_now["is_default_shipping"], true);
    assert_eq!(newer_now["is_default_billing"], true);
    assert_eq!(newer_now["revision"], 2);
    let older_now = app.get(&at(&older["id"]), &token).await.json();
    assert_eq!(older_now["is_default_shipping"], false);
    assert_eq!(older_now["revision"], 1);
    assert_eq!(live_defaults(&app, "u1").await, (1, 1));
}

#[tokio::test]
async fn deleting_the_last_address_leaves_no_default_and_the_next_one_becomes_it() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let only = add(&app, &token, &home()).await;

    app.delete(&at(&only["id"]), &token).await;

    assert_eq!(live_defaults(&app, "u1").await, (0, 0));
    let next = add(&app, &token, &office()).await;
    assert_eq!(next["is_default_shipping"], true);
    assert_eq!(next["is_default_billing"], true);
}

#[tokio::test]
async fn an_unknown_foreign_or_malformed_address_id_is_404_address_not_found() {
    let app = TestApp::spawn().await;
    let owner = app.create_profile("owner", "o@example.com").await;
    let other = app.create_profile("other", "x@example.com").await;
    let foreign = at(&add(&app, &owner, &home()).await["id"]);
    let unknown = format!("{ADDRESSES}/{}", uuid::Uuid::now_v7());
    let malformed = format!("{ADDRESSES}/not-a-uuid");

    for path in [&foreign, &unknown, &malformed] {
        app.get(path, &other)
            .await
            .assert_problem(404, "address_not_found");
        app.put_json(path, &other, &office())
            .await
            .assert_problem(404, "address_not_found");
        app.patch_json(path, &other, &json!({"label": "mine"}))
            .await
            .assert_problem(404, "address_not_found");
        app.delete(path, &other)
            .await
            .assert_problem(404, "address_not_found");
    }
    assert_eq!(app.get(&foreign, &owner).await.json()["revision"], 1);
}

#[tokio::test]
async fn an_unauthenticated_request_gets_401_before_anything_else() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, format!("{ADDRESSES}/not-a-uuid")),
        (Method::PATCH, format!("{ADDRESSES}/not-a-uuid")),
        (Method::POST, ADDRESSES.to_string()),
        (Method::GET, format!("{ADDRESSES}?limit=0")),
    ] {
        app.request(method, &path, None, Some(&json!({"x": 1})), &[])
            .await
            .assert_problem(401, "unauthorized");
    }
}

#[tokio::test]
async fn a_suspended_user_can_read_addresses_but_every_write_is_403_profile_suspended() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;
    let path = at(&address["id"]);
    suspend(&app, "u1").await;

    assert_eq!(app.get(&path, &token).await.status, StatusCode::OK);
    assert_eq!(app.get(ADDRESSES, &token).await.status, StatusCode::OK);
    app.post_json(ADDRESSES, &token, &office())
        .await
        .assert_problem(403, "profile_suspended");
    app.put_json(&path, &token, &office())
        .await
        .assert_problem(403, "profile_suspended");
    app.patch_json(&path, &token, &json!({"label": "x"}))
        .await
        .assert_problem(403, "profile_suspended");
    app.delete(&path, &token)
        .await
        .assert_problem(403, "profile_suspended");
    assert_eq!(app.get(&path, &token).await.json()["revision"], 1);
}

#[tokio::test]
async fn the_51st_address_is_409_address_limit_reached_until_one_is_deleted() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let mut last = Value::Null;
    for _ in 0..50 {
        last = add(&app, &token, &office()).await;
    }

    app.post_json(ADDRESSES, &token, &office())
        .await
        .assert_problem(409, "address_limit_reached");

    app.delete(&at(&last["id"]), &token).await;
    add(&app, &token, &office()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_posts_never_pass_the_limit_of_50_and_leave_one_default_of_each_kind() {
    let app = Arc::new(TestApp::spawn().await);
    let token = app.create_profile("u1", "a@example.com").await;

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let (app, token) = (app.clone(), token.clone());
        tasks.spawn(async move { app.post_json(ADDRESSES, &token, &office()).await.status });
    }
    let statuses = tasks.join_all().await;

    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, refused), (50, 10), "{statuses:?}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM addresses WHERE user_id = $1 AND deleted_at IS NULL",
            "u1"
        )
        .await,
        50
    );
    assert_eq!(live_defaults(&app, "u1").await, (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_make_default_requests_leave_exactly_one_default_of_each_kind() {
    let app = Arc::new(TestApp::spawn().await);
    let token = app.create_profile("u1", "a@example.com").await;
    let mut paths = Vec::new();
    for _ in 0..8 {
        paths.push(at(&add(&app, &token, &office()).await["id"]));
    }

    let mut tasks = tokio::task::JoinSet::new();
    for path in paths.clone() {
        let (app, token) = (app.clone(), token.clone());
        tasks.spawn(async move {
            app.patch_json(
                &path,
                &token,
                &json!({"is_default_shipping": true, "is_default_billing": true}),
            )
            .await
            .status
        });
    }
    let statuses = tasks.join_all().await;

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(live_defaults(&app, "u1").await, (1, 1));
    // Every address's current state is also its latest revision.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM addresses a JOIN address_revisions r ON r.address_id = a.id \
             AND r.revision = a.revision AND r.is_default_shipping = a.is_default_shipping \
             AND r.is_default_billing = a.is_default_billing WHERE a.user_id = $1",
            "u1"
        )
        .await,
        8
    );
}

#[tokio::test]
async fn every_change_writes_a_new_revision_numbered_one_up() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;
    let path = at(&address["id"]);

    app.patch_json(&path, &token, &json!({"label": "A"})).await;
    app.put_json(&path, &token, &office()).await;
    app.delete(&path, &token).await;

    let revisions: Vec<i64> = user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_scalar(
            "SELECT revision FROM address_revisions WHERE user_id = $1 ORDER BY revision",
        )
        .bind("u1")
        .fetch_all(c)
        .await
        .unwrap()
    });
    assert_eq!(revisions, [1, 2, 3, 4]);
}

#[tokio::test]
async fn stored_revisions_cannot_be_changed() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    add(&app, &token, &home()).await;

    let result = user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query("UPDATE address_revisions SET city = 'Elsewhere' WHERE user_id = $1")
            .bind("u1")
            .execute(c)
            .await
            .map(|_| ())
    });

    assert!(result.is_err());
}

#[tokio::test]
async fn every_address_change_writes_an_audit_event_with_field_names_only() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let first = add(&app, &token, &home()).await;
    let mut second = office();
    second["is_default_billing"] = json!(true);
    let second = add(&app, &token, &second).await;
    app.patch_json(&at(&first["id"]), &token, &json!({"phone": "+14155552671"}))
        .await;
    app.delete(&at(&second["id"]), &token).await;

    let rows: Vec<(String, String)> = user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_as(
            "SELECT action, CAST(changed_fields AS TEXT) FROM audit_events \
             WHERE target_user_id = $1 AND action LIKE 'address.%' ORDER BY id",
        )
        .bind("u1")
        .fetch_all(c)
        .await
        .unwrap()
    });
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "address.created",
            "address.updated", // the first address loses the billing default
            "address.created",
            "address.updated", // the phone
            "address.deleted",
            "address.updated", // the first address gets the billing default back
        ]
    );
    assert!(rows[0].1.contains("recipient_name") && rows[0].1.contains("is_default_shipping"));
    assert!(rows[1].1.contains("is_default_billing") && !rows[1].1.contains("is_default_shipping"));
    assert!(rows[3].1.contains("phone"));
    let all = format!("{rows:?}");
    for value in ["Lovelace", "St James", "SW1Y", "+14155552671", "Berlin"] {
        assert!(!all.contains(value), "{all}");
    }
}

#[tokio::test]
async fn erasing_the_profile_removes_its_addresses_and_revisions() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;
    app.patch_json(&at(&address["id"]), &token, &json!({"label": "A"}))
        .await;
    let deleted = add(&app, &token, &office()).await;
    app.delete(&at(&deleted["id"]), &token).await;
    let kept = app.create_profile("u2", "b@example.com").await;
    add(&app, &kept, &home()).await;

    let response = app.delete("/api/v1/profiles/me", &token).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    for sql in [
        "SELECT COUNT(*) FROM addresses WHERE user_id = $1",
        "SELECT COUNT(*) FROM address_revisions WHERE user_id = $1",
    ] {
        assert_eq!(app.count(sql, "u1").await, 0, "{sql}");
        assert_eq!(app.count(sql, "u2").await, 1, "{sql}");
    }
}

#[tokio::test]
async fn writes_with_a_malformed_or_weak_if_match_return_412_and_write_no_revision() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let address = add(&app, &token, &home()).await;
    let path = at(&address["id"]);

    for value in ["1", "garbage", "", "W/\"1\"", "\"1\", W/\"1\"", "\"1\" x"] {
        let headers = [("if-match", value)];
        let put = request_with(&app, Method::PUT, &path, &token, Some(&office()), &headers).await;
        let patch = request_with(
            &app,
            Method::PATCH,
            &path,
            &token,
            Some(&json!({"label": "late"})),
            &headers,
        )
        .await;
        let delete = request_with(&app, Method::DELETE, &path, &token, None, &headers).await;

        for response in [put, patch, delete] {
            let problem = response.assert_problem(412, "precondition_failed");
            assert_eq!(problem["current_version"], 1, "If-Match: {value:?}");
            assert_eq!(response.header("etag").as_deref(), Some("\"1\""));
        }
    }
    let current = app.get(&path, &token).await.json();
    assert_eq!(
        (current["label"].clone(), current["revision"].clone()),
        (json!("Home"), json!(1))
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM address_revisions WHERE user_id = $1",
            "u1"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn creating_an_address_with_an_if_match_returns_412_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    for headers in [
        [("if-match", "\"1\"")],
        [("if-match", "*")],
        [("if-match", "garbage")],
        [("if-none-match", "garbage")],
    ] {
        let response = request_with(
            &app,
            Method::POST,
            ADDRESSES,
            &token,
            Some(&home()),
            &headers,
        )
        .await;
        let problem = response.assert_problem(412, "precondition_failed");
        assert!(problem.get("current_version").is_none(), "{problem}");
    }
    let created = request_with(
        &app,
        Method::POST,
        ADDRESSES,
        &token,
        Some(&home()),
        &[("if-none-match", "*")],
    )
    .await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM addresses WHERE user_id = $1", "u1")
            .await,
        1
    );
}
