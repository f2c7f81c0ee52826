//! Addresses: the caller's own (list, create, replace, patch, delete) and the one-default-per-kind rule.
//! Reads by other services are in `users`.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    auth::Caller,
    cache, clock,
    db::{self, Pool, Tx},
    domain::{
        address::{Address, AddressInput, Defaults, MAX_ADDRESSES_PER_USER, resolve_defaults},
        audit::{AuditAction, changed_fields},
        event::{Change, EventType},
        patch::MergePatch,
        precondition::Preconditions,
        validation::FieldError,
    },
    service::{Error, Page, Result, commit, emit, emit_and_record, lock_writable_profile, record},
    state::AppState,
};

/// One page of the caller's live addresses, oldest first, after `after`.
pub async fn list(
    state: &AppState,
    user_id: &str,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Page<Address>> {
    page_of(state.db.reader(), user_id, after, limit).await
}

/// One page of `user_id`'s live addresses from `pool`; 404 when the user has no profile.
async fn page_of(
    pool: &Pool,
    user_id: &str,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Page<Address>> {
    require_profile(pool, user_id).await?;
    let rows = db::addresses::list_live(pool, user_id, after, limit + 1).await?;
    Ok(Page::from_rows(rows, limit))
}

/// One of the caller's live addresses.
pub async fn get(state: &AppState, user_id: &str, id: Uuid) -> Result<Address> {
    db::addresses::find_live(state.db.reader(), user_id, id)
        .await?
        .ok_or(Error::ADDRESS_NOT_FOUND)
}

/// Adds an address; the user's first one becomes the default shipping and billing address. The new address
/// has no version yet, so any `If-Match` fails.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    pre: &Preconditions,
    input: AddressInput,
) -> Result<Address> {
    let user_id = &caller.user_id;
    let mut tx = state.db.begin().await?;
    lock_writable_profile(&mut tx, user_id).await?;
    pre.check_write(None)?;
    // Counted under the profile lock (PostgreSQL) or the exclusive write transaction (SQLite): race-free.
    let count = db::addresses::count_live(&mut tx, user_id).await?;
    if count >= MAX_ADDRESSES_PER_USER {
        return Err(Error::ADDRESS_LIMIT_REACHED);
    }
    require_history_room(&mut tx, user_id).await?;
    let first = count == 0;
    let defaults = resolve(
        &input,
        Defaults {
            shipping: first,
            billing: first,
        },
    )?;
    let (id, now) = (Uuid::now_v7(), clock::now());
    take_defaults(&mut tx, caller, id, defaults, now).await?;
    let address = db::addresses::insert(&mut tx, user_id, id, &input, defaults, now).await?;
    let mut fields = changed_fields(&AddressInput::default(), &input.fields());
    fields.extend(Defaults::default().changed_fields(defaults));
    let change = Change::new(
        EventType::AddressCreated,
        user_id,
        &id,
        address.revision,
        fields.clone(),
    );
    emit(&mut tx, caller, change).await?;
    emit_gained_defaults(&mut tx, caller, &address, Defaults::default()).await?;
    record(
        &mut tx,
        caller,
        AuditAction::AddressCreated,
        user_id,
        fields,
    )
    .await?;
    commit(tx, state, &[cache::defaults_key(user_id)]).await?;
    Ok(address)
}

/// Replaces an address with `input` (omitted optional fields are cleared).
pub async fn replace(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    pre: &Preconditions,
    input: AddressInput,
) -> Result<Address> {
    let (tx, existing) = lock_for_write(state, caller, id, pre).await?;
    save(state, tx, caller, existing, input).await
}

/// Applies a merge patch to an address.
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    pre: &Preconditions,
    patch: &MergePatch,
) -> Result<Address> {
    let (tx, existing) = lock_for_write(state, caller, id, pre).await?;
    let input = patch.apply_to(&AddressInput::from_address(&existing))?;
    save(state, tx, caller, existing, input).await
}

/// Deletes an address (its revisions stay readable); a default it held passes to the newest address.
pub async fn delete(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    pre: &Preconditions,
) -> Result<()> {
    let (mut tx, existing) = lock_for_write(state, caller, id, pre).await?;
    let now = clock::now();
    let deleted = db::addresses::soft_delete(&mut tx, id, now).await?;
    let change = Change::new(
        EventType::AddressDeleted,
        &caller.user_id,
        &id,
        deleted.revision,
        vec![],
    );
    emit_and_record(&mut tx, caller, change).await?;
    let lost = Defaults::of(&existing);
    if lost.any() {
        pass_defaults_to_newest(&mut tx, caller, lost, now).await?;
    }
    commit(tx, state, &[cache::defaults_key(&caller.user_id)]).await
}

/// 404 `profile_not_found` unless `user_id` has a profile.
async fn require_profile(pool: &Pool, user_id: &str) -> Result<()> {
    db::profiles::find(pool, user_id)
        .await?
        .map(|_| ())
        .ok_or(Error::PROFILE_NOT_FOUND)
}

/// 409 `address_history_full` once `user_id`'s addresses hold the most revisions a user may keep (they are never
/// pruned: orders read them). Only creates and edits ask: a delete always goes through, and so does the revision a
/// default hand-over adds to another address, both bounded (docs/limits.md). Call under the profile lock.
async fn require_history_room(tx: &mut Tx, user_id: &str) -> Result<()> {
    use crate::domain::address::MAX_ADDRESS_REVISIONS_PER_USER;
    if db::addresses::count_revisions(tx, user_id).await? >= MAX_ADDRESS_REVISIONS_PER_USER {
        return Err(Error::ADDRESS_HISTORY_FULL);
    }
    Ok(())
}

/// Opens the write: locks the writable profile, finds the live address and checks the precondition on it.
async fn lock_for_write(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    pre: &Preconditions,
) -> Result<(Tx, Address)> {
    let mut tx = state.db.begin().await?;
    lock_writable_profile(&mut tx, &caller.user_id).await?;
    let existing = db::addresses::find_live(&mut tx, &caller.user_id, id)
        .await?
        .ok_or(Error::ADDRESS_NOT_FOUND)?;
    pre.check_write(Some(existing.revision))?;
    Ok((tx, existing))
}

/// Shared end of PUT and PATCH: write only what changed, as one new revision with its audit event.
async fn save(
    state: &AppState,
    mut tx: Tx,
    caller: &Caller,
    existing: Address,
    input: AddressInput,
) -> Result<Address> {
    let before = Defaults::of(&existing);
    let defaults = resolve(&input, before)?;
    let mut fields = changed_fields(&AddressInput::from_address(&existing), &input.fields());
    fields.extend(before.changed_fields(defaults));
    if fields.is_empty() {
        return Ok(existing);
    }
    require_history_room(&mut tx, &caller.user_id).await?;
    let now = clock::now();
    take_defaults(&mut tx, caller, existing.id, defaults, now).await?;
    let address = db::addresses::update(&mut tx, existing.id, &input, defaults, now).await?;
    revised(&mut tx, caller, &address, before, fields.clone()).await?;
    record(
        &mut tx,
        caller,
        AuditAction::AddressUpdated,
        &caller.user_id,
        fields,
    )
    .await?;
    commit(tx, state, &[cache::defaults_key(&caller.user_id)]).await?;
    Ok(address)
}

/// The defaults an address ends up with; refusing one it must keep is a 422 on that field.
fn resolve(input: &AddressInput, current: Defaults) -> Result<Defaults> {
    resolve_defaults(input, current).map_err(|refused| {
        Error::Validation(
            refused
                .into_iter()
                .map(|field| {
                    FieldError::new(field, "invalid_value")
                        .message("invalid_value.default_required")
                })
                .collect(),
        )
    })
}

/// Takes the defaults that address `id` is about to hold away from the user's other addresses (before `id`
/// gets them, so the unique indexes never see two); each address that loses one gets a revision and an event.
async fn take_defaults(
    tx: &mut Tx,
    caller: &Caller,
    id: Uuid,
    taken: Defaults,
    now: OffsetDateTime,
) -> Result<()> {
    if !taken.any() {
        return Ok(());
    }
    for other in db::addresses::find_defaults(&mut *tx, &caller.user_id).await? {
        let before = Defaults::of(&other);
        let after = Defaults {
            shipping: before.shipping && !taken.shipping,
            billing: before.billing && !taken.billing,
        };
        if other.id != id && after != before {
            set_defaults(tx, caller, &other, after, now).await?;
        }
    }
    Ok(())
}

/// After the default `lost` was deleted, the user's most recently created live address takes its place.
async fn pass_defaults_to_newest(
    tx: &mut Tx,
    caller: &Caller,
    lost: Defaults,
    now: OffsetDateTime,
) -> Result<()> {
    let Some(heir) = db::addresses::find_newest_live(&mut *tx, &caller.user_id).await? else {
        return Ok(());
    };
    let before = Defaults::of(&heir);
    let after = Defaults {
        shipping: before.shipping || lost.shipping,
        billing: before.billing || lost.billing,
    };
    if after != before {
        set_defaults(tx, caller, &heir, after, now).await?;
    }
    Ok(())
}

/// Gives `address` the defaults `after`, as a new revision with its audit event.
async fn set_defaults(
    tx: &mut Tx,
    caller: &Caller,
    address: &Address,
    after: Defaults,
    now: OffsetDateTime,
) -> Result<()> {
    let saved = db::addresses::set_defaults(tx, address.id, after, now).await?;
    let fields = Defaults::of(address).changed_fields(after);
    revised(tx, caller, &saved, Defaults::of(address), fields.clone()).await?;
    record(
        tx,
        caller,
        AuditAction::AddressUpdated,
        &caller.user_id,
        fields,
    )
    .await
}

/// The events of a new revision of `address` (which held `before`): `address.revised`, and
/// `address.defaults_changed` when it became a default.
async fn revised(
    tx: &mut Tx,
    caller: &Caller,
    address: &Address,
    before: Defaults,
    fields: Vec<String>,
) -> Result<()> {
    let change = Change::new(
        EventType::AddressRevised,
        &caller.user_id,
        &address.id,
        address.revision,
        fields,
    );
    emit(tx, caller, change).await?;
    emit_gained_defaults(tx, caller, address, before).await
}

/// `address.defaults_changed` for `address` when it holds a default it did not hold `before`: the event the
/// order service follows to learn where a user's default moved.
async fn emit_gained_defaults(
    tx: &mut Tx,
    caller: &Caller,
    address: &Address,
    before: Defaults,
) -> Result<()> {
    let now = Defaults::of(address);
    let gained = Defaults {
        shipping: now.shipping && !before.shipping,
        billing: now.billing && !before.billing,
    };
    if !gained.any() {
        return Ok(());
    }
    let fields = Defaults::default().changed_fields(gained);
    let change = Change::new(
        EventType::AddressDefaultsChanged,
        &caller.user_id,
        &address.id,
        address.revision,
        fields,
    );
    emit(tx, caller, change).await
}
