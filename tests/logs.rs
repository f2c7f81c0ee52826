//! Request logs: one structured line per request, with its request id and trace, and never personal data or
//! tokens in any line.
//!
//! Its own test binary: it installs a capturing subscriber, and tracing's per-callsite interest cache races
//! with other tests' threads when many run in one process, which could hide the request span.

#[path = "api/support/mod.rs"]
mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use axum::http::StatusCode;
use serde_json::{Value, json};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter, prelude::*};
use user_profile_service::telemetry;

use support::{TestApp, TestResponse};

// ---------------------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------------------

/// An in-memory log sink for the production JSON layer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// Makes the database refuse one email with an error of its own (a 500 for the service). On PostgreSQL a
/// CHECK constraint, whose error detail ("Failing row contains (...)") holds the whole row.
async fn refuse_email_prefix_in_database(app: &TestApp, prefix: &str) {
    let sql = if app.is_postgres() {
        format!(
            "ALTER TABLE profiles ADD CONSTRAINT canary_check CHECK (email NOT LIKE '{prefix}%')"
        )
    } else {
        format!(
            "CREATE TRIGGER canary_refuse BEFORE INSERT ON profiles WHEN NEW.email LIKE '{prefix}%' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
        )
    };
    user_profile_service::with_pool!(app.db.reader(), |p| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(p)
            .await
            .unwrap();
    });
}

#[tokio::test]
async fn each_request_logs_one_json_line_with_its_context_and_never_personal_data() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("trace"))
        .with(telemetry::json_layer(capture.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::spawn().await;
    refuse_email_prefix_in_database(&app, "boom").await;
    let alice = app.token("log-alice");
    let bob = app.token("log-bob");
    let carol = app.token("log-carol");
    let garbage = "garbage-token-canary.e30.c2ln";
    let profile = json!({
        "email": "canary.alice@example.com",
        "display_name": "Canary Display",
        "first_name": "Zebulon",
        "last_name": "Quixotic",
        "phone": "+14155550123",
        "avatar_url": "https://cdn.example.com/avatars/canary-avatar.png",
    });

    let mut answered: Vec<(TestResponse, Option<&str>)> = Vec::new();
    let created = app.put_json("/api/v1/profiles/me", &alice, &profile).await;
    assert_eq!(created.status, StatusCode::CREATED);
    answered.push((created, Some("log-alice")));
    let read = app.get("/api/v1/profiles/me", &alice).await;
    assert_eq!(read.status, StatusCode::OK);
    answered.push((read, Some("log-alice")));
    let patched = app
        .patch_json(
            "/api/v1/profiles/me",
            &alice,
            &json!({"phone": "+442071838750"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    answered.push((patched, Some("log-alice")));
    let invalid = app
        .put_json(
            "/api/v1/profiles/me",
            &bob,
            &json!({"email": "not-an-email-canary", "display_name": "Bob", "phone": "0800-CANARY"}),
        )
        .await;
    invalid.assert_problem(422, "validation_failed");
    answered.push((invalid, Some("log-bob")));
    let taken = app
        .put_json(
            "/api/v1/profiles/me",
            &bob,
            &json!({"email": "CANARY.ALICE@example.com", "display_name": "Bob"}),
        )
        .await;
    taken.assert_problem(409, "email_taken");
    answered.push((taken, Some("log-bob")));
    let refused = app.get("/api/v1/profiles/me", garbage).await;
    refused.assert_problem(401, "invalid_token");
    answered.push((refused, None));
    let failed = app
        .put_json(
            "/api/v1/profiles/me",
            &carol,
            &json!({"email": "boom.canary@example.com", "display_name": "Carol", "last_name": "Failingrow"}),
        )
        .await;
    failed.assert_problem(500, "internal_error");
    answered.push((failed, Some("log-carol")));

    let text = capture.text();
    for secret in [
        "canary.alice",
        "CANARY.ALICE",
        "not-an-email-canary",
        "boom.canary",
        "Canary Display",
        "Zebulon",
        "Quixotic",
        "Failingrow",
        "4155550123",
        "2071838750",
        "0800-CANARY",
        "canary-avatar",
        garbage,
        &alice,
        &bob,
        &carol,
        "garbage-token",
    ] {
        assert!(
            !text.contains(secret),
            "the log contains `{secret}`:\n{text}"
        );
    }
    let lines = capture.lines();
    for (response, user_id) in &answered {
        let request_id = response.header("x-request-id").unwrap();
        let mine: Vec<&Value> = lines
            .iter()
            .filter(|l| l["message"] == "request answered" && l["span"]["request_id"] == request_id)
            .collect();
        assert_eq!(mine.len(), 1, "one line for request {request_id}:\n{text}");
        let line = mine[0];
        assert_eq!(line["status"], response.status.as_u16());
        assert_eq!(line["span"]["route"], "/api/v1/profiles/me");
        assert!(["GET", "PUT", "PATCH"].contains(&line["span"]["method"].as_str().unwrap()));
        assert!(line["latency_ms"].as_f64().unwrap() >= 0.0);
        assert!(line["timestamp"].is_string());
        assert_eq!(line["span"]["user_id"].as_str(), *user_id, "{line}");
        // The request's trace: the one its problem body names, and its own span in it.
        let trace_id = line["span"]["trace_id"].as_str().unwrap_or_default();
        let span_id = line["span"]["span_id"].as_str().unwrap_or_default();
        assert!(trace_id.len() == 32 && span_id.len() == 16, "{line}");
        if !response.status.is_success() {
            assert_eq!(response.json()["trace_id"], trace_id);
        }
        let level = if response.status.is_server_error() {
            "ERROR"
        } else {
            "INFO"
        };
        assert_eq!(line["level"], level);
    }
    let failed = &answered.last().unwrap().0;
    let failed_id = failed.header("x-request-id").unwrap();
    assert!(
        lines.iter().any(|l| l["message"] == "internal error"
            && l["span"]["request_id"] == failed_id
            && l["span"]["trace_id"] == failed.json()["trace_id"]),
        "the 500 is explained once, by message, in its request's context:\n{text}"
    );
    if app.is_postgres() {
        // Statement logs were captured (trace level), and they hold SQL text with placeholders only.
        assert!(
            lines.iter().any(|l| l["target"] == "sqlx::query"),
            "sqlx statement logs were captured:\n{text}"
        );
    }
}
