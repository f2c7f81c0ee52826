//! The `preferences` table (one JSON document per user) and `consent_records` (the history of opt-ins).

use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    db::{Conn, Tx},
    domain::preferences::{ConsentChange, ConsentRecord, PreferenceSettings, Preferences},
    with_conn,
};

type Row = (Json<PreferenceSettings>, i64, OffsetDateTime);

fn from_row((Json(settings), version, updated_at): Row) -> Preferences {
    Preferences {
        settings,
        version,
        updated_at: Some(updated_at),
    }
}

/// The stored preferences of `user_id`; `None` while the user has set nothing (the defaults apply). Writers
/// read them inside their transaction after locking the profile row, which serializes preference writes.
pub async fn find(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Option<Preferences>, sqlx::Error> {
    const SQL: &str = "SELECT document, version, updated_at FROM preferences WHERE user_id = $1";
    let row = with_conn!(conn, |c| sqlx::query_as::<_, Row>(SQL)
        .bind(user_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_row))
}

/// Stores `settings`: version 1 the first time, then one version up per write.
pub async fn save(
    tx: &mut Tx,
    user_id: &str,
    settings: &PreferenceSettings,
    now: OffsetDateTime,
) -> Result<Preferences, sqlx::Error> {
    const SQL: &str = "INSERT INTO preferences (user_id, document, version, created_at, updated_at) \
                       VALUES ($1, $2, 1, $3, $3) \
                       ON CONFLICT (user_id) DO UPDATE SET document = excluded.document, \
                       version = preferences.version + 1, updated_at = excluded.updated_at \
                       RETURNING document, version, updated_at";
    let row = with_conn!(tx, |c| sqlx::query_as::<_, Row>(SQL)
        .bind(user_id)
        .bind(Json(settings))
        .bind(now)
        .fetch_one(c)
        .await)?;
    Ok(from_row(row))
}

/// Keeps one consent record per changed opt-in.
pub async fn record_consents(
    tx: &mut Tx,
    user_id: &str,
    changes: &[ConsentChange],
    now: OffsetDateTime,
    request_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO consent_records (id, user_id, channel, purpose, granted, recorded_at, request_id) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7)";
    for change in changes {
        with_conn!(&mut *tx, |c| sqlx::query(SQL)
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(change.channel)
            .bind(change.purpose)
            .bind(change.granted)
            .bind(now)
            .bind(request_id)
            .execute(c)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// How many consent records `user_id` has; writers call it after locking the profile row.
pub async fn count_consent_records(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COUNT(*) FROM consent_records WHERE user_id = $1";
    with_conn!(conn, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(user_id)
        .fetch_one(c)
        .await)
}

/// Every consent record of `user_id`, oldest first.
pub async fn consent_records(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Vec<ConsentRecord>, sqlx::Error> {
    const SQL: &str = "SELECT id, channel, purpose, granted, recorded_at, request_id FROM consent_records \
                       WHERE user_id = $1 ORDER BY id";
    with_conn!(conn, |c| sqlx::query_as::<_, ConsentRecord>(SQL)
        .bind(user_id)
        .fetch_all(c)
        .await)
}
