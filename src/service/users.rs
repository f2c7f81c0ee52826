//! Reads of a user's data by other services (the order service first), served from the read replica when
//! one is configured: addresses, the cached defaults, pinned revisions, and preferences.

use uuid::Uuid;

use crate::{
    cache::{self, Entry},
    db,
    domain::{
        address::{Address, DefaultAddresses},
        preferences::Preferences,
    },
    service::{
        Error, Page, Result,
        addresses::{page_of, require_profile},
        entry,
    },
    state::AppState,
};

/// One page of `user_id`'s live addresses, oldest first.
pub async fn list_addresses(
    state: &AppState,
    user_id: &str,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Page<Address>> {
    page_of(state.db.replica(), user_id, after, limit).await
}

/// `user_id`'s default addresses as cached JSON.
pub async fn default_addresses(state: &AppState, user_id: &str) -> Result<Entry> {
    let key = cache::defaults_key(user_id);
    state
        .cache
        .read_through(&key, |fills_cache| async move {
            // What fills the cache is read from the primary: a lagging replica's answer must never be cached.
            let pool = if fills_cache {
                state.db.reader()
            } else {
                state.db.replica()
            };
            require_profile(pool, user_id).await?;
            let defaults = db::addresses::find_defaults(pool, user_id).await?;
            let pick = |is: fn(&Address) -> bool| defaults.iter().find(|a| is(a)).cloned();
            let body = DefaultAddresses {
                shipping: pick(|a| a.is_default_shipping),
                billing: pick(|a| a.is_default_billing),
            };
            entry(None, &body)
        })
        .await
}

/// One address of `user_id` in its current state, a deleted one too.
pub async fn address(state: &AppState, user_id: &str, id: Uuid) -> Result<Address> {
    let pool = state.db.replica();
    match db::addresses::find_any(pool, user_id, id).await? {
        Some(address) => Ok(address),
        None => {
            require_profile(pool, user_id).await?;
            Err(Error::ADDRESS_NOT_FOUND)
        }
    }
}

/// An address exactly as it was at `revision` (`None`: a revision number that cannot exist).
pub async fn address_revision(
    state: &AppState,
    user_id: &str,
    id: Uuid,
    revision: Option<i64>,
) -> Result<Address> {
    let pool = state.db.replica();
    if let Some(revision) = revision {
        if let Some(address) = db::addresses::find_revision(pool, user_id, id, revision).await? {
            return Ok(address);
        }
    }
    // Say why, so the caller can tell an erased user from a wrong reference.
    require_profile(pool, user_id).await?;
    match db::addresses::find_any(pool, user_id, id).await? {
        Some(_) => Err(Error::REVISION_NOT_FOUND),
        None => Err(Error::ADDRESS_NOT_FOUND),
    }
}

/// `user_id`'s preferences; the documented defaults (version 0) until they set any.
pub async fn preferences(state: &AppState, user_id: &str) -> Result<Preferences> {
    super::preferences::read(state.db.replica(), user_id).await
}
