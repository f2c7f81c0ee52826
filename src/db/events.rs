//! The change feed's outbox (`outbox_events`, `event_sequences`, `outbox_cursors`): events are appended in the
//! write's transaction; positions, retention and the relay's progress and lease live here too.
//!
//! Positions: on SQLite, one write transaction runs at a time, so the position is assigned at insert and
//! positions commit in order. On PostgreSQL, transactions commit out of order, so an event is inserted without
//! a position and [`assign_positions`] numbers the committed ones afterwards, one sequencer at a time (the lock
//! on the `sequenced` cursor row): a reader that has seen position `p` can never see an event appear below it.

use sqlx::{QueryBuilder, types::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    db::{
        Conn, Db, Pool, Tx, TxConn,
        audit::{bind_audit_event, insert_audit_event},
    },
    domain::{
        audit::AuditEvent,
        event::{ActorRole, Event, EventType},
    },
    with_conn,
};

/// Events numbered per sequencer transaction; a larger backlog takes several.
const SEQUENCE_BATCH: i64 = 1000;

/// Now, in Unix milliseconds on the database's clock (the relay's lease compares with it, so instances whose
/// clocks disagree still agree on who holds it).
macro_rules! now_ms {
    (postgres) => {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    };
    (sqlite) => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}

/// Takes the relay's lease when it is free, expired or already `$1`'s, for `$2` ms.
macro_rules! claim_sql {
    ($db:tt) => {
        concat!(
            "UPDATE outbox_cursors SET owner = $1, lease_until = ",
            now_ms!($db),
            " + $2 \
             WHERE name = 'published' AND (owner IS NULL OR owner = $1 OR lease_until < ",
            now_ms!($db),
            ") \
             RETURNING position"
        )
    };
}

/// Moves the relay's progress to `$2` and renews `$1`'s lease for `$3` ms, if `$1` still holds it.
macro_rules! mark_sql {
    ($db:tt) => {
        concat!(
            "UPDATE outbox_cursors SET position = $2, lease_until = ",
            now_ms!($db),
            " + $3 \
             WHERE name = 'published' AND owner = $1 AND position <= $2"
        )
    };
}

/// An event with its position in the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Positioned {
    pub position: i64,
    pub event: Event,
    /// The W3C `traceparent` of the request that wrote it; not part of the event document.
    pub traceparent: Option<String>,
}

/// Filters of a feed page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<String>,
    /// Any of these types; empty: every type.
    pub types: Vec<EventType>,
}

/// The user's next sequence (`$3` is the user id). The `event_sequences` row it updates stays locked until the
/// transaction ends, so one user's events are numbered (and, on PostgreSQL, inserted) in the order their
/// transactions commit.
macro_rules! next_sequence {
    () => {
        "INSERT INTO event_sequences (user_id, last_sequence) VALUES ($3, 1) \
         ON CONFLICT (user_id) DO UPDATE SET last_sequence = event_sequences.last_sequence + 1"
    };
}
pub(crate) use next_sequence;

/// The outbox insert of an event bound by [`bind_event`] (`$1`-`$10`) and its request's `traceparent` (`$11`);
/// the sequence comes from the query's end.
macro_rules! insert_event {
    () => {
        "INSERT INTO outbox_events (id, type, user_id, resource_id, version, revision, changed_fields, \
         occurred_at, actor_role, request_id, traceparent, sequence) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
    };
}
pub(crate) use insert_event;

/// Binds an event's columns, in the order of [`insert_event`].
macro_rules! bind_event {
    ($query:expr, $event:expr) => {
        $query
            .bind($event.id)
            .bind($event.kind.as_str())
            .bind(&$event.user_id)
            .bind(&$event.resource_id)
            .bind($event.version)
            .bind($event.revision)
            .bind(sqlx::types::Json(&$event.changed_fields))
            .bind($event.occurred_at)
            .bind($event.actor_role.as_str())
            .bind(&$event.request_id)
    };
}
pub(crate) use bind_event;

/// Appends `event` to the outbox, inside the write's transaction, numbered with its user's next `sequence`
/// (the one it carries is not used), with the `traceparent` of the request that wrote it (the relay's message
/// carries it on). One round trip: the single SQLite write connection is latency-bound, so the sequence and the
/// event are one call there too (sqlx runs the statements of one SQLite query in order, binding `$n` to the same
/// argument in each).
pub async fn append(
    tx: &mut Tx,
    event: &Event,
    traceparent: Option<&str>,
) -> Result<(), sqlx::Error> {
    const SQLITE: &str = concat!(
        next_sequence!(),
        "; ",
        insert_event!(),
        "last_sequence FROM event_sequences WHERE user_id = $3"
    );
    const POSTGRES: &str = concat!(
        "WITH s AS (",
        next_sequence!(),
        " RETURNING last_sequence) ",
        insert_event!(),
        "s.last_sequence FROM s"
    );
    let sql = if matches!(tx.conn, TxConn::Sqlite(_)) {
        SQLITE
    } else {
        POSTGRES
    };
    with_conn!(tx, |c| bind_event!(sqlx::query(sql), event)
        .bind(traceparent)
        .execute(c)
        .await
        .map(|_| ()))
}

/// [`append`] and [`record`](crate::db::audit::record) of the same change in one round trip, the common end of a write.
pub async fn append_with_audit(
    tx: &mut Tx,
    event: &Event,
    traceparent: Option<&str>,
    audit: &AuditEvent,
) -> Result<(), sqlx::Error> {
    const SQLITE: &str = concat!(
        next_sequence!(),
        "; ",
        insert_event!(),
        "last_sequence FROM event_sequences WHERE user_id = $3; ",
        insert_audit_event!("$12, $13, $14, $15, $16, $17, $18, $19")
    );
    const POSTGRES: &str = concat!(
        "WITH s AS (",
        next_sequence!(),
        " RETURNING last_sequence), a AS (",
        insert_audit_event!("$12, $13, $14, $15, $16, $17, $18, $19"),
        ") ",
        insert_event!(),
        "s.last_sequence FROM s"
    );
    let sql = if matches!(tx.conn, TxConn::Sqlite(_)) {
        SQLITE
    } else {
        POSTGRES
    };
    with_conn!(tx, |c| bind_audit_event!(
        bind_event!(sqlx::query(sql), event).bind(traceparent),
        audit
    )
    .execute(c)
    .await
    .map(|_| ()))
}

/// Forgets `user_id`'s sequence (at erasure): their next event is number 1 again.
pub async fn forget_sequence(tx: &mut Tx, user_id: &str) -> Result<(), sqlx::Error> {
    with_conn!(tx, |c| sqlx::query(
        "DELETE FROM event_sequences WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(c)
    .await
    .map(|_| ()))
}

/// PostgreSQL: gives the committed events that have none a position, in insertion order, and returns the
/// highest position assigned (the feed's head). SQLite assigns positions at insert: this only reads the head.
pub async fn assign_positions(db: &Db) -> Result<i64, sqlx::Error> {
    let Pool::Postgres(pool) = &db.writer else {
        return head(&db.reader).await;
    };
    loop {
        // Most polls find nothing: an index-only look, no transaction, no lock.
        let pending: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM outbox_events WHERE position IS NULL)",
        )
        .fetch_one(pool)
        .await?;
        if !pending {
            return head(&db.writer).await;
        }
        let mut tx = pool.begin().await?;
        let last: i64 = sqlx::query_scalar(
            "SELECT position FROM outbox_cursors WHERE name = 'sequenced' FOR UPDATE",
        )
        .fetch_one(&mut *tx)
        .await?;
        // A new statement, so a new snapshot: it sees every event committed before the lock was granted,
        // including the positions an earlier sequencer gave.
        let assigned = sqlx::query(
            "WITH pending AS (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM outbox_events \
             WHERE position IS NULL ORDER BY seq LIMIT $2) \
             UPDATE outbox_events e SET position = $1 + pending.n FROM pending WHERE e.seq = pending.seq",
        )
        .bind(last)
        .bind(SEQUENCE_BATCH)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let assigned = i64::try_from(assigned).unwrap_or(i64::MAX);
        if assigned > 0 {
            sqlx::query("UPDATE outbox_cursors SET position = $1 WHERE name = 'sequenced'")
                .bind(last + assigned)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if assigned < SEQUENCE_BATCH {
            return Ok(last + assigned);
        }
    }
}

/// The highest position a reader may see: every event at or below it has committed and has its position.
pub async fn head(conn: impl Into<Conn<'_>>) -> Result<i64, sqlx::Error> {
    let conn = conn.into();
    let sql = if conn.is_sqlite() {
        "SELECT COALESCE((SELECT MAX(position) FROM outbox_events), \
         (SELECT position FROM outbox_cursors WHERE name = 'pruned'))"
    } else {
        "SELECT position FROM outbox_cursors WHERE name = 'sequenced'"
    };
    with_conn!(conn, |c| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(c)
        .await)
}

/// The highest position retention has deleted: a cursor below it is expired.
pub async fn pruned_through(conn: impl Into<Conn<'_>>) -> Result<i64, sqlx::Error> {
    cursor(conn, "pruned").await
}

/// The highest position the relay has had acknowledged by the broker.
pub async fn published_through(conn: impl Into<Conn<'_>>) -> Result<i64, sqlx::Error> {
    cursor(conn, "published").await
}

async fn cursor(conn: impl Into<Conn<'_>>, name: &str) -> Result<i64, sqlx::Error> {
    with_conn!(conn, |c| sqlx::query_scalar::<_, i64>(
        "SELECT position FROM outbox_cursors WHERE name = $1"
    )
    .bind(name)
    .fetch_one(c)
    .await)
}

#[derive(sqlx::FromRow)]
struct Row {
    position: i64,
    id: Uuid,
    #[sqlx(rename = "type")]
    kind: String,
    user_id: String,
    resource_id: String,
    version: Option<i64>,
    revision: Option<i64>,
    sequence: i64,
    changed_fields: Json<Vec<String>>,
    occurred_at: OffsetDateTime,
    actor_role: String,
    request_id: Option<String>,
    traceparent: Option<String>,
}

impl Row {
    /// The stored event; `None` for a type this build does not know (written by a newer release).
    fn into_positioned(self) -> Option<Positioned> {
        Some(Positioned {
            position: self.position,
            event: Event {
                id: self.id,
                kind: EventType::parse(&self.kind)?,
                user_id: self.user_id,
                resource_id: self.resource_id,
                version: self.version,
                revision: self.revision,
                sequence: self.sequence,
                changed_fields: self.changed_fields.0,
                occurred_at: self.occurred_at,
                actor_role: ActorRole::parse(&self.actor_role),
                request_id: self.request_id,
            },
            traceparent: self.traceparent,
        })
    }
}

/// Up to `limit` events after position `after` and at most `head`, matching `filter`, in position order.
pub async fn page(
    conn: impl Into<Conn<'_>>,
    after: i64,
    head: i64,
    filter: &Filter,
    limit: u32,
) -> Result<Vec<Positioned>, sqlx::Error> {
    let rows = with_conn!(conn, |c| {
        let mut sql = QueryBuilder::new(
            "SELECT position, id, type, user_id, resource_id, version, revision, sequence, changed_fields, \
             occurred_at, actor_role, request_id, traceparent FROM outbox_events WHERE position > ",
        );
        sql.push_bind(after)
            .push(" AND position <= ")
            .push_bind(head);
        if let Some(user_id) = &filter.user_id {
            sql.push(" AND user_id = ").push_bind(user_id);
        }
        if !filter.types.is_empty() {
            sql.push(" AND type IN (");
            let mut list = sql.separated(", ");
            for kind in &filter.types {
                list.push_bind(kind.as_str());
            }
            sql.push(")");
        }
        sql.push(format_args!(" ORDER BY position LIMIT {limit}"));
        sql.build_query_as::<Row>().fetch_all(c).await
    })?;
    Ok(rows.into_iter().filter_map(Row::into_positioned).collect())
}

/// The number of events the relay has yet to publish and when the oldest of them occurred.
pub async fn backlog(db: &Db) -> Result<(i64, Option<OffsetDateTime>), sqlx::Error> {
    let published = published_through(&db.writer).await?;
    let head = head(&db.writer).await?;
    let oldest = with_conn!(&db.writer, |c| sqlx::query_scalar::<_, OffsetDateTime>(
        "SELECT occurred_at FROM outbox_events WHERE position > $1 ORDER BY position LIMIT 1"
    )
    .bind(published)
    .fetch_optional(c)
    .await)?;
    Ok(((head - published).max(0), oldest))
}

/// Deletes the events that occurred before `cutoff`, up to position `at_most` (the relay's progress when one
/// runs, so an undelivered event is never pruned), in batches; returns how many it deleted. The `pruned` cursor
/// moves first, so a reader never gets a page with a hole in it: its cursor is expired instead.
pub async fn prune(
    db: &Db,
    cutoff: OffsetDateTime,
    at_most: i64,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    // The head first: every event at or below it has its position, so the search below sees all of them, and an
    // event numbered meanwhile (above the head) is never taken for an old one.
    let head = head(&db.writer).await?;
    let conn = Conn::from(&db.writer);
    let young = if conn.is_sqlite() {
        "SELECT MIN(position) FROM outbox_events WHERE position <= $2 \
         AND julianday(occurred_at) >= julianday($1)"
    } else {
        "SELECT MIN(position) FROM outbox_events WHERE position <= $2 AND occurred_at >= $1"
    };
    let first_young = with_conn!(conn, |c| sqlx::query_scalar::<_, Option<i64>>(young)
        .bind(cutoff)
        .bind(head)
        .fetch_one(c)
        .await)?;
    let through = first_young.map_or(head, |p| p - 1).min(at_most);
    if through <= pruned_through(&db.writer).await? {
        return Ok(0);
    }
    with_conn!(&db.writer, |c| sqlx::query(
        "UPDATE outbox_cursors SET position = $1 WHERE name = 'pruned' AND position < $1"
    )
    .bind(through)
    .execute(c)
    .await
    .map(|_| ()))?;
    let mut total = 0;
    loop {
        let deleted = with_conn!(&db.writer, |c| sqlx::query(
            "DELETE FROM outbox_events WHERE position IN \
             (SELECT position FROM outbox_events WHERE position <= $1 ORDER BY position LIMIT $2)"
        )
        .bind(through)
        .bind(i64::from(batch))
        .execute(c)
        .await
        .map(|done| done.rows_affected()))?;
        total += deleted;
        if deleted < u64::from(batch) {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Takes or renews the relay's lease for `owner` for `ttl_ms`; returns the position published so far when
/// `owner` holds it, `None` when another instance does.
pub async fn claim_relay(db: &Db, owner: &str, ttl_ms: i64) -> Result<Option<i64>, sqlx::Error> {
    let conn = Conn::from(&db.writer);
    let sql = if conn.is_sqlite() {
        claim_sql!(sqlite)
    } else {
        claim_sql!(postgres)
    };
    with_conn!(conn, |c| sqlx::query_scalar::<_, i64>(sql)
        .bind(owner)
        .bind(ttl_ms)
        .fetch_optional(c)
        .await)
}

/// Records that the broker acknowledged every event through `position`, renewing the lease; false when
/// `owner` no longer holds the lease (then it must stop publishing).
pub async fn mark_published(
    db: &Db,
    owner: &str,
    position: i64,
    ttl_ms: i64,
) -> Result<bool, sqlx::Error> {
    let conn = Conn::from(&db.writer);
    let sql = if conn.is_sqlite() {
        mark_sql!(sqlite)
    } else {
        mark_sql!(postgres)
    };
    let updated = with_conn!(conn, |c| sqlx::query(sql)
        .bind(owner)
        .bind(position)
        .bind(ttl_ms)
        .execute(c)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(updated == 1)
}

/// Gives up the relay's lease (at shutdown), so another instance takes over at once.
pub async fn release_relay(db: &Db, owner: &str) -> Result<(), sqlx::Error> {
    with_conn!(&db.writer, |c| {
        sqlx::query(
        "UPDATE outbox_cursors SET owner = NULL, lease_until = NULL WHERE name = 'published' AND owner = $1"
    )
    .bind(owner)
    .execute(c)
    .await
    .map(|_| ())
    })
}
