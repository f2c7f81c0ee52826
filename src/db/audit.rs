//! The `audit_events` table: written in the same transaction as the change it records.

use std::time::Duration;

use sqlx::{QueryBuilder, types::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    clock,
    db::{Conn, Db, Tx},
    domain::{audit::AuditEvent, privacy::AccessRecord},
    with_conn, with_pool,
};

/// How often the retention task looks for expired events.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Events deleted per statement: each batch is its own short write, so other writers run in between.
const RETENTION_BATCH: u32 = 1000;

/// The audit insert; `$values` names its eight placeholders, shifted when it shares a query (`db::events`).
macro_rules! insert_audit_event {
    ($values:literal) => {
        concat!(
            "INSERT INTO audit_events (id, occurred_at, actor_id, actor_role, action, target_user_id, \
             request_id, changed_fields) VALUES (",
            $values,
            ")"
        )
    };
}
pub(crate) use insert_audit_event;

/// Binds an audit event's columns, in the order of [`insert_audit_event`].
macro_rules! bind_audit_event {
    ($query:expr, $event:expr) => {
        $query
            .bind($event.id)
            .bind($event.occurred_at)
            .bind(&$event.actor_id)
            .bind(&$event.actor_role)
            .bind(&$event.action)
            .bind(&$event.target_user_id)
            .bind(&$event.request_id)
            .bind(sqlx::types::Json(&$event.changed_fields))
    };
}
pub(crate) use bind_audit_event;

/// Appends one event to the audit trail.
pub async fn record(tx: &mut Tx, event: &AuditEvent) -> Result<(), sqlx::Error> {
    const SQL: &str = insert_audit_event!("$1, $2, $3, $4, $5, $6, $7, $8");
    with_conn!(tx, |c| bind_audit_event!(sqlx::query(SQL), event)
        .execute(c)
        .await
        .map(|_| ()))
}

/// Filters of the audit trail query; every one is optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub target_user_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    /// Events that occurred at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Events that occurred before this instant.
    pub until: Option<OffsetDateTime>,
    /// Keyset position: only events whose id sorts after this one.
    pub after_id: Option<Uuid>,
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    occurred_at: OffsetDateTime,
    actor_id: String,
    actor_role: String,
    action: String,
    target_user_id: String,
    request_id: Option<String>,
    changed_fields: Json<Vec<String>>,
}

impl From<Row> for AuditEvent {
    fn from(r: Row) -> Self {
        AuditEvent {
            id: r.id,
            occurred_at: r.occurred_at,
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            action: r.action,
            target_user_id: r.target_user_id,
            request_id: r.request_id,
            changed_fields: r.changed_fields.0,
        }
    }
}

/// One page of events matching `filter`, oldest first (ids are UUIDv7, so id order is time order).
pub async fn list(
    conn: impl Into<Conn<'_>>,
    filter: &Filter,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    let conn = conn.into();
    // SQLite keeps RFC 3339 text whose fraction has a variable length, so it compares instants via julianday().
    let (at, open, close) = if conn.is_sqlite() {
        ("julianday(occurred_at)", "julianday(", ")")
    } else {
        ("occurred_at", "", "")
    };
    let rows = with_conn!(conn, |c| {
        let mut sql = QueryBuilder::new(
            "SELECT id, occurred_at, actor_id, actor_role, action, target_user_id, request_id, \
             changed_fields FROM audit_events WHERE 1 = 1",
        );
        if let Some(v) = &filter.target_user_id {
            sql.push(" AND target_user_id = ").push_bind(v);
        }
        if let Some(v) = &filter.actor_id {
            sql.push(" AND actor_id = ").push_bind(v);
        }
        if let Some(v) = &filter.action {
            sql.push(" AND action = ").push_bind(v);
        }
        if let Some(v) = filter.since {
            sql.push(format_args!(" AND {at} >= {open}"))
                .push_bind(v)
                .push(close);
        }
        if let Some(v) = filter.until {
            sql.push(format_args!(" AND {at} < {open}"))
                .push_bind(v)
                .push(close);
        }
        if let Some(v) = filter.after_id {
            sql.push(" AND id > ").push_bind(v);
        }
        sql.push(format_args!(" ORDER BY id LIMIT {}", filter.limit));
        sql.build_query_as::<Row>().fetch_all(c).await
    })?;
    Ok(rows.into_iter().map(AuditEvent::from).collect())
}

/// Every event about `user_id` still kept, oldest first: who (role and id) did what, and when; for the privacy
/// export.
pub async fn about_user(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Vec<AccessRecord>, sqlx::Error> {
    const SQL: &str = "SELECT occurred_at, actor_role, actor_id, action FROM audit_events \
                       WHERE target_user_id = $1 ORDER BY id";
    with_conn!(conn, |c| sqlx::query_as::<_, AccessRecord>(SQL)
        .bind(user_id)
        .fetch_all(c)
        .await)
}

/// Deletes every event that occurred before `cutoff`, in batches of `batch` events, each its own short statement
/// on the write pool (so a large backlog never holds the write lock for long); returns how many it deleted.
pub async fn delete_before(
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

/// Deletes up to `batch` of the oldest events that occurred before `cutoff`.
async fn delete_batch_before(
    conn: impl Into<Conn<'_>>,
    cutoff: OffsetDateTime,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    // Ids are UUIDv7 minted with `occurred_at`: the id bound lets the primary key find the old events, and the
    // time condition keeps the cut exact. SQLite compares its RFC 3339 text via julianday() (see `list`).
    const POSTGRES: &str = "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
         WHERE id < $1 AND occurred_at < $2 ORDER BY id LIMIT $3)";
    const SQLITE: &str = "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
         WHERE id < $1 AND julianday(occurred_at) < julianday($2) ORDER BY id LIMIT $3)";
    let conn = conn.into();
    let sql = if conn.is_sqlite() { SQLITE } else { POSTGRES };
    with_conn!(conn, |c| sqlx::query(sql)
        .bind(first_id_at(cutoff))
        .bind(cutoff)
        .bind(i64::from(batch))
        .execute(c)
        .await
        .map(|done| done.rows_affected()))
}

/// The smallest UUIDv7 of the millisecond `at`: every id minted earlier sorts before it.
fn first_id_at(at: OffsetDateTime) -> Uuid {
    let millis = u128::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    Uuid::from_u128((millis & 0xFFFF_FFFF_FFFF) << 80)
}

/// Deletes the events older than `retention` at start-up and then hourly, until the pools close.
pub fn spawn_retention(db: &Db, retention: Option<Duration>) {
    let Some(retention) = retention else {
        return;
    };
    let db = db.clone();
    let mut closed = with_pool!(&db.writer, |p| p.close_event());
    let task = async move {
        let mut tick = tokio::time::interval(RETENTION_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let cutoff = clock::now() - retention;
            match delete_before(&db, cutoff, RETENTION_BATCH).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired audit events deleted"),
                Err(err) => tracing::warn!(error = %err, "deleting expired audit events failed"),
            }
        }
    };
    // Stops when the pools close (`Db::close`), also in the middle of a wait or a batch.
    tokio::spawn(async move { closed.do_until(task).await });
}
