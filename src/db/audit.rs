//! The `audit_events` table: written in the same transaction as the change it records.

use sqlx::{QueryBuilder, types::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    db::{Conn, Tx},
    domain::audit::AuditEvent,
    with_conn,
};

/// Appends one event to the audit trail.
pub async fn record(tx: &mut Tx, event: &AuditEvent) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO audit_events (id, occurred_at, actor_id, actor_role, action, target_user_id, \
                       request_id, changed_fields) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    with_conn!(tx, |c| {
        sqlx::query(SQL)
            .bind(event.id)
            .bind(event.occurred_at)
            .bind(&event.actor_id)
            .bind(&event.actor_role)
            .bind(&event.action)
            .bind(&event.target_user_id)
            .bind(&event.request_id)
            .bind(Json(&event.changed_fields))
            .execute(c)
            .await
            .map(|_| ())
    })
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
