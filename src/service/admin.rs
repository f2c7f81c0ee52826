//! Support actions on any profile (search, view, change, suspend, reactivate) and the audit trail; the
//! caller is an admin (checked by the transport before it calls in). Erasure is `profiles::erase`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    auth::Caller,
    cache, clock, db,
    domain::{
        audit::{AuditEvent, changed_fields},
        patch::MergePatch,
        precondition::Preconditions,
        preferences::Preferences,
        profile::{Profile, ProfileInput, ProfileSummary},
    },
    service::{Error, Page, Result, commit, error::ProfileWriteExt, record},
    state::AppState,
};

/// Which audit events to list; every filter is optional.
pub use crate::db::audit::Filter as AuditFilter;

/// Longest search term accepted (the longest email).
const MAX_Q_CHARS: usize = 254;

/// A profile with everything attached to it, as an admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminProfileView {
    pub profile: Profile,
    /// The defaults (version 0) when the user never set any.
    pub preferences: Preferences,
    /// Every address, deleted ones included, each with all its revisions.
    #[schema(value_type = Vec<Object>)]
    pub addresses: Vec<crate::domain::privacy::AddressHistory>,
}

/// Profiles whose email or name starts with `q` (case-insensitive) and whose status is `status`, by user id.
pub async fn search_profiles(
    state: &AppState,
    q: Option<String>,
    status: Option<String>,
    after_user_id: Option<String>,
    limit: u32,
) -> Result<Page<ProfileSummary>> {
    if let Some(status) = &status {
        parse_status(status)?;
    }
    if q.as_ref().is_some_and(|q| q.chars().count() > MAX_Q_CHARS) {
        return Err(Error::invalid(
            "q",
            "length",
            "q must be at most 254 characters",
        ));
    }
    let search = db::profiles::Search {
        q,
        status,
        after_user_id,
        limit: limit + 1,
    };
    let rows = db::profiles::search(state.db.replica(), &search).await?;
    Ok(Page::from_rows(rows, limit))
}

/// A user's profile with preferences and addresses; recorded as `profile.admin_viewed`.
pub async fn view_profile(
    state: &AppState,
    caller: &Caller,
    user_id: &str,
) -> Result<AdminProfileView> {
    let mut tx = state.db.begin().await?;
    let profile = db::profiles::find_for_update(&mut tx, user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    let preferences = db::preferences::find(&mut tx, user_id)
        .await?
        .unwrap_or_else(Preferences::defaults);
    let addresses = db::export::addresses_with_revisions(&mut tx, user_id).await?;
    record(&mut tx, caller, "profile.admin_viewed", user_id, vec![]).await?;
    commit(tx, &state.cache, &[]).await?;
    Ok(AdminProfileView {
        profile,
        preferences,
        addresses,
    })
}

/// Applies a merge patch of profile fields and `status` (suspend or reactivate) to a user's profile.
pub async fn patch_profile(
    state: &AppState,
    caller: &Caller,
    user_id: &str,
    pre: &Preconditions,
    mut patch: MergePatch,
) -> Result<Profile> {
    let status = take_status(&mut patch)?;
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(&existing.version.to_string()))?;
    let before = ProfileInput::from_profile(&existing);
    let input = patch.apply_to(&before)?;
    let fields = changed_fields(&before, &input);
    let new_status = status.filter(|s| *s != existing.status);
    if fields.is_empty() && new_status.is_none() {
        return Ok(existing);
    }
    let profile =
        db::profiles::update_with_status(&mut tx, user_id, &input, new_status, clock::now())
            .await
            .on_unique_violation()?;
    if !fields.is_empty() {
        record(&mut tx, caller, "profile.updated", user_id, fields).await?;
    }
    if let Some(status) = new_status {
        let action = if status == "suspended" {
            "profile.suspended"
        } else {
            "profile.reactivated"
        };
        record(&mut tx, caller, action, user_id, vec!["status".into()]).await?;
    }
    commit(tx, &state.cache, &[cache::profile_key(user_id)]).await?;
    Ok(profile)
}

/// One page of the audit trail, oldest first.
pub async fn audit_events(state: &AppState, filter: AuditFilter) -> Result<Page<AuditEvent>> {
    let limit = filter.limit;
    let filter = AuditFilter {
        limit: limit + 1,
        ..filter
    };
    let rows = db::audit::list(state.db.replica(), &filter).await?;
    Ok(Page::from_rows(rows, limit))
}

/// Takes `status` out of an admin's patch: absent, or `active`/`suspended` (it cannot be cleared).
fn take_status(patch: &mut MergePatch) -> Result<Option<&'static str>> {
    match patch.take("status") {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => parse_status(&s).map(Some),
        Some(serde_json::Value::Null) => Err(Error::invalid(
            "status",
            "required",
            "status cannot be cleared",
        )),
        Some(_) => Err(invalid_status()),
    }
}

fn parse_status(raw: &str) -> Result<&'static str> {
    match raw {
        "active" => Ok("active"),
        "suspended" => Ok("suspended"),
        _ => Err(invalid_status()),
    }
}

fn invalid_status() -> Error {
    Error::invalid(
        "status",
        "invalid_value",
        "status must be active or suspended",
    )
}
