//! What an erasure leaves behind: a receipt (`Erasure-Receipt`, `GET /api/v1/admin/erasures`) and 410 answers to
//! services that read the erased user or a pinned address of theirs, instead of a 404 that means "never existed".

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

const ME: &str = "/api/v1/profiles/me";
const MINE: &str = "/api/v1/profiles/me/addresses";
const ERASURES: &str = "/api/v1/admin/erasures";

fn address(label: &str) -> Value {
    json!({
        "label": label, "recipient_name": "Grace Hopper", "line1": "1 Navy Way", "city": "Arlington",
        "region": "VA", "postal_code": "22202", "country": "US"
    })
}

fn admin(app: &TestApp) -> String {
    app.token_with("ops", &["admin"], None)
}

fn orders(app: &TestApp) -> String {
    app.token_with("orders", &["service"], None)
}

/// Creates `user_id` with two addresses (the first edited once, the second deleted), preferences with two
/// opt-ins (two consent records); returns their token and the first address's id.
async fn user_with_data(app: &TestApp, user_id: &str) -> (String, String) {
    let token = app
        .create_profile(user_id, &format!("{user_id}@example.com"))
        .await;
    let first = app.post_json(MINE, &token, &address("Home")).await.json();
    let id = first["id"].as_str().unwrap().to_string();
    let edited = app
        .patch_json(
            &format!("{MINE}/{id}"),
            &token,
            &json!({"line1": "2 Navy Way"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    let second = app.post_json(MINE, &token, &address("Office")).await.json();
    let deleted = app
        .delete(
            &format!("{MINE}/{}", second["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let prefs = app
        .patch_json(
            "/api/v1/profiles/me/preferences",
            &token,
            &json!({"notifications": {"email": {"marketing": true}, "sms": {"newsletter": true}}}),
        )
        .await;
    assert_eq!(prefs.status, StatusCode::OK);
    (token, id)
}

/// The receipts an admin lists for `query`.
async fn receipts(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("{ERASURES}{query}"), &admin(app)).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

#[tokio::test]
async fn erasing_your_profile_answers_204_with_the_id_of_a_receipt_of_what_was_removed() {
    let app = TestApp::spawn().await;
    let (token, _) = user_with_data(&app, "u1").await;

    let response = app
        .request(
            Method::DELETE,
            ME,
            Some(&token),
            None,
            &[("x-request-id", "erase-u1-1")],
        )
        .await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.body.is_empty());
    let receipt_id = response.header("erasure-receipt").expect("Erasure-Receipt");
    let parsed = uuid::Uuid::parse_str(&receipt_id).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 7);
    let page = receipts(&app, "?user_id=u1").await;
    assert_eq!(page["next_cursor"], Value::Null);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let receipt = &items[0];
    assert_eq!(receipt["id"], receipt_id.as_str());
    assert_eq!(receipt["user_id"], "u1");
    assert_eq!(receipt["actor_kind"], "user");
    assert_eq!(receipt["actor_id"], "u1");
    assert_eq!(receipt["request_id"], "erase-u1-1");
    assert!(receipt["erased_at"].is_string());
    // Two addresses, one deleted: created and edited (2 revisions), created and deleted (2 revisions).
    assert_eq!(
        receipt["removed"],
        json!({"profiles": 1, "addresses": 2, "address_revisions": 4, "preferences": 1, "consent_records": 2})
    );
}

#[tokio::test]
async fn an_admin_erasure_answers_204_with_a_receipt_naming_the_admin() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;

    let response = app.delete("/api/v1/admin/profiles/u1", &admin(&app)).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    let receipt_id = response.header("erasure-receipt").expect("Erasure-Receipt");
    let receipt = receipts(&app, "?user_id=u1").await["items"][0].clone();
    assert_eq!(receipt["id"], receipt_id.as_str());
    assert_eq!(receipt["actor_kind"], "admin");
    assert_eq!(receipt["actor_id"], "ops");
    assert_eq!(
        receipt["removed"],
        json!({"profiles": 1, "addresses": 0, "address_revisions": 0, "preferences": 0, "consent_records": 0})
    );
}

#[tokio::test]
async fn a_refused_erasure_leaves_no_receipt_and_no_tombstone() {
    let app = TestApp::spawn().await;
    let (token, id) = user_with_data(&app, "u1").await;

    let refused = app
        .request(
            Method::DELETE,
            ME,
            Some(&token),
            None,
            &[("if-match", "\"99\"")],
        )
        .await;

    refused.assert_problem(412, "precondition_failed");
    assert!(refused.header("erasure-receipt").is_none());
    assert_eq!(receipts(&app, "?user_id=u1").await["items"], json!([]));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM erased_addresses WHERE user_id = $1",
            "u1"
        )
        .await,
        0
    );
    let read = app
        .get(&format!("/api/v1/users/u1/addresses/{id}"), &orders(&app))
        .await;
    assert_eq!(read.status, StatusCode::OK);
}

#[tokio::test]
async fn after_erasure_service_reads_of_the_user_answer_410_profile_erased_and_of_a_stranger_404() {
    let app = TestApp::spawn().await;
    let (token, _) = user_with_data(&app, "u1").await;
    assert_eq!(app.delete(ME, &token).await.status, StatusCode::NO_CONTENT);
    let orders = orders(&app);

    for rest in ["profile", "addresses", "addresses/defaults", "preferences"] {
        let erased = app.get(&format!("/api/v1/users/u1/{rest}"), &orders).await;
        let never = app
            .get(&format!("/api/v1/users/nobody/{rest}"), &orders)
            .await;

        let problem = erased.assert_problem(410, "profile_erased");
        assert_eq!(problem["title"], "Gone", "{rest}");
        never.assert_problem(404, "profile_not_found");
    }
}

#[tokio::test]
async fn after_erasure_a_pinned_revision_and_an_address_answer_410_address_erased() {
    let app = TestApp::spawn().await;
    let (token, id) = user_with_data(&app, "u1").await;
    let orders = orders(&app);
    let pinned = format!("/api/v1/users/u1/addresses/{id}/revisions/1");
    assert_eq!(app.get(&pinned, &orders).await.status, StatusCode::OK);

    assert_eq!(app.delete(ME, &token).await.status, StatusCode::NO_CONTENT);

    app.get(&pinned, &orders)
        .await
        .assert_problem(410, "address_erased");
    for rest in ["", "/revisions/2"] {
        app.get(&format!("/api/v1/users/u1/addresses/{id}{rest}"), &orders)
            .await
            .assert_problem(410, "address_erased");
    }
    // The address had two revisions: a third never existed, erased or not.
    app.get(
        &format!("/api/v1/users/u1/addresses/{id}/revisions/3"),
        &orders,
    )
    .await
    .assert_problem(404, "revision_not_found");
    // An id that was never one of the user's addresses: the user is erased.
    let stranger = uuid::Uuid::now_v7();
    app.get(
        &format!("/api/v1/users/u1/addresses/{stranger}/revisions/1"),
        &orders,
    )
    .await
    .assert_problem(410, "profile_erased");
    // The erased address under another user id tells nothing about it.
    app.get(&format!("/api/v1/users/u2/addresses/{id}"), &orders)
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn a_new_profile_of_the_same_user_is_read_again_while_the_old_addresses_stay_erased() {
    let app = TestApp::spawn().await;
    let (token, old_id) = user_with_data(&app, "u1").await;
    assert_eq!(app.delete(ME, &token).await.status, StatusCode::NO_CONTENT);
    let orders = orders(&app);

    let again = app.create_profile("u1", "u1.again@example.com").await;
    let new_address = app
        .post_json(MINE, &again, &address("New home"))
        .await
        .json();

    let profile = app.get("/api/v1/users/u1/profile", &orders).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(profile.json()["email"], "u1.again@example.com");
    let list = app.get("/api/v1/users/u1/addresses", &orders).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], new_address["id"]);
    for path in ["preferences", "addresses/defaults"] {
        let read = app.get(&format!("/api/v1/users/u1/{path}"), &orders).await;
        assert_eq!(read.status, StatusCode::OK, "{path}");
    }
    app.get(
        &format!("/api/v1/users/u1/addresses/{old_id}/revisions/1"),
        &orders,
    )
    .await
    .assert_problem(410, "address_erased");
    // A second erasure leaves a second receipt.
    assert_eq!(app.delete(ME, &again).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        receipts(&app, "?user_id=u1").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.get(
        &format!(
            "/api/v1/users/u1/addresses/{}",
            new_address["id"].as_str().unwrap()
        ),
        &orders,
    )
    .await
    .assert_problem(410, "address_erased");
}

#[tokio::test]
async fn receipts_and_tombstones_hold_ids_numbers_and_times_only() {
    let app = TestApp::spawn().await;
    let (token, id) = user_with_data(&app, "u1").await;

    assert_eq!(app.delete(ME, &token).await.status, StatusCode::NO_CONTENT);

    let tombstones = app
        .count(
            "SELECT COUNT(*) FROM erased_addresses WHERE user_id = $1",
            "u1",
        )
        .await;
    assert_eq!(tombstones, 2);
    let last_revision = user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_scalar::<_, i64>(
            "SELECT last_revision FROM erased_addresses WHERE address_id = $1",
        )
        .bind(uuid::Uuid::parse_str(&id).unwrap())
        .fetch_one(c)
        .await
        .unwrap()
    });
    assert_eq!(last_revision, 2);
    let receipt = receipts(&app, "?user_id=u1").await["items"][0].clone();
    let text = receipt.to_string();
    for personal in ["u1@example.com", "Grace", "Navy", "Arlington", "22202"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
}

#[tokio::test]
async fn the_admin_erasure_list_filters_by_user_and_time_and_pages_with_a_cursor() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    for user in ["u1", "u2", "u3"] {
        app.create_profile(user, &format!("{user}@example.com"))
            .await;
        let erased = app
            .delete(&format!("/api/v1/admin/profiles/{user}"), &admin)
            .await;
        assert_eq!(erased.status, StatusCode::NO_CONTENT);
    }
    let all = receipts(&app, "").await["items"].clone();
    let users: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["u1", "u2", "u3"], "oldest first");

    let first = receipts(&app, "?limit=2").await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = receipts(&app, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(second["items"][0]["user_id"], "u3");
    assert_eq!(second["next_cursor"], Value::Null);

    let second_time = all[1]["erased_at"].as_str().unwrap();
    let since = receipts(&app, &format!("?since={}", urlencode(second_time))).await;
    let until = receipts(&app, &format!("?until={}", urlencode(second_time))).await;
    let user_ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["user_id"].as_str().unwrap().to_string())
            .collect()
    };
    // Erasures within one millisecond share a time: the filters split the list, whatever the clock did.
    assert!(user_ids(&since).ends_with(&["u2".to_string(), "u3".to_string()]));
    assert!(!user_ids(&until).contains(&"u2".to_string()));
    assert_eq!(
        user_ids(&since).len() + user_ids(&until).len(),
        3,
        "since and until split the list"
    );
    let future = receipts(&app, "?since=2999-01-01T00:00:00%2B02:00").await;
    assert_eq!(future["items"], json!([]));
    assert_eq!(receipts(&app, "?user_id=nobody").await["items"], json!([]));
}

#[tokio::test]
async fn the_erasure_list_is_for_admins_and_refuses_bad_filters() {
    let app = TestApp::spawn().await;
    let user = app.create_profile("u1", "u1@example.com").await;

    app.get(ERASURES, &user)
        .await
        .assert_problem(403, "forbidden");
    app.get(ERASURES, &orders(&app))
        .await
        .assert_problem(403, "forbidden");
    for query in [
        "?since=yesterday",
        "?until=2025-13-01",
        "?limit=0",
        "?cursor=garbage!",
        "?user_id=a%E2%80%8Bb",
    ] {
        app.get(&format!("{ERASURES}{query}"), &admin(&app))
            .await
            .assert_problem(422, "validation_failed");
    }
}

fn urlencode(raw: &str) -> String {
    raw.replace(':', "%3A").replace('+', "%2B")
}
