//! `Idempotency-Key` (issue 14, part 1; docs/idempotency.md): a retry with the same key replays the first
//! answer and changes nothing; another request under the key is 422, a request still running 409; keys are the
//! caller's, shared by instances on one database, expire and are pruned; a failed (5xx) attempt is not kept.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use user_profile_service::{
    db,
    domain::idempotency::{Fingerprint, IdempotencyKey},
    service::idempotency::{self as idem, Attempt, Claimed, Scope},
    with_conn,
};

use crate::support::{TestApp, TestResponse};

const PROFILE: &str = "/api/v1/profiles/me";
const ADDRESSES: &str = "/api/v1/profiles/me/addresses";
const PREFERENCES: &str = "/api/v1/profiles/me/preferences";
const KEY: &str = "0193b7c2-6f1e-7d2a-9b1c-3f4e5a6b7c8d";

const COUNT_ADDRESSES: &str = "SELECT COUNT(*) FROM addresses WHERE user_id = $1";
const COUNT_EVENTS: &str = "SELECT COUNT(*) FROM audit_events WHERE target_user_id = $1";
const COUNT_KEYS: &str = "SELECT COUNT(*) FROM idempotency_keys WHERE caller_id = $1";

fn home() -> Value {
    json!({
        "label": "Home",
        "recipient_name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB"
    })
}

fn profile(sub: &str) -> Value {
    json!({"email": format!("{sub}@example.com"), "display_name": sub})
}

/// Sends `body` to `path` with `token` and `Idempotency-Key: key`.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    key: &str,
) -> TestResponse {
    let content_type = if method == Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let headers = [("idempotency-key", key), ("content-type", content_type)];
    app.request(method, path, Some(token), body, &headers).await
}

async fn post_address(app: &TestApp, token: &str, body: &Value, key: &str) -> TestResponse {
    send(app, Method::POST, ADDRESSES, token, Some(body), key).await
}

/// Asserts that `replay` is `first` again: status, body, `ETag`, `Location`, `Content-Type`, marked replayed.
#[track_caller]
fn assert_replays(replay: &TestResponse, first: &TestResponse) {
    assert_eq!(replay.status, first.status);
    assert_eq!(replay.body, first.body);
    for name in ["etag", "location", "content-type"] {
        assert_eq!(replay.header(name), first.header(name), "{name}");
    }
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(first.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn a_retried_address_creation_replays_the_first_answer_and_stores_nothing_new() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;

    let first = post_address(&app, &token, &home(), KEY).await;
    let (addresses, events) = (
        app.count(COUNT_ADDRESSES, "u1").await,
        app.count(COUNT_EVENTS, "u1").await,
    );
    let retry = post_address(&app, &token, &home(), KEY).await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.header("location").is_some() && first.header("etag").is_some());
    assert_replays(&retry, &first);
    // The replay is a request of its own: its own request id.
    assert_ne!(retry.header("x-request-id"), first.header("x-request-id"));
    assert_eq!((addresses, events), (1, 2));
    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, addresses);
    assert_eq!(app.count(COUNT_EVENTS, "u1").await, events);
}

#[tokio::test]
async fn a_retried_profile_creation_replays_201_with_its_location_and_etag_even_after_a_change() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");

    let first = send(
        &app,
        Method::PUT,
        PROFILE,
        &token,
        Some(&profile("u1")),
        KEY,
    )
    .await;
    let changed = app
        .patch_json(PROFILE, &token, &json!({"display_name": "Changed"}))
        .await;
    let retry = send(
        &app,
        Method::PUT,
        PROFILE,
        &token,
        Some(&profile("u1")),
        KEY,
    )
    .await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(changed.status, StatusCode::OK);
    assert_replays(&retry, &first);
    assert_eq!(retry.json()["version"], 1);
    let stored = app.get(PROFILE, &token).await.json();
    assert_eq!(
        (stored["display_name"].clone(), stored["version"].clone()),
        (json!("Changed"), json!(2))
    );
    assert_eq!(app.count(COUNT_EVENTS, "u1").await, 2);
}

#[tokio::test]
async fn a_retried_preferences_replacement_replays_without_a_new_version_or_consent_record() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let body = json!({"notifications": {"email": {"marketing": true}}});
    let consents = "SELECT COUNT(*) FROM consent_records WHERE user_id = $1";

    let first = send(&app, Method::PUT, PREFERENCES, &token, Some(&body), KEY).await;
    let records = app.count(consents, "u1").await;
    let retry = send(&app, Method::PUT, PREFERENCES, &token, Some(&body), KEY).await;

    assert_eq!(first.status, StatusCode::OK);
    assert_replays(&retry, &first);
    assert_eq!(records, 1);
    assert_eq!(app.count(consents, "u1").await, 1);
    assert_eq!(app.get(PREFERENCES, &token).await.json()["version"], 1);
}

#[tokio::test]
async fn retried_admin_suspension_reactivation_and_erasure_replay_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;
    let admin = app.token_with("ops-1", &["admin"], None);
    let path = "/api/v1/admin/profiles/u1";
    let (suspend, reactivate) = (json!({"status": "suspended"}), json!({"status": "active"}));

    let suspended = send(
        &app,
        Method::PATCH,
        path,
        &admin,
        Some(&suspend),
        "k-suspend",
    )
    .await;
    send(
        &app,
        Method::PATCH,
        path,
        &admin,
        Some(&reactivate),
        "k-reactivate",
    )
    .await;
    let events = app.count(COUNT_EVENTS, "u1").await;
    let suspended_again = send(
        &app,
        Method::PATCH,
        path,
        &admin,
        Some(&suspend),
        "k-suspend",
    )
    .await;
    let after_replay = app.get(path, &admin).await.json();
    let erased = send(&app, Method::DELETE, path, &admin, None, "k-erase").await;
    let erased_again = send(&app, Method::DELETE, path, &admin, None, "k-erase").await;

    assert_eq!(suspended.json()["status"], "suspended");
    assert_replays(&suspended_again, &suspended);
    assert_eq!(after_replay["profile"]["status"], "active");
    // The replay wrote nothing; the admin read after it wrote its own `profile.admin_viewed`.
    assert_eq!(events, 3);
    assert_eq!(erased.status, StatusCode::NO_CONTENT);
    assert_replays(&erased_again, &erased);
    assert!(erased_again.body.is_empty());
}

#[tokio::test]
async fn a_retried_lift_of_a_kept_suspension_replays_204() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let admin = app.token_with("ops-1", &["admin"], None);
    let suspend = json!({"status": "suspended"});
    app.patch_json("/api/v1/admin/profiles/u1", &admin, &suspend)
        .await;
    assert_eq!(
        app.delete(PROFILE, &token).await.status,
        StatusCode::NO_CONTENT
    );
    let path = "/api/v1/admin/kept-suspensions/u1";

    let lifted = send(&app, Method::DELETE, path, &admin, None, KEY).await;
    let lifted_again = send(&app, Method::DELETE, path, &admin, None, KEY).await;
    let without_key = app.delete(path, &admin).await;

    assert_eq!(lifted.status, StatusCode::NO_CONTENT);
    assert_replays(&lifted_again, &lifted);
    without_key.assert_problem(404, "kept_suspension_not_found");
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_idempotency_key_reused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    post_address(&app, &token, &home(), KEY).await;
    let mut other = home();
    other["label"] = json!("Office");

    let reused = post_address(&app, &token, &other, KEY).await;

    let problem = reused.assert_problem(422, "idempotency_key_reused");
    assert!(problem["detail"].as_str().unwrap().contains("another body"));
    assert_eq!(reused.header("idempotent-replayed"), None);
    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, 1);
}

#[tokio::test]
async fn the_same_json_document_with_another_member_order_and_spacing_is_the_same_request() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let first = post_address(&app, &token, &home(), KEY).await;
    let reordered = r#"{ "country":"GB", "postal_code":"SW1Y 4JH", "city":"London",
        "line1":"12 St James's Square", "recipient_name":"Ada Lovelace", "label":"Home" }"#;
    let request = axum::http::Request::post(ADDRESSES)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", KEY)
        .body(axum::body::Body::from(reordered))
        .unwrap();

    let retry = app.send(request).await;

    assert_replays(&retry, &first);
}

#[tokio::test]
async fn the_same_key_on_another_path_is_422_idempotency_key_reused() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    post_address(&app, &token, &home(), KEY).await;

    let elsewhere = send(
        &app,
        Method::PUT,
        PREFERENCES,
        &token,
        Some(&json!({})),
        KEY,
    )
    .await;

    let problem = elsewhere.assert_problem(422, "idempotency_key_reused");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("another operation")
    );
    assert_eq!(app.get(PREFERENCES, &token).await.json()["version"], 0);
}

#[tokio::test]
async fn another_caller_with_the_same_key_is_independent_and_so_is_the_same_sub_as_admin() {
    let app = TestApp::spawn().await;
    let ada = app.create_profile("ada", "ada@example.com").await;
    let bob = app.create_profile("bob", "bob@example.com").await;
    let ada_as_admin = app.token_with("ada", &["admin"], None);

    let for_ada = post_address(&app, &ada, &home(), KEY).await;
    let for_bob = post_address(&app, &bob, &home(), KEY).await;
    let suspend = json!({"status": "suspended"});
    let admin_path = "/api/v1/admin/profiles/bob";
    let as_admin = send(
        &app,
        Method::PATCH,
        admin_path,
        &ada_as_admin,
        Some(&suspend),
        KEY,
    )
    .await;

    assert_eq!(for_ada.status, StatusCode::CREATED);
    assert_eq!(for_bob.status, StatusCode::CREATED);
    assert_eq!(for_bob.header("idempotent-replayed"), None);
    assert_ne!(for_ada.json()["id"], for_bob.json()["id"]);
    assert_eq!(
        as_admin.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&as_admin.body)
    );
    assert_eq!(app.count(COUNT_ADDRESSES, "ada").await, 1);
    assert_eq!(app.count(COUNT_ADDRESSES, "bob").await, 1);
}

#[tokio::test]
async fn twenty_concurrent_retries_of_one_address_creation_create_exactly_one_address() {
    let app = Arc::new(TestApp::spawn().await);
    let token = app.create_profile("u1", "u1@example.com").await;

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { post_address(&app, &token, &home(), KEY).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, 1);
    let created: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .collect();
    let first = created
        .iter()
        .find(|a| a.header("idempotent-replayed").is_none())
        .expect("one request ran");
    for answer in &answers {
        if answer.status == StatusCode::CREATED {
            assert_eq!(answer.body, first.body);
        } else {
            answer.assert_problem(409, "idempotency_in_progress");
            assert_eq!(answer.header("retry-after").as_deref(), Some("1"));
        }
    }
    let ran = created
        .iter()
        .filter(|a| a.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(ran, 1);
    let retry = post_address(&app, &token, &home(), KEY).await;
    assert_replays(&retry, first);
}

/// Holds `key` for `user_id`'s address creation as a request that is still running would.
async fn claim_address_creation(app: &TestApp, user_id: &str, key: &str) -> Claimed {
    let key = IdempotencyKey::parse(key.as_bytes()).unwrap();
    let attempt = Attempt {
        scope: Scope {
            kind: "user",
            caller_id: user_id.into(),
        },
        key: &key,
        target_user_id: user_id,
        method: "POST",
        path: ADDRESSES,
        fingerprint: Fingerprint::of_body(&serde_json::to_vec(&home()).unwrap()),
    };
    idem::claim(&app.state, &attempt).await.unwrap()
}

/// Waits (up to 5 s) for the background release of a dropped claim to delete `user_id`'s keys.
async fn wait_until_freed(app: &TestApp, user_id: &str) {
    for _ in 0..500 {
        if app.count(COUNT_KEYS, user_id).await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the dropped claim was never released");
}

#[tokio::test]
async fn the_same_key_while_the_first_request_runs_is_409_and_free_again_once_it_is_released() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let Claimed::Run(running) = claim_address_creation(&app, "u1", KEY).await else {
        panic!("the key was free");
    };

    let meanwhile = post_address(&app, &token, &home(), KEY).await;
    drop(running);
    wait_until_freed(&app, "u1").await;
    let afterwards = post_address(&app, &token, &home(), KEY).await;

    meanwhile.assert_problem(409, "idempotency_in_progress");
    assert_eq!(meanwhile.header("retry-after").as_deref(), Some("1"));
    assert_eq!(afterwards.status, StatusCode::CREATED);
    assert_eq!(afterwards.header("idempotent-replayed"), None);
}

/// Moves every time of `user_id`'s keys back by `seconds`.
async fn age_keys(app: &TestApp, user_id: &str, seconds: i64) {
    let then = user_profile_service::clock::now() - time::Duration::seconds(seconds);
    let mut tx = app.db.begin().await.unwrap();
    with_conn!(&mut tx, |c| sqlx::query(
        "UPDATE idempotency_keys SET created_at = $1, locked_at = $1 WHERE caller_id = $2"
    )
    .bind(then)
    .bind(user_id)
    .execute(c)
    .await
    .map(|_| ()))
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_claim_left_by_a_crashed_request_is_taken_over_once_stale() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let Claimed::Run(crashed) = claim_address_creation(&app, "u1", KEY).await else {
        panic!("the key was free");
    };
    // The process died: nothing frees the claim.
    #[allow(
        clippy::mem_forget,
        reason = "a request whose process died never settles its claim"
    )]
    std::mem::forget(crashed);
    let fresh = post_address(&app, &token, &home(), KEY).await;
    // REQUEST_TIMEOUT_SECONDS is 30: a claim goes stale after 60 s.
    age_keys(&app, "u1", 61).await;

    let after_stale = post_address(&app, &token, &home(), KEY).await;
    let retry = post_address(&app, &token, &home(), KEY).await;

    fresh.assert_problem(409, "idempotency_in_progress");
    assert_eq!(after_stale.status, StatusCode::CREATED);
    assert_replays(&retry, &after_stale);
    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, 1);
}

/// Makes every address insert fail in the database, as a real fault would (500 `internal_error`).
async fn break_address_inserts(app: &TestApp, broken: bool) {
    let statements: &[&str] = match (app.is_postgres(), broken) {
        (false, true) => &[
            "CREATE TRIGGER break_addresses BEFORE INSERT ON addresses BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        ],
        (false, false) => &["DROP TRIGGER break_addresses"],
        (true, true) => &[
            "CREATE FUNCTION break_addresses() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected fault'; END $$",
            "CREATE TRIGGER break_addresses BEFORE INSERT ON addresses \
             FOR EACH ROW EXECUTE FUNCTION break_addresses()",
        ],
        (true, false) => &["DROP TRIGGER break_addresses ON addresses"],
    };
    let mut tx = app.db.begin().await.unwrap();
    for sql in statements {
        with_conn!(&mut tx, |c| sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(c)
            .await
            .map(|_| ()))
        .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_first_attempt_that_fails_with_500_is_not_kept_so_the_retry_runs() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    break_address_inserts(&app, true).await;

    let failed = post_address(&app, &token, &home(), KEY).await;
    let keys_after_failure = app.count(COUNT_KEYS, "u1").await;
    break_address_inserts(&app, false).await;
    let retry = post_address(&app, &token, &home(), KEY).await;

    failed.assert_problem(500, "internal_error");
    assert_eq!(keys_after_failure, 0);
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.header("idempotent-replayed"), None);
    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, 1);
}

#[tokio::test]
async fn a_refused_body_is_not_kept_so_the_corrected_request_runs_under_the_same_key() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let mut invalid = home();
    invalid["country"] = json!("XX");

    let refused = post_address(&app, &token, &invalid, KEY).await;
    let corrected = post_address(&app, &token, &home(), KEY).await;

    refused.assert_problem(422, "validation_failed");
    assert_eq!(corrected.status, StatusCode::CREATED);
    assert_eq!(corrected.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn a_decision_on_the_data_is_kept_a_404_replays_even_after_the_profile_exists() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");

    let first = post_address(&app, &token, &home(), KEY).await;
    app.create_profile("u1", "u1@example.com").await;
    let retry = post_address(&app, &token, &home(), KEY).await;
    let new_key = post_address(&app, &token, &home(), "another-key").await;

    first.assert_problem(404, "profile_not_found");
    assert_replays(&retry, &first);
    assert_eq!(new_key.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_caller_refused_by_auth_claims_no_key() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "u1@example.com").await;
    let service = app.token_with("u1", &["service"], None);
    let user = app.token("u1");

    let forbidden = post_address(&app, &service, &home(), KEY).await;
    let as_user_on_admin = send(
        &app,
        Method::DELETE,
        "/api/v1/admin/profiles/u1",
        &user,
        None,
        KEY,
    )
    .await;
    let no_token = app
        .request(
            Method::POST,
            ADDRESSES,
            None,
            Some(&home()),
            &[("idempotency-key", KEY)],
        )
        .await;

    forbidden.assert_problem(403, "forbidden");
    as_user_on_admin.assert_problem(403, "forbidden");
    no_token.assert_problem(401, "unauthorized");
    assert_eq!(app.count(COUNT_KEYS, "u1").await, 0);
    assert_eq!(
        post_address(&app, &user, &home(), KEY).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_malformed_key_is_422_validation_failed_naming_the_header_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let long = "k".repeat(256);

    for (key, code) in [
        ("", "length"),
        (long.as_str(), "length"),
        ("two words", "invalid_format"),
        ("tab\there", "invalid_format"),
    ] {
        let answer = post_address(&app, &token, &home(), key).await;
        let problem = answer.assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "Idempotency-Key", "{key:?}");
        assert_eq!(problem["errors"][0]["code"], code, "{key:?}");
    }
    let request = axum::http::Request::post(ADDRESSES)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .body(axum::body::Body::from(serde_json::to_vec(&home()).unwrap()))
        .unwrap();
    app.send(request)
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, 0);
}

#[tokio::test]
async fn a_key_on_a_route_that_does_not_take_one_is_ignored() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let patch = json!({"display_name": "A"});

    let first = app
        .request(
            Method::PATCH,
            PROFILE,
            Some(&token),
            Some(&patch),
            &[
                ("idempotency-key", KEY),
                ("content-type", "application/merge-patch+json"),
            ],
        )
        .await;
    let read = app
        .request(
            Method::GET,
            PROFILE,
            Some(&token),
            None,
            &[("idempotency-key", "")],
        )
        .await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(app.count(COUNT_KEYS, "u1").await, 0);
}

#[tokio::test]
async fn an_expired_key_counts_as_unused_and_the_pruning_deletes_it() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    post_address(&app, &token, &home(), KEY).await;
    post_address(&app, &token, &home(), "kept").await;
    age_keys(&app, "u1", 25 * 3600).await;
    let mut other = home();
    other["label"] = json!("Office");

    // Past IDEMPOTENCY_TTL_HOURS (24) the key starts afresh, even with another body.
    let reused_after_expiry = post_address(&app, &token, &other, KEY).await;
    let cutoff = user_profile_service::clock::now() - std::time::Duration::from_secs(24 * 3600);
    let pruned = db::idempotency::delete_created_before(&app.db, cutoff, 1)
        .await
        .unwrap();

    assert_eq!(reused_after_expiry.status, StatusCode::CREATED);
    assert_eq!(reused_after_expiry.header("idempotent-replayed"), None);
    assert_eq!(pruned, 1, "only the expired `kept` key is left to prune");
    assert_eq!(app.count(COUNT_KEYS, "u1").await, 1);
    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, 3);
    let replay = post_address(&app, &token, &other, KEY).await;
    assert_replays(&replay, &reused_after_expiry);
}

#[tokio::test]
async fn a_short_ttl_is_honoured_by_the_claim() {
    let app = TestApp::spawn_with(&[("IDEMPOTENCY_TTL_HOURS", "1")]).await;
    let token = app.create_profile("u1", "u1@example.com").await;
    post_address(&app, &token, &home(), KEY).await;
    age_keys(&app, "u1", 3601).await;

    let after_ttl = post_address(&app, &token, &home(), KEY).await;

    assert_eq!(after_ttl.header("idempotent-replayed"), None);
    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, 2);
}

#[tokio::test]
async fn two_instances_on_one_database_share_keys() {
    let app = TestApp::spawn().await;
    let other = app.second_instance().await;
    let token = app.create_profile("u1", "u1@example.com").await;

    let first = post_address(&app, &token, &home(), KEY).await;
    let retry_elsewhere = post_address(&other, &token, &home(), KEY).await;
    let Claimed::Run(running) = claim_address_creation(&app, "u1", "running").await else {
        panic!("the key was free");
    };
    let while_running = post_address(&other, &token, &home(), "running").await;
    drop(running);

    assert_replays(&retry_elsewhere, &first);
    while_running.assert_problem(409, "idempotency_in_progress");
    assert_eq!(app.count(COUNT_ADDRESSES, "u1").await, 1);
}

#[tokio::test]
async fn erasing_a_profile_deletes_the_answers_kept_about_it_so_a_new_profile_is_created_afresh() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    let admin = app.token_with("ops-1", &["admin"], None);
    let created = send(
        &app,
        Method::PUT,
        PROFILE,
        &token,
        Some(&profile("u1")),
        KEY,
    )
    .await;
    post_address(&app, &token, &home(), "address-key").await;
    let rename = json!({"display_name": "Renamed"});
    send(
        &app,
        Method::PATCH,
        "/api/v1/admin/profiles/u1",
        &admin,
        Some(&rename),
        KEY,
    )
    .await;
    let kept = "SELECT COUNT(*) FROM idempotency_keys WHERE target_user_id = $1";
    let before = app.count(kept, "u1").await;

    assert_eq!(
        app.delete(PROFILE, &token).await.status,
        StatusCode::NO_CONTENT
    );
    let recreated = send(
        &app,
        Method::PUT,
        PROFILE,
        &token,
        Some(&profile("u1")),
        KEY,
    )
    .await;

    assert_eq!(before, 3);
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(recreated.status, StatusCode::CREATED);
    assert_eq!(recreated.header("idempotent-replayed"), None);
    assert_ne!(recreated.json()["created_at"], json!(null));
    // Only the new creation's answer is kept now.
    assert_eq!(app.count(kept, "u1").await, 1);
}

#[tokio::test]
async fn the_openapi_document_declares_the_key_the_replay_header_and_the_409_and_422() {
    let app = TestApp::spawn().await;
    let spec = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await
        .json();
    let operations = [
        ("put", PROFILE, "201"),
        ("post", ADDRESSES, "201"),
        ("put", PREFERENCES, "200"),
        ("patch", "/api/v1/admin/profiles/{user_id}", "200"),
        ("delete", "/api/v1/admin/profiles/{user_id}", "204"),
        ("delete", "/api/v1/admin/kept-suspensions/{user_id}", "204"),
    ];

    for (method, path, success) in operations {
        let op = &spec["paths"][path][method];
        let key = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .unwrap_or_else(|| panic!("{method} {path} does not declare Idempotency-Key"));
        assert_eq!(key["in"], "header");
        assert_eq!(key["schema"]["maxLength"], 255);
        let replayed = &op["responses"][success]["headers"]["Idempotent-Replayed"];
        assert!(replayed.is_object(), "{method} {path}");
        for (status, code) in [
            ("409", "idempotency_in_progress"),
            ("422", "idempotency_key_reused"),
        ] {
            let description = op["responses"][status]["description"].as_str().unwrap();
            assert!(description.contains(code), "{method} {path} {status}");
        }
    }
    let patch_me = &spec["paths"][PROFILE]["patch"]["parameters"];
    assert!(!patch_me.to_string().contains("Idempotency-Key"));
}

#[tokio::test]
async fn a_body_over_64_kib_with_a_key_is_413_and_claims_nothing() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "u1@example.com").await;
    let mut large = home();
    large["label"] = json!("x".repeat(70 * 1024));

    let answer = post_address(&app, &token, &large, KEY).await;

    answer.assert_problem(413, "payload_too_large");
    assert_eq!(app.count(COUNT_KEYS, "u1").await, 0);
}

#[tokio::test]
async fn browsers_may_send_the_key_and_read_the_replay_header_through_cors() {
    let shop = "https://shop.example.com";
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", shop)]).await;
    let token = app.create_profile("u1", "u1@example.com").await;

    let preflight = app
        .request(
            Method::OPTIONS,
            ADDRESSES,
            None,
            None,
            &[
                ("origin", shop),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization,content-type,idempotency-key",
                ),
            ],
        )
        .await;
    let headers = [
        ("idempotency-key", KEY),
        ("origin", shop),
        ("content-type", "application/json"),
    ];
    let created = app
        .request(
            Method::POST,
            ADDRESSES,
            Some(&token),
            Some(&home()),
            &headers,
        )
        .await;

    assert!(preflight.status.is_success(), "{}", preflight.status);
    let allowed = preflight.header("access-control-allow-headers").unwrap();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    let exposed = created.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("idempotent-replayed"), "{exposed}");
}
