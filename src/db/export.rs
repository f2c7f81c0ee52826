//! Reads that gather everything held about one user, for the privacy export and the admin view.

use crate::{db::Tx, domain::address::Address, with_tx};

/// Every address of `user_id`, including deleted ones, each with all its revisions, as JSON objects:
/// the address's current state plus `revisions: [...]`, oldest first.
pub async fn addresses_with_revisions(
    tx: &mut Tx,
    user_id: &str,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    const ADDRESSES: &str = "SELECT id, label, recipient_name, company, line1, line2, city, region, postal_code, \
         country, phone, is_default_shipping, is_default_billing, revision, created_at, updated_at, deleted_at \
         FROM addresses WHERE user_id = $1 ORDER BY id";
    const REVISIONS: &str = "SELECT r.address_id AS id, r.label, r.recipient_name, r.company, r.line1, r.line2, \
         r.city, r.region, r.postal_code, r.country, r.phone, r.is_default_shipping, r.is_default_billing, \
         r.revision, a.created_at, r.created_at AS updated_at, r.deleted_at \
         FROM address_revisions r JOIN addresses a ON a.id = r.address_id \
         WHERE r.user_id = $1 ORDER BY r.address_id, r.revision";
    let addresses = with_tx!(tx, |c| sqlx::query_as::<_, Address>(ADDRESSES)
        .bind(user_id)
        .fetch_all(&mut *c)
        .await)?;
    let revisions = with_tx!(tx, |c| sqlx::query_as::<_, Address>(REVISIONS)
        .bind(user_id)
        .fetch_all(&mut *c)
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
