//! The `audit_events` table: written in the same transaction as the change it records.

use sqlx::types::Json;

use crate::{db::Tx, domain::audit::AuditEvent, with_tx};

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
