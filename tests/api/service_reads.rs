//! `/api/v1/users/{user_id}/addresses...`: what the order service reads.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

const MINE: &str = "/api/v1/profiles/me/addresses";

fn address(label: &str) -> Value {
    json!({
        "label": label,
        "recipient_name": "Grace Hopper",
        "line1": "1 Navy Way",
        "city": "Arlington",
        "region": "VA",
        "postal_code": "22202",
        "country": "US",
        "phone": "+17035550100"
    })
}

fn users(user_id: &str, rest: &str) -> String {
    format!("/api/v1/users/{user_id}/addresses{rest}")
}

fn service_token(app: &TestApp) -> String {
    app.token_with("orders", &["service"], None)
}

async fn add(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = app.post_json(MINE, token, body).await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

#[tokio::test]
async fn checkout_story_an_order_reads_the_exact_address_it_was_placed_with_after_edits_and_deletion()
 {
    // Arrange: a shopper with two addresses; the second is their default for shipping.
    let app = TestApp::spawn().await;
    let shopper = app.create_profile("u-7", "grace@example.com").await;
    add(&app, &shopper, &address("Home")).await;
    let mut office = address("Office");
    office["is_default_shipping"] = json!(true);
    add(&app, &shopper, &office).await;
    let orders = service_token(&app);

    // Checkout: the order service reads the defaults and keeps (address_id, revision) of the shipping one.
    let defaults = app.get(&users("u-7", "/defaults"), &orders).await;
    assert_eq!(defaults.status, StatusCode::OK);
    let shipping = defaults.json()["shipping"].clone();
    assert_eq!(shipping["label"], "Office");
    let (id, revision) = (
        shipping["id"].as_str().unwrap().to_string(),
        shipping["revision"].as_i64().unwrap(),
    );
    let snapshot_path = users("u-7", &format!("/{id}/revisions/{revision}"));
    let at_checkout = app.get(&snapshot_path, &orders).await;
    assert_eq!(at_checkout.status, StatusCode::OK);
    assert_eq!(
        at_checkout.json(),
        shipping,
        "the revision is the address as checkout saw it"
    );

    // The shopper edits the address, then deletes it.
    let mine = format!("{MINE}/{id}");
    let edited = app
        .patch_json(
            &mine,
            &shopper,
            &json!({"line1": "2 Navy Way", "label": "Old office"}),
        )
        .await;
    assert_eq!(edited.json()["revision"], revision + 1);
    assert_eq!(
        app.delete(&mine, &shopper).await.status,
        StatusCode::NO_CONTENT
    );

    // Later: the order reads its revision back, byte for byte the same.
    let later = app.get(&snapshot_path, &orders).await;
    assert_eq!(later.status, StatusCode::OK);
    assert_eq!(later.body, at_checkout.body);
    // The current state is the deleted address, at a later revision.
    let current = app
        .get(&users("u-7", &format!("/{id}")), &orders)
        .await
        .json();
    assert!(current["deleted_at"].is_string());
    assert_eq!(current["revision"], revision + 2);
    assert_eq!(current["line1"], "2 Navy Way");
    let deletion = app
        .get(
            &users("u-7", &format!("/{id}/revisions/{}", revision + 2)),
            &orders,
        )
        .await
        .json();
    assert_eq!(deletion, current);

    // Until the user erases their profile: then the order learns that it was erased, not that it never was.
    app.delete("/api/v1/profiles/me", &shopper).await;
    app.get(&snapshot_path, &orders)
        .await
        .assert_problem(410, "address_erased");
}

#[tokio::test]
async fn service_reads_are_allowed_to_services_admins_the_addresses_read_scope_and_the_user_only() {
    let app = TestApp::spawn().await;
    let shopper = app.create_profile("u-7", "grace@example.com").await;
    let id = add(&app, &shopper, &address("Home")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let paths = [
        users("u-7", ""),
        users("u-7", "/defaults"),
        users("u-7", &format!("/{id}")),
        users("u-7", &format!("/{id}/revisions/1")),
    ];
    let allowed = [
        app.token_with("orders", &["service"], None),
        app.token_with("ops-1", &["admin"], None),
        app.token_with("cart", &[], Some("preferences:read addresses:read")),
        shopper.clone(),
    ];
    let refused = [
        app.token("someone-else"),
        app.token_with("cart", &[], Some("preferences:read")),
    ];

    for path in &paths {
        for token in &allowed {
            assert_eq!(app.get(path, token).await.status, StatusCode::OK, "{path}");
        }
        for token in &refused {
            app.get(path, token).await.assert_problem(403, "forbidden");
        }
        app.request(Method::GET, path, None, None, &[])
            .await
            .assert_problem(401, "unauthorized");
    }
    app.get(&users("u-7", "?limit=0"), &refused[0])
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn the_service_list_shows_live_addresses_paginated_and_a_deleted_one_stays_readable_by_id() {
    let app = TestApp::spawn().await;
    let shopper = app.create_profile("u-7", "grace@example.com").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(add(&app, &shopper, &address(&format!("A{i}"))).await["id"].clone());
    }
    app.delete(&format!("{MINE}/{}", ids[1].as_str().unwrap()), &shopper)
        .await;
    let orders = service_token(&app);

    let first = app.get(&users("u-7", "?limit=1"), &orders).await.json();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(&users("u-7", &format!("?limit=1&cursor={cursor}")), &orders)
        .await
        .json();

    assert_eq!(first["items"][0]["id"], ids[0]);
    assert_eq!(second["items"][0]["id"], ids[2]);
    assert_eq!(second["next_cursor"], Value::Null);
    let deleted = app
        .get(
            &users("u-7", &format!("/{}", ids[1].as_str().unwrap())),
            &orders,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.json()["deleted_at"].is_string());
    assert_eq!(deleted.json()["is_default_shipping"], false);
}

#[tokio::test]
async fn defaults_are_both_null_without_addresses_and_follow_the_users_choices() {
    let app = TestApp::spawn().await;
    let shopper = app.create_profile("u-7", "grace@example.com").await;
    let orders = service_token(&app);
    assert_eq!(
        app.get(&users("u-7", "/defaults"), &orders).await.json(),
        json!({"shipping": null, "billing": null})
    );
    let home = add(&app, &shopper, &address("Home")).await;
    let mut work = address("Work");
    work["is_default_billing"] = json!(true);
    let work = add(&app, &shopper, &work).await;

    let defaults = app.get(&users("u-7", "/defaults"), &orders).await.json();

    assert_eq!(defaults["shipping"]["id"], home["id"]);
    assert_eq!(defaults["billing"]["id"], work["id"]);
    assert_eq!(defaults["billing"], work);
}

#[tokio::test]
async fn unknown_users_addresses_and_revisions_are_404_with_a_code_saying_which() {
    let app = TestApp::spawn().await;
    let shopper = app.create_profile("u-7", "grace@example.com").await;
    let id = add(&app, &shopper, &address("Home")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app.create_profile("u-8", "other@example.com").await;
    let foreign = add(&app, &other, &address("Theirs")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let orders = service_token(&app);
    let unknown = uuid::Uuid::now_v7();

    for (path, code) in [
        (users("nobody", ""), "profile_not_found"),
        (users("nobody", "/defaults"), "profile_not_found"),
        (users("nobody", &format!("/{id}")), "profile_not_found"),
        (users("u-7", &format!("/{unknown}")), "address_not_found"),
        (users("u-7", &format!("/{foreign}")), "address_not_found"),
        (users("u-7", "/not-a-uuid"), "address_not_found"),
        (users("u-7", "/not-a-uuid/revisions/1"), "address_not_found"),
        (
            users("u-7", &format!("/{foreign}/revisions/1")),
            "address_not_found",
        ),
        (
            users("u-7", &format!("/{id}/revisions/2")),
            "revision_not_found",
        ),
        (
            users("u-7", &format!("/{id}/revisions/0")),
            "revision_not_found",
        ),
        (
            users("u-7", &format!("/{id}/revisions/one")),
            "revision_not_found",
        ),
    ] {
        let response = app.get(&path, &orders).await;
        response.assert_problem(404, code);
    }
}

#[tokio::test]
async fn a_revision_read_honours_if_none_match() {
    let app = TestApp::spawn().await;
    let shopper = app.create_profile("u-7", "grace@example.com").await;
    let id = add(&app, &shopper, &address("Home")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = users("u-7", &format!("/{id}/revisions/1"));

    let response = app
        .request(
            Method::GET,
            &path,
            Some(&service_token(&app)),
            None,
            &[("if-none-match", "\"1\"")],
        )
        .await;

    assert_eq!(response.status, StatusCode::NOT_MODIFIED);
    assert_eq!(response.header("etag").as_deref(), Some("\"1\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_service_reads_answer_during_a_burst_of_address_edits_without_5xx() {
    let app = Arc::new(TestApp::spawn().await);
    let shopper = app.create_profile("u-7", "grace@example.com").await;
    let mut paths = Vec::new();
    for i in 0..4 {
        let id = add(&app, &shopper, &address(&format!("A{i}"))).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        paths.push(id);
    }
    let orders = service_token(&app);

    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..10 {
        for id in &paths {
            let (app, token, id) = (app.clone(), shopper.clone(), id.clone());
            tasks.spawn(async move {
                let body = json!({"label": format!("round {round}"), "is_default_shipping": true});
                let r = app.patch_json(&format!("{MINE}/{id}"), &token, &body).await;
                ("write", r.status)
            });
        }
        for rest in ["", "/defaults"] {
            let (app, token) = (app.clone(), orders.clone());
            tasks.spawn(async move {
                let r = app.get(&users("u-7", rest), &token).await;
                ("read", r.status)
            });
        }
    }
    let outcomes = tasks.join_all().await;

    assert!(
        outcomes.iter().all(|(_, s)| *s == StatusCode::OK),
        "{outcomes:?}"
    );
    let defaults = app.get(&users("u-7", "/defaults"), &orders).await.json();
    assert!(defaults["shipping"].is_object());
}
