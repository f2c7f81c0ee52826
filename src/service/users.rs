//! Reads of a user's data by other services (the order service first), served from the read replica when
//! one is configured: the profile, addresses, the cached defaults, pinned revisions, and preferences.
//!
//! Data of an erased user answers 410 (`profile_erased`, `address_erased`), never a 404 that would mean it never
//! existed: erasure leaves a receipt and address tombstones (`db::erasures`).

use uuid::Uuid;

use crate::{
    cache::{self, Entry},
    db::{self, Pool},
    domain::{
        address::{Address, DefaultAddresses},
        preferences::Preferences,
        profile::Profile,
    },
    service::{Error, Page, Result, entry},
    state::AppState,
};

/// `user_id`'s profile.
pub async fn profile(state: &AppState, user_id: &str) -> Result<Profile> {
    let pool = state.db.replica();
    match db::profiles::find(pool, user_id).await? {
        Some(profile) => Ok(profile),
        None => Err(missing_profile(pool, user_id).await),
    }
}

/// One page of `user_id`'s live addresses, oldest first.
pub async fn list_addresses(
    state: &AppState,
    user_id: &str,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Page<Address>> {
    let pool = state.db.replica();
    require_profile(pool, user_id).await?;
    let rows = db::addresses::list_live(pool, user_id, after, limit + 1).await?;
    Ok(Page::from_rows(rows, limit))
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
    if let Some(address) = db::addresses::find_any(pool, user_id, id).await? {
        return Ok(address);
    }
    if db::erasures::erased_address(pool, user_id, id)
        .await?
        .is_some()
    {
        return Err(Error::ADDRESS_ERASED);
    }
    require_profile(pool, user_id).await?;
    Err(Error::ADDRESS_NOT_FOUND)
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
    // Say why, so the caller can tell erased data from a wrong reference: an erased address's revisions up to
    // its last are gone (410), later numbers never existed (404).
    match db::erasures::erased_address(pool, user_id, id).await? {
        Some(last) if revision.is_some_and(|r| r <= last) => return Err(Error::ADDRESS_ERASED),
        Some(_) => return Err(Error::REVISION_NOT_FOUND),
        None => {}
    }
    require_profile(pool, user_id).await?;
    match db::addresses::find_any(pool, user_id, id).await? {
        Some(_) => Err(Error::REVISION_NOT_FOUND),
        None => Err(Error::ADDRESS_NOT_FOUND),
    }
}

/// `user_id`'s preferences; the documented defaults (version 0) until they set any.
pub async fn preferences(state: &AppState, user_id: &str) -> Result<Preferences> {
    let pool = state.db.replica();
    require_profile(pool, user_id).await?;
    Ok(db::preferences::find(pool, user_id)
        .await?
        .unwrap_or_else(Preferences::defaults))
}

/// Succeeds when `user_id` has a profile; else says why not.
async fn require_profile(pool: &Pool, user_id: &str) -> Result<()> {
    match db::profiles::find(pool, user_id).await? {
        Some(_) => Ok(()),
        None => Err(missing_profile(pool, user_id).await),
    }
}

/// Why `user_id` has no profile: it was erased (410 `profile_erased`; a profile created again since would have
/// been found), or there never was one (404 `profile_not_found`).
async fn missing_profile(pool: &Pool, user_id: &str) -> Error {
    match db::erasures::profile_erased(pool, user_id).await {
        Ok(true) => Error::PROFILE_ERASED,
        Ok(false) => Error::PROFILE_NOT_FOUND,
        Err(err) => err.into(),
    }
}
