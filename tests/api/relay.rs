//! The change feed delivered through NATS JetStream, against a real NATS server (`TEST_NATS_URL`; CI sets it,
//! a plain `cargo test` skips these with a note). The outage test starts a throwaway `nats-server` on a port of
//! its own and never touches the shared one.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use axum::http::Method;

use async_nats::jetstream::{self, consumer::pull};
use futures_util::StreamExt;
use serde_json::{Value, json};
use user_profile_service::{db, outbox::RelayState};

use crate::support::TestApp;

const ME: &str = "/api/v1/profiles/me";

/// The NATS server the suite uses, or `None` (with a note) when `TEST_NATS_URL` is not set.
#[allow(
    clippy::disallowed_methods,
    reason = "the suite's own TEST_NATS_URL, not a service setting"
)]
fn nats_url() -> Option<String> {
    let url = std::env::var("TEST_NATS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("note: TEST_NATS_URL is not set; the NATS relay tests are skipped");
    }
    url
}

/// A stream and subject prefix of this test's own, on `url`.
struct Target {
    url: String,
    stream: String,
    prefix: String,
}

impl Target {
    fn new(url: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Target {
            url: url.to_string(),
            stream: format!("T_{id}"),
            prefix: format!("t_{id}"),
        }
    }

    fn vars(&self) -> [(&str, &str); 3] {
        [
            ("NATS_URL", self.url.as_str()),
            ("NATS_STREAM", self.stream.as_str()),
            ("NATS_SUBJECT_PREFIX", self.prefix.as_str()),
        ]
    }

    async fn context(&self) -> jetstream::Context {
        jetstream::new(async_nats::connect(&self.url).await.expect("NATS answers"))
    }

    /// Reads `count` messages from the start of the stream with a consumer of its own, acknowledging each,
    /// then checks that no further message follows within a second.
    async fn consume(&self, count: usize) -> Vec<Received> {
        let js = self.context().await;
        let mut stream = None;
        for _ in 0..100 {
            if let Ok(found) = js.get_stream(&self.stream).await {
                stream = Some(found);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let consumer = stream
            .expect("the relay created the stream")
            .create_consumer(pull::Config::default())
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut received = Vec::new();
        while received.len() < count {
            let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
                .await
                .unwrap_or_else(|_| panic!("only {} of {count} events arrived", received.len()))
                .unwrap()
                .unwrap();
            received.push(Received::of(&message));
            message.ack().await.unwrap();
        }
        let extra = tokio::time::timeout(Duration::from_secs(1), messages.next()).await;
        assert!(
            extra.is_err(),
            "a message beyond the {count} events arrived"
        );
        received
    }

    async fn delete(&self) {
        let _ = self.context().await.delete_stream(&self.stream).await;
    }
}

/// One message as a consumer sees it.
#[derive(Debug)]
struct Received {
    subject: String,
    msg_id: String,
    traceparent: Option<String>,
    event: Value,
}

impl Received {
    fn of(message: &jetstream::Message) -> Self {
        let msg_id = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        let traceparent = message
            .headers
            .as_ref()
            .and_then(|h| h.get("traceparent"))
            .map(|v| v.as_str().to_string());
        Received {
            subject: message.subject.to_string(),
            msg_id,
            traceparent,
            event: serde_json::from_slice(&message.payload).unwrap(),
        }
    }
}

/// The ids of every event in the feed, in feed order.
async fn feed_ids(app: &TestApp) -> Vec<String> {
    let head = db::events::assign_positions(&app.db).await.unwrap();
    db::events::page(
        app.db.reader(),
        0,
        head,
        &db::events::Filter::default(),
        10_000,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|p| p.event.id.to_string())
    .collect()
}

/// Each user's events arrived with sequences 1, 2, 3... in order; no id twice; ids in `expected` order.
fn assert_delivered_in_order(received: &[Received], expected: &[String], prefix: &str) {
    let ids: Vec<&str> = received.iter().map(|r| r.msg_id.as_str()).collect();
    assert_eq!(ids, expected, "delivered in the feed's order, each once");
    let mut last: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for r in received {
        assert_eq!(r.event["id"], r.msg_id.as_str());
        let kind = r.event["type"].as_str().unwrap();
        assert_eq!(r.subject, format!("{prefix}.{kind}"));
        let user = r.event["user_id"].as_str().unwrap();
        let sequence = r.event["sequence"].as_i64().unwrap();
        let previous = last.insert(user, sequence).unwrap_or(0);
        assert_eq!(
            sequence,
            previous + 1,
            "{user}: {sequence} after {previous}"
        );
    }
}

/// Three shoppers' stories, run at once: profile, two edits, an address, preferences (7 events each).
async fn stories(app: &TestApp, tag: &str) {
    let (a, b, c) = (format!("{tag}-0"), format!("{tag}-1"), format!("{tag}-2"));
    tokio::join!(story(app, &a), story(app, &b), story(app, &c));
}

async fn story(app: &TestApp, user: &str) {
    let token = app
        .create_profile(user, &format!("{user}@example.com"))
        .await;
    for name in ["Ada", "Ada L."] {
        let response = app
            .patch_json(ME, &token, &json!({"display_name": name}))
            .await;
        assert_eq!(response.status, 200);
    }
    let address = json!({"recipient_name": "Ada Lovelace", "line1": "1 Main St",
        "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"});
    let created = app
        .post_json(&format!("{ME}/addresses"), &token, &address)
        .await;
    assert_eq!(created.status, 201);
    let prefs = json!({"notifications": {"email": {"marketing": true}}});
    let saved = app
        .put_json(&format!("{ME}/preferences"), &token, &prefs)
        .await;
    assert_eq!(saved.status, 200);
}

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app
        .request(Method::GET, "/health/ready", None, None, &[])
        .await;
    (response.status.as_u16(), response.json())
}

#[tokio::test]
async fn a_consumer_receives_every_event_of_the_stories_once_in_per_user_order() {
    let Some(url) = nats_url() else { return };
    let target = Target::new(&url);
    let app = TestApp::spawn_with(&target.vars()).await;
    stories(&app, "story").await;
    let expected = feed_ids(&app).await;
    assert_eq!(expected.len(), 3 * 7);

    let received = target.consume(expected.len()).await;

    assert_delivered_in_order(&received, &expected, &target.prefix);
    let payloads: String = received.iter().map(|r| r.event.to_string()).collect();
    for personal in [
        "example.com",
        "Ada",
        "Lovelace",
        "Main St",
        "London",
        "SW1Y",
    ] {
        assert!(!payloads.contains(personal), "a message holds {personal}");
    }
    let (_, ready) = readiness(&app).await;
    assert_eq!(ready["checks"]["broker"]["status"], "up");
    let (pending, _) = db::events::backlog(&app.db).await.unwrap();
    assert_eq!(pending, 0);
    target.delete().await;
}

#[tokio::test]
async fn a_published_event_carries_the_trace_context_of_the_request_that_made_it() {
    let Some(url) = nats_url() else { return };
    let target = Target::new(&url);
    let app = TestApp::spawn_with(&target.vars()).await;
    let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let token = app.token("traced");

    let created = app
        .request(
            Method::PUT,
            ME,
            Some(&token),
            Some(&json!({"email": "traced@example.com", "display_name": "T"})),
            &[("traceparent", caller)],
        )
        .await;
    assert_eq!(created.status, 201);
    let untraced = app
        .patch_json(ME, &token, &json!({"display_name": "U"}))
        .await;
    assert_eq!(untraced.status, 200);

    let received = target.consume(2).await;
    let traced = received[0]
        .traceparent
        .as_deref()
        .expect("a traceparent header");
    assert!(
        traced.starts_with("00-0af7651916cd43dd8448eb211c80319c-") && traced.ends_with("-01"),
        "{traced}"
    );
    assert!(
        !traced.contains("b7ad6b7169203331"),
        "the request's own span: {traced}"
    );
    // A request without a traceparent started a trace of its own, which its event carries on too.
    let own = received[1]
        .traceparent
        .as_deref()
        .expect("a traceparent header");
    assert!(!own.contains("0af7651916cd43dd8448eb211c80319c"), "{own}");
    target.delete().await;
}

/// A `nats-server` with JetStream on a port and store of its own, for tests that stop it.
struct ThrowawayNats {
    child: Child,
    port: u16,
    store: tempfile::TempDir,
}

impl ThrowawayNats {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = tempfile::tempdir().unwrap();
        let child = Self::spawn(port, &store);
        ThrowawayNats { child, port, store }
    }

    fn spawn(port: u16, store: &tempfile::TempDir) -> Child {
        let mut child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed (.ci/run installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return child;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("nats-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.child = Self::spawn(self.port, &self.store);
    }
}

impl Drop for ThrowawayNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `check` every 100 ms for at most 30 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 30 s");
}

#[tokio::test]
async fn nats_stopped_mid_story_loses_nothing_writes_go_on_and_readiness_says_degraded() {
    if nats_url().is_none() {
        return;
    }
    let mut nats = ThrowawayNats::start();
    let target = Target::new(&nats.url());
    let app = TestApp::spawn_with(&target.vars()).await;
    stories(&app, "before").await;
    let before = feed_ids(&app).await.len();
    eventually("the first events published", async || {
        db::events::backlog(&app.db).await.unwrap().0 == 0
    })
    .await;

    nats.stop();
    stories(&app, "during").await;
    eventually("readiness reports the broker down", async || {
        let (status, body) = readiness(&app).await;
        status == 200
            && body["status"] == "degraded"
            && body["checks"]["broker"]["status"] == "down"
    })
    .await;
    let (pending, oldest) = db::events::backlog(&app.db).await.unwrap();
    assert_eq!(
        usize::try_from(pending).unwrap(),
        feed_ids(&app).await.len() - before
    );
    assert!(oldest.is_some());

    nats.restart();
    let expected = feed_ids(&app).await;
    let received = target.consume(expected.len()).await;
    assert_delivered_in_order(&received, &expected, &target.prefix);
    eventually("readiness recovers", async || {
        readiness(&app).await.1["checks"]["broker"]["status"] == "up"
    })
    .await;
}

#[tokio::test]
async fn of_two_instances_one_relays_the_other_stands_by_and_takes_over_in_order() {
    let Some(url) = nats_url() else { return };
    let target = Target::new(&url);
    let first = TestApp::spawn_with(&target.vars()).await;
    let second = first.second_instance().await;
    tokio::join!(stories(&first, "first"), stories(&second, "second"));
    eventually("one publishes, the other stands by", async || {
        let states = [
            first.state.outbox.relay_state(),
            second.state.outbox.relay_state(),
        ];
        let publishing = states
            .iter()
            .filter(|s| **s == Some(RelayState::Publishing))
            .count();
        let standby = states
            .iter()
            .filter(|s| **s == Some(RelayState::Standby))
            .count();
        publishing == 1 && standby == 1
    })
    .await;
    let leader_is_first = first.state.outbox.relay_state() == Some(RelayState::Publishing);
    let (leader, follower) = if leader_is_first {
        (&first, &second)
    } else {
        (&second, &first)
    };

    // The leader stops (as at shutdown): it gives up its lease and the other instance carries on.
    leader.state.outbox.stop(Duration::from_secs(5)).await;
    stories(follower, "after").await;
    eventually("the follower takes over", async || {
        follower.state.outbox.relay_state() == Some(RelayState::Publishing)
    })
    .await;

    let expected = feed_ids(&first).await;
    assert_eq!(expected.len(), 9 * 7);
    let received = target.consume(expected.len()).await;
    assert_delivered_in_order(&received, &expected, &target.prefix);
    target.delete().await;
}
