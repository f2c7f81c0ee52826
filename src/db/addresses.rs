//! The `addresses` and `address_revisions` tables.
//!
//! Every function that changes an address also copies the new state into `address_revisions`, in the same
//! transaction, so that the current row and its latest revision never disagree.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    db::{Conn, Tx},
    domain::address::{Address, AddressInput, Defaults},
    with_conn,
};

/// The columns an `Address` is read from, in table `addresses`.
macro_rules! columns {
    () => {
        "id, label, recipient_name, company, line1, line2, city, region, postal_code, country, phone, \
         is_default_shipping, is_default_billing, revision, created_at, updated_at, deleted_at"
    };
}

/// Selects an `Address` as it was at one revision (`r`): only immutable data, the snapshot and the address's
/// creation time (which never changes).
macro_rules! select_revisions {
    () => {
        "SELECT r.address_id AS id, r.label, r.recipient_name, r.company, r.line1, r.line2, r.city, r.region, \
         r.postal_code, r.country, r.phone, r.is_default_shipping, r.is_default_billing, r.revision, \
         a.created_at, r.created_at AS updated_at, r.deleted_at \
         FROM address_revisions r JOIN addresses a ON a.id = r.address_id"
    };
}

pub(super) use {columns, select_revisions};

/// Live addresses of `user_id`, oldest first, after `after` (exclusive); at most `limit`.
pub async fn list_live(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Address>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM addresses WHERE user_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT $3"
    );
    // UUIDv7 ids sort by creation; the nil UUID sorts before all of them.
    let after = after.unwrap_or(Uuid::nil());
    with_conn!(conn, |c| sqlx::query_as::<_, Address>(SQL)
        .bind(user_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await)
}

/// A live address of `user_id`.
pub async fn find_live(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
    id: Uuid,
) -> Result<Option<Address>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM addresses WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"
    );
    with_conn!(conn, |c| sqlx::query_as::<_, Address>(SQL)
        .bind(id)
        .bind(user_id)
        .fetch_optional(c)
        .await)
}

/// An address of `user_id`, live or deleted.
pub async fn find_any(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
    id: Uuid,
) -> Result<Option<Address>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM addresses WHERE id = $1 AND user_id = $2"
    );
    with_conn!(conn, |c| sqlx::query_as::<_, Address>(SQL)
        .bind(id)
        .bind(user_id)
        .fetch_optional(c)
        .await)
}

/// The live addresses of `user_id` that are a default of either kind (at most two).
pub async fn find_defaults(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Vec<Address>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM addresses WHERE user_id = $1 AND deleted_at IS NULL \
         AND (is_default_shipping OR is_default_billing) ORDER BY id"
    );
    with_conn!(conn, |c| sqlx::query_as::<_, Address>(SQL)
        .bind(user_id)
        .fetch_all(c)
        .await)
}

/// The address `id` of `user_id` exactly as it was at `revision`.
pub async fn find_revision(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
    id: Uuid,
    revision: i64,
) -> Result<Option<Address>, sqlx::Error> {
    const SQL: &str = concat!(
        select_revisions!(),
        " WHERE r.address_id = $1 AND r.user_id = $2 AND r.revision = $3"
    );
    with_conn!(conn, |c| sqlx::query_as::<_, Address>(SQL)
        .bind(id)
        .bind(user_id)
        .bind(revision)
        .fetch_optional(c)
        .await)
}

/// How many live addresses `user_id` has; call after locking the profile so the answer holds until commit.
pub async fn count_live(conn: impl Into<Conn<'_>>, user_id: &str) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COUNT(*) FROM addresses WHERE user_id = $1 AND deleted_at IS NULL";
    with_conn!(conn, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(user_id)
        .fetch_one(c)
        .await)
}

/// How many revisions the addresses of `user_id` hold, live and deleted; call after locking the profile so the
/// answer holds until commit.
pub async fn count_revisions(conn: impl Into<Conn<'_>>, user_id: &str) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COUNT(*) FROM address_revisions WHERE user_id = $1";
    with_conn!(conn, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(user_id)
        .fetch_one(c)
        .await)
}

/// The most recently created live address of `user_id`.
pub async fn find_newest_live(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Option<Address>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM addresses WHERE user_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT 1"
    );
    with_conn!(conn, |c| sqlx::query_as::<_, Address>(SQL)
        .bind(user_id)
        .fetch_optional(c)
        .await)
}

/// Inserts a new address at revision 1, and that revision.
pub async fn insert(
    tx: &mut Tx,
    user_id: &str,
    id: Uuid,
    input: &AddressInput,
    defaults: Defaults,
    now: OffsetDateTime,
) -> Result<Address, sqlx::Error> {
    const SQL: &str = concat!(
        "INSERT INTO addresses (id, user_id, label, recipient_name, company, line1, line2, city, region, \
         postal_code, country, phone, is_default_shipping, is_default_billing, revision, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15) RETURNING ",
        columns!()
    );
    let address = with_conn!(&mut *tx, |c| {
        sqlx::query_as::<_, Address>(SQL)
            .bind(id)
            .bind(user_id)
            .bind(&input.label)
            .bind(input.recipient_name.as_deref().unwrap_or_default())
            .bind(&input.company)
            .bind(input.line1.as_deref().unwrap_or_default())
            .bind(&input.line2)
            .bind(input.city.as_deref().unwrap_or_default())
            .bind(&input.region)
            .bind(input.postal_code.as_deref().unwrap_or_default())
            .bind(input.country.as_deref().unwrap_or_default())
            .bind(&input.phone)
            .bind(defaults.shipping)
            .bind(defaults.billing)
            .bind(now)
            .fetch_one(c)
            .await
    })?;
    record_revision(tx, id).await?;
    Ok(address)
}

/// Replaces the writable fields and the defaults of a live address, bumps its revision and records it.
pub async fn update(
    tx: &mut Tx,
    id: Uuid,
    input: &AddressInput,
    defaults: Defaults,
    now: OffsetDateTime,
) -> Result<Address, sqlx::Error> {
    const SQL: &str = concat!(
        "UPDATE addresses SET label = $2, recipient_name = $3, company = $4, line1 = $5, line2 = $6, city = $7, \
         region = $8, postal_code = $9, country = $10, phone = $11, is_default_shipping = $12, \
         is_default_billing = $13, revision = revision + 1, updated_at = $14 \
         WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        columns!()
    );
    let address = with_conn!(&mut *tx, |c| {
        sqlx::query_as::<_, Address>(SQL)
            .bind(id)
            .bind(&input.label)
            .bind(input.recipient_name.as_deref().unwrap_or_default())
            .bind(&input.company)
            .bind(input.line1.as_deref().unwrap_or_default())
            .bind(&input.line2)
            .bind(input.city.as_deref().unwrap_or_default())
            .bind(&input.region)
            .bind(input.postal_code.as_deref().unwrap_or_default())
            .bind(input.country.as_deref().unwrap_or_default())
            .bind(&input.phone)
            .bind(defaults.shipping)
            .bind(defaults.billing)
            .bind(now)
            .fetch_one(c)
            .await
    })?;
    record_revision(tx, id).await?;
    Ok(address)
}

/// Sets only the default flags of a live address, bumps its revision and records it.
pub async fn set_defaults(
    tx: &mut Tx,
    id: Uuid,
    defaults: Defaults,
    now: OffsetDateTime,
) -> Result<Address, sqlx::Error> {
    const SQL: &str = concat!(
        "UPDATE addresses SET is_default_shipping = $2, is_default_billing = $3, revision = revision + 1, \
         updated_at = $4 WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        columns!()
    );
    let address = with_conn!(&mut *tx, |c| sqlx::query_as::<_, Address>(SQL)
        .bind(id)
        .bind(defaults.shipping)
        .bind(defaults.billing)
        .bind(now)
        .fetch_one(c)
        .await)?;
    record_revision(tx, id).await?;
    Ok(address)
}

/// Marks a live address deleted (it stops being a default), bumps its revision and records that final revision.
pub async fn soft_delete(
    tx: &mut Tx,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Address, sqlx::Error> {
    const SQL: &str = concat!(
        "UPDATE addresses SET deleted_at = $2, updated_at = $2, is_default_shipping = FALSE, \
         is_default_billing = FALSE, revision = revision + 1 WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        columns!()
    );
    let address = with_conn!(&mut *tx, |c| sqlx::query_as::<_, Address>(SQL)
        .bind(id)
        .bind(now)
        .fetch_one(c)
        .await)?;
    record_revision(tx, id).await?;
    Ok(address)
}

/// Copies the current state of address `id` into `address_revisions` as its current revision.
async fn record_revision(tx: &mut Tx, id: Uuid) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO address_revisions (address_id, revision, user_id, label, recipient_name, \
         company, line1, line2, city, region, postal_code, country, phone, is_default_shipping, \
         is_default_billing, deleted_at, created_at) \
         SELECT id, revision, user_id, label, recipient_name, company, line1, line2, city, region, postal_code, \
         country, phone, is_default_shipping, is_default_billing, deleted_at, updated_at \
         FROM addresses WHERE id = $1";
    with_conn!(&mut *tx, |c| sqlx::query(SQL)
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
}
