//! Privacy: everything held about the caller, as one document; what an erasure records. (Erasure itself is
//! `profiles::erase`.)

use time::OffsetDateTime;

use crate::{
    auth::Caller,
    clock,
    db::{self, erasures::Erasure},
    domain::{
        audit::AuditAction,
        preferences::Preferences,
        privacy::{ErasureActor, ProfileExport},
    },
    service::{Error, Result, commit, record},
    state::AppState,
};

/// The caller's profile, preferences, consent records, addresses with all revisions, and the audit events about
/// them (this export's included); recorded as `profile.exported`.
pub async fn export(state: &AppState, caller: &Caller) -> Result<ProfileExport> {
    let user_id = &caller.user_id;
    // One transaction: a consistent snapshot (the profile row is locked), and the audit event commits with it.
    let mut tx = state.db.begin().await?;
    let profile = db::profiles::find_for_update(&mut tx, user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    let preferences = db::preferences::find(&mut tx, user_id)
        .await?
        .unwrap_or_else(Preferences::defaults);
    let consent_records = db::preferences::consent_records(&mut tx, user_id).await?;
    let addresses = db::export::addresses_with_revisions(&mut tx, user_id).await?;
    record(
        &mut tx,
        caller,
        AuditAction::ProfileExported,
        user_id,
        vec![],
    )
    .await?;
    let audit_events = db::audit::about_user(&mut tx, user_id).await?;
    commit(tx, state, &[]).await?;
    Ok(ProfileExport {
        exported_at: clock::now(),
        profile,
        preferences,
        consent_records,
        addresses,
        audit_events,
    })
}

/// The erasure of `user_id`'s profile by `caller` at `at`, in the running request: by the user when they erase
/// their own profile, else by an admin.
pub(super) fn erasure<'a>(caller: &'a Caller, user_id: &'a str, at: OffsetDateTime) -> Erasure<'a> {
    let actor_kind = if caller.user_id == user_id {
        ErasureActor::User
    } else {
        ErasureActor::Admin
    };
    Erasure {
        user_id,
        actor_kind,
        actor_id: &caller.user_id,
        request_id: crate::request_id::current(),
        at,
    }
}
