//! Storage: one repository over SQLite or PostgreSQL. Handlers call `db::<table group>::fn`, never SQL.
//!
//! The backend is an enum of the two native pools (`Pool`) or transactions (`Tx`). Each query is one function
//! taking a `Conn` (either a pool or a transaction), and `with_conn!` stamps its body into the four arms, so
//! SQL is written once where the dialects agree and each backend keeps its native types (see
//! docs/architecture.md for why this beats `sqlx::Any` and generic `<DB>` functions).

pub mod addresses;
pub mod audit;
pub mod erasures;
pub mod events;
pub mod export;
pub mod group_commit;
pub mod idempotency;
pub mod preferences;
pub mod profiles;
pub mod suspensions;

use std::{
    path::Path,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{
    Connection, PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use tracing::Instrument;

use crate::config::Config;

/// A pool of either backend.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Connection counts of one pool at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub name: &'static str,
    /// Open connections, idle or in use.
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

impl Pool {
    fn stats(&self, name: &'static str) -> PoolStats {
        crate::with_pool!(self, |p| PoolStats {
            name,
            size: p.size(),
            idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
            max: p.options().get_max_connections(),
        })
    }

    /// True when both handles are clones of one pool (its options live in one place).
    fn is_same_pool(&self, other: &Pool) -> bool {
        match (self, other) {
            (Pool::Sqlite(a), Pool::Sqlite(b)) => std::ptr::eq(a.options(), b.options()),
            (Pool::Postgres(a), Pool::Postgres(b)) => std::ptr::eq(a.options(), b.options()),
            _ => false,
        }
    }
}

/// An open write transaction of either backend; the service layer owns it and commits it. Its span (a trace
/// span only, when traces are exported) lasts from asking for the connection to the commit or the rollback.
pub struct Tx {
    pub conn: TxConn,
    span: tracing::Span,
}

/// The native transaction a [`Tx`] holds: on SQLite, a savepoint in the batch of writes that commit together.
pub enum TxConn {
    Sqlite(group_commit::Member),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let result = match self.conn {
            TxConn::Sqlite(member) => member.commit().instrument(self.span.clone()).await,
            TxConn::Postgres(tx) => tx.commit().instrument(self.span.clone()).await,
        };
        if result.is_err() {
            self.span.record("otel.status_code", "ERROR");
        }
        result
    }
}

/// Where a query runs: on a pool (it takes a connection of its own) or inside an open transaction. Query
/// functions take `impl Into<Conn>`, so callers pass either `db.reader()` (or another pool) or `&mut tx`.
pub enum Conn<'a> {
    Pool(&'a Pool),
    Tx(&'a mut Tx),
}

impl<'a> From<&'a Pool> for Conn<'a> {
    fn from(pool: &'a Pool) -> Self {
        Conn::Pool(pool)
    }
}

impl<'a> From<&'a mut Tx> for Conn<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        Conn::Tx(tx)
    }
}

impl Conn<'_> {
    /// The same pool or transaction for one more query, leaving this one usable afterwards.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Pool(pool) => Conn::Pool(pool),
            Conn::Tx(tx) => Conn::Tx(tx),
        }
    }

    /// True on SQLite, for the few statements whose text differs between the dialects.
    pub fn is_sqlite(&self) -> bool {
        matches!(
            self,
            Conn::Pool(Pool::Sqlite(_))
                | Conn::Tx(Tx {
                    conn: TxConn::Sqlite(_),
                    ..
                })
        )
    }
}

/// Runs one query body on whatever `$conn` (anything `Into<Conn>`) holds: `$c` is the native pool
/// (`&SqlitePool`/`&PgPool`) or the transaction's connection (`&mut SqliteConnection`/`&mut PgConnection`).
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match ::core::convert::Into::<$crate::db::Conn<'_>>::into($conn) {
            $crate::db::Conn::Pool($crate::db::Pool::Sqlite($c)) => $body,
            $crate::db::Conn::Pool($crate::db::Pool::Postgres($c)) => $body,
            $crate::db::Conn::Tx(tx) => match &mut tx.conn {
                // A write's savepoint starts before its first statement.
                $crate::db::TxConn::Sqlite(tx) => match tx.savepoint().await {
                    Ok(()) => {
                        let $c = &mut **tx;
                        $body
                    }
                    Err(err) => Err(err.into()),
                },
                $crate::db::TxConn::Postgres(tx) => {
                    let $c = &mut **tx;
                    $body
                }
            },
        }
    };
}

/// Runs one body on the native pool a `Pool` holds (`$p`), for what only pools do: sizes, closing.
#[macro_export]
macro_rules! with_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}

/// The database handles of the service: a write pool and a read pool on the primary database, and the
/// replica's pool when one is configured.
///
/// On SQLite all writes go through one connection (so writers queue in-process instead of failing with
/// `SQLITE_BUSY`), and the writes queued there commit together (`group_commit`), while reads use their own
/// pool on the same WAL file and never wait for writes; an in-memory database has only its one connection,
/// which then serves both. On PostgreSQL the write pool is the smaller
/// of two, so writes queueing on a row lock can never take every connection away from reads.
#[derive(Clone, Debug)]
pub struct Db {
    writer: Pool,
    /// SQLite: the batches of write transactions on the writer's one connection.
    group_commit: Option<Arc<group_commit::GroupCommit>>,
    reader: Pool,
    replica: Option<Pool>,
    /// One connection of its own for the availability probe: a busy read pool says nothing about whether the
    /// database answers (under 1,024 connections the probe once waited its whole second for a pooled one).
    probe: Pool,
    /// Set while the primary is known not to answer (see [`Db::spawn_availability_probe`]).
    down: Arc<AtomicBool>,
    /// Set by [`Db::set_starting`] until the server's start-up (migrations) has reached the database.
    starting: Arc<AtomicBool>,
}

impl Db {
    /// Opens the pools the configuration names.
    pub async fn connect(config: &Config) -> Result<Self, sqlx::Error> {
        Self::open(config, false).await
    }

    /// Like [`Db::connect`], but PostgreSQL pools connect at first use, so this succeeds while the database
    /// is down (the server then starts and waits for it; see `server::start_up`).
    pub async fn connect_lazily(config: &Config) -> Result<Self, sqlx::Error> {
        Self::open(config, true).await
    }

    async fn open(config: &Config, lazy: bool) -> Result<Self, sqlx::Error> {
        let url = config.database_url.expose();
        let (writer, reader) = if url.starts_with("sqlite:") {
            connect_sqlite(url, config.database_max_connections).await?
        } else {
            // Writers get their own, smaller pool: a burst of writes queueing on a row lock can then never
            // take every connection away from reads.
            let readers = config.database_max_connections.unwrap_or(16);
            let writer = connect_postgres(url, (readers / 2).max(2), lazy).await?;
            (writer, connect_postgres(url, readers, lazy).await?)
        };
        let replica = match &config.database_read_url {
            Some(url) if url.expose().starts_with("sqlite:") => Some(
                connect_sqlite(url.expose(), config.database_max_connections)
                    .await?
                    .1,
            ),
            Some(url) => Some(connect_replica_postgres(
                PgConnectOptions::from_str(url.expose())?,
                config.database_max_connections,
            )),
            None => None,
        };
        if let Some(replica) = &replica {
            // Bounded, so a replica that is down delays start-up by two seconds at most.
            let answered = tokio::time::timeout(Duration::from_secs(2), ping(replica)).await;
            if !matches!(answered, Ok(Ok(()))) {
                tracing::warn!(
                    "the read replica does not answer; reads routed to it fail until it does"
                );
            }
        }
        let probe = probe_pool(url, &writer, &reader)?;
        let group_commit = match &writer {
            Pool::Sqlite(pool) => Some(group_commit::GroupCommit::new(pool.clone())),
            Pool::Postgres(_) => None,
        };
        Ok(Db {
            writer,
            group_commit,
            reader,
            replica,
            probe,
            down: Arc::default(),
            starting: Arc::default(),
        })
    }

    /// Starts a write transaction on the primary.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let span = tracing::info_span!(
            target: crate::trace_context::SPAN_TARGET,
            "db.transaction",
            otel.kind = "client",
            db.system.name = match self.writer {
                Pool::Sqlite(_) => "sqlite",
                Pool::Postgres(_) => "postgresql",
            },
            otel.status_code = tracing::field::Empty,
        );
        let conn = async {
            Ok::<_, sqlx::Error>(match (&self.writer, &self.group_commit) {
                (_, Some(group)) => TxConn::Sqlite(group.join().await?),
                (Pool::Postgres(pool), None) => TxConn::Postgres(pool.begin().await?),
                (Pool::Sqlite(_), None) => {
                    unreachable!("a SQLite Db is opened with its group commit")
                }
            })
        }
        .instrument(span.clone())
        .await
        .inspect_err(|_| {
            span.record("otel.status_code", "ERROR");
        })?;
        Ok(Tx { conn, span })
    }

    /// Readiness of the write path: on SQLite, takes the write connection and the database's write lock
    /// (`BEGIN IMMEDIATE`, then `ROLLBACK`), so a lock held by another process or a file that cannot be
    /// written shows; on PostgreSQL, a round trip on the write pool.
    pub async fn check_writer(&self) -> Result<(), sqlx::Error> {
        match &self.writer {
            Pool::Sqlite(pool) => pool.begin_with("BEGIN IMMEDIATE").await?.rollback().await,
            Pool::Postgres(_) => ping(&self.writer).await,
        }
    }

    /// The primary database's read pool, for reads that must see the caller's own writes.
    pub fn reader(&self) -> &Pool {
        &self.reader
    }

    /// Reads by other services and admins: the replica when one is configured, else the primary.
    pub fn replica(&self) -> &Pool {
        self.replica.as_ref().unwrap_or(&self.reader)
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    pub fn backend(&self) -> &'static str {
        match self.writer {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Connection counts of each distinct pool, for the metrics: `writer` and `reader` (PostgreSQL, and SQLite
    /// on a file), or `primary` when one connection serves both (SQLite in memory); and `replica` when
    /// configured.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        let mut stats = Vec::with_capacity(3);
        if self.writer.is_same_pool(&self.reader) {
            stats.push(self.writer.stats("primary"));
        } else {
            stats.push(self.writer.stats("writer"));
            stats.push(self.reader.stats("reader"));
        }
        if let Some(replica) = &self.replica {
            stats.push(replica.stats("replica"));
        }
        stats
    }

    /// SQLite: copies the write-ahead log into the database file four times a second from a read connection,
    /// so that a commit never stalls on a checkpoint and its fsync (measured: write p99 268 ms -> 68 ms).
    /// A log past `WAL_RESTART_FRAMES` (sustained write bursts keep a passive checkpoint from ever finishing)
    /// is reset with one blocking checkpoint on the write connection. Runs until the pools close.
    pub fn spawn_wal_checkpoints(&self) {
        const WAL_RESTART_FRAMES: i64 = 250_000; // about 1 GB of 4 KiB pages
        let (Pool::Sqlite(reader), Pool::Sqlite(writer)) = (&self.reader, &self.writer) else {
            return;
        };
        let (reader, writer) = (reader.clone(), writer.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            while !reader.is_closed() {
                tick.tick().await;
                let passive =
                    sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(&reader)
                        .await;
                let result = match passive {
                    Ok((_, log_frames, _)) if log_frames > WAL_RESTART_FRAMES => {
                        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                            .execute(&writer)
                            .await
                            .map(|_| ())
                    }
                    other => other.map(|_| ()),
                };
                if let Err(err) = result {
                    if !reader.is_closed() {
                        tracing::warn!(error = %err, "WAL checkpoint failed");
                    }
                }
            }
        });
    }

    /// True while the primary is known not to answer: requests that need it are then answered 503 at once
    /// instead of each waiting for the pool's acquire timeout (5 s).
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed) || self.starting.load(Ordering::Relaxed)
    }

    /// True once the pools are closed (at shutdown): background tasks stop then.
    pub fn is_closed(&self) -> bool {
        with_pool!(&self.writer, |p| p.is_closed())
    }

    /// True until the server's start-up has reached the database and run the migrations.
    pub fn is_starting(&self) -> bool {
        self.starting.load(Ordering::Relaxed)
    }

    /// Marks the start-up as pending (true) or done (false); [`Db::is_down`] holds while it is pending.
    pub fn set_starting(&self, starting: bool) {
        self.starting.store(starting, Ordering::Relaxed);
    }

    /// Asks the primary for a round trip every second (at most one second each) and keeps [`Db::is_down`]
    /// up to date: set at the first failure, cleared at the first answer. Runs until the pools close.
    pub fn spawn_availability_probe(&self) {
        const EVERY: Duration = Duration::from_secs(1);
        let (reader, down) = (self.probe.clone(), self.down.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !with_pool!(&reader, |p| p.is_closed()) {
                tick.tick().await;
                let answered =
                    matches!(tokio::time::timeout(EVERY, ping(&reader)).await, Ok(Ok(())));
                if down.swap(!answered, Ordering::Relaxed) == answered {
                    if answered {
                        tracing::info!("the database answers again");
                    } else if !with_pool!(&reader, |p| p.is_closed()) {
                        tracing::warn!(
                            "the database does not answer; API requests get 503 until it does"
                        );
                    }
                }
            }
        });
    }

    /// Applies pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let migrator = self.migrator();
        with_pool!(&self.writer, |p| migrator.run(p).await)
    }

    /// The versions of this binary's migrations that the database has not applied (all of them when it has no
    /// migration table yet). With `RUN_MIGRATIONS=false` the server is not ready until this is empty.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, sqlx::Error> {
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let applied = with_pool!(&self.reader, |p| {
            sqlx::query_scalar::<_, i64>(APPLIED).fetch_all(p).await
        });
        let applied = match applied {
            Ok(applied) => applied,
            // No migration table: nothing has been applied.
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(err) => return Err(err),
        };
        Ok(self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect())
    }

    fn migrator(&self) -> sqlx::migrate::Migrator {
        match &self.writer {
            Pool::Sqlite(_) => sqlx::migrate!("migrations/sqlite"),
            Pool::Postgres(_) => sqlx::migrate!("migrations/postgres"),
        }
    }

    /// Closes every pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        for pool in self.pools() {
            with_pool!(pool, |p| p.close().await);
        }
    }

    /// Closes every pool, waiting at most `limit` for connections in use (a statement stuck on a lock can hold
    /// one for ever). False when connections were still in use at the limit: they are abandoned, and the
    /// database rolls back their transactions when the process exits and their sockets close.
    pub async fn close_within(&self, limit: Duration) -> bool {
        async fn close(pool: Option<&Pool>) {
            if let Some(pool) = pool {
                with_pool!(pool, |p| p.close().await);
            }
        }
        // Together, so one stuck pool does not keep the others from closing their idle connections.
        let all = async {
            tokio::join!(
                close(Some(&self.writer)),
                close(Some(&self.reader)),
                close(self.replica.as_ref()),
                close(Some(&self.probe))
            )
        };
        tokio::time::timeout(limit, all).await.is_ok()
    }

    fn pools(&self) -> impl Iterator<Item = &Pool> {
        [
            Some(&self.writer),
            Some(&self.reader),
            self.replica.as_ref(),
            Some(&self.probe),
        ]
        .into_iter()
        .flatten()
    }
}

/// The availability probe's own pool of one connection, opened at its first use: on the same file or server as
/// `reader`, or `reader` itself when one connection serves both (SQLite in memory: another connection would open
/// another database).
fn probe_pool(url: &str, writer: &Pool, reader: &Pool) -> Result<Pool, sqlx::Error> {
    let (max, acquire) = (1, Duration::from_secs(1));
    if writer.is_same_pool(reader) {
        return Ok(reader.clone());
    }
    Ok(match reader {
        Pool::Sqlite(_) => Pool::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(acquire)
                .connect_lazy_with(SqliteConnectOptions::from_str(url)?),
        ),
        Pool::Postgres(_) => Pool::Postgres(
            PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(acquire)
                .connect_lazy_with(PgConnectOptions::from_str(url)?),
        ),
    })
}

/// A round trip to the database, for readiness.
pub async fn ping(conn: impl Into<Conn<'_>>) -> Result<(), sqlx::Error> {
    with_conn!(conn, |c| sqlx::query("SELECT 1")
        .execute(c)
        .await
        .map(|_| ()))
}

async fn connect_sqlite(url: &str, max: Option<u32>) -> Result<(Pool, Pool), sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        // Checkpoints run in the background (`Db::spawn_wal_checkpoints`), so a commit never pays for one.
        .pragma("wal_autocheckpoint", "0")
        // Deleted rows are overwritten with zeros, so an erased profile leaves no bytes in the file.
        .pragma("secure_delete", "ON");
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if !in_memory && options.get_filename() != Path::new(":memory:") {
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)?;
        }
        create_owner_only(options.get_filename())?;
    }
    let mut writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // An in-memory database lives as long as its one connection.
        .idle_timeout(None)
        .max_lifetime(None);
    if !in_memory {
        // A write connection still inside a transaction when it comes back (a COMMIT or ROLLBACK that failed,
        // as on a full disk, leaves it there) would refuse every later `BEGIN`: it is closed instead, and the
        // next write opens a fresh one. The ping first runs the rollback a dropped transaction queued.
        writer = writer.after_release(|conn, _| {
            Box::pin(async move {
                conn.ping().await?;
                Ok(!conn.is_in_transaction())
            })
        });
    }
    let writer = writer.connect_with(options.clone()).await?;
    if in_memory {
        return Ok((Pool::Sqlite(writer.clone()), Pool::Sqlite(writer)));
    }
    let reader = SqlitePoolOptions::new()
        .max_connections(max.unwrap_or(8))
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
    Ok((Pool::Sqlite(writer), Pool::Sqlite(reader)))
}

/// Creates the SQLite file owner-only (0600) when it does not exist yet, instead of letting SQLite create it
/// under the process umask (usually world-readable); SQLite gives its `-wal` and `-shm` files the database
/// file's mode. An existing file keeps the permissions its operator gave it.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    match file.open(path) {
        Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => Err(err),
        _ => Ok(()),
    }
}

async fn connect_postgres(url: &str, max: u32, lazy: bool) -> Result<Pool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5));
    Ok(Pool::Postgres(if lazy {
        pool.connect_lazy_with(options)
    } else {
        pool.connect_with(options).await?
    }))
}

/// The replica is optional (SPEC section 6): its pool connects lazily, so the service starts while the replica
/// is down and readiness reports it degraded instead.
fn connect_replica_postgres(options: PgConnectOptions, max: Option<u32>) -> Pool {
    let pool = PgPoolOptions::new()
        .max_connections(max.unwrap_or(16))
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options);
    Pool::Postgres(pool)
}

/// True when `err` violates the named unique constraint (or, on SQLite, the unique column behind it).
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str, sqlite_column: &str) -> bool {
    let Some(db_err) = err.as_database_error() else {
        return false;
    };
    if !db_err.is_unique_violation() {
        return false;
    }
    match db_err.constraint() {
        Some(name) => name == constraint,
        None => db_err.message().contains(sqlite_column) || db_err.message().contains(constraint),
    }
}
