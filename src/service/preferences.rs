//! The caller's preferences: read, replace and patch, with a consent record for every marketing or
//! newsletter opt-in that changes.

use crate::{
    auth::Caller,
    clock,
    db::{self, Pool, Tx},
    domain::{
        audit::{AuditAction, changed_fields},
        event::{Change, EventType},
        patch::MergePatch,
        precondition::Preconditions,
        preferences::{ConsentChange, PreferenceSettings, Preferences, consent_changes},
    },
    service::{Error, Result, audit_event, commit, emit, lock_writable_profile},
    state::AppState,
};

/// Consent records a user may accumulate until erasure. Past it a write that grants an opt-in is refused; a
/// withdrawal is always recorded (each one follows a grant, so the records stay bounded; docs/limits.md).
pub const MAX_CONSENT_RECORDS_PER_USER: i64 = 1_000;

/// The caller's preferences; the documented defaults (version 0) until they set any.
pub async fn get(state: &AppState, user_id: &str) -> Result<Preferences> {
    read(state.db.reader(), user_id).await
}

/// `user_id`'s preferences from `pool`; 404 when the user has no profile.
async fn read(pool: &Pool, user_id: &str) -> Result<Preferences> {
    db::profiles::find(pool, user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    Ok(db::preferences::find(pool, user_id)
        .await?
        .unwrap_or_else(Preferences::defaults))
}

/// Replaces the caller's preferences (omitted fields take their defaults).
pub async fn put(
    state: &AppState,
    caller: &Caller,
    pre: &Preconditions,
    settings: PreferenceSettings,
) -> Result<Preferences> {
    let mut tx = state.db.begin().await?;
    let current = current_for_write(&mut tx, caller, pre).await?;
    store(state, tx, caller, current, settings).await
}

/// Applies a merge patch to the caller's preferences (`null` resets a field to its default).
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    pre: &Preconditions,
    patch: &MergePatch,
) -> Result<Preferences> {
    let mut tx = state.db.begin().await?;
    let current = current_for_write(&mut tx, caller, pre).await?;
    let settings = patch.apply_to(&current.settings)?;
    store(state, tx, caller, current, settings).await
}

/// The change events of a preferences write: `preferences.updated`, and `consent.changed` when an opt-in was
/// granted or withdrawn.
async fn emit_changes(
    tx: &mut Tx,
    caller: &Caller,
    saved: &Preferences,
    fields: &[String],
    consents: &[ConsentChange],
) -> Result<()> {
    let user_id = &caller.user_id;
    let updated = Change::new(
        EventType::PreferencesUpdated,
        user_id,
        user_id,
        saved.version,
        fields.to_vec(),
    );
    emit(tx, caller, updated).await?;
    if !consents.is_empty() {
        let opt_ins = consents
            .iter()
            .map(|c| format!("notifications.{}.{}", c.channel, c.purpose))
            .collect();
        let change = Change::new(
            EventType::ConsentChanged,
            user_id,
            user_id,
            saved.version,
            opt_ins,
        );
        emit(tx, caller, change).await?;
    }
    Ok(())
}

/// Locks the caller's profile (which serializes their preference writes), refuses suspended profiles and
/// stale preconditions, and returns the current preferences.
async fn current_for_write(
    tx: &mut Tx,
    caller: &Caller,
    pre: &Preconditions,
) -> Result<Preferences> {
    lock_writable_profile(tx, &caller.user_id).await?;
    let stored = db::preferences::find(tx, &caller.user_id).await?;
    check_preconditions(pre, stored.as_ref())?;
    Ok(stored.unwrap_or_else(Preferences::defaults))
}

/// The defaults count as version 0: `If-Match: "0"` holds while nothing is stored, and `If-None-Match: *`
/// holds only then (the first write).
fn check_preconditions(pre: &Preconditions, stored: Option<&Preferences>) -> Result<()> {
    Ok(pre.check_write_over_defaults(stored.map_or(0, |p| p.version))?)
}

/// Shared end of PUT and PATCH: store what changed, with its consent records and audit event.
async fn store(
    state: &AppState,
    mut tx: Tx,
    caller: &Caller,
    current: Preferences,
    settings: PreferenceSettings,
) -> Result<Preferences> {
    let fields = changed_fields(&current.settings, &settings);
    if fields.is_empty() {
        return Ok(current);
    }
    let consents = consent_changes(&current.settings, &settings);
    if consents.iter().any(|c| c.granted)
        && db::preferences::count_consent_records(&mut tx, &caller.user_id).await?
            >= MAX_CONSENT_RECORDS_PER_USER
    {
        return Err(Error::CONSENT_HISTORY_FULL);
    }
    let now = clock::now();
    let saved = db::preferences::save(&mut tx, &caller.user_id, &settings, now).await?;
    emit_changes(&mut tx, caller, &saved, &fields, &consents).await?;
    let event = audit_event(
        caller,
        AuditAction::PreferencesUpdated.as_str(),
        &caller.user_id,
        fields,
    );
    let request_id = event.request_id.as_deref();
    db::preferences::record_consents(&mut tx, &caller.user_id, &consents, now, request_id).await?;
    db::audit::record(&mut tx, &event).await?;
    commit(tx, state, &[]).await?;
    Ok(saved)
}
