//! SPEC section 7, trace context (W3C): a caller's `traceparent`/`tracestate` is continued, not replaced; without
//! one each request starts a trace. The trace id is in every problem body, the calls to the auth service carry
//! the context on, and every outbox event keeps its request's. These run without an exporter (the default): the
//! ids exist anyway. The export itself is tested against the real binary in tests/traces.rs.

use axum::http::Method;
use jsonwebtoken::Algorithm;
use serde_json::json;
use user_profile_service::{auth::jwt::Claims, clock::unix_now, db, trace_context::TraceParent};

use crate::support::{
    TestApp,
    fake_auth::{FakeAuth, JWKS_PATH, VERIFY_PATH, Verify, sign},
};

const ME: &str = "/api/v1/profiles/me";
const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const CALLER_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        exp: unix_now() + 600,
        nbf: None,
        iat: Some(unix_now()),
        roles: vec!["user".into()],
        scope: None,
        iss: None,
        aud: None,
        auth_time: Some(unix_now()),
    }
}

async fn app_for(fake: &FakeAuth) -> TestApp {
    let vars = fake.env();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_with(&vars).await
}

/// Asserts that `sent` continues the caller's trace from a span of ours, and returns it parsed.
#[track_caller]
fn assert_continues_caller(sent: Option<&str>) -> TraceParent {
    let sent = sent.expect("a traceparent was sent");
    let parsed = TraceParent::parse(sent.as_bytes()).expect("a valid traceparent");
    let caller = TraceParent::parse(CALLER.as_bytes()).unwrap();
    assert_eq!(parsed.trace_id, caller.trace_id, "{sent}");
    assert_ne!(
        parsed.span_id, caller.span_id,
        "our own span, not the caller's: {sent}"
    );
    assert!(parsed.sampled, "the caller's sampled flag is kept: {sent}");
    parsed
}

#[tokio::test]
async fn a_callers_trace_is_continued_in_the_problem_body_and_the_remote_verification_call() {
    let fake = FakeAuth::start(&[]).await;
    fake.answer(Verify::Valid(
        json!({"user_id": "trace-remote", "roles": ["user"]}),
    ));
    let app = app_for(&fake).await;
    // RS384: no local key serves it, so the auth service is asked.
    let token = sign(Algorithm::RS384, "rsa-1", None, &claims("trace-remote"));

    let response = app
        .request(
            Method::GET,
            ME,
            Some(&token),
            None,
            &[("traceparent", CALLER), ("tracestate", "shop=checkout-7")],
        )
        .await;

    let problem = response.assert_problem(404, "profile_not_found");
    assert_eq!(problem["trace_id"], CALLER_TRACE_ID);
    let call = fake
        .last_trace(VERIFY_PATH)
        .expect("the auth service was asked");
    assert_continues_caller(call.traceparent.as_deref());
    assert_eq!(call.tracestate.as_deref(), Some("shop=checkout-7"));
}

#[tokio::test]
async fn the_jwks_fetched_for_a_request_carries_its_trace_context() {
    let fake = FakeAuth::start(&["rsa-1"]).await;
    let app = app_for(&fake).await;
    let token = sign(
        Algorithm::RS256,
        "rsa-1",
        Some("rsa-1"),
        &claims("trace-jwks"),
    );

    let response = app
        .request(
            Method::GET,
            ME,
            Some(&token),
            None,
            &[("traceparent", CALLER)],
        )
        .await;

    response.assert_problem(404, "profile_not_found");
    let call = fake.last_trace(JWKS_PATH).expect("the JWKS was fetched");
    assert_continues_caller(call.traceparent.as_deref());
    assert_eq!(call.tracestate, None);
}

#[tokio::test]
async fn without_a_traceparent_each_request_starts_a_trace_of_its_own() {
    let app = TestApp::spawn().await;
    let token = app.token("trace-new");

    let first = app.get(ME, &token).await;
    let second = app.get(ME, &token).await;

    let first = first.assert_problem(404, "profile_not_found");
    let second = second.assert_problem(404, "profile_not_found");
    assert_ne!(first["trace_id"], second["trace_id"]);
}

#[tokio::test]
async fn a_malformed_or_repeated_traceparent_is_ignored_and_a_trace_started() {
    let app = TestApp::spawn().await;
    let token = app.token("trace-bad");
    let upper = CALLER.to_uppercase();
    let version_ff = CALLER.replacen("00-", "ff-", 1);
    let sent: [&[(&str, &str)]; 4] = [
        &[("traceparent", &upper)],
        &[("traceparent", &version_ff)],
        &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736")],
        &[("traceparent", CALLER), ("traceparent", CALLER)],
    ];
    for headers in sent {
        let response = app
            .request(Method::GET, ME, Some(&token), None, headers)
            .await;

        let problem = response.assert_problem(404, "profile_not_found");
        assert_ne!(problem["trace_id"], CALLER_TRACE_ID, "{headers:?}");
    }
}

#[tokio::test]
async fn an_event_keeps_the_trace_of_the_request_that_wrote_it_outside_its_document() {
    let app = TestApp::spawn().await;
    let token = app.token("trace-writer");

    let response = app
        .request(
            Method::PUT,
            ME,
            Some(&token),
            Some(&json!({"email": "trace-writer@example.com", "display_name": "T"})),
            &[("traceparent", CALLER)],
        )
        .await;

    assert_eq!(response.status, 201);
    let stored: Option<String> = user_profile_service::with_pool!(app.db.reader(), |c| {
        sqlx::query_scalar("SELECT traceparent FROM outbox_events WHERE user_id = $1")
            .bind("trace-writer")
            .fetch_one(c)
            .await
            .unwrap()
    });
    assert_continues_caller(stored.as_deref());
    // On PostgreSQL the feed numbers committed events in the background: number them now.
    db::events::assign_positions(&app.db).await.unwrap();
    let service = app.token_with("trace-reader", &["service"], None);
    let feed = app.get("/api/v1/events", &service).await;
    assert_eq!(feed.status, 200);
    let item = &feed.json()["items"][0];
    assert_eq!(item["user_id"], "trace-writer");
    assert!(item.get("traceparent").is_none(), "{item}");
}
