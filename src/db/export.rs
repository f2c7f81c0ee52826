//! Reads that gather everything held about one user, for the privacy export and the admin view.

use std::collections::HashMap;

use uuid::Uuid;

use crate::{
    db::{
        Conn,
        addresses::{columns, select_revisions},
    },
    domain::{address::Address, privacy::AddressHistory},
    with_conn,
};

/// Every address of `user_id`, including deleted ones, each with all its revisions, oldest first: two queries
/// whatever the number of addresses.
pub async fn addresses_with_revisions(
    conn: impl Into<Conn<'_>>,
    user_id: &str,
) -> Result<Vec<AddressHistory>, sqlx::Error> {
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
    // One pass groups the revisions by address.
    let mut by_address: HashMap<Uuid, Vec<Address>> = HashMap::with_capacity(addresses.len());
    for revision in revisions {
        by_address.entry(revision.id).or_default().push(revision);
    }
    Ok(addresses
        .into_iter()
        .map(|address| AddressHistory {
            revisions: by_address.remove(&address.id).unwrap_or_default(),
            address,
        })
        .collect())
}
