//! Support actions on any profile (search, view, change, suspend, reactivate) and the audit trail; the
//! caller is an admin (checked by the transport before it calls in). Erasure is `profiles::erase`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    auth::Caller,
    cache, clock, db,
    domain::{
        audit::{AuditAction, AuditEvent, changed_fields},
        event::{Change, EventType},
        patch::MergePatch,
        precondition::Preconditions,
        preferences::Preferences,
        privacy::{ErasureReceipt, KeptSuspension},
        profile::{Profile, ProfileInput, ProfileStatus, ProfileSummary},
        validation::{FieldError, sorted},
    },
    service::{Error, Page, Result, commit, emit_and_record, error::ProfileWriteExt, record},
    state::AppState,
};

/// Which audit events to list; every filter is optional.
pub use crate::db::audit::Filter as AuditFilter;
/// Which erasure receipts to list; every filter is optional.
pub use crate::db::erasures::Filter as ErasureFilter;

/// Longest search term accepted (the longest email).
const MAX_Q_CHARS: usize = 254;

/// A profile with everything attached to it, as an admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminProfileView {
    pub profile: Profile,
    /// The defaults (version 0) when the user never set any.
    pub preferences: Preferences,
    /// Every address, deleted ones included, each with all its revisions.
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
        parse_status(status).map_err(|e| Error::Validation(vec![e]))?;
    }
    if q.as_ref().is_some_and(|q| q.chars().count() > MAX_Q_CHARS) {
        let too_long = FieldError::new("q", "length")
            .message("length.max")
            .with("max", MAX_Q_CHARS);
        return Err(Error::Validation(vec![too_long]));
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
    record(
        &mut tx,
        caller,
        AuditAction::ProfileAdminViewed,
        user_id,
        vec![],
    )
    .await?;
    commit(tx, state, &[]).await?;
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
    let status = take_status(&mut patch);
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(existing.version))?;
    let before = ProfileInput::from_profile(&existing);
    // A bad status and bad fields are answered together.
    let (status, input) = match (status, patch.apply_to(&before)) {
        (Ok(status), Ok(input)) => (status, input),
        (status, input) => {
            let mut errors = input.err().unwrap_or_default();
            errors.extend(status.err());
            return Err(Error::Validation(sorted(errors)));
        }
    };
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
        let change = Change::new(
            EventType::ProfileUpdated,
            user_id,
            user_id,
            profile.version,
            fields.clone(),
        );
        emit_and_record(&mut tx, caller, change).await?;
    }
    if let Some(status) = new_status {
        let kind = if status == ProfileStatus::Suspended.as_str() {
            EventType::ProfileSuspended
        } else {
            EventType::ProfileReactivated
        };
        let fields = vec!["status".to_string()];
        let change = Change::new(kind, user_id, user_id, profile.version, fields);
        emit_and_record(&mut tx, caller, change).await?;
    }
    commit(tx, state, &[cache::profile_key(user_id)]).await?;
    Ok(profile)
}

/// The suspension kept when `user_id`'s suspended profile was erased.
pub async fn kept_suspension(state: &AppState, user_id: &str) -> Result<KeptSuspension> {
    db::suspensions::find(state.db.reader(), user_id)
        .await?
        .ok_or(Error::KEPT_SUSPENSION_NOT_FOUND)
}

/// Lifts the suspension kept for `user_id` (whose profile was erased), so they can create a profile again;
/// recorded as `profile.reactivated`. The kept suspension has no version: only `If-Match: *` holds.
pub async fn lift_kept_suspension(
    state: &AppState,
    caller: &Caller,
    user_id: &str,
    pre: &Preconditions,
) -> Result<()> {
    let mut tx = state.db.begin().await?;
    // Deleted first, so two lifts cannot both succeed; a failed precondition rolls the delete back.
    db::suspensions::lift(&mut tx, user_id)
        .await?
        .ok_or(Error::KEPT_SUSPENSION_NOT_FOUND)?;
    pre.check_write_unversioned(true)?;
    record(
        &mut tx,
        caller,
        AuditAction::ProfileReactivated,
        user_id,
        vec!["status".into()],
    )
    .await?;
    commit(tx, state, &[]).await
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

/// One page of erasure receipts, oldest first: was this user erased, when, by whom, and what was removed.
pub async fn erasures(state: &AppState, filter: ErasureFilter) -> Result<Page<ErasureReceipt>> {
    let limit = filter.limit;
    let filter = ErasureFilter {
        limit: limit + 1,
        ..filter
    };
    let rows = db::erasures::list(state.db.replica(), &filter).await?;
    Ok(Page::from_rows(rows, limit))
}

/// Takes `status` out of an admin's patch: absent, or `active`/`suspended` (it cannot be cleared).
fn take_status(patch: &mut MergePatch) -> std::result::Result<Option<&'static str>, FieldError> {
    match patch.take("status") {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => parse_status(&s).map(Some),
        Some(serde_json::Value::Null) => {
            Err(FieldError::new("status", "required").message("required.not_clearable"))
        }
        Some(_) => Err(invalid_status()),
    }
}

fn parse_status(raw: &str) -> std::result::Result<&'static str, FieldError> {
    ProfileStatus::parse(raw)
        .map(ProfileStatus::as_str)
        .ok_or_else(invalid_status)
}

fn invalid_status() -> FieldError {
    FieldError::new("status", "invalid_value")
        .message("invalid_value.one_of")
        .with("allowed", "active, suspended")
}
