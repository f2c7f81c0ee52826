//! The caller's own profile: read (cached), create or replace, patch, and erase.

use crate::{
    auth::Caller,
    cache::{self, Entry},
    clock,
    db::{self, Tx},
    domain::{
        audit::{AuditAction, changed_fields},
        event::{Change, EventType},
        patch::MergePatch,
        precondition::Preconditions,
        privacy::ErasureReceipt,
        profile::{Profile, ProfileInput},
    },
    service::{
        Error, Result, commit, emit, emit_and_record, entry, error::ProfileWriteExt,
        event_and_audit, privacy, record, require_recent_login, traceparent,
    },
    state::AppState,
};

/// What a `PUT` of a profile did.
#[derive(Debug)]
pub enum Put {
    Created(Profile),
    Replaced(Profile),
}

/// The caller's profile as cached JSON with its version; the cache is filled from the primary.
pub async fn get(state: &AppState, user_id: &str) -> Result<Entry> {
    let key = cache::profile_key(user_id);
    state
        .cache
        .read_through(&key, |_| async {
            let profile = db::profiles::find(state.db.reader(), user_id)
                .await?
                .ok_or(Error::PROFILE_NOT_FOUND)?;
            entry(Some(profile.version), &profile)
        })
        .await
}

/// Creates the caller's profile, or replaces the writable fields of the existing one.
pub async fn put(
    state: &AppState,
    caller: &Caller,
    pre: &Preconditions,
    input: ProfileInput,
) -> Result<Put> {
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, &caller.user_id).await?;
    let Some(existing) = existing else {
        return create(state, tx, caller, pre, input)
            .await
            .map(Put::Created);
    };
    pre.check_write(Some(existing.version))?;
    replace(state, tx, caller, existing, input)
        .await
        .map(Put::Replaced)
}

/// Creates the caller's profile, unless a suspension was kept when they erased their previous one.
async fn create(
    state: &AppState,
    mut tx: Tx,
    caller: &Caller,
    pre: &Preconditions,
    input: ProfileInput,
) -> Result<Profile> {
    if db::suspensions::find(&mut tx, &caller.user_id)
        .await?
        .is_some()
    {
        return Err(Error::ProfileSuspended);
    }
    pre.check_write(None)?;
    let profile = db::profiles::insert(&mut tx, &caller.user_id, &input, clock::now())
        .await
        .on_unique_violation()?;
    let fields = changed_fields(&ProfileInput::default(), &input);
    let user_id = &caller.user_id;
    let change = Change::new(
        EventType::ProfileCreated,
        user_id,
        user_id,
        profile.version,
        fields.clone(),
    );
    emit_and_record(&mut tx, caller, change).await?;
    commit(tx, state, &[cache::profile_key(&caller.user_id)]).await?;
    Ok(profile)
}

/// Applies a merge patch to the caller's profile. The profile is read before the write transaction and written
/// only if it is still at the version read: one round trip in the transaction instead of two (on SQLite the write
/// connection is the bottleneck). When another write came in between, the patch is applied again to the profile
/// locked in the transaction, so the caller's `If-Match` is checked against the version it replaces.
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    pre: &Preconditions,
    patch: &MergePatch,
) -> Result<Profile> {
    let existing = db::profiles::find(state.db.reader(), &caller.user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(existing.version))?;
    let input = patch.apply_to(&ProfileInput::from_profile(&existing))?;
    let Some(fields) = changes(state, caller, &existing, &input)? else {
        return Ok(existing);
    };
    let tx = state.db.begin().await?;
    if let Some(profile) = write(state, tx, caller, &existing, &input, fields, true).await? {
        return Ok(profile);
    }
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, &caller.user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(existing.version))?;
    let input = patch.apply_to(&ProfileInput::from_profile(&existing))?;
    replace(state, tx, caller, existing, input).await
}

/// Shared end of PUT and PATCH on an existing profile locked in `tx`: write only what changed, with its audit
/// event.
async fn replace(
    state: &AppState,
    tx: Tx,
    caller: &Caller,
    existing: Profile,
    input: ProfileInput,
) -> Result<Profile> {
    let Some(fields) = changes(state, caller, &existing, &input)? else {
        return Ok(existing);
    };
    write(state, tx, caller, &existing, &input, fields, false)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)
}

/// The fields `input` changes in `existing`, `None` when it changes none; refused when the profile is suspended,
/// or when it changes the email without a recent login.
fn changes(
    state: &AppState,
    caller: &Caller,
    existing: &Profile,
    input: &ProfileInput,
) -> Result<Option<Vec<String>>> {
    if existing.status == "suspended" {
        return Err(Error::ProfileSuspended);
    }
    let fields = changed_fields(&ProfileInput::from_profile(existing), input);
    if fields.is_empty() {
        return Ok(None);
    }
    if input.changes_email_of(existing) {
        require_recent_login(state, caller)?;
    }
    Ok(Some(fields))
}

/// Writes `input` over `existing` with its change event and audit event (one round trip), and commits; with
/// `if_unchanged`, only if the profile is still at `existing`'s version (`None`, rolled back, when it is not).
async fn write(
    state: &AppState,
    mut tx: Tx,
    caller: &Caller,
    existing: &Profile,
    input: &ProfileInput,
    fields: Vec<String>,
    if_unchanged: bool,
) -> Result<Option<Profile>> {
    let user_id = &caller.user_id;
    let change = Change::new(
        EventType::ProfileUpdated,
        user_id,
        user_id,
        existing.version + 1,
        fields,
    );
    let (event, audit) = event_and_audit(caller, change);
    let traceparent = traceparent();
    let written = db::profiles::update_with_change(
        &mut tx,
        user_id,
        input,
        clock::now(),
        if_unchanged.then_some(existing.version),
        &event,
        traceparent.as_deref(),
        &audit,
    )
    .await
    .on_unique_violation()?;
    let Some(profile) = written else {
        return Ok(None);
    };
    commit(tx, state, &[cache::profile_key(user_id)]).await?;
    Ok(Some(profile))
}

/// Erases `user_id`'s profile and everything held about them, as `caller` (the user, with a recent login, or an
/// admin), and returns the receipt it leaves with the address tombstones (docs/privacy.md). The suspension of a
/// suspended profile is kept (user id and times only), so the user cannot come back active.
pub async fn erase(
    state: &AppState,
    caller: &Caller,
    user_id: &str,
    pre: &Preconditions,
) -> Result<ErasureReceipt> {
    require_recent_login(state, caller)?;
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(existing.version))?;
    let now = clock::now();
    let receipt = db::erasures::record(&mut tx, &privacy::erasure(caller, user_id, now)).await?;
    db::profiles::delete(&mut tx, user_id).await?;
    if existing.status == "suspended" {
        db::suspensions::keep(&mut tx, user_id, now).await?;
    }
    // The user's last event: whoever holds a copy of their data deletes it (docs/events.md).
    let change = Change::new(
        EventType::ProfileErased,
        user_id,
        user_id,
        existing.version,
        vec![],
    );
    emit(&mut tx, caller, change).await?;
    // A profile created again under this id starts a new sequence, as it starts a new life downstream.
    db::events::forget_sequence(&mut tx, user_id).await?;
    record(
        &mut tx,
        caller,
        AuditAction::ProfileDeleted,
        user_id,
        vec![],
    )
    .await?;
    commit(tx, state, &cache::user_keys(user_id)).await?;
    Ok(receipt)
}
