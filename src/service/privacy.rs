//! Privacy: everything held about the caller, as one document. (Erasure is `profiles::erase`.)

use crate::{
    auth::Caller,
    clock, db,
    domain::{preferences::Preferences, privacy::ProfileExport},
    service::{Error, Result, commit, record},
    state::AppState,
};

/// The caller's profile, preferences, consent records and addresses with all revisions; recorded as
/// `profile.exported`.
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
    record(&mut tx, caller, "profile.exported", user_id, vec![]).await?;
    commit(tx, state, &[]).await?;
    Ok(ProfileExport {
        exported_at: clock::now(),
        profile,
        preferences,
        consent_records,
        addresses,
    })
}
