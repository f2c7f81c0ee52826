//! Privacy: `GET /api/v1/profiles/me/export` and erasure (`DELETE /api/v1/profiles/me`, and by an admin).

use axum::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

const ME: &str = "/api/v1/profiles/me";
const EXPORT: &str = "/api/v1/profiles/me/export";
const PREFS: &str = "/api/v1/profiles/me/preferences";

/// Someone whose every personal value is distinctive enough to be searched for across the whole database.
struct Subject {
    user_id: &'static str,
    email: &'static str,
    display_name: &'static str,
    first_name: &'static str,
    last_name: &'static str,
    phone: &'static str,
}

const SUBJECT: Subject = Subject {
    user_id: "erasure-subject-7f3a",
    email: "Zebulon.Quux@Example.org",
    display_name: "Zebulon Q",
    first_name: "Zebulonius",
    last_name: "Quuxington",
    phone: "+14155550199",
};

impl Subject {
    fn personal_values(&self) -> [&'static str; 5] {
        [
            self.email,
            self.display_name,
            self.first_name,
            self.last_name,
            self.phone,
        ]
    }
}

/// Creates the subject with everything the service can hold about a user, and returns their token.
async fn create_subject_with_everything(app: &TestApp) -> String {
    let token = app.token(SUBJECT.user_id);
    let created = app
        .put_json(
            ME,
            &token,
            &json!({
                "email": SUBJECT.email, "display_name": SUBJECT.display_name,
                "first_name": SUBJECT.first_name, "last_name": SUBJECT.last_name,
                "phone": SUBJECT.phone, "locale": "en-US", "date_of_birth": "1980-02-03"
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let prefs = app
        .patch_json(
            PREFS,
            &token,
            &json!({"notifications": {"email": {"marketing": true}, "sms": {"newsletter": true}},
                    "currency": "USD", "recommendations": {"favorite_categories": ["telescopes"]}}),
        )
        .await;
    assert_eq!(prefs.status, StatusCode::OK);
    let address = app
        .post_json(
            "/api/v1/profiles/me/addresses",
            &token,
            &json!({
                "label": "Home", "recipient_name": format!("{} {}", SUBJECT.first_name, SUBJECT.last_name),
                "line1": "1 Erasure Street", "city": "Springfield", "region": "IL",
                "postal_code": "62701", "country": "US", "phone": SUBJECT.phone
            }),
        )
        .await;
    assert_eq!(address.status, StatusCode::CREATED);
    token
}

async fn tables(app: &TestApp) -> Vec<String> {
    const SQLITE: &str = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
    const POSTGRES: &str = "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                            WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1";
    let sql = if app.is_postgres() { POSTGRES } else { SQLITE };
    user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_scalar::<_, String>(sql)
            .fetch_all(c)
            .await
            .unwrap()
    })
}

async fn columns(app: &TestApp, table: &str) -> Vec<String> {
    const SQLITE: &str = "SELECT name FROM pragma_table_info($1)";
    const POSTGRES: &str = "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                            WHERE table_schema = current_schema() AND table_name = $1";
    let sql = if app.is_postgres() { POSTGRES } else { SQLITE };
    user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_scalar::<_, String>(sql)
            .bind(table)
            .fetch_all(c)
            .await
            .unwrap()
    })
}

/// Rows of `table` whose `column`, cast to text, contains `needle` regardless of case.
async fn rows_containing(app: &TestApp, table: &str, column: &str, needle: &str) -> i64 {
    let sql =
        format!("SELECT COUNT(*) FROM \"{table}\" WHERE LOWER(CAST(\"{column}\" AS TEXT)) LIKE $1");
    let pattern = format!("%{}%", needle.to_lowercase());
    user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&pattern)
            .fetch_one(c)
            .await
            .unwrap()
    })
}

/// Every `(table.column, needle)` where a needle still appears, over every table of the database.
async fn traces_of(app: &TestApp, needles: &[&str], skip_tables: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for table in tables(app).await {
        if skip_tables.contains(&table.as_str()) {
            continue;
        }
        for column in columns(app, &table).await {
            for needle in needles {
                if rows_containing(app, &table, &column, needle).await > 0 {
                    found.push(format!("{table}.{column} contains {needle}"));
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn export_returns_everything_held_about_the_caller_as_a_json_attachment() {
    let app = TestApp::spawn().await;
    let token = create_subject_with_everything(&app).await;

    let response = app.get(EXPORT, &token).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header("content-disposition").as_deref(),
        Some("attachment; filename=\"profile-export.json\"")
    );
    assert_eq!(
        response.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("no-store")
    );
    let export = response.json();
    assert!(export["exported_at"].is_string());
    assert_eq!(export["profile"]["user_id"], SUBJECT.user_id);
    assert_eq!(export["profile"]["phone"], SUBJECT.phone);
    assert_eq!(export["preferences"]["currency"], "USD");
    assert_eq!(export["preferences"]["version"], 1);
    let consents = export["consent_records"].as_array().unwrap();
    let kinds: Vec<(&str, &str, bool)> = consents
        .iter()
        .map(|r| {
            (
                r["channel"].as_str().unwrap(),
                r["purpose"].as_str().unwrap(),
                r["granted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("email", "marketing", true), ("sms", "newsletter", true)]
    );
    assert!(
        consents
            .iter()
            .all(|r| r["recorded_at"].is_string() && r["id"].is_string())
    );
    let addresses = export["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 1);
    assert_eq!(addresses[0]["line1"], "1 Erasure Street");
    assert_eq!(addresses[0]["revisions"][0]["revision"], 1);
}

#[tokio::test]
async fn export_contains_every_address_with_all_revisions_including_deleted_ones() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let body = json!({"recipient_name": "A", "line1": "1 Old Road", "city": "Bath",
                      "postal_code": "BA1 1AA", "country": "GB"});
    let created = app
        .post_json("/api/v1/profiles/me/addresses", &token, &body)
        .await
        .json();
    let at = format!(
        "/api/v1/profiles/me/addresses/{}",
        created["id"].as_str().unwrap()
    );
    app.patch_json(&at, &token, &json!({"line1": "2 New Road"}))
        .await;
    assert_eq!(app.delete(&at, &token).await.status, StatusCode::NO_CONTENT);

    let export = app.get(EXPORT, &token).await.json();

    let address = &export["addresses"][0];
    assert!(address["deleted_at"].is_string());
    let revisions = address["revisions"].as_array().unwrap();
    let lines: Vec<(i64, &str)> = revisions
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap(),
                r["line1"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [(1, "1 Old Road"), (2, "2 New Road"), (3, "2 New Road")]
    );
    assert!(revisions[2]["deleted_at"].is_string());
}

#[tokio::test]
async fn export_records_a_profile_exported_audit_event() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    app.get(EXPORT, &token).await;

    let admin = app.token_with("ops", &["admin"], None);
    let events = app
        .get(
            "/api/v1/admin/audit-events?user_id=u1&action=profile.exported",
            &admin,
        )
        .await
        .json();
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["actor_id"], "u1");
    assert_eq!(items[0]["actor_role"], "user");
    assert_eq!(items[0]["changed_fields"], json!([]));
}

#[tokio::test]
async fn export_lists_who_read_and_changed_your_data_and_when() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let bystander = app.create_profile("u2", "b@example.com").await;
    let admin = app.token_with("support-7", &["admin"], None);
    app.get("/api/v1/admin/profiles/u1", &admin).await;
    app.patch_json(
        "/api/v1/admin/profiles/u1",
        &admin,
        &json!({"display_name": "Fixed"}),
    )
    .await;
    app.get("/api/v1/admin/profiles/u2", &admin).await;
    app.get(EXPORT, &bystander).await;
    app.get(EXPORT, &token).await;

    let export = app.get(EXPORT, &token).await.json();

    let events: Vec<(&str, &str, &str)> = export["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["occurred_at"].is_string(), "{e}");
            assert_eq!(e.as_object().unwrap().len(), 4, "{e}");
            (
                e["actor_role"].as_str().unwrap(),
                e["actor_id"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("user", "u1", "profile.created"),
            ("admin", "support-7", "profile.admin_viewed"),
            ("admin", "support-7", "profile.updated"),
            ("user", "u1", "profile.exported"),
            ("user", "u1", "profile.exported"),
        ],
        "every event about u1, oldest first, this export included; none about u2"
    );
}

#[tokio::test]
async fn export_of_a_user_without_preferences_contains_the_defaults() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let export = app.get(EXPORT, &token).await.json();

    assert_eq!(export["preferences"]["version"], 0);
    assert_eq!(export["consent_records"], json!([]));
    assert_eq!(export["addresses"], json!([]));
}

#[tokio::test]
async fn export_returns_404_profile_not_found_without_a_profile() {
    let app = TestApp::spawn().await;
    app.get(EXPORT, &app.token("nobody"))
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn a_suspended_user_can_still_read_export_and_erase() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let admin = app.token_with("ops", &["admin"], None);
    app.patch_json(
        "/api/v1/admin/profiles/u1",
        &admin,
        &json!({"status": "suspended"}),
    )
    .await;

    let read = app.get(ME, &token).await;
    let export = app.get(EXPORT, &token).await;
    let erase = app.delete(ME, &token).await;

    assert_eq!(read.json()["status"], "suspended");
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(erase.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn erasure_leaves_nothing_personal_about_the_user_in_any_table() {
    let app = TestApp::spawn().await;
    let token = create_subject_with_everything(&app).await;
    app.get(EXPORT, &token).await;
    let admin = app.token_with("ops", &["admin"], None);
    app.get(
        &format!("/api/v1/admin/profiles/{}", SUBJECT.user_id),
        &admin,
    )
    .await;
    let bystander = app
        .create_profile("bystander", "bystander@example.com")
        .await;
    app.patch_json(
        PREFS,
        &bystander,
        &json!({"notifications": {"push": {"marketing": true}}}),
    )
    .await;
    let before = traces_of(&app, &SUBJECT.personal_values(), &[]).await;
    assert!(
        before.len() >= 5,
        "the scan must find the subject first: {before:?}"
    );

    let response = app.delete(ME, &token).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    let all_tables = tables(&app).await;
    for table in ["profiles", "preferences", "consent_records", "audit_events"] {
        assert!(
            all_tables.iter().any(|t| t == table),
            "{table} not listed: {all_tables:?}"
        );
    }
    let personal = traces_of(&app, &SUBJECT.personal_values(), &[]).await;
    assert!(
        personal.is_empty(),
        "personal data left after erasure: {personal:?}"
    );
    // What erasure keeps by design: the audit trail (ids and action names), the receipt and the address
    // tombstones (ids, numbers and times; see erasure.rs), and the change feed's events until their retention
    // (`profile.erased` must reach other services with the user id; docs/events.md).
    let kept = [
        "audit_events",
        "erasure_receipts",
        "erased_addresses",
        "outbox_events",
    ];
    let references = traces_of(&app, &[SUBJECT.user_id], &kept).await;
    assert!(
        references.is_empty(),
        "rows still reference the user: {references:?}"
    );
    let remaining = traces_of(&app, &["bystander"], &["audit_events"]).await;
    assert!(
        remaining.iter().any(|t| t.starts_with("consent_records.")),
        "other users' data must stay: {remaining:?}"
    );
}

#[tokio::test]
async fn after_erasure_the_audit_trail_keeps_only_ids_and_action_names() {
    let app = TestApp::spawn().await;
    let token = create_subject_with_everything(&app).await;

    app.delete(ME, &token).await;

    let admin = app.token_with("ops", &["admin"], None);
    let events = app
        .get(
            &format!("/api/v1/admin/audit-events?user_id={}", SUBJECT.user_id),
            &admin,
        )
        .await
        .json();
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"profile.created"));
    assert_eq!(actions.last(), Some(&"profile.deleted"));
    assert!(actions.contains(&"preferences.updated"));
    let text = events.to_string().to_lowercase();
    for value in SUBJECT.personal_values() {
        assert!(!text.contains(&value.to_lowercase()), "{value} in {text}");
    }
    assert!(!text.contains("telescopes"));
}

#[tokio::test]
async fn after_erasure_the_email_is_free_and_a_new_profile_starts_from_default_preferences() {
    let app = TestApp::spawn().await;
    let token = create_subject_with_everything(&app).await;
    app.delete(ME, &token).await;

    let again = app.create_profile(SUBJECT.user_id, SUBJECT.email).await;

    let prefs = app.get(PREFS, &again).await.json();
    assert_eq!(prefs["version"], 0);
    assert_eq!(
        app.get(EXPORT, &again).await.json()["consent_records"],
        json!([])
    );
}

async fn suspend(app: &TestApp, user_id: &str) {
    let admin = app.token_with("ops", &["admin"], None);
    let response = app
        .patch_json(
            &format!("/api/v1/admin/profiles/{user_id}"),
            &admin,
            &json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(response.json()["status"], "suspended");
}

#[tokio::test]
async fn a_suspended_user_who_erases_their_profile_cannot_create_it_again() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    suspend(&app, "u1").await;

    let erased = app.delete(ME, &token).await;
    let again = app
        .put_json(
            ME,
            &token,
            &json!({"email": "a@example.com", "display_name": "A"}),
        )
        .await;
    let create_only = app
        .request(
            axum::http::Method::PUT,
            ME,
            Some(&token),
            Some(&json!({"email": "b@example.com", "display_name": "B"})),
            &[("if-none-match", "*")],
        )
        .await;

    assert_eq!(erased.status, StatusCode::NO_CONTENT);
    again.assert_problem(403, "profile_suspended");
    create_only.assert_problem(403, "profile_suspended");
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE target_user_id = $1 AND action = 'profile.created'", "u1")
            .await,
        1
    );
}

#[tokio::test]
async fn a_suspended_profile_erased_by_an_admin_keeps_its_suspension_too() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    suspend(&app, "u1").await;
    let admin = app.token_with("ops", &["admin"], None);

    let erased = app.delete("/api/v1/admin/profiles/u1", &admin).await;
    let again = app
        .put_json(
            ME,
            &token,
            &json!({"email": "a@example.com", "display_name": "A"}),
        )
        .await;

    assert_eq!(erased.status, StatusCode::NO_CONTENT);
    again.assert_problem(403, "profile_suspended");
}

#[tokio::test]
async fn erasure_of_a_suspended_user_keeps_only_their_id_and_two_times() {
    let app = TestApp::spawn().await;
    let token = create_subject_with_everything(&app).await;
    suspend(&app, SUBJECT.user_id).await;

    let response = app.delete(ME, &token).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    let personal = traces_of(&app, &SUBJECT.personal_values(), &[]).await;
    assert!(
        personal.is_empty(),
        "personal data left after erasure: {personal:?}"
    );
    // Besides what every erasure keeps (the audit trail, the receipt, the address tombstones).
    let kept = [
        "audit_events",
        "erasure_receipts",
        "erased_addresses",
        "outbox_events",
    ];
    let references = traces_of(&app, &[SUBJECT.user_id], &kept).await;
    assert_eq!(
        references,
        [format!(
            "kept_suspensions.user_id contains {}",
            SUBJECT.user_id
        )]
    );
    let mut kept_columns = columns(&app, "kept_suspensions").await;
    kept_columns.sort();
    assert_eq!(kept_columns, ["erased_at", "suspended_at", "user_id"]);
}

#[tokio::test]
async fn what_every_erasure_keeps_has_ids_numbers_and_times_only() {
    let app = TestApp::spawn().await;

    let mut receipt = columns(&app, "erasure_receipts").await;
    let mut tombstone = columns(&app, "erased_addresses").await;

    receipt.sort();
    tombstone.sort();
    assert_eq!(
        receipt,
        [
            "actor_id",
            "actor_kind",
            "address_revisions",
            "addresses",
            "consent_records",
            "erased_at",
            "id",
            "preferences",
            "profiles",
            "request_id",
            "user_id"
        ]
    );
    assert_eq!(
        tombstone,
        ["address_id", "erased_at", "last_revision", "user_id"]
    );
}
