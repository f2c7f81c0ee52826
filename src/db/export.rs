//! Reads that gather everything held about one user, for the privacy export and the admin view.

use crate::{
    db::{
        Conn,
        addresses::{columns, select_revisions},
    },
    domain::address::Address,
    with_conn,
};

/// Every address of `user_id`, including deleted ones, each with all its revisions, as JSON objects:
/// the address's current state plus `revisions: [...]`, oldest first.
pub async fn addresses_with_revisions(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    const ADDRESSES: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM addresses WHERE user_id = $1 ORDER BY id"
    );
    const REVISIONS: &str = concat!(
        select_revisions!(),
        " WHERE r.user_id = $1 ORDER BY r.address_id, r.revision"
    );
    let mut conn = conn.into();
    let addresses = with_conn!(conn.reborrow(), |c| sqlx::query_as::<_, Address>(ADDRESSES)
        .bind(user_id)
        .fetch_all(c)
        .await)?;
    let revisions = with_conn!(conn, |c| sqlx::query_as::<_, Address>(REVISIONS)
        .bind(user_id)
        .fetch_all(c)
        .await)?;
    Ok(addresses
        .into_iter()
        .map(|address| {
            let snapshots: Vec<&Address> =
                revisions.iter().filter(|r| r.id == address.id).collect();
            let mut value = serde_json::to_value(&address).unwrap_or_default();
            value["revisions"] = serde_json::to_value(snapshots).unwrap_or_default();
            value
        })
        .collect())
}
