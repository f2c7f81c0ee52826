//! What no single user can grow past (docs/limits.md): address revisions and consent records, each refused with
//! its 409 and nothing written; audit events expire after the retention period; the export groups every revision.

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, macros::datetime};
use user_profile_service::{
    db,
    domain::{
        address::MAX_ADDRESS_REVISIONS_PER_USER, audit::AuditEvent, preferences::ConsentChange,
    },
    service::preferences::MAX_CONSENT_RECORDS_PER_USER,
    with_pool,
};
use uuid::Uuid;

use crate::support::TestApp;

const ADDRESSES: &str = "/api/v1/profiles/me/addresses";
const PREFS: &str = "/api/v1/profiles/me/preferences";

fn address(label: &str) -> Value {
    json!({
        "label": label, "recipient_name": "Ada Lovelace", "line1": "Unter den Linden 1",
        "city": "Berlin", "postal_code": "10117", "country": "DE"
    })
}

async fn add(app: &TestApp, token: &str, label: &str) -> String {
    let response = app.post_json(ADDRESSES, token, &address(label)).await;
    assert_eq!(response.status, StatusCode::CREATED);
    format!("{ADDRESSES}/{}", response.json()["id"].as_str().unwrap())
}

/// Brings the address at `path` (at revision 1) to `revision`, with every revision stored, straight in the
/// database: thousands of requests would make the test slow without testing anything more.
async fn seed_revisions(app: &TestApp, path: &str, revision: i64) {
    const COPIES: &str = "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
        INSERT INTO address_revisions (address_id, revision, user_id, label, recipient_name, company, line1, \
        line2, city, region, postal_code, country, phone, is_default_shipping, is_default_billing, deleted_at, \
        created_at) SELECT r.address_id, n.i, r.user_id, r.label, r.recipient_name, r.company, r.line1, r.line2, \
        r.city, r.region, r.postal_code, r.country, r.phone, r.is_default_shipping, r.is_default_billing, \
        r.deleted_at, r.created_at FROM address_revisions r, n WHERE r.address_id = $1 AND r.revision = 1";
    const BUMP: &str = "UPDATE addresses SET revision = $2 WHERE id = $1";
    let id: Uuid = path.rsplit('/').next().unwrap().parse().unwrap();
    for sql in [COPIES, BUMP] {
        with_pool!(app.db.reader(), |c| sqlx::query(sql)
            .bind(id)
            .bind(revision)
            .execute(c)
            .await
            .map(|_| ())
            .unwrap());
    }
}

/// Everything a refused write might have left behind: addresses, revisions, audit events, consent records.
async fn footprint(app: &TestApp, user_id: &str) -> [i64; 4] {
    [
        app.count("SELECT COUNT(*) FROM addresses WHERE user_id = $1", user_id)
            .await,
        app.count(
            "SELECT COUNT(*) FROM address_revisions WHERE user_id = $1",
            user_id,
        )
        .await,
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE target_user_id = $1",
            user_id,
        )
        .await,
        app.count(
            "SELECT COUNT(*) FROM consent_records WHERE user_id = $1",
            user_id,
        )
        .await,
    ]
}

#[tokio::test]
async fn a_user_whose_addresses_hold_5000_revisions_gets_409_address_history_full_on_create_and_edit()
 {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let path = add(&app, &token, "Home").await;
    seed_revisions(&app, &path, MAX_ADDRESS_REVISIONS_PER_USER - 1).await;
    // One revision of room left: this edit takes it.
    let last = app
        .patch_json(&path, &token, &json!({"label": "Flat"}))
        .await;
    assert_eq!(last.status, StatusCode::OK);
    assert_eq!(last.json()["revision"], MAX_ADDRESS_REVISIONS_PER_USER);
    let before = footprint(&app, "u1").await;

    let created = app.post_json(ADDRESSES, &token, &address("Office")).await;
    let replaced = app.put_json(&path, &token, &address("Office")).await;
    let patched = app.patch_json(&path, &token, &json!({"label": "x"})).await;

    for refused in [created, replaced, patched] {
        let body = refused.assert_problem(409, "address_history_full");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains(&MAX_ADDRESS_REVISIONS_PER_USER.to_string()),
            "{body}"
        );
    }
    assert_eq!(footprint(&app, "u1").await, before);
    // A write that changes nothing still answers 200.
    let unchanged = app
        .patch_json(&path, &token, &json!({"label": "Flat"}))
        .await;
    assert_eq!(unchanged.status, StatusCode::OK);
    assert_eq!(unchanged.json()["revision"], MAX_ADDRESS_REVISIONS_PER_USER);
}

#[tokio::test]
async fn at_the_revision_limit_a_delete_and_its_default_hand_over_still_go_through() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let home = add(&app, &token, "Home").await;
    let office = add(&app, &token, "Office").await;
    seed_revisions(&app, &home, MAX_ADDRESS_REVISIONS_PER_USER - 1).await;
    app.patch_json(&office, &token, &json!({"is_default_billing": true}))
        .await
        .assert_problem(409, "address_history_full");

    let deleted = app.delete(&home, &token).await;

    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let heir = app.get(&office, &token).await.json();
    assert_eq!(
        (&heir["is_default_shipping"], &heir["is_default_billing"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(heir["revision"], 2);
    assert_eq!(
        footprint(&app, "u1").await[1],
        MAX_ADDRESS_REVISIONS_PER_USER + 2
    );
}

/// Stores `n` consent records for `user_id` straight in the database (alternating withdrawals and grants of the
/// SMS newsletter, as a long history of changes would).
async fn seed_consents(app: &TestApp, user_id: &str, n: i64) {
    let changes: Vec<ConsentChange> = (0..n)
        .map(|i| ConsentChange {
            channel: "sms",
            purpose: "newsletter",
            granted: i % 2 == 1,
        })
        .collect();
    let mut tx = app.db.begin().await.unwrap();
    db::preferences::record_consents(&mut tx, user_id, &changes, OffsetDateTime::now_utc(), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn at_1000_consent_records_an_opt_in_is_409_consent_history_full_and_an_opt_out_is_recorded()
{
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let granted = app
        .patch_json(
            PREFS,
            &token,
            &json!({"notifications": {"email": {"marketing": true}}}),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK);
    seed_consents(&app, "u1", MAX_CONSENT_RECORDS_PER_USER - 1).await;
    let before = footprint(&app, "u1").await;

    let opt_in = app
        .patch_json(
            PREFS,
            &token,
            &json!({"notifications": {"push": {"newsletter": true}}, "currency": "EUR"}),
        )
        .await;

    let replaced = app
        .put_json(
            PREFS,
            &token,
            &json!({"notifications": {"push": {"newsletter": true}}}),
        )
        .await;

    let body = opt_in.assert_problem(409, "consent_history_full");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&MAX_CONSENT_RECORDS_PER_USER.to_string()),
        "{body}"
    );
    replaced.assert_problem(409, "consent_history_full");
    assert_eq!(footprint(&app, "u1").await, before);
    let current = app.get(PREFS, &token).await.json();
    assert_eq!(current["version"], 1);
    assert_eq!(current["currency"], Value::Null);

    let opt_out = app
        .patch_json(
            PREFS,
            &token,
            &json!({"notifications": {"email": {"marketing": false}}, "currency": "EUR"}),
        )
        .await;
    assert_eq!(opt_out.status, StatusCode::OK);
    assert_eq!(footprint(&app, "u1").await[3], before[3] + 1);
    let no_consent = app
        .patch_json(PREFS, &token, &json!({"language": "de"}))
        .await;
    assert_eq!(no_consent.status, StatusCode::OK);
}

/// An audit event that occurred at `at`, with an id minted then (as `service::record` does).
fn event_at(at: OffsetDateTime, target: &str) -> AuditEvent {
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap();
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        millis / 1000,
        u32::try_from(millis % 1000).unwrap() * 1_000_000,
    );
    AuditEvent {
        id: Uuid::new_v7(ts),
        occurred_at: at,
        actor_id: target.into(),
        actor_role: "user".into(),
        action: "profile.updated".into(),
        target_user_id: target.into(),
        request_id: None,
        changed_fields: vec!["display_name".into()],
    }
}

#[tokio::test]
async fn retention_deletes_in_batches_every_audit_event_older_than_the_cutoff_and_nothing_else() {
    let app = TestApp::spawn().await;
    let cutoff = datetime!(2026-03-01 12:00:00.000 UTC);
    let mut tx = app.db.begin().await.unwrap();
    for days in [400, 200, 31, 2, 1] {
        let event = event_at(cutoff - Duration::days(days), "old");
        db::audit::record(&mut tx, &event).await.unwrap();
    }
    let just_old = event_at(cutoff - Duration::milliseconds(1), "old");
    db::audit::record(&mut tx, &just_old).await.unwrap();
    for at in [
        cutoff,
        cutoff + Duration::milliseconds(1),
        cutoff + Duration::days(3),
    ] {
        db::audit::record(&mut tx, &event_at(at, "kept"))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    app.create_profile("now", "now@example.com").await;

    let deleted = db::audit::delete_before(&app.db, cutoff, 4).await.unwrap();

    assert_eq!(deleted, 6);
    let count = "SELECT COUNT(*) FROM audit_events WHERE target_user_id = $1";
    assert_eq!(app.count(count, "old").await, 0);
    assert_eq!(app.count(count, "kept").await, 3);
    assert_eq!(app.count(count, "now").await, 1);
    assert_eq!(
        db::audit::delete_before(&app.db, cutoff, 4).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn the_export_lists_each_address_with_exactly_its_own_revisions_in_order() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let (home, office) = (
        add(&app, &token, "Home").await,
        add(&app, &token, "Office").await,
    );
    for n in 1..=3 {
        for path in [&home, &office] {
            let label = json!({"label": format!("v{n}")});
            assert_eq!(
                app.patch_json(path, &token, &label).await.status,
                StatusCode::OK
            );
        }
    }
    app.delete(&office, &token).await;

    let export = app.get("/api/v1/profiles/me/export", &token).await.json();

    let addresses = export["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 2);
    for (address, last) in addresses.iter().zip([4, 5]) {
        let revisions = address["revisions"].as_array().unwrap();
        let numbers: Vec<i64> = revisions
            .iter()
            .map(|r| r["revision"].as_i64().unwrap())
            .collect();
        assert_eq!(numbers, (1..=last).collect::<Vec<_>>(), "{address}");
        assert!(revisions.iter().all(|r| r["id"] == address["id"]));
    }
}
