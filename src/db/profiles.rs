//! The `profiles` table.

use time::OffsetDateTime;

use crate::{
    db::{Pool, Tx},
    domain::profile::{Profile, ProfileInput, normalize_email},
    with_pool, with_tx,
};

macro_rules! columns {
    () => {
        "user_id, email, display_name, first_name, last_name, phone, date_of_birth, locale, timezone, avatar_url, \
         status, version, created_at, updated_at"
    };
}

/// The profile of `user_id`, if any.
pub async fn find(pool: &Pool, user_id: &str) -> Result<Option<Profile>, sqlx::Error> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM profiles WHERE user_id = $1");
    with_pool!(pool, |c| sqlx::query_as::<_, Profile>(SQL)
        .bind(user_id)
        .fetch_optional(c)
        .await)
}

/// The profile of `user_id`, locked for the rest of the transaction.
pub async fn find_for_update(tx: &mut Tx, user_id: &str) -> Result<Option<Profile>, sqlx::Error> {
    // SQLite has no row locks; its write transactions are already exclusive (BEGIN IMMEDIATE).
    const SQLITE: &str = concat!("SELECT ", columns!(), " FROM profiles WHERE user_id = $1");
    const POSTGRES: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM profiles WHERE user_id = $1 FOR UPDATE"
    );
    match tx {
        Tx::Sqlite(tx) => {
            sqlx::query_as::<_, Profile>(SQLITE)
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await
        }
        Tx::Postgres(tx) => {
            sqlx::query_as::<_, Profile>(POSTGRES)
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await
        }
    }
}

/// Inserts a new profile at version 1.
pub async fn insert(
    tx: &mut Tx,
    user_id: &str,
    input: &ProfileInput,
    now: OffsetDateTime,
) -> Result<Profile, sqlx::Error> {
    const SQL: &str = concat!(
        "INSERT INTO profiles (user_id, email, email_normalized, display_name, first_name, last_name, phone, \
         date_of_birth, locale, timezone, avatar_url, status, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', 1, $12, $12) RETURNING ",
        columns!()
    );
    let email = input.email.as_deref().unwrap_or_default();
    with_tx!(tx, |c| {
        sqlx::query_as::<_, Profile>(SQL)
            .bind(user_id)
            .bind(email)
            .bind(normalize_email(email))
            .bind(input.display_name.as_deref().unwrap_or_default())
            .bind(&input.first_name)
            .bind(&input.last_name)
            .bind(&input.phone)
            .bind(input.date_of_birth())
            .bind(&input.locale)
            .bind(&input.timezone)
            .bind(&input.avatar_url)
            .bind(now)
            .fetch_one(c)
            .await
    })
}

/// Replaces the writable fields and bumps the version.
pub async fn update(
    tx: &mut Tx,
    user_id: &str,
    input: &ProfileInput,
    now: OffsetDateTime,
) -> Result<Profile, sqlx::Error> {
    const SQL: &str = concat!(
        "UPDATE profiles SET email = $2, email_normalized = $3, display_name = $4, first_name = $5, last_name = $6, \
         phone = $7, date_of_birth = $8, locale = $9, timezone = $10, avatar_url = $11, version = version + 1, \
         updated_at = $12 WHERE user_id = $1 RETURNING ",
        columns!()
    );
    let email = input.email.as_deref().unwrap_or_default();
    with_tx!(tx, |c| {
        sqlx::query_as::<_, Profile>(SQL)
            .bind(user_id)
            .bind(email)
            .bind(normalize_email(email))
            .bind(input.display_name.as_deref().unwrap_or_default())
            .bind(&input.first_name)
            .bind(&input.last_name)
            .bind(&input.phone)
            .bind(input.date_of_birth())
            .bind(&input.locale)
            .bind(&input.timezone)
            .bind(&input.avatar_url)
            .bind(now)
            .fetch_one(c)
            .await
    })
}

/// Sets `status` (`active`/`suspended`) and bumps the version.
pub async fn set_status(
    tx: &mut Tx,
    user_id: &str,
    status: &str,
    now: OffsetDateTime,
) -> Result<Profile, sqlx::Error> {
    const SQL: &str = concat!(
        "UPDATE profiles SET status = $2, version = version + 1, updated_at = $3 WHERE user_id = $1 RETURNING ",
        columns!()
    );
    with_tx!(tx, |c| sqlx::query_as::<_, Profile>(SQL)
        .bind(user_id)
        .bind(status)
        .bind(now)
        .fetch_one(c)
        .await)
}

/// Erases the profile; addresses, revisions, preferences and consent records go with it (ON DELETE CASCADE).
pub async fn delete(tx: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "DELETE FROM profiles WHERE user_id = $1";
    let result = with_tx!(tx, |c| sqlx::query(SQL)
        .bind(user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(result > 0)
}
