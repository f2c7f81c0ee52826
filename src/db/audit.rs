//! The `audit_events` table: written in the same transaction as the change it records.

use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    db::{Pool, Tx},
    domain::audit::AuditEvent,
    with_pool, with_tx,
};

/// Appends one event to the audit trail.
pub async fn record(tx: &mut Tx, event: &AuditEvent) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO audit_events (id, occurred_at, actor_id, actor_role, action, target_user_id, \
                       request_id, changed_fields) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    with_tx!(tx, |c| {
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

enum Bind {
    Text(String),
    Time(OffsetDateTime),
    Id(Uuid),
}

/// One page of events matching `filter`, oldest first (ids are UUIDv7, so id order is time order).
pub async fn list(pool: &Pool, filter: &Filter) -> Result<Vec<AuditEvent>, sqlx::Error> {
    // SQLite keeps RFC 3339 text whose fraction has a variable length, so it compares instants via julianday().
    let at = |param: &str| match pool {
        Pool::Sqlite(_) => (
            "julianday(occurred_at)".to_string(),
            format!("julianday({param})"),
        ),
        Pool::Postgres(_) => ("occurred_at".to_string(), param.to_string()),
    };
    let mut sql = String::from(
        "SELECT id, occurred_at, actor_id, actor_role, action, target_user_id, request_id, changed_fields \
         FROM audit_events WHERE 1 = 1",
    );
    let mut binds = Vec::new();
    let mut condition = |template: &dyn Fn(&str) -> String, value: Bind| {
        binds.push(value);
        sql.push_str(" AND ");
        sql.push_str(&template(&format!("${}", binds.len())));
    };
    if let Some(v) = &filter.target_user_id {
        condition(&|p| format!("target_user_id = {p}"), Bind::Text(v.clone()));
    }
    if let Some(v) = &filter.actor_id {
        condition(&|p| format!("actor_id = {p}"), Bind::Text(v.clone()));
    }
    if let Some(v) = &filter.action {
        condition(&|p| format!("action = {p}"), Bind::Text(v.clone()));
    }
    if let Some(v) = filter.since {
        condition(
            &|p| {
                let (column, value) = at(p);
                format!("{column} >= {value}")
            },
            Bind::Time(v),
        );
    }
    if let Some(v) = filter.until {
        condition(
            &|p| {
                let (column, value) = at(p);
                format!("{column} < {value}")
            },
            Bind::Time(v),
        );
    }
    if let Some(v) = filter.after_id {
        condition(&|p| format!("id > {p}"), Bind::Id(v));
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", filter.limit));
    let rows = with_pool!(pool, |c| {
        let mut query = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.clone()));
        for value in &binds {
            query = match value {
                Bind::Text(v) => query.bind(v),
                Bind::Time(v) => query.bind(*v),
                Bind::Id(v) => query.bind(*v),
            };
        }
        query.fetch_all(c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEvent {
            id: r.id,
            occurred_at: r.occurred_at,
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            action: r.action,
            target_user_id: r.target_user_id,
            request_id: r.request_id,
            changed_fields: r.changed_fields.0,
        })
        .collect())
}
