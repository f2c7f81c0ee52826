//! Business operations: one module per resource, one function per thing a caller does. A write opens the
//! transaction, applies the rules, records the audit event and appends its change events to the outbox in the
//! same transaction, commits, and then invalidates what the cache holds of it and wakes the change feed; a
//! cached read goes through `Cache::read_through`. Handlers call
//! exactly one of these and never see SQL, transactions or cache keys; nothing here knows about HTTP.

pub mod address_formats;
pub mod addresses;
pub mod admin;
pub mod error;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod preferences;
pub mod privacy;
pub mod profiles;
pub mod users;

use serde::Serialize;

pub use error::Error;

use crate::{
    auth::Caller,
    cache::Entry,
    clock,
    db::{self, Tx},
    domain::{
        audit::{AuditAction, AuditEvent},
        event::{ActorRole, Change, Event},
        profile::Profile,
    },
    state::AppState,
    trace_context,
};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One page of a keyset-paginated list.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// True when another page follows the last item.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// The page of rows fetched with one row more than `limit` (that row only tells that more follow).
    fn from_rows(mut rows: Vec<T>, limit: u32) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Page {
            items: rows,
            has_more,
        }
    }
}

/// The audit event of `caller` doing `action` to `target_user_id`'s data.
fn audit_event(
    caller: &Caller,
    action: &str,
    target_user_id: &str,
    changed_fields: Vec<String>,
) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::now_v7(),
        occurred_at: clock::now(),
        actor_id: caller.user_id.clone(),
        actor_role: caller.primary_role().to_string(),
        action: action.to_string(),
        target_user_id: target_user_id.to_string(),
        request_id: crate::request_id::current(),
        changed_fields,
    }
}

/// Records, inside the write's transaction, that `caller` did `action` to `target_user_id`'s data.
async fn record(
    tx: &mut Tx,
    caller: &Caller,
    action: AuditAction,
    target_user_id: &str,
    changed_fields: Vec<String>,
) -> Result<()> {
    let event = audit_event(caller, action.as_str(), target_user_id, changed_fields);
    Ok(db::audit::record(tx, &event).await?)
}

/// Appends, inside the write's transaction, the change event of `change` made by `caller` (docs/events.md):
/// it commits or rolls back with the change itself, with the request's trace context for the relay.
async fn emit(tx: &mut Tx, caller: &Caller, change: Change) -> Result<()> {
    let traceparent = traceparent();
    Ok(db::events::append(tx, &event_of(caller, change), traceparent.as_deref()).await?)
}

/// [`emit`] and [`record`] of one change (its audit action is the event's type, its target the event's user),
/// written in one round trip. Only for the types that are also audit actions (`AuditAction::of_event`).
async fn emit_and_record(tx: &mut Tx, caller: &Caller, change: Change) -> Result<()> {
    let (event, audit) = event_and_audit(caller, change);
    let traceparent = traceparent();
    Ok(db::events::append_with_audit(tx, &event, traceparent.as_deref(), &audit).await?)
}

/// The change event of `change` and its audit event, for [`emit_and_record`] or a write that stores them in
/// the same round trip as itself.
fn event_and_audit(caller: &Caller, change: Change) -> (Event, AuditEvent) {
    let audit = audit_event(
        caller,
        change.kind.as_str(),
        &change.user_id,
        change.changed_fields.clone(),
    );
    (event_of(caller, change), audit)
}

/// The `traceparent` an event written now keeps: the request's span (or the current one, when exported).
fn traceparent() -> Option<String> {
    trace_context::outgoing().map(|trace| trace.span.to_string())
}

fn event_of(caller: &Caller, change: Change) -> Event {
    // Numbered by the outbox (`db::events::append`), in the statement that inserts it.
    Event::of(
        change,
        0,
        clock::now(),
        ActorRole::parse(caller.primary_role()),
        crate::request_id::current(),
    )
}

/// Commits a write, then drops what the cache holds of it (after the commit, so no reader can put back the
/// state before it; see `cache`) and wakes the change feed for the events it wrote.
async fn commit(tx: Tx, state: &AppState, stale_keys: &[String]) -> Result<()> {
    tx.commit().await?;
    state.outbox.committed();
    if !stale_keys.is_empty() {
        state.cache.invalidate(stale_keys).await;
    }
    Ok(())
}

/// Locks `user_id`'s profile for the rest of the transaction, so that one user's writes to what hangs off
/// it (addresses, preferences) run one at a time; a suspended profile may not write (SPEC section 5).
async fn lock_writable_profile(tx: &mut Tx, user_id: &str) -> Result<Profile> {
    let profile = db::profiles::find_for_update(tx, user_id)
        .await?
        .ok_or(Error::PROFILE_NOT_FOUND)?;
    if profile.status == "suspended" {
        return Err(Error::ProfileSuspended);
    }
    Ok(profile)
}

/// Destructive self-service (erasure, a change of email) needs a login at most `REAUTH_MAX_AGE_SECONDS` old;
/// admins and services are not subject to it.
fn require_recent_login(state: &AppState, caller: &Caller) -> Result<()> {
    Ok(caller.require_recent_login(clock::unix_now(), state.config.reauth_max_age_seconds)?)
}

/// A cache entry of `value` at `version`.
fn entry(version: Option<i64>, value: &impl Serialize) -> Result<Entry> {
    let json = serde_json::to_vec(value).map_err(|e| Error::Internal(e.into()))?;
    Ok(Entry {
        version,
        json: json.into(),
    })
}
