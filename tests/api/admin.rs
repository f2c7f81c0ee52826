//! `/api/v1/admin`: profile search, view, patch (suspend/reactivate), erasure, and the audit trail.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

const PROFILES: &str = "/api/v1/admin/profiles";
const EVENTS: &str = "/api/v1/admin/audit-events";

fn admin(app: &TestApp) -> String {
    app.token_with("ops", &["admin"], None)
}

async fn create(app: &TestApp, sub: &str, body: Value) -> String {
    let token = app.token(sub);
    let response = app.put_json("/api/v1/profiles/me", &token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.json());
    token
}

fn user_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user_id"].as_str().unwrap().to_string())
        .collect()
}

/// Every event matching `query`, following `next_cursor` to the end.
async fn all_events(app: &TestApp, query: &str) -> Vec<Value> {
    let token = admin(app);
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{EVENTS}?limit=2&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let response = app.get(&path, &token).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.json());
        let page = response.json();
        events.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return events,
        }
    }
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_admin_route_returns_403_forbidden_to_users_services_and_scoped_tokens() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "a@example.com").await;
    let outsiders = [
        app.token("u1"),
        app.token_with("order-service", &["service"], None),
        app.token_with("cart", &[], Some("preferences:read addresses:read")),
    ];

    for token in &outsiders {
        for (method, path, body) in [
            (Method::GET, PROFILES.to_string(), None),
            (Method::GET, format!("{PROFILES}/u1"), None),
            (
                Method::PATCH,
                format!("{PROFILES}/u1"),
                Some(json!({"status": "suspended"})),
            ),
            (Method::DELETE, format!("{PROFILES}/u1"), None),
            (Method::GET, EVENTS.to_string(), None),
        ] {
            let response = app
                .request(method.clone(), &path, Some(token), body.as_ref(), &[])
                .await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{method} {path}");
            response.assert_problem(403, "forbidden");
        }
    }
    let me = app.get("/api/v1/profiles/me", &outsiders[0]).await.json();
    assert_eq!(me["status"], "active");
}

#[tokio::test]
async fn list_profiles_matches_an_email_or_name_prefix_regardless_of_case() {
    let app = TestApp::spawn().await;
    create(
        &app,
        "a",
        json!({"email": "ada@example.com", "display_name": "Countess"}),
    )
    .await;
    create(
        &app,
        "b",
        json!({"email": "bob@example.com", "display_name": "Adam B"}),
    )
    .await;
    create(
        &app,
        "c",
        json!({"email": "carol@example.com", "display_name": "C",
        "first_name": "Carol", "last_name": "Adams"}),
    )
    .await;
    create(
        &app,
        "d",
        json!({"email": "dora@example.com", "display_name": "Dora",
        "first_name": "Ädelheid"}),
    )
    .await;
    create(
        &app,
        "e",
        json!({"email": "eve@example.com", "display_name": "Eve Nada"}),
    )
    .await;
    let token = admin(&app);

    let ad = app.get(&format!("{PROFILES}?q=AD"), &token).await;
    let email = app.get(&format!("{PROFILES}?q=Carol%40Ex"), &token).await;
    let unicode = app.get(&format!("{PROFILES}?q=%C3%A4del"), &token).await;
    let nothing = app.get(&format!("{PROFILES}?q=zz"), &token).await;
    let everyone = app.get(PROFILES, &token).await;

    assert_eq!(ad.status, StatusCode::OK);
    assert_eq!(user_ids(&ad.json()), ["a", "b", "c"]);
    assert_eq!(user_ids(&email.json()), ["c"]);
    assert_eq!(user_ids(&unicode.json()), ["d"]);
    assert!(user_ids(&nothing.json()).is_empty());
    let everyone = everyone.json();
    assert_eq!(user_ids(&everyone), ["a", "b", "c", "d", "e"]);
    assert_eq!(everyone["next_cursor"], Value::Null);
    let first = &everyone["items"][0];
    assert_eq!(first["email"], "ada@example.com");
    assert_eq!(first["status"], "active");
    assert!(first.get("phone").is_none(), "search results are summaries");
}

#[tokio::test]
async fn list_profiles_filters_by_status() {
    let app = TestApp::spawn().await;
    for sub in ["s1", "s2", "s3"] {
        app.create_profile(sub, &format!("{sub}@example.com")).await;
    }
    let token = admin(&app);
    app.patch_json(
        &format!("{PROFILES}/s2"),
        &token,
        &json!({"status": "suspended"}),
    )
    .await;

    let suspended = app
        .get(&format!("{PROFILES}?status=suspended"), &token)
        .await;
    let active = app
        .get(&format!("{PROFILES}?status=active&q=s"), &token)
        .await;

    assert_eq!(user_ids(&suspended.json()), ["s2"]);
    assert_eq!(user_ids(&active.json()), ["s1", "s3"]);
}

#[tokio::test]
async fn list_profiles_pages_through_search_results_with_the_cursor() {
    let app = TestApp::spawn().await;
    for sub in ["m1", "m2", "m3", "x1"] {
        create(
            &app,
            sub,
            json!({"email": format!("{sub}@example.com"), "display_name": "Match"}),
        )
        .await;
    }
    app.patch_json(
        &format!("{PROFILES}/x1"),
        &admin(&app),
        &json!({"display_name": "Other"}),
    )
    .await;
    let token = admin(&app);

    let mut seen = Vec::new();
    let mut path = format!("{PROFILES}?q=match&limit=2");
    loop {
        let page = app.get(&path, &token).await.json();
        seen.extend(user_ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("{PROFILES}?q=match&limit=2&cursor={c}"),
            None => break,
        }
    }

    assert_eq!(seen, ["m1", "m2", "m3"]);
}

#[tokio::test]
async fn list_profiles_refuses_a_bad_status_limit_or_cursor_with_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let token = admin(&app);
    for (query, field) in [
        ("status=deleted", "status"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let problem = app
            .get(&format!("{PROFILES}?{query}"), &token)
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn walking_every_page_sees_each_profile_exactly_once_while_profiles_are_being_added() {
    let app = TestApp::spawn().await;
    for i in 0..300 {
        app.create_profile(&format!("p-{i:03}"), &format!("p{i}@example.com"))
            .await;
    }
    let token = admin(&app);

    let walk = async {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("{PROFILES}?limit=37&cursor={c}"),
                None => format!("{PROFILES}?limit=37"),
            };
            let page = app.get(&path, &token).await.json();
            pages += 1;
            seen.extend(user_ids(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return (seen, pages),
            }
            tokio::task::yield_now().await;
        }
    };
    let add = async {
        for i in 0..60 {
            // Ids that sort between existing ones, both behind and ahead of the walker's position.
            let sub = format!("p-{:03}-new", (i * 53) % 300);
            app.create_profile(&sub, &format!("new{i}@example.com"))
                .await;
            tokio::task::yield_now().await;
        }
    };
    let ((seen, pages), ()) = tokio::join!(walk, add);

    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &seen {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|&n| n == 1), "an id was listed twice");
    for i in 0..300 {
        assert_eq!(
            counts.get(format!("p-{i:03}").as_str()),
            Some(&1),
            "p-{i:03}"
        );
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "pages follow user_id order");
    assert!(pages >= 9);
}

#[tokio::test]
async fn the_default_page_holds_50_profiles_and_the_cursor_leads_to_the_rest() {
    let app = TestApp::spawn().await;
    for i in 0..51 {
        app.create_profile(&format!("u{i:02}"), &format!("u{i}@example.com"))
            .await;
    }
    let token = admin(&app);

    let first = app.get(PROFILES, &token).await.json();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("{PROFILES}?cursor={cursor}"), &token)
        .await
        .json();

    assert_eq!(first["items"].as_array().unwrap().len(), 50);
    assert_eq!(user_ids(&second), ["u50"]);
    assert_eq!(second["next_cursor"], Value::Null);
}

#[tokio::test]
async fn admin_get_profile_returns_profile_preferences_and_addresses_and_records_the_read() {
    let app = TestApp::spawn().await;
    let user = app.create_profile("u1", "a@example.com").await;
    app.put_json(
        "/api/v1/profiles/me/preferences",
        &user,
        &json!({"currency": "GBP"}),
    )
    .await;
    let address = json!({"recipient_name": "A", "line1": "1 Main St", "city": "Leeds",
                         "postal_code": "LS1 1AA", "country": "GB"});
    let created = app
        .post_json("/api/v1/profiles/me/addresses", &user, &address)
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = admin(&app);

    let response = app.get(&format!("{PROFILES}/u1"), &token).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("etag").as_deref(), Some("\"1\""));
    let view = response.json();
    assert_eq!(view["profile"]["email"], "a@example.com");
    assert_eq!(view["preferences"]["currency"], "GBP");
    assert_eq!(view["addresses"][0]["city"], "Leeds");
    assert_eq!(view["addresses"][0]["revisions"][0]["revision"], 1);
    let events = all_events(&app, "user_id=u1&action=profile.admin_viewed").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor_id"], "ops");
    assert_eq!(events[0]["actor_role"], "admin");
}

#[tokio::test]
async fn admin_routes_for_an_unknown_user_return_404_profile_not_found_and_record_nothing() {
    let app = TestApp::spawn().await;
    let token = admin(&app);
    let path = format!("{PROFILES}/ghost");

    app.get(&path, &token)
        .await
        .assert_problem(404, "profile_not_found");
    app.patch_json(&path, &token, &json!({"status": "suspended"}))
        .await
        .assert_problem(404, "profile_not_found");
    app.delete(&path, &token)
        .await
        .assert_problem(404, "profile_not_found");

    assert!(all_events(&app, "user_id=ghost").await.is_empty());
}

#[tokio::test]
async fn admin_patch_suspends_and_reactivates_with_one_audit_event_each() {
    let app = TestApp::spawn().await;
    let user = app.create_profile("u1", "a@example.com").await;
    let token = admin(&app);
    let path = format!("{PROFILES}/u1");

    let suspended = app
        .patch_json(&path, &token, &json!({"status": "suspended"}))
        .await;
    let user_write = app
        .patch_json("/api/v1/profiles/me", &user, &json!({"display_name": "x"}))
        .await;
    let again = app
        .patch_json(&path, &token, &json!({"status": "suspended"}))
        .await;
    let reactivated = app
        .patch_json(&path, &token, &json!({"status": "active"}))
        .await;
    let user_write_after = app
        .patch_json("/api/v1/profiles/me", &user, &json!({"display_name": "x"}))
        .await;

    assert_eq!(suspended.status, StatusCode::OK);
    assert_eq!(suspended.json()["status"], "suspended");
    assert_eq!(suspended.header("etag").as_deref(), Some("\"2\""));
    user_write.assert_problem(403, "profile_suspended");
    assert_eq!(again.json()["version"], 2, "no change, no new version");
    assert_eq!(reactivated.json()["status"], "active");
    assert_eq!(user_write_after.status, StatusCode::OK);
    let events = all_events(&app, "user_id=u1&actor_id=ops").await;
    assert_eq!(
        actions(&events),
        ["profile.suspended", "profile.reactivated"]
    );
    assert!(
        events
            .iter()
            .all(|e| e["changed_fields"] == json!(["status"]))
    );
}

#[tokio::test]
async fn admin_patch_with_only_status_keeps_the_email_the_user_changed_after_the_admin_read_the_profile()
 {
    let app = TestApp::spawn().await;
    let user = app.create_profile("u1", "old@example.com").await;
    let token = admin(&app);
    let path = format!("{PROFILES}/u1");
    let stale = app.get(&path, &token).await.json();
    app.patch_json(
        "/api/v1/profiles/me",
        &user,
        &json!({"email": "new@example.com", "display_name": "Newer"}),
    )
    .await;

    let suspended = app
        .patch_json(&path, &token, &json!({"status": "suspended"}))
        .await;

    assert_eq!(stale["profile"]["email"], "old@example.com");
    assert_eq!(suspended.status, StatusCode::OK);
    let profile = suspended.json();
    assert_eq!(profile["status"], "suspended");
    assert_eq!(profile["email"], "new@example.com");
    assert_eq!(profile["display_name"], "Newer");
    let events = all_events(&app, "user_id=u1&actor_id=ops").await;
    assert_eq!(
        actions(&events),
        ["profile.admin_viewed", "profile.suspended"]
    );
}

#[tokio::test]
async fn admin_patch_changes_profile_fields_and_records_profile_updated_by_the_admin() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "a@example.com").await;
    let token = admin(&app);

    let response = app
        .request(
            Method::PATCH,
            &format!("{PROFILES}/u1"),
            Some(&token),
            Some(&json!({"display_name": "Fixed Name", "phone": "+14155552671", "status": "suspended"})),
            &[("content-type", "application/merge-patch+json"), ("if-match", "\"1\"")],
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    let profile = response.json();
    assert_eq!(profile["display_name"], "Fixed Name");
    assert_eq!(profile["status"], "suspended");
    assert_eq!(profile["version"], 2, "one write, one version");
    let events = all_events(&app, "user_id=u1&actor_id=ops").await;
    assert_eq!(actions(&events), ["profile.updated", "profile.suspended"]);
    assert_eq!(events[0]["actor_role"], "admin");
    assert_eq!(
        events[0]["changed_fields"],
        json!(["display_name", "phone"])
    );
}

#[tokio::test]
async fn admin_patch_refuses_bad_bodies_and_stale_versions_and_records_nothing() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "a@example.com").await;
    let token = admin(&app);
    let path = format!("{PROFILES}/u1");

    for (body, field, code) in [
        (json!({"status": "deleted"}), "status", "invalid_value"),
        (json!({"status": 1}), "status", "invalid_value"),
        (json!({"status": null}), "status", "required"),
        (json!({"version": 9}), "version", "unknown_field"),
        (json!({"email": null}), "email", "required"),
    ] {
        let problem = app
            .patch_json(&path, &token, &body)
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }
    app.request(
        Method::PATCH,
        &path,
        Some(&token),
        Some(&json!({"status": "suspended"})),
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", "\"5\""),
        ],
    )
    .await
    .assert_problem(412, "precondition_failed");

    assert!(all_events(&app, "actor_id=ops").await.is_empty());
    assert_eq!(
        app.get(&path, &token).await.json()["profile"]["status"],
        "active"
    );
}

#[tokio::test]
async fn admin_patch_to_an_email_another_profile_uses_returns_409_email_taken() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "one@example.com").await;
    app.create_profile("u2", "two@example.com").await;
    app.patch_json(
        &format!("{PROFILES}/u2"),
        &admin(&app),
        &json!({"email": "ONE@example.com"}),
    )
    .await
    .assert_problem(409, "email_taken");
}

#[tokio::test]
async fn admin_delete_erases_the_profile_with_204_and_records_profile_deleted() {
    let app = TestApp::spawn().await;
    let user = app.create_profile("u1", "a@example.com").await;
    app.patch_json(
        "/api/v1/profiles/me/preferences",
        &user,
        &json!({"notifications": {"email": {"newsletter": true}}}),
    )
    .await;
    let token = admin(&app);

    let stale = app
        .request(
            Method::DELETE,
            &format!("{PROFILES}/u1"),
            Some(&token),
            None,
            &[("if-match", "\"9\"")],
        )
        .await;
    let response = app.delete(&format!("{PROFILES}/u1"), &token).await;

    stale.assert_problem(412, "precondition_failed");
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.body.is_empty());
    app.get("/api/v1/profiles/me", &user)
        .await
        .assert_problem(404, "profile_not_found");
    for table_sql in [
        "SELECT COUNT(*) FROM preferences WHERE user_id = $1",
        "SELECT COUNT(*) FROM consent_records WHERE user_id = $1",
    ] {
        assert_eq!(app.count(table_sql, "u1").await, 0, "{table_sql}");
    }
    let events = all_events(&app, "user_id=u1&action=profile.deleted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor_id"], "ops");
    assert_eq!(events[0]["actor_role"], "admin");
}

#[tokio::test]
async fn audit_events_filter_by_user_actor_action_and_time_and_page_in_id_order() {
    let app = TestApp::spawn().await;
    let u1 = app.create_profile("u1", "one@example.com").await;
    app.create_profile("u2", "two@example.com").await;
    app.patch_json(
        "/api/v1/profiles/me/preferences",
        &u1,
        &json!({"currency": "EUR"}),
    )
    .await;
    let token = admin(&app);
    app.get(&format!("{PROFILES}/u2"), &token).await;

    let everything = all_events(&app, "").await;
    let for_u1 = all_events(&app, "user_id=u1").await;
    let by_admin = all_events(&app, "actor_id=ops").await;
    let created = all_events(&app, "action=profile.created").await;

    assert_eq!(
        actions(&everything),
        [
            "profile.created",
            "profile.created",
            "preferences.updated",
            "profile.admin_viewed"
        ]
    );
    let ids: Vec<&str> = everything
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(actions(&for_u1), ["profile.created", "preferences.updated"]);
    assert_eq!(actions(&by_admin), ["profile.admin_viewed"]);
    assert_eq!(by_admin[0]["target_user_id"], "u2");
    assert_eq!(created.len(), 2);

    let third = everything[2]["occurred_at"].as_str().unwrap();
    let since = all_events(&app, &format!("since={}", urlencode(third))).await;
    let until = all_events(&app, &format!("until={}", urlencode(third))).await;
    assert!(actions(&since).ends_with(&["preferences.updated", "profile.admin_viewed"]));
    assert!(!actions(&until).contains(&"preferences.updated"));
    assert_eq!(
        since.len() + until.len(),
        4,
        "since and until split the trail"
    );
    let future = all_events(&app, "since=2999-01-01T00:00:00%2B02:00").await;
    assert!(future.is_empty());
}

fn urlencode(raw: &str) -> String {
    raw.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn audit_events_refuse_timestamps_that_are_not_rfc_3339() {
    let app = TestApp::spawn().await;
    let token = admin(&app);
    for (query, field) in [("since=yesterday", "since"), ("until=2025-01-01", "until")] {
        let problem = app
            .get(&format!("{EVENTS}?{query}"), &token)
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field);
        assert_eq!(problem["errors"][0]["code"], "invalid_format");
    }
}

#[tokio::test]
async fn audit_events_refuse_an_action_the_trail_never_records_with_422_naming_action() {
    let app = TestApp::spawn().await;
    let token = admin(&app);

    let problem = app
        .get(&format!("{EVENTS}?action=profile.hacked"), &token)
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(problem["errors"][0]["field"], "action");
    assert_eq!(problem["errors"][0]["code"], "invalid_value");
}

#[tokio::test]
async fn audit_events_never_contain_the_values_that_changed() {
    let app = TestApp::spawn().await;
    let user = app.token("u1");
    app.put_json(
        "/api/v1/profiles/me",
        &user,
        &json!({"email": "hidden.person@example.com", "display_name": "Hidden Person",
                "first_name": "Hiddenfirst", "last_name": "Hiddenlast", "phone": "+14155552671"}),
    )
    .await;
    app.patch_json(
        "/api/v1/profiles/me",
        &user,
        &json!({"phone": "+442079460000"}),
    )
    .await;
    app.patch_json(
        "/api/v1/profiles/me/preferences",
        &user,
        &json!({"language": "tlh", "recommendations": {"favorite_categories": ["secret-hobby"]}}),
    )
    .await;
    let token = admin(&app);
    app.patch_json(
        &format!("{PROFILES}/u1"),
        &token,
        &json!({"last_name": "Renamedlast", "status": "suspended"}),
    )
    .await;
    app.get(&format!("{PROFILES}/u1"), &token).await;

    let events = all_events(&app, "user_id=u1").await;

    assert_eq!(events.len(), 6);
    let text = serde_json::to_string(&events).unwrap().to_lowercase();
    for value in [
        "hidden.person@example.com",
        "hidden person",
        "hiddenfirst",
        "hiddenlast",
        "renamedlast",
        "+14155552671",
        "+442079460000",
        "secret-hobby",
        "\"tlh\"",
    ] {
        assert!(!text.contains(value), "{value} leaked into {text}");
    }
}

#[tokio::test]
async fn admin_writes_with_a_malformed_if_match_return_412_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "a@example.com").await;
    let token = admin(&app);
    let path = format!("{PROFILES}/u1");

    for value in ["1", "garbage", "", "W/\"1\""] {
        let patch = app
            .request(
                Method::PATCH,
                &path,
                Some(&token),
                Some(&json!({"status": "suspended"})),
                &[
                    ("content-type", "application/merge-patch+json"),
                    ("if-match", value),
                ],
            )
            .await;
        let delete = app
            .request(
                Method::DELETE,
                &path,
                Some(&token),
                None,
                &[("if-match", value)],
            )
            .await;

        for response in [patch, delete] {
            let problem = response.assert_problem(412, "precondition_failed");
            assert_eq!(problem["current_version"], 1, "If-Match: {value:?}");
        }
    }
    let view = app.get(&path, &token).await.json();
    assert_eq!(view["profile"]["status"], "active");
    assert_eq!(view["profile"]["version"], 1);
}

const KEPT: &str = "/api/v1/admin/kept-suspensions";

/// Creates `sub`'s profile, has an admin suspend it, and has the user erase it; returns the user's token.
async fn suspend_and_erase(app: &TestApp, sub: &str) -> String {
    let user = app.create_profile(sub, &format!("{sub}@example.com")).await;
    app.patch_json(
        &format!("{PROFILES}/{sub}"),
        &admin(app),
        &json!({"status": "suspended"}),
    )
    .await;
    let erased = app.delete("/api/v1/profiles/me", &user).await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT);
    user
}

#[tokio::test]
async fn an_admin_lifts_a_kept_suspension_and_the_user_can_come_back_active() {
    let app = TestApp::spawn().await;
    let user = suspend_and_erase(&app, "u1").await;
    let token = admin(&app);
    let path = format!("{KEPT}/u1");

    let kept = app.get(&path, &token).await;
    let mut refused = Vec::new();
    for value in ["\"1\"", "garbage", "W/\"1\""] {
        let response = app
            .request(
                Method::DELETE,
                &path,
                Some(&token),
                None,
                &[("if-match", value)],
            )
            .await;
        refused.push(response);
    }
    let lifted = app
        .request(
            Method::DELETE,
            &path,
            Some(&token),
            None,
            &[("if-match", "*")],
        )
        .await;
    let gone = app.get(&path, &token).await;
    let again = app.delete(&path, &token).await;
    let created = app
        .put_json(
            "/api/v1/profiles/me",
            &user,
            &json!({"email": "u1@example.com", "display_name": "back"}),
        )
        .await;

    assert_eq!(kept.status, StatusCode::OK);
    let kept = kept.json();
    assert_eq!(kept["user_id"], "u1");
    let instant = |field: &str| {
        use time::{OffsetDateTime, format_description::well_known::Rfc3339};
        OffsetDateTime::parse(kept[field].as_str().unwrap(), &Rfc3339).unwrap()
    };
    assert!(instant("suspended_at") <= instant("erased_at"));
    for response in refused {
        response.assert_problem(412, "precondition_failed");
    }
    assert_eq!(lifted.status, StatusCode::NO_CONTENT);
    gone.assert_problem(404, "kept_suspension_not_found");
    again.assert_problem(404, "kept_suspension_not_found");
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["status"], "active");
    let events = all_events(&app, "user_id=u1&action=profile.reactivated").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor_id"], "ops");
    assert_eq!(events[0]["changed_fields"], json!(["status"]));
}

#[tokio::test]
async fn kept_suspensions_are_for_admins_only_and_none_is_kept_for_an_active_user() {
    let app = TestApp::spawn().await;
    suspend_and_erase(&app, "u1").await;
    let active = app.create_profile("u2", "u2@example.com").await;
    app.delete("/api/v1/profiles/me", &active).await;

    for token in [
        app.token("u1"),
        app.token_with("order-service", &["service"], None),
        app.token_with("cart", &[], Some("preferences:read addresses:read")),
    ] {
        app.get(&format!("{KEPT}/u1"), &token)
            .await
            .assert_problem(403, "forbidden");
        app.delete(&format!("{KEPT}/u1"), &token)
            .await
            .assert_problem(403, "forbidden");
    }

    assert_eq!(
        app.get(&format!("{KEPT}/u1"), &admin(&app)).await.status,
        StatusCode::OK
    );
    app.get(&format!("{KEPT}/u2"), &admin(&app))
        .await
        .assert_problem(404, "kept_suspension_not_found");
}
