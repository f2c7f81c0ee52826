//! Reads that gather everything held about one user, for the privacy export and the admin view.

use crate::db::Tx;

/// Every address of `user_id`, including deleted ones, each with all its revisions, as JSON objects.
pub async fn addresses_with_revisions(
    _tx: &mut Tx,
    _user_id: &str,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    // TODO(merge): fill from address tables (`addresses` and `address_revisions` of migration 0002).
    Ok(Vec::new())
}
