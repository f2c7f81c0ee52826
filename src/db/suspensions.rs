//! The `kept_suspensions` table: the suspension of a user whose profile was erased while suspended.

use time::OffsetDateTime;

use crate::{
    db::{Conn, Tx},
    domain::privacy::KeptSuspension,
    with_conn,
};

/// Keeps `user_id`'s suspension as their suspended profile is erased; the time of suspension is taken from
/// the audit trail (the latest `profile.suspended` event).
pub async fn keep(
    tx: &mut Tx,
    user_id: &str,
    erased_at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO kept_suspensions (user_id, suspended_at, erased_at) \
                       VALUES ($1, (SELECT occurred_at FROM audit_events \
                                    WHERE target_user_id = $1 AND action = 'profile.suspended' \
                                    ORDER BY id DESC LIMIT 1), $2) \
                       ON CONFLICT (user_id) DO UPDATE \
                       SET suspended_at = excluded.suspended_at, erased_at = excluded.erased_at";
    with_conn!(tx, |c| sqlx::query(SQL)
        .bind(user_id)
        .bind(erased_at)
        .execute(c)
        .await
        .map(|_| ()))
}

/// The suspension kept for `user_id`, if any.
pub async fn find(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Option<KeptSuspension>, sqlx::Error> {
    const SQL: &str =
        "SELECT user_id, suspended_at, erased_at FROM kept_suspensions WHERE user_id = $1";
    with_conn!(conn, |c| sqlx::query_as::<_, KeptSuspension>(SQL)
        .bind(user_id)
        .fetch_optional(c)
        .await)
}

/// Removes the suspension kept for `user_id` and returns it; `None` when there was none.
pub async fn lift(tx: &mut Tx, user_id: &str) -> Result<Option<KeptSuspension>, sqlx::Error> {
    const SQL: &str = "DELETE FROM kept_suspensions WHERE user_id = $1 \
                       RETURNING user_id, suspended_at, erased_at";
    with_conn!(tx, |c| sqlx::query_as::<_, KeptSuspension>(SQL)
        .bind(user_id)
        .fetch_optional(c)
        .await)
}
