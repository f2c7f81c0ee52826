//! The `idempotency_keys` table: one row per caller and key, claimed before a write runs and completed with its
//! answer after it (service::idempotency holds the protocol). Every statement is its own short write on the
//! write pool, so a claim is visible to every instance before the write it guards begins.

use std::time::Duration;

use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    clock,
    db::{Conn, Db},
    with_conn, with_pool,
};

/// How often the pruning task looks for expired keys.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Keys deleted per statement: each batch is its own short write, so other writers run in between.
const PRUNE_BATCH: u32 = 1000;

/// Whose key it is: `kind` keeps a user's own requests and an admin's support actions apart, `caller_id` is the
/// token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: &'static str,
    pub caller_id: String,
}

/// A claim to write: the request a key is used with, held by `claim_id` from `now`.
#[derive(Debug, Clone)]
pub struct NewClaim<'a> {
    pub scope: &'a Scope,
    pub key: &'a str,
    pub target_user_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub request_hash: &'a [u8],
    pub claim_id: Uuid,
    pub now: OffsetDateTime,
}

/// A kept answer: status, the headers its handler set (name, value), and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A key's row as stored.
#[derive(Debug, Clone)]
pub struct Row {
    pub request_method: String,
    pub request_path: String,
    pub request_hash: Vec<u8>,
    pub claim_id: Uuid,
    pub created_at: OffsetDateTime,
    pub locked_at: OffsetDateTime,
    /// `None` while the request holding the claim runs.
    pub answer: Option<Answer>,
}

#[derive(sqlx::FromRow)]
struct RawRow {
    request_method: String,
    request_path: String,
    request_hash: Vec<u8>,
    claim_id: Uuid,
    created_at: OffsetDateTime,
    locked_at: OffsetDateTime,
    response_status: Option<i32>,
    response_headers: Option<Json<Vec<(String, String)>>>,
    response_body: Option<Vec<u8>>,
}

impl From<RawRow> for Row {
    fn from(r: RawRow) -> Self {
        let answer = match (r.response_status, r.response_headers, r.response_body) {
            (Some(status), Some(Json(headers)), Some(body)) => Some(Answer {
                status: u16::try_from(status).unwrap_or(500),
                headers,
                body,
            }),
            _ => None,
        };
        Row {
            request_method: r.request_method,
            request_path: r.request_path,
            request_hash: r.request_hash,
            claim_id: r.claim_id,
            created_at: r.created_at,
            locked_at: r.locked_at,
            answer,
        }
    }
}

/// Inserts `claim` as a new row; false when the caller already has a row for this key.
pub async fn insert(db: &Db, claim: &NewClaim<'_>) -> Result<bool, sqlx::Error> {
    const SQL: &str = "INSERT INTO idempotency_keys (caller_id, caller_kind, idempotency_key, target_user_id, \
         request_method, request_path, request_hash, claim_id, created_at, locked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         ON CONFLICT (caller_id, caller_kind, idempotency_key) DO NOTHING";
    with_conn!(&db.writer, |c| sqlx::query(SQL)
        .bind(&claim.scope.caller_id)
        .bind(claim.scope.kind)
        .bind(claim.key)
        .bind(claim.target_user_id)
        .bind(claim.method)
        .bind(claim.path)
        .bind(claim.request_hash)
        .bind(claim.claim_id)
        .bind(claim.now)
        .execute(c)
        .await
        .map(|done| done.rows_affected() == 1))
}

/// The caller's row for `key`, read on the primary (on SQLite from a read connection, so that it does not
/// queue behind the write a claim guards).
pub async fn find(db: &Db, scope: &Scope, key: &str) -> Result<Option<Row>, sqlx::Error> {
    const SQL: &str = "SELECT request_method, request_path, request_hash, claim_id, created_at, locked_at, \
         response_status, response_headers, response_body FROM idempotency_keys \
         WHERE caller_id = $1 AND caller_kind = $2 AND idempotency_key = $3";
    let row = with_conn!(db.reader(), |c| sqlx::query_as::<_, RawRow>(SQL)
        .bind(&scope.caller_id)
        .bind(scope.kind)
        .bind(key)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(Row::from))
}

/// Hands a claim still running under `stale_claim` over to `claim_id` from `now`; false when it is no longer
/// held by `stale_claim` (completed, released, or taken over by someone else first).
pub async fn take_over(
    db: &Db,
    scope: &Scope,
    key: &str,
    stale_claim: Uuid,
    claim_id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE idempotency_keys SET claim_id = $4, locked_at = $5 \
         WHERE caller_id = $1 AND caller_kind = $2 AND idempotency_key = $3 AND claim_id = $6 \
         AND completed_at IS NULL";
    with_conn!(&db.writer, |c| sqlx::query(SQL)
        .bind(&scope.caller_id)
        .bind(scope.kind)
        .bind(key)
        .bind(claim_id)
        .bind(now)
        .bind(stale_claim)
        .execute(c)
        .await
        .map(|done| done.rows_affected() == 1))
}

/// Keeps `answer` on the row `claim_id` holds; false when the claim is no longer this one's (taken over after it
/// went stale, or deleted by an erasure or the pruning).
pub async fn complete(
    db: &Db,
    scope: &Scope,
    key: &str,
    claim_id: Uuid,
    answer: &Answer,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE idempotency_keys SET completed_at = $5, response_status = $6, \
         response_headers = $7, response_body = $8 \
         WHERE caller_id = $1 AND caller_kind = $2 AND idempotency_key = $3 AND claim_id = $4 \
         AND completed_at IS NULL";
    with_conn!(&db.writer, |c| sqlx::query(SQL)
        .bind(&scope.caller_id)
        .bind(scope.kind)
        .bind(key)
        .bind(claim_id)
        .bind(now)
        .bind(i32::from(answer.status))
        .bind(Json(&answer.headers))
        .bind(&answer.body)
        .execute(c)
        .await
        .map(|done| done.rows_affected() == 1))
}

/// Deletes the row while `claim_id` holds it, so the key is free again: a released claim, or an expired row
/// (`claim_id` being the one read) that a new use of the key replaces.
pub async fn delete_claim(
    db: &Db,
    scope: &Scope,
    key: &str,
    claim_id: Uuid,
) -> Result<bool, sqlx::Error> {
    const SQL: &str = "DELETE FROM idempotency_keys \
         WHERE caller_id = $1 AND caller_kind = $2 AND idempotency_key = $3 AND claim_id = $4";
    with_conn!(&db.writer, |c| sqlx::query(SQL)
        .bind(&scope.caller_id)
        .bind(scope.kind)
        .bind(key)
        .bind(claim_id)
        .execute(c)
        .await
        .map(|done| done.rows_affected() == 1))
}

/// Deletes every key first used before `cutoff`, in batches of `batch`, each its own short statement on the
/// write pool; returns how many it deleted.
pub async fn delete_created_before(
    db: &Db,
    cutoff: OffsetDateTime,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let deleted = delete_batch_before(&db.writer, cutoff, batch).await?;
        total += deleted;
        if deleted < u64::from(batch) {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

async fn delete_batch_before(
    conn: impl Into<Conn<'_>>,
    cutoff: OffsetDateTime,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    // SQLite keeps RFC 3339 text whose fraction has a variable length: it compares instants via julianday(),
    // which its index on the column serves.
    const POSTGRES: &str = "DELETE FROM idempotency_keys \
         WHERE (caller_id, caller_kind, idempotency_key) IN (SELECT caller_id, caller_kind, idempotency_key \
         FROM idempotency_keys WHERE created_at < $1 LIMIT $2)";
    const SQLITE: &str = "DELETE FROM idempotency_keys \
         WHERE (caller_id, caller_kind, idempotency_key) IN (SELECT caller_id, caller_kind, idempotency_key \
         FROM idempotency_keys WHERE julianday(created_at) < julianday($1) LIMIT $2)";
    let conn = conn.into();
    let sql = if conn.is_sqlite() { SQLITE } else { POSTGRES };
    with_conn!(conn, |c| sqlx::query(sql)
        .bind(cutoff)
        .bind(i64::from(batch))
        .execute(c)
        .await
        .map(|done| done.rows_affected()))
}

/// Deletes the keys older than `ttl` at start-up and then hourly, until the pools close. (An expired key is
/// already treated as unused before it is deleted: this only reclaims the space.)
pub fn spawn_pruning(db: &Db, ttl: Duration) {
    let db = db.clone();
    let mut closed = with_pool!(&db.writer, |p| p.close_event());
    let task = async move {
        let mut tick = tokio::time::interval(PRUNE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let cutoff = clock::now() - ttl;
            match delete_created_before(&db, cutoff, PRUNE_BATCH).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired idempotency keys deleted"),
                Err(err) => {
                    tracing::warn!(error = %err, "deleting expired idempotency keys failed");
                }
            }
        }
    };
    // Stops when the pools close (`Db::close`), also in the middle of a wait or a batch.
    tokio::spawn(async move { closed.do_until(task).await });
}
