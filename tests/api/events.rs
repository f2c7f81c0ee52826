//! The change feed: the outbox written with each change, and `GET /api/v1/events` (docs/events.md).

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use user_profile_service::{
    db::{self, events::Filter},
    with_pool,
};

use crate::support::{TestApp, TestResponse};

const EVENTS: &str = "/api/v1/events";
const ME: &str = "/api/v1/profiles/me";
const ADDRESSES: &str = "/api/v1/profiles/me/addresses";

fn home() -> Value {
    json!({
        "label": "Home",
        "recipient_name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
        "phone": "+442079460000"
    })
}

fn office() -> Value {
    json!({
        "label": "Office",
        "recipient_name": "Ada Byron",
        "line1": "Unter den Linden 1",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
        "is_default_shipping": true
    })
}

fn reader(app: &TestApp) -> String {
    app.token_with("notification-service", &["service"], None)
}

/// Every event in the feed (following `next_cursor` until a short page), optionally of one user.
async fn all_events(app: &TestApp, user_id: Option<&str>) -> Vec<Value> {
    let token = reader(app);
    let mut items = Vec::new();
    let mut after = String::new();
    loop {
        let mut path = format!("{EVENTS}?limit=3&after={after}");
        if let Some(user_id) = user_id {
            path.push_str(&format!("&user_id={user_id}"));
        }
        let page = expect_ok(&app.get(&path, &token).await);
        let batch = page["items"].as_array().unwrap().clone();
        after = page["next_cursor"].as_str().unwrap().to_string();
        let short = batch.len() < 3;
        items.extend(batch);
        if short {
            return items;
        }
    }
}

/// The feed after the sequencer has numbered everything committed so far.
async fn settled_events(app: &TestApp, user_id: Option<&str>) -> Vec<Value> {
    db::events::assign_positions(&app.db).await.unwrap();
    all_events(app, user_id).await
}

fn expect_ok(response: &TestResponse) -> Value {
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn add_address(app: &TestApp, token: &str, body: &Value) -> (Value, String) {
    let response = app.post_json(ADDRESSES, token, body).await;
    assert_eq!(response.status, StatusCode::CREATED);
    let request_id = response.header("x-request-id").unwrap();
    (response.json(), request_id)
}

#[tokio::test]
async fn a_shoppers_story_is_told_in_order_with_gapless_sequences_and_no_personal_data() {
    let app = TestApp::spawn().await;
    let admin = app.token_with("support-1", &["admin"], None);
    let token = app.create_profile("u-story", "ada@example.com").await;
    let patched = app
        .patch_json(
            ME,
            &token,
            &json!({"phone": "+442079460001", "first_name": "Ada"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let (first, first_request) = add_address(&app, &token, &home()).await;
    let (second, _) = add_address(&app, &token, &office()).await;
    let first_path = format!("{ADDRESSES}/{}", first["id"].as_str().unwrap());
    let deleted = app.delete(&first_path, &token).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let prefs = json!({"notifications": {"email": {"marketing": true}}, "language": "de"});
    let response = app
        .put_json(&format!("{ME}/preferences"), &token, &prefs)
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let admin_profile = "/api/v1/admin/profiles/u-story";
    for status in ["suspended", "active"] {
        let response = app
            .patch_json(admin_profile, &admin, &json!({"status": status}))
            .await;
        assert_eq!(response.status, StatusCode::OK);
    }
    assert_eq!(app.delete(ME, &token).await.status, StatusCode::NO_CONTENT);

    let events = settled_events(&app, Some("u-story")).await;
    assert_eq!(
        types(&events),
        [
            "profile.created",
            "profile.updated",
            // the first address takes both defaults
            "address.created",
            "address.defaults_changed",
            // the office takes the shipping default from home, which gets a revision
            "address.revised",
            "address.created",
            "address.defaults_changed",
            // home is deleted; its billing default passes to the office
            "address.deleted",
            "address.revised",
            "address.defaults_changed",
            "preferences.updated",
            "consent.changed",
            "profile.suspended",
            "profile.reactivated",
            "profile.erased",
        ]
    );
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=15).collect::<Vec<_>>());
    assert_eq!(events[1]["changed_fields"], json!(["first_name", "phone"]));
    assert_eq!(events[1]["version"], 2);
    assert_eq!(events[2]["resource_id"], first["id"]);
    assert_eq!(events[2]["revision"], 1);
    assert_eq!(events[2]["request_id"], first_request.as_str());
    assert_eq!(
        events[3]["changed_fields"],
        json!(["is_default_shipping", "is_default_billing"])
    );
    assert_eq!(events[4]["resource_id"], first["id"]);
    assert_eq!(events[4]["changed_fields"], json!(["is_default_shipping"]));
    assert_eq!(events[6]["resource_id"], second["id"]);
    assert_eq!(events[9]["resource_id"], second["id"]);
    assert_eq!(events[9]["changed_fields"], json!(["is_default_billing"]));
    assert_eq!(
        events[11]["changed_fields"],
        json!(["notifications.email.marketing"])
    );
    assert!(
        events[10]["changed_fields"]
            .as_array()
            .unwrap()
            .contains(&json!("language"))
    );
    assert_eq!(events[12]["actor_role"], "admin");
    assert_eq!(events[0]["actor_role"], "user");
    assert!(events[2].get("version").is_none());
    assert!(events[0].get("revision").is_none());

    // No value of any field, before or after erasure: ids, names and numbers only.
    let feed = serde_json::to_string(&events).unwrap();
    for personal in [
        "ada@example.com",
        "Ada",
        "Lovelace",
        "+44207946",
        "James",
        "London",
        "SW1Y",
        "Linden",
        "10117",
        "Home",
        "Office",
    ] {
        assert!(
            !feed.contains(personal),
            "the feed holds {personal}: {feed}"
        );
    }
}

#[tokio::test]
async fn a_write_that_changes_nothing_or_fails_leaves_no_event_and_no_gap() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u-noop", "noop@example.com").await;
    let same = app
        .patch_json(ME, &token, &json!({"display_name": "u-noop"}))
        .await;
    assert_eq!(same.status, StatusCode::OK);
    let refused = app
        .patch_json(ME, &token, &json!({"email": "not an email"}))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A write that fails after its events were appended: the audit insert that follows them is refused.
    fail_audit_inserts(&app, true).await;
    let failed = app
        .patch_json(ME, &token, &json!({"display_name": "Ada"}))
        .await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    fail_audit_inserts(&app, false).await;
    let ok = app
        .patch_json(ME, &token, &json!({"display_name": "Ada"}))
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    let events = settled_events(&app, Some("u-noop")).await;
    assert_eq!(types(&events), ["profile.created", "profile.updated"]);
    assert_eq!(
        events[1]["sequence"], 2,
        "the failed write took no sequence"
    );
    assert_eq!(events[1]["version"], 2);
}

/// Makes every insert into the audit trail fail (a trigger), or stops it.
async fn fail_audit_inserts(app: &TestApp, fail: bool) {
    let statements: &[&str] = match (app.is_postgres(), fail) {
        (true, true) => &[
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
        (true, false) => &["DROP TRIGGER refuse_audit ON audit_events"],
        (false, true) => &["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
        (false, false) => &["DROP TRIGGER refuse_audit"],
    };
    for sql in statements {
        with_pool!(app.db.reader(), |p| {
            sqlx::query(*sql).execute(p).await.unwrap();
        });
    }
}

#[tokio::test]
async fn the_feed_is_for_services_admins_and_the_events_read_scope() {
    let app = TestApp::spawn().await;
    let shopper = app.create_profile("u-shopper", "shopper@example.com").await;
    let refused = app.get(EVENTS, &shopper).await;
    refused.assert_problem(403, "forbidden");
    let other_scope = app.token_with("svc", &[], Some("addresses:read"));
    app.get(EVENTS, &other_scope)
        .await
        .assert_problem(403, "forbidden");
    for token in [
        app.token_with("svc", &["service"], None),
        app.token_with("ops", &["admin"], None),
        app.token_with("svc", &[], Some("addresses:read events:read")),
    ] {
        let response = app.get(EVENTS, &token).await;
        assert_eq!(
            response.header("cache-control").as_deref(),
            Some("no-store")
        );
        let page = expect_ok(&response);
        assert!(page["next_cursor"].is_string());
    }
    let anonymous = app.request(Method::GET, EVENTS, None, None, &[]).await;
    anonymous.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn bad_parameters_are_422_naming_each() {
    let app = TestApp::spawn().await;
    let token = reader(&app);
    let response = app
        .get(
            &format!(
                "{EVENTS}?after=nonsense&limit=0&type=profile.created,profile.deleted&wait=31"
            ),
            &token,
        )
        .await;
    let body = response.assert_problem(422, "validation_failed");
    let fields: BTreeSet<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, BTreeSet::from(["after", "limit", "type", "wait"]));
    let big = app.get(&format!("{EVENTS}?limit=1001"), &token).await;
    big.assert_problem(422, "validation_failed");
    let control = app.get(&format!("{EVENTS}?user_id=a%01b"), &token).await;
    control.assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn filters_by_type_and_user_and_resumes_from_any_items_cursor() {
    let app = TestApp::spawn().await;
    let ada = app.create_profile("u-ada", "ada@example.com").await;
    app.create_profile("u-bob", "bob@example.com").await;
    add_address(&app, &ada, &home()).await;
    let token = reader(&app);
    db::events::assign_positions(&app.db).await.unwrap();

    let page = expect_ok(
        &app.get(
            &format!("{EVENTS}?type=profile.created,address.created"),
            &token,
        )
        .await,
    );
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        types(items),
        ["profile.created", "profile.created", "address.created"]
    );
    let users: Vec<&str> = items
        .iter()
        .map(|e| e["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["u-ada", "u-bob", "u-ada"]);

    // A filtered page that reached the head moves the cursor there, so nothing is scanned twice.
    let bob = expect_ok(&app.get(&format!("{EVENTS}?user_id=u-bob"), &token).await);
    assert_eq!(bob["items"].as_array().unwrap().len(), 1);
    let after_head = expect_ok(
        &app.get(
            &format!("{EVENTS}?after={}", bob["next_cursor"].as_str().unwrap()),
            &token,
        )
        .await,
    );
    assert_eq!(after_head["items"], json!([]));

    // Every item's cursor resumes right after it.
    let all = settled_events(&app, None).await;
    let resumed = expect_ok(
        &app.get(
            &format!("{EVENTS}?after={}", all[1]["cursor"].as_str().unwrap()),
            &token,
        )
        .await,
    );
    assert_eq!(resumed["items"][0]["id"], all[2]["id"]);
    assert_eq!(resumed["items"].as_array().unwrap().len(), all.len() - 2);
}

#[tokio::test]
async fn a_long_poll_answers_as_soon_as_an_event_arrives() {
    let app = Arc::new(TestApp::spawn().await);
    let token = reader(&app);
    let head = expect_ok(&app.get(EVENTS, &token).await)["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let waiting = tokio::spawn({
        let app = app.clone();
        async move {
            app.get(&format!("{EVENTS}?wait=25&after={head}"), &token)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the poll answered before any event");
    app.create_profile("u-late", "late@example.com").await;
    // Well before the 25 s the poll may wait: it was woken by the write.
    let answered = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the poll was not woken by the write")
        .unwrap();
    let page = expect_ok(&answered);
    assert_eq!(
        types(page["items"].as_array().unwrap()),
        ["profile.created"]
    );
}

#[tokio::test]
async fn a_cursor_older_than_the_retention_is_410_and_a_fresh_read_starts_after_it() {
    let app = TestApp::spawn().await;
    let token = reader(&app);
    app.create_profile("u-old", "old@example.com").await;
    let first = settled_events(&app, None).await;
    let old_cursor = expect_ok(&app.get(EVENTS, &token).await)["items"][0]["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    app.create_profile("u-new", "new@example.com").await;
    db::events::assign_positions(&app.db).await.unwrap();
    // Everything that occurred before now is past retention.
    let cutoff = user_profile_service::clock::now() + time::Duration::seconds(1);
    let deleted = db::events::prune(&app.db, cutoff, i64::MAX, 1)
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(first.len(), 1);

    let expired = app
        .get(&format!("{EVENTS}?after={old_cursor}"), &token)
        .await;
    expired.assert_problem(410, "cursor_expired");
    let fresh = expect_ok(&app.get(EVENTS, &token).await);
    assert_eq!(fresh["items"], json!([]));
    app.create_profile("u-newer", "newer@example.com").await;
    db::events::assign_positions(&app.db).await.unwrap();
    let after = fresh["next_cursor"].as_str().unwrap();
    let next = expect_ok(&app.get(&format!("{EVENTS}?after={after}"), &token).await);
    assert_eq!(next["items"][0]["user_id"], "u-newer");
}

#[tokio::test]
async fn a_profile_created_again_after_erasure_starts_a_new_sequence() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u-again", "again@example.com").await;
    assert_eq!(app.delete(ME, &token).await.status, StatusCode::NO_CONTENT);
    app.create_profile("u-again", "again@example.com").await;
    let events = settled_events(&app, Some("u-again")).await;
    assert_eq!(
        types(&events),
        ["profile.created", "profile.erased", "profile.created"]
    );
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, [1, 2, 1]);
    let counters = app
        .count(
            "SELECT COUNT(*) FROM event_sequences WHERE user_id = $1",
            "u-again",
        )
        .await;
    assert_eq!(counters, 1);
}

/// A transaction that appended its event first but commits last must not be passed by a reader: on
/// PostgreSQL it gets its position only once it has committed.
#[tokio::test]
async fn an_event_committed_late_is_never_skipped_by_a_reader() {
    use user_profile_service::domain::event::{ActorRole, Change, Event, EventType};
    let app = TestApp::spawn().await;
    let event = |user: &str| {
        let change = Change::new(EventType::ProfileUpdated, user, user, 2, vec![]);
        Event::of(
            change,
            1,
            user_profile_service::clock::now(),
            ActorRole::User,
            None,
        )
    };
    let mut slow = app.db.begin().await.unwrap();
    db::events::append(&mut slow, &event("u-slow"), None)
        .await
        .unwrap();
    if app.is_postgres() {
        // SQLite runs one write transaction at a time, so the race below cannot happen there.
        let mut fast = app.db.begin().await.unwrap();
        db::events::append(&mut fast, &event("u-fast"), None)
            .await
            .unwrap();
        fast.commit().await.unwrap();
    }
    let head = db::events::assign_positions(&app.db).await.unwrap();
    let seen = db::events::page(app.db.reader(), 0, head, &Filter::default(), 100)
        .await
        .unwrap();
    let cursor = seen.last().map_or(0, |p| p.position);
    slow.commit().await.unwrap();
    let head = db::events::assign_positions(&app.db).await.unwrap();
    let next = db::events::page(app.db.reader(), cursor, head, &Filter::default(), 100)
        .await
        .unwrap();
    let users: Vec<&str> = seen
        .iter()
        .chain(&next)
        .map(|p| p.event.user_id.as_str())
        .collect();
    if app.is_postgres() {
        assert_eq!(users, ["u-fast", "u-slow"]);
    } else {
        assert_eq!(users, ["u-slow"]);
    }
}

/// Many writers at once, one reader paging all along: the reader ends with every event exactly once, and each
/// user's events in sequence order.
#[tokio::test]
async fn a_reader_paging_during_concurrent_writes_sees_every_event_once_in_per_user_order() {
    let app = Arc::new(TestApp::spawn().await);
    let token = reader(&app);
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let app = app.clone();
            tokio::spawn(async move {
                let user = format!("u-writer-{w}");
                let token = app
                    .create_profile(&user, &format!("{user}@example.com"))
                    .await;
                for i in 0..10 {
                    let body = json!({"display_name": format!("name {i}")});
                    assert_eq!(
                        app.patch_json(ME, &token, &body).await.status,
                        StatusCode::OK
                    );
                }
            })
        })
        .collect();
    let mut seen: Vec<Value> = Vec::new();
    let mut after = String::new();
    loop {
        let writing = !writers.iter().all(tokio::task::JoinHandle::is_finished);
        let page = expect_ok(
            &app.get(&format!("{EVENTS}?limit=7&wait=1&after={after}"), &token)
                .await,
        );
        after = page["next_cursor"].as_str().unwrap().to_string();
        let items = page["items"].as_array().unwrap();
        seen.extend(items.iter().cloned());
        if !writing && items.is_empty() {
            break;
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let ids: BTreeSet<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), seen.len(), "an event was read twice");
    assert_eq!(
        seen.len(),
        88,
        "8 profiles created and patched 10 times each"
    );
    for w in 0..8 {
        let user = format!("u-writer-{w}");
        let sequences: Vec<i64> = seen
            .iter()
            .filter(|e| e["user_id"] == user.as_str())
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(sequences, (1..=11).collect::<Vec<_>>(), "{user}");
    }
}

#[tokio::test]
async fn the_openapi_document_holds_a_schema_for_every_event_type() {
    use user_profile_service::domain::event::EventType;
    let app = TestApp::spawn().await;
    let doc = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await
        .json();
    for kind in EventType::ALL {
        let name = user_profile_service::http::openapi::event_schema_name(kind);
        let schema = &doc["components"]["schemas"][&name];
        let fixed = &schema["allOf"][1]["properties"]["type"]["enum"];
        assert_eq!(fixed, &json!([kind.as_str()]), "{name}");
        let number = if kind.is_about_an_address() {
            "revision"
        } else {
            "version"
        };
        assert_eq!(schema["allOf"][1]["required"], json!([number]), "{name}");
    }
    assert_eq!(
        user_profile_service::http::openapi::event_schema_name(EventType::AddressDefaultsChanged),
        "AddressDefaultsChangedEvent"
    );
}

/// Retention deletes only what is older than its cutoff, also when it runs while events are being numbered (it
/// runs at start-up, while the first writes arrive).
#[tokio::test]
async fn retention_never_deletes_a_young_event() {
    let app = TestApp::spawn().await;
    let cutoff = user_profile_service::clock::now() - time::Duration::days(7);
    for i in 0..20 {
        app.create_profile(&format!("u-young-{i}"), &format!("young{i}@example.com"))
            .await;
        let deleted = db::events::prune(&app.db, cutoff, i64::MAX, 1000)
            .await
            .unwrap();
        assert_eq!(deleted, 0);
    }
    assert_eq!(settled_events(&app, None).await.len(), 20);
}
