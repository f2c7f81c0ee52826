//! The `profiles` table.

use sqlx::QueryBuilder;
use time::OffsetDateTime;

use crate::{
    db::{
        Conn, Tx, TxConn,
        audit::{bind_audit_event, insert_audit_event},
        events::{bind_event, insert_event, next_sequence},
        group_commit::savepoint,
    },
    domain::{
        audit::AuditEvent,
        event::Event,
        profile::{Profile, ProfileInput, ProfileSummary, normalize_email, normalize_name},
    },
    with_conn,
};

macro_rules! columns {
    () => {
        "user_id, email, display_name, first_name, last_name, phone, date_of_birth, locale, timezone, avatar_url, \
         status, version, created_at, updated_at"
    };
}

/// The profile of `user_id`, if any.
pub async fn find(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Option<Profile>, sqlx::Error> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM profiles WHERE user_id = $1");
    with_conn!(conn, |c| sqlx::query_as::<_, Profile>(SQL)
        .bind(user_id)
        .fetch_optional(c)
        .await)
}

/// The profile of `user_id`, locked for the rest of the transaction.
pub async fn find_for_update(tx: &mut Tx, user_id: &str) -> Result<Option<Profile>, sqlx::Error> {
    // SQLite has no row locks; its write transactions are already exclusive (BEGIN IMMEDIATE).
    macro_rules! sqlite {
        () => {
            concat!("SELECT ", columns!(), " FROM profiles WHERE user_id = $1")
        };
    }
    const POSTGRES: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM profiles WHERE user_id = $1 FOR UPDATE"
    );
    match &mut tx.conn {
        TxConn::Sqlite(member) => {
            // Usually a write's first statement: it starts the write's savepoint in the same round trip.
            let sql = if member.take_savepoint() {
                concat!(savepoint!(), "; ", sqlite!())
            } else {
                sqlite!()
            };
            sqlx::query_as::<_, Profile>(sql)
                .bind(user_id)
                .fetch_optional(&mut **member)
                .await
        }
        TxConn::Postgres(tx) => {
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
         date_of_birth, locale, timezone, avatar_url, status, version, created_at, updated_at, \
         display_name_lower, first_name_lower, last_name_lower) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', 1, $12, $12, $13, $14, $15) RETURNING ",
        columns!()
    );
    let email = input.email.as_deref().unwrap_or_default();
    with_conn!(tx, |c| {
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
            .bind(normalize_name(
                input.display_name.as_deref().unwrap_or_default(),
            ))
            .bind(input.first_name.as_deref().map(normalize_name))
            .bind(input.last_name.as_deref().map(normalize_name))
            .fetch_one(c)
            .await
    })
}

/// The `UPDATE` of the writable fields (and `status` when not null), with its 16 placeholders named by the
/// caller, in the order [`bind_update`] binds them.
macro_rules! update_sql {
    ($user_id:literal, $email:literal, $email_normalized:literal, $display_name:literal, $first_name:literal,
     $last_name:literal, $phone:literal, $date_of_birth:literal, $locale:literal, $timezone:literal,
     $avatar_url:literal, $now:literal, $display_name_lower:literal, $first_name_lower:literal,
     $last_name_lower:literal, $status:literal $(, $condition:literal)?) => {
        concat!(
            "UPDATE profiles SET email = ",
            $email,
            ", email_normalized = ",
            $email_normalized,
            ", display_name = ",
            $display_name,
            ", first_name = ",
            $first_name,
            ", last_name = ",
            $last_name,
            ", phone = ",
            $phone,
            ", date_of_birth = ",
            $date_of_birth,
            ", locale = ",
            $locale,
            ", timezone = ",
            $timezone,
            ", avatar_url = ",
            $avatar_url,
            ", version = version + 1, updated_at = ",
            $now,
            ", display_name_lower = ",
            $display_name_lower,
            ", first_name_lower = ",
            $first_name_lower,
            ", last_name_lower = ",
            $last_name_lower,
            ", status = COALESCE(",
            $status,
            ", status) WHERE user_id = ",
            $user_id,
            " RETURNING ",
            columns!()
        )
    };
}

/// Binds the values of [`update_sql`], in its order.
macro_rules! bind_update {
    ($query:expr, $user_id:expr, $input:expr, $status:expr, $now:expr) => {{
        let input: &ProfileInput = $input;
        let email = input.email.as_deref().unwrap_or_default();
        $query
            .bind($user_id)
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
            .bind($now)
            .bind(normalize_name(
                input.display_name.as_deref().unwrap_or_default(),
            ))
            .bind(input.first_name.as_deref().map(normalize_name))
            .bind(input.last_name.as_deref().map(normalize_name))
            .bind($status)
    }};
}

/// Replaces the writable fields, and `status` when given (admins), with one version bump.
pub async fn update_with_status(
    tx: &mut Tx,
    user_id: &str,
    input: &ProfileInput,
    status: Option<&str>,
    now: OffsetDateTime,
) -> Result<Profile, sqlx::Error> {
    const SQL: &str = update_sql!(
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14",
        "$15", "$16"
    );
    with_conn!(tx, |c| bind_update!(
        sqlx::query_as::<_, Profile>(SQL),
        user_id,
        input,
        status,
        now
    )
    .fetch_one(c)
    .await)
}

/// The `UPDATE` of [`update_with_change`]: the event takes $1-$11 and the audit event $12-$19 (their macros number
/// them so); the update follows, and the expected version is $36.
macro_rules! update_if_at_version {
    () => {
        update_sql!(
            "$20",
            "$21",
            "$22",
            "$23",
            "$24",
            "$25",
            "$26",
            "$27",
            "$28",
            "$29",
            "$30",
            "$31",
            "$32",
            "$33",
            "$34",
            "$35",
            " AND version = COALESCE($36, version)"
        )
    };
}
/// [`update_with_change`] on SQLite, which runs the statements in order: the update first, so a refused email
/// stops the rest.
macro_rules! update_with_change_sqlite {
    () => {
        concat!(
            update_if_at_version!(),
            "; ",
            next_sequence!(),
            "; ",
            insert_event!(),
            "last_sequence FROM event_sequences WHERE user_id = $3; ",
            insert_audit_event!("$12, $13, $14, $15, $16, $17, $18, $19")
        )
    };
}
/// [`update_with_change`] on PostgreSQL: data-modifying CTEs of one statement.
const UPDATE_WITH_CHANGE_POSTGRES: &str = concat!(
    "WITH u AS (",
    update_if_at_version!(),
    "), s AS (",
    next_sequence!(),
    " RETURNING last_sequence), a AS (",
    insert_audit_event!("$12, $13, $14, $15, $16, $17, $18, $19"),
    "), e AS (",
    insert_event!(),
    "s.last_sequence FROM s) SELECT ",
    columns!(),
    " FROM u"
);

/// [`update_with_status`] (without a status), the change event it makes ([`append`](crate::db::events::append))
/// and its audit event, in one round trip: the common write of `PUT` and `PATCH` on a profile. With `expected`,
/// only if the profile is still at that version: `None` when it is not (the event and the audit event are then
/// written too, and the caller must roll the transaction back).
pub async fn update_with_change(
    tx: &mut Tx,
    user_id: &str,
    input: &ProfileInput,
    now: OffsetDateTime,
    expected: Option<i64>,
    event: &Event,
    traceparent: Option<&str>,
    audit: &AuditEvent,
) -> Result<Option<Profile>, sqlx::Error> {
    macro_rules! query {
        ($sql:expr) => {
            bind_update!(
                bind_audit_event!(
                    bind_event!(sqlx::query_as::<_, Profile>($sql), event).bind(traceparent),
                    audit
                ),
                user_id,
                input,
                None::<&str>,
                now
            )
            .bind(expected)
        };
    }
    let rows = match &mut tx.conn {
        TxConn::Sqlite(member) => {
            // Often a write's first statement: it then starts the write's savepoint in the same round trip.
            let sql = if member.take_savepoint() {
                concat!(savepoint!(), "; ", update_with_change_sqlite!())
            } else {
                update_with_change_sqlite!()
            };
            query!(sql).fetch_all(&mut **member).await?
        }
        TxConn::Postgres(tx) => {
            query!(UPDATE_WITH_CHANGE_POSTGRES)
                .fetch_all(&mut **tx)
                .await?
        }
    };
    Ok(rows.into_iter().next())
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
    with_conn!(tx, |c| sqlx::query_as::<_, Profile>(SQL)
        .bind(user_id)
        .bind(status)
        .bind(now)
        .fetch_one(c)
        .await)
}

/// Erases the profile; addresses, revisions, preferences and consent records go with it (ON DELETE CASCADE).
pub async fn delete(tx: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "DELETE FROM profiles WHERE user_id = $1";
    let result = with_conn!(tx, |c| sqlx::query(SQL)
        .bind(user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(result > 0)
}

/// Filters of the admin search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Case-insensitive prefix of the email, display name, first name or last name.
    pub q: Option<String>,
    /// `active` or `suspended`.
    pub status: Option<String>,
    /// Keyset position: only profiles whose `user_id` sorts after this one.
    pub after_user_id: Option<String>,
    pub limit: u32,
}

/// The lower-cased name columns that the admin search matches `q` against, besides the email.
const NAME_COLUMNS: [&str; 3] = ["display_name_lower", "first_name_lower", "last_name_lower"];

/// One page of profiles matching `search`, ordered by `user_id`.
///
/// The prefix match is a range condition (`col >= q AND col < next(q)`) on lower-cased columns, so a btree
/// index serves each alternative; PostgreSQL compares them in the "C" collation (see migration 0003).
pub async fn search(
    conn: impl Into<Conn<'_>>,
    search: &Search,
) -> Result<Vec<ProfileSummary>, sqlx::Error> {
    let conn = conn.into();
    let q = search
        .q
        .as_deref()
        .map(normalize_name)
        .filter(|q| !q.is_empty());
    let upper = q.as_deref().and_then(prefix_upper_bound);
    let (email, key) = match (conn.is_sqlite(), &q) {
        // With `q`, SQLite would rather walk the primary key in order than merge four index ranges; `+user_id`
        // takes the key out of the running, so it picks the MULTI-INDEX OR plan (docs/admin-search.md).
        (true, Some(_)) => ("email_normalized", "+user_id"),
        (true, None) => ("email_normalized", "user_id"),
        (false, _) => ("email_normalized COLLATE \"C\"", "user_id"),
    };
    with_conn!(conn, |c| {
        let mut sql = QueryBuilder::new(
            "SELECT user_id, email, display_name, first_name, last_name, status, created_at, updated_at \
             FROM profiles WHERE 1 = 1",
        );
        if let Some(q) = &q {
            sql.push(" AND (");
            let mut terms = sql.separated(" OR ");
            for col in std::iter::once(email).chain(NAME_COLUMNS) {
                terms
                    .push(format_args!("({col} >= "))
                    .push_bind_unseparated(q);
                if let Some(hi) = &upper {
                    terms
                        .push_unseparated(format_args!(" AND {col} < "))
                        .push_bind_unseparated(hi);
                }
                terms.push_unseparated(")");
            }
            sql.push(")");
        }
        if let Some(status) = &search.status {
            sql.push(" AND status = ").push_bind(status);
        }
        if let Some(after) = &search.after_user_id {
            sql.push(format_args!(" AND {key} > ")).push_bind(after);
        }
        sql.push(format_args!(" ORDER BY {key} LIMIT {}", search.limit));
        // Not a cached prepared statement: PostgreSQL then plans each search with its actual prefix (index
        // ranges for a rare one, a primary-key walk for a common one) instead of settling on one generic plan.
        sql.build_query_as::<ProfileSummary>()
            .persistent(false)
            .fetch_all(c)
            .await
    })
}

/// The smallest string greater than every string that starts with `prefix`, in code point order; `None` when
/// there is none (a prefix of only U+10FFFF characters).
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn prefix_upper_bound_is_the_next_string_after_every_extension() {
        assert_eq!(prefix_upper_bound("ada").as_deref(), Some("adb"));
        assert_eq!(
            prefix_upper_bound("a\u{d7ff}").as_deref(),
            Some("a\u{e000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10ffff}"), None);
        let hi = prefix_upper_bound("zoë").unwrap();
        for s in ["zoë", "zoë smith", "zoë\u{10ffff}"] {
            assert!(s >= "zoë" && s < hi.as_str(), "{s}");
        }
        assert_eq!(hi, "zoì");
        assert!("zoëz" < hi.as_str() && "zoí" >= hi.as_str() && "zoe" < "zoë");
    }
}
