//! SQLite faults (issue 11, item 1): a full disk and a write lock held by another process answer 503
//! `service_unavailable` with `Retry-After` (never 500), readiness says what it sees, and writes work again
//! without a restart once the cause is gone, with every acknowledged write kept. SQLite only, whatever
//! `TEST_DATABASE_URL` says. The full disk is a small tmpfs mounted by the test (root is needed; without it
//! the test says so and passes).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::{Connection, Executor, sqlite::SqliteConnection};

use crate::support::{TestApp, TestResponse};

/// A tmpfs of `size_kib` mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size_kib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let size = format!("size={size_kib}k");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|out| out.status.success());
        mounted.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the file system refuses (ENOSPC).
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0xa5u8; 4096];
        for _ in 0..1_000_000 {
            if file.write_all(&block).and_then(|()| file.flush()).is_err() {
                return filler;
            }
        }
        panic!("the small disk never filled up");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn sqlite_app(dir: &Path) -> TestApp {
    let url = format!("sqlite:{}?mode=rwc", dir.join("faults.db").display());
    TestApp::spawn_with(&[("DATABASE_URL", &url)]).await
}

async fn create(app: &TestApp, sub: &str) -> TestResponse {
    app.put_json(
        "/api/v1/profiles/me",
        &app.token(sub),
        &json!({"email": format!("{sub}@example.com"), "display_name": sub}),
    )
    .await
}

async fn readiness(app: &TestApp) -> TestResponse {
    app.request(Method::GET, "/health/ready", None, None, &[])
        .await
}

#[track_caller]
fn assert_unavailable(response: &TestResponse) {
    response.assert_problem(503, "service_unavailable");
    assert!(response.header("retry-after").is_some(), "no Retry-After");
}

/// Every acknowledged profile reads back.
async fn assert_kept(app: &TestApp, acknowledged: &[String]) {
    for sub in acknowledged {
        let read = app.get("/api/v1/profiles/me", &app.token(sub)).await;
        assert_eq!(read.status, StatusCode::OK, "acknowledged {sub} lost");
    }
}

#[tokio::test]
async fn a_full_disk_answers_503_and_writes_recover_once_space_is_freed() {
    let Some(disk) = SmallDisk::mount(2048) else {
        eprintln!("note: cannot mount a tmpfs (not root?); the full-disk fault test did not run");
        return;
    };
    let app = sqlite_app(disk.path()).await;
    let mut acknowledged = Vec::new();
    assert_eq!(create(&app, "before").await.status, StatusCode::CREATED);
    acknowledged.push("before".to_string());
    let filler = disk.fill();

    // Writes go on while pages already allocated last; the first one needing new space answers 503.
    let mut refused = None;
    for n in 0..5_000 {
        let sub = format!("full-{n}");
        let started = Instant::now();
        let answer = create(&app, &sub).await;
        match answer.status {
            StatusCode::CREATED => acknowledged.push(sub),
            _ => {
                assert_unavailable(&answer);
                refused = Some(started.elapsed());
                break;
            }
        }
    }
    let refused = refused.expect("no write was refused on a full disk");
    // While the disk stays full, writes answer 201 (when they fit in pages already there) or 503, never 500.
    for n in 0..3 {
        let sub = format!("still-full-{n}");
        let answer = create(&app, &sub).await;
        if answer.status == StatusCode::CREATED {
            acknowledged.push(sub);
        } else {
            assert_unavailable(&answer);
        }
    }
    // Readiness: the writer still takes the write lock, so a full disk alone does not fail it.
    let ready = readiness(&app).await;
    assert_eq!(ready.json()["checks"]["database_writer"]["status"], "up");

    std::fs::remove_file(filler).unwrap();
    let freed = Instant::now();
    let mut recovered = None;
    for n in 0..200 {
        let sub = format!("after-{n}");
        if create(&app, &sub).await.status == StatusCode::CREATED {
            acknowledged.push(sub);
            recovered = Some(freed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recovered = recovered.expect("writes did not recover after space was freed");
    eprintln!(
        "full disk: {} writes acknowledged, refusal answered in {refused:?}, recovered {recovered:?} after freeing",
        acknowledged.len()
    );
    assert_kept(&app, &acknowledged).await;
    app.db.close().await;
}

#[tokio::test]
async fn a_write_lock_held_elsewhere_answers_503_and_fails_readiness_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let app = sqlite_app(dir.path()).await;
    assert_eq!(create(&app, "before").await.status, StatusCode::CREATED);

    let url = format!("sqlite:{}", dir.path().join("faults.db").display());
    let mut holder = SqliteConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN EXCLUSIVE").await.unwrap();

    let started = Instant::now();
    let ready = readiness(&app).await;
    let readiness_time = started.elapsed();
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = ready.json();
    assert_eq!(body["checks"]["database_writer"]["status"], "down");
    assert_eq!(body["checks"]["database"]["status"], "up");

    let started = Instant::now();
    let answer = create(&app, "during").await;
    let write_time = started.elapsed();
    assert_unavailable(&answer);
    // Reads do not need the lock.
    let read = app.get("/api/v1/profiles/me", &app.token("before")).await;
    assert_eq!(read.status, StatusCode::OK);

    holder.execute("ROLLBACK").await.unwrap();
    let released = Instant::now();
    let mut recovered = None;
    for _ in 0..200 {
        if readiness(&app).await.status == StatusCode::OK {
            recovered = Some(released.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recovered = recovered.expect("readiness did not recover after the lock was released");
    assert_eq!(create(&app, "after").await.status, StatusCode::CREATED);
    eprintln!(
        "lock held: readiness answered in {readiness_time:?}, a write in {write_time:?}; ready again {recovered:?} after release"
    );
    assert_kept(&app, &["before".to_string(), "after".to_string()]).await;
}

#[tokio::test]
async fn a_read_only_database_is_unavailable_not_an_internal_error() {
    use user_profile_service::service::Error;
    let dir = tempfile::tempdir().unwrap();
    let app = sqlite_app(dir.path()).await;
    let url = format!("sqlite:{}?mode=ro", dir.path().join("faults.db").display());
    let mut read_only = SqliteConnection::connect(&url).await.unwrap();
    let refused = read_only
        .execute("DELETE FROM profiles")
        .await
        .expect_err("a read-only connection wrote");
    assert!(
        matches!(Error::from(refused), Error::Unavailable),
        "SQLITE_READONLY is not mapped to 503"
    );
    app.db.close().await;
}
