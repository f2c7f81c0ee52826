//! The read-replica suite's set-up: a PostgreSQL primary and its streaming replica (`.ci/pg-replica start`),
//! named by `TEST_REPLICA_PRIMARY_URL` and `TEST_REPLICA_URL`.
//!
//! Pausing WAL replay stops the whole replica cluster, so a test that pauses it holds [`REPLAY`] exclusively,
//! and waiting for the replica to catch up holds it shared.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use sqlx::Connection;
use tokio::sync::{RwLock, RwLockWriteGuard};
use user_profile_service::db::Pool;

use super::{SECRET, TestApp, fresh_postgres_schema, in_schema};

static REPLAY: RwLock<()> = RwLock::const_new(());

/// How long a replica gets to show what the primary wrote.
const CATCH_UP: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// Where the primary and its replica listen.
pub struct ReplicaUrls {
    pub primary: String,
    pub replica: String,
}

/// The pair the suite runs on; `None`, after one note outside libtest's capture, when it is not configured.
#[allow(
    clippy::disallowed_methods,
    reason = "the suite's own TEST_REPLICA_* variables, not service settings"
)]
pub fn replica_urls() -> Option<ReplicaUrls> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    match (var("TEST_REPLICA_PRIMARY_URL"), var("TEST_REPLICA_URL")) {
        (Some(primary), Some(replica)) => Some(ReplicaUrls { primary, replica }),
        (None, None) => {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                let _ = std::io::stderr().write_all(
                    b"note: TEST_REPLICA_PRIMARY_URL and TEST_REPLICA_URL are not set; read-replica suite skipped \
                      (.ci/pg-replica start prints them)\n",
                );
            });
            None
        }
        _ => panic!("set both TEST_REPLICA_PRIMARY_URL and TEST_REPLICA_URL, or neither"),
    }
}

impl TestApp {
    /// An app whose `DATABASE_URL` is the primary and `DATABASE_READ_URL` the replica, in a fresh schema that
    /// the replica has already replayed (migrations included). `None` when the suite is not configured.
    pub async fn spawn_with_replica() -> Option<Self> {
        let urls = replica_urls()?;
        let app = Self::spawn_with_replica_urls(&urls.primary, &urls.replica).await;
        app.wait_for_replica().await;
        Some(app)
    }

    /// An app on `primary_url` whose read replica is `replica_url`, which need not answer (its pool connects
    /// lazily); it does not wait for the replica.
    pub async fn spawn_with_replica_urls(primary_url: &str, replica_url: &str) -> Self {
        // A hot standby is read-only: the schema is made on the primary and reaches the replica by WAL.
        let schema = fresh_postgres_schema(
            primary_url,
            "TEST_REPLICA_PRIMARY_URL must point at a running PostgreSQL (.ci/pg-replica start)",
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let vars: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), in_schema(primary_url, &schema)),
            ("DATABASE_READ_URL".into(), in_schema(replica_url, &schema)),
            ("DATABASE_MAX_CONNECTIONS".into(), "8".into()),
            ("JWT_SECRET".into(), SECRET.into()),
            ("DATA_DIR".into(), dir.path().display().to_string()),
        ];
        Self::connect(vars, dir).await
    }

    /// Waits until the replica has replayed everything written on the primary so far.
    pub async fn wait_for_replica(&self) {
        let _shared = REPLAY.read().await;
        let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(pg(self.db.reader()))
            .await
            .unwrap();
        self.eventually_on_replica("the replica to replay the primary's WAL", |pool| {
            let lsn = lsn.clone();
            async move {
                sqlx::query_scalar::<_, bool>(
                    "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)",
                )
                .bind(lsn)
                .fetch_one(&pool)
                .await
                .unwrap()
            }
        })
        .await;
    }

    /// Pauses WAL replay on the replica, so it keeps showing the data as of now, until the returned guard is
    /// resumed or dropped (a failing test resumes it too).
    pub async fn pause_replica_replay(&self) -> ReplayPaused {
        let exclusive = REPLAY.write().await;
        let replica = pg(self.db.replica());
        sqlx::query("SELECT pg_wal_replay_pause()")
            .execute(replica)
            .await
            .unwrap();
        let paused = ReplayPaused {
            replica: replica.clone(),
            url: self.replica_url(),
            resumed: false,
            _exclusive: exclusive,
        };
        self.eventually_on_replica("WAL replay to pause", |pool| async move {
            sqlx::query_scalar::<_, String>("SELECT pg_get_wal_replay_pause_state()")
                .fetch_one(&pool)
                .await
                .unwrap()
                == "paused"
        })
        .await;
        paused
    }

    /// Polls `check` on the replica's pool every 50 ms until it holds; panics after 10 s.
    pub async fn eventually_on_replica<F, Fut>(&self, what: &str, check: F)
    where
        F: Fn(sqlx::PgPool) -> Fut,
        Fut: Future<Output = bool>,
    {
        let replica = pg(self.db.replica());
        let started = Instant::now();
        while !check(replica.clone()).await {
            assert!(
                started.elapsed() < CATCH_UP,
                "timed out after {CATCH_UP:?} waiting for {what}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs a scalar count query with one bound `user_id` on `pool` (the primary or the replica).
    pub async fn count_on(&self, pool: &Pool, sql: &'static str, user_id: &str) -> i64 {
        user_profile_service::with_pool!(pool, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(user_id)
                .fetch_one(c)
                .await
                .unwrap()
        })
    }

    fn replica_url(&self) -> String {
        self.state
            .config
            .database_read_url
            .as_ref()
            .expect("an app with a replica")
            .expose()
            .to_owned()
    }
}

/// WAL replay on the replica is paused while this lives.
pub struct ReplayPaused {
    replica: sqlx::PgPool,
    url: String,
    resumed: bool,
    _exclusive: RwLockWriteGuard<'static, ()>,
}

impl ReplayPaused {
    pub async fn resume(mut self) {
        sqlx::query("SELECT pg_wal_replay_resume()")
            .execute(&self.replica)
            .await
            .unwrap();
        self.resumed = true;
    }
}

impl Drop for ReplayPaused {
    /// The failure path: a panicking test cannot await, so resume from a thread with a runtime of its own;
    /// otherwise the replica would stay paused for every later run.
    fn drop(&mut self) {
        if self.resumed {
            return;
        }
        let url = self.url.clone();
        let resumed = std::thread::spawn(
            move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(async {
                        let mut conn = sqlx::PgConnection::connect(&url).await?;
                        sqlx::query("SELECT pg_wal_replay_resume()")
                            .execute(&mut conn)
                            .await?;
                        Ok(())
                    })
            },
        )
        .join();
        if !matches!(resumed, Ok(Ok(()))) {
            let _ = std::io::stderr().write_all(
                b"warning: could not resume WAL replay on the test replica; run .ci/pg-replica start\n",
            );
        }
    }
}

fn pg(pool: &Pool) -> &sqlx::PgPool {
    match pool {
        Pool::Postgres(pool) => pool,
        Pool::Sqlite(_) => panic!("the replica suite runs on PostgreSQL"),
    }
}
