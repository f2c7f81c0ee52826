//! The `erasure_receipts` and `erased_addresses` tables: what an erasure keeps, with no personal data.

use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    db::{Conn, Tx},
    domain::privacy::{ErasedCounts, ErasureActor, ErasureReceipt},
    with_conn,
};

/// An erasure about to happen: whose, by whom, in which request, when.
#[derive(Debug, Clone)]
pub struct Erasure<'a> {
    pub user_id: &'a str,
    pub actor_kind: ErasureActor,
    pub actor_id: &'a str,
    pub request_id: Option<String>,
    pub at: OffsetDateTime,
}

/// Records `erasure` before the profile's rows are deleted, in the same transaction: counts what is about to
/// go, leaves a tombstone per address (id, last revision, time), and writes the receipt, which it returns.
pub async fn record(tx: &mut Tx, erasure: &Erasure<'_>) -> Result<ErasureReceipt, sqlx::Error> {
    const COUNTS: &str = "SELECT \
         (SELECT COUNT(*) FROM profiles WHERE user_id = $1), \
         (SELECT COUNT(*) FROM addresses WHERE user_id = $1), \
         (SELECT COUNT(*) FROM address_revisions WHERE user_id = $1), \
         (SELECT COUNT(*) FROM preferences WHERE user_id = $1), \
         (SELECT COUNT(*) FROM consent_records WHERE user_id = $1)";
    const TOMBSTONES: &str = "INSERT INTO erased_addresses (address_id, user_id, last_revision, erased_at) \
         SELECT id, user_id, revision, $2 FROM addresses WHERE user_id = $1 \
         ON CONFLICT (address_id) DO NOTHING";
    const RECEIPT: &str = "INSERT INTO erasure_receipts (id, user_id, erased_at, actor_kind, actor_id, \
         request_id, profiles, addresses, address_revisions, preferences, consent_records) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    let user_id = erasure.user_id;
    let (profiles, addresses, address_revisions, preferences, consent_records) =
        with_conn!(&mut *tx, |c| {
            sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(COUNTS)
                .bind(user_id)
                .fetch_one(c)
                .await
        })?;
    with_conn!(&mut *tx, |c| sqlx::query(TOMBSTONES)
        .bind(user_id)
        .bind(erasure.at)
        .execute(c)
        .await
        .map(|_| ()))?;
    let receipt = ErasureReceipt {
        id: Uuid::now_v7(),
        user_id: user_id.to_string(),
        erased_at: erasure.at,
        actor_kind: erasure.actor_kind,
        actor_id: erasure.actor_id.to_string(),
        request_id: erasure.request_id.clone(),
        removed: ErasedCounts {
            profiles,
            addresses,
            address_revisions,
            preferences,
            consent_records,
        },
    };
    let removed = &receipt.removed;
    with_conn!(tx, |c| sqlx::query(RECEIPT)
        .bind(receipt.id)
        .bind(&receipt.user_id)
        .bind(receipt.erased_at)
        .bind(receipt.actor_kind.as_str())
        .bind(&receipt.actor_id)
        .bind(&receipt.request_id)
        .bind(removed.profiles)
        .bind(removed.addresses)
        .bind(removed.address_revisions)
        .bind(removed.preferences)
        .bind(removed.consent_records)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(receipt)
}

/// True when a profile of `user_id` was ever erased.
pub async fn profile_erased(conn: impl Into<Conn<'_>>, user_id: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "SELECT 1 FROM erasure_receipts WHERE user_id = $1 LIMIT 1";
    let found = with_conn!(conn, |c| sqlx::query_scalar::<_, i32>(SQL)
        .bind(user_id)
        .fetch_optional(c)
        .await)?;
    Ok(found.is_some())
}

/// The last revision of address `id` of `user_id` when it was erased; `None` when no such address was erased.
pub async fn erased_address(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    const SQL: &str =
        "SELECT last_revision FROM erased_addresses WHERE address_id = $1 AND user_id = $2";
    with_conn!(conn, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(id)
        .bind(user_id)
        .fetch_optional(c)
        .await)
}

/// Filters of the receipt list; every one is optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<String>,
    /// Erasures at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Erasures before this instant.
    pub until: Option<OffsetDateTime>,
    /// Keyset position: only receipts whose id sorts after this one.
    pub after_id: Option<Uuid>,
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    user_id: String,
    erased_at: OffsetDateTime,
    actor_kind: String,
    actor_id: String,
    request_id: Option<String>,
    profiles: i64,
    addresses: i64,
    address_revisions: i64,
    preferences: i64,
    consent_records: i64,
}

impl TryFrom<Row> for ErasureReceipt {
    type Error = sqlx::Error;

    fn try_from(r: Row) -> Result<Self, Self::Error> {
        let actor_kind = ErasureActor::parse(&r.actor_kind).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown actor_kind `{}`", r.actor_kind).into())
        })?;
        Ok(ErasureReceipt {
            id: r.id,
            user_id: r.user_id,
            erased_at: r.erased_at,
            actor_kind,
            actor_id: r.actor_id,
            request_id: r.request_id,
            removed: ErasedCounts {
                profiles: r.profiles,
                addresses: r.addresses,
                address_revisions: r.address_revisions,
                preferences: r.preferences,
                consent_records: r.consent_records,
            },
        })
    }
}

/// One page of receipts matching `filter`, oldest first (ids are UUIDv7, so id order is time order).
pub async fn list(
    conn: impl Into<Conn<'_>>,
    filter: &Filter,
) -> Result<Vec<ErasureReceipt>, sqlx::Error> {
    let conn = conn.into();
    // SQLite keeps RFC 3339 text whose fraction has a variable length: it compares instants via julianday().
    let (at, open, close) = if conn.is_sqlite() {
        ("julianday(erased_at)", "julianday(", ")")
    } else {
        ("erased_at", "", "")
    };
    let rows = with_conn!(conn, |c| {
        let mut sql = QueryBuilder::new(
            "SELECT id, user_id, erased_at, actor_kind, actor_id, request_id, profiles, addresses, \
             address_revisions, preferences, consent_records FROM erasure_receipts WHERE 1 = 1",
        );
        if let Some(v) = &filter.user_id {
            sql.push(" AND user_id = ").push_bind(v);
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
    rows.into_iter().map(ErasureReceipt::try_from).collect()
}
