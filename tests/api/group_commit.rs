//! SQLite group commit (issue 16, item 2): writes queued for the one write connection commit together, each in
//! its own savepoint; a write is acknowledged only once its batch is committed, and a failed one rolls back
//! alone. SQLite only: PostgreSQL runs each write in a transaction of its own.

use std::{sync::Arc, time::Duration};

use axum::http::StatusCode;
use serde_json::json;
use user_profile_service::{
    clock,
    db::{self, Db, Tx},
    domain::profile::ProfileInput,
};

use crate::support::TestApp;

fn input(name: &str) -> ProfileInput {
    ProfileInput {
        email: Some(format!("{name}@example.com")),
        display_name: Some(name.to_string()),
        ..ProfileInput::default()
    }
}

/// A write transaction that inserted `user_id`'s profile and is still open.
async fn inserted(db: &Db, user_id: &str) -> Tx {
    let mut tx = db.begin().await.unwrap();
    db::profiles::insert(&mut tx, user_id, &input(user_id), clock::now())
        .await
        .unwrap();
    tx
}

async fn stored(app: &TestApp, user_id: &str) -> bool {
    db::profiles::find(app.db.reader(), user_id)
        .await
        .unwrap()
        .is_some()
}

/// A second write, started while `first` holds the write connection, queues for it; the returned task ends once
/// it has joined the batch (after `first` left it), with its write still open.
async fn queued_behind(app: &TestApp, user_id: &'static str) -> tokio::task::JoinHandle<Tx> {
    let db = app.db.clone();
    let second = tokio::spawn(async move { inserted(&db, user_id).await });
    // Long enough for the task to reach the queue; the assertions below do not depend on the exact moment.
    tokio::time::sleep(Duration::from_millis(50)).await;
    second
}

#[tokio::test]
async fn a_write_is_acknowledged_only_when_the_batch_it_joined_commits() {
    let app = TestApp::spawn().await;
    if app.is_postgres() {
        return;
    }
    let first = inserted(&app.db, "gc-first").await;
    let second = queued_behind(&app, "gc-second").await;

    let first_commit = tokio::spawn(first.commit());
    let second = second.await.unwrap();
    // The first write left the connection to the queued one and waits for their common commit.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !first_commit.is_finished(),
        "acknowledged before its batch committed"
    );
    assert!(
        !stored(&app, "gc-first").await,
        "readers see an uncommitted write"
    );

    second.commit().await.unwrap();
    first_commit.await.unwrap().unwrap();
    assert!(stored(&app, "gc-first").await);
    assert!(stored(&app, "gc-second").await);
}

#[tokio::test]
async fn a_write_that_fails_in_a_batch_rolls_back_alone() {
    let app = TestApp::spawn().await;
    if app.is_postgres() {
        return;
    }
    let first = inserted(&app.db, "gc-kept").await;
    let second = queued_behind(&app, "gc-dropped").await;

    let first_commit = tokio::spawn(first.commit());
    // The second write gives up (its handler returned an error): only its own insert is undone.
    drop(second.await.unwrap());
    first_commit.await.unwrap().unwrap();

    assert!(stored(&app, "gc-kept").await);
    assert!(!stored(&app, "gc-dropped").await);
    // The connection is usable again: the next write commits on its own.
    inserted(&app.db, "gc-after").await.commit().await.unwrap();
    assert!(stored(&app, "gc-after").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_each_stored_or_refused_alone() {
    let app = Arc::new(TestApp::spawn().await);
    // Forty profiles created at once, two of them with the same email: exactly one of those two is refused,
    // and every acknowledged one is stored.
    let mut puts = tokio::task::JoinSet::new();
    for n in 0..40 {
        let app = app.clone();
        puts.spawn(async move {
            let email = if n == 39 {
                "gc-0@example.com".to_string()
            } else {
                format!("gc-{n}@example.com")
            };
            let user = format!("gc-user-{n}");
            let answer = app
                .put_json(
                    "/api/v1/profiles/me",
                    &app.token(&user),
                    &json!({"email": email, "display_name": format!("Writer {n}")}),
                )
                .await;
            (user, answer.status)
        });
    }
    let answers = puts.join_all().await;

    let refused: Vec<_> = answers
        .iter()
        .filter(|(_, status)| *status == StatusCode::CONFLICT)
        .collect();
    assert_eq!(refused.len(), 1, "{answers:?}");
    for (user, status) in &answers {
        if *status == StatusCode::CONFLICT {
            assert!(!stored(&app, user).await, "{user} was refused but stored");
        } else {
            assert_eq!(*status, StatusCode::CREATED, "{user}");
            assert!(
                stored(&app, user).await,
                "{user} was acknowledged but not stored"
            );
        }
    }
}
