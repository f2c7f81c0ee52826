//! Idempotency keys (Stripe's contract; docs/idempotency.md): a write sent with a key runs at most once per
//! caller and key. `claim` either gives the request the key (`Claimed::Run`, with a `Claim` to `finish` with its
//! answer) or says what to answer instead: the kept answer of the same request (`Replay`), 409 while it is
//! still running (`InProgress`), 422 for another request under the same key (`Reused`).
//!
//! The claim is a committed row in the database, so instances behind one load balancer share keys; the write it
//! guards runs unchanged in its own transaction, after the claim and before `finish`.

use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

pub use crate::db::idempotency::{Answer, Scope};
use crate::{
    clock,
    db::{self, Db, idempotency::NewClaim},
    domain::idempotency::{Fingerprint, IdempotencyKey},
    service::Result,
    state::AppState,
};

/// A request that carries an `Idempotency-Key`.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub scope: Scope,
    pub key: &'a IdempotencyKey,
    /// Whose data the answer will hold (the caller, or the user an admin acts on): kept answers are deleted
    /// when that user's profile is erased.
    pub target_user_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub fingerprint: Fingerprint,
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Claimed {
    /// The key is this request's: run it, then [`Claim::finish`] with its answer.
    Run(Claim),
    /// The same request was answered before: send this answer again and change nothing.
    Replay(Answer),
    /// The same request is running now (here or on another instance).
    InProgress,
    /// The key was first used with another request.
    Reused(Reuse),
}

/// How the request differs from the one the key was first used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Another method or path: another operation.
    Operation,
    /// The same operation with another body.
    Body,
}

/// Whether an answer is kept for replay (docs/idempotency.md, "Which answers are kept"), from its status and,
/// for a problem, its `code`. Kept: what the operation decided on the data as it found it (success, a missing
/// resource, a conflict, a failed precondition, a suspended profile). Not kept, so that a retry with the same key
/// runs again: a request refused before it ran (unreadable or invalid body, 400/413/415/422, never changing
/// anything), an auth refusal (401, 403 `forbidden`, which a better token fixes), a race a retry resolves
/// (409 `profile_exists`), and every 5xx (the write did not happen; a retry should run it).
pub fn is_kept(status: u16, problem_code: Option<&str>) -> bool {
    match status {
        200..=299 | 404 | 410 | 412 => true,
        403 => problem_code == Some("profile_suspended"),
        409 => problem_code != Some("profile_exists"),
        _ => false,
    }
}

/// How old a running claim must be before another request may take it over: the request holding it was cut
/// off at its time limit (`REQUEST_TIMEOUT_SECONDS`, which releases the claim) unless its process died, so
/// twice that, and at least a minute, leaves room for clocks of instances that disagree by some seconds.
pub fn stale_after(request_timeout: Duration) -> Duration {
    (request_timeout * 2).max(Duration::from_secs(60))
}

/// Gives `attempt` its key, or says what to answer instead. A key first used longer ago than
/// `IDEMPOTENCY_TTL_HOURS` counts as never used, and a stale claim (see [`stale_after`]) is taken over.
pub async fn claim(state: &AppState, attempt: &Attempt<'_>) -> Result<Claimed> {
    let (db, key) = (&state.db, attempt.key.as_str());
    let ttl = state.config.idempotency_ttl;
    let stale = stale_after(state.config.request_timeout);
    // A row can vanish or expire between two statements; a few rounds settle it, else the caller retries.
    for _ in 0..3 {
        let (now, claim_id) = (clock::now(), Uuid::now_v7());
        if db::idempotency::insert(db, &new_claim(attempt, claim_id, now)).await? {
            return Ok(Claimed::Run(Claim::new(db, attempt, claim_id)));
        }
        let Some(row) = db::idempotency::find(db, &attempt.scope, key).await? else {
            continue;
        };
        if row.created_at + ttl <= now {
            db::idempotency::delete_claim(db, &attempt.scope, key, row.claim_id).await?;
            continue;
        }
        if row.request_method != attempt.method || row.request_path != attempt.path {
            return Ok(Claimed::Reused(Reuse::Operation));
        }
        if row.request_hash != attempt.fingerprint.0 {
            return Ok(Claimed::Reused(Reuse::Body));
        }
        if let Some(answer) = row.answer {
            return Ok(Claimed::Replay(answer));
        }
        if row.locked_at + stale > now {
            return Ok(Claimed::InProgress);
        }
        if db::idempotency::take_over(db, &attempt.scope, key, row.claim_id, claim_id, now).await? {
            tracing::warn!(
                claimed_at = %row.locked_at,
                "a stale idempotency claim was taken over; its request had not finished"
            );
            return Ok(Claimed::Run(Claim::new(db, attempt, claim_id)));
        }
    }
    Ok(Claimed::InProgress)
}

fn new_claim<'a>(attempt: &'a Attempt<'_>, claim_id: Uuid, now: OffsetDateTime) -> NewClaim<'a> {
    NewClaim {
        scope: &attempt.scope,
        key: attempt.key.as_str(),
        target_user_id: attempt.target_user_id,
        method: attempt.method,
        path: attempt.path,
        request_hash: &attempt.fingerprint.0,
        claim_id,
        now,
    }
}

/// A key held by the request running now. [`Claim::finish`] keeps its answer or frees the key; a claim
/// dropped unfinished (the request was cut off at its time limit, its client went away, its handler panicked)
/// frees the key in the background, so a retry can run.
#[derive(Debug)]
pub struct Claim {
    db: Db,
    scope: Scope,
    key: String,
    claim_id: Uuid,
    settled: bool,
}

impl Claim {
    fn new(db: &Db, attempt: &Attempt<'_>, claim_id: Uuid) -> Self {
        Claim {
            db: db.clone(),
            scope: attempt.scope.clone(),
            key: attempt.key.as_str().to_owned(),
            claim_id,
            settled: false,
        }
    }

    /// Keeps `answer` for replay when [`is_kept`] says so, else frees the key. The write is done either way, so
    /// a failure here is logged, not answered: the key then stays claimed until it is stale.
    pub async fn finish(mut self, answer: &Answer, problem_code: Option<&str>) {
        self.settled = true;
        let (db, scope, key, id) = (&self.db, &self.scope, self.key.as_str(), self.claim_id);
        if !is_kept(answer.status, problem_code) {
            release(db, scope, key, id).await;
            return;
        }
        match db::idempotency::complete(db, scope, key, id, answer, clock::now()).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "the idempotency claim was taken over or deleted before its answer was kept"
            ),
            Err(err) => tracing::warn!(error = %err, "keeping an idempotent answer failed"),
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (db, scope, key) = (self.db.clone(), self.scope.clone(), self.key.clone());
        let id = self.claim_id;
        runtime.spawn(async move { release(&db, &scope, &key, id).await });
    }
}

async fn release(db: &Db, scope: &Scope, key: &str, claim_id: Uuid) {
    if let Err(err) = db::idempotency::delete_claim(db, scope, key, claim_id).await {
        tracing::warn!(error = %err, "freeing an idempotency key failed; it is freed once stale");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_decisions_on_the_data_are_kept() {
        for (status, code) in [
            (200, None),
            (201, None),
            (204, None),
            (403, Some("profile_suspended")),
            (404, Some("profile_not_found")),
            (409, Some("email_taken")),
            (409, Some("address_limit_reached")),
            (410, Some("profile_erased")),
            (412, Some("precondition_failed")),
        ] {
            assert!(is_kept(status, code), "{status} {code:?}");
        }
    }

    #[test]
    fn refusals_before_the_operation_ran_races_and_failures_are_not_kept() {
        for (status, code) in [
            (400, Some("malformed_json")),
            (401, Some("invalid_token")),
            (403, Some("forbidden")),
            (403, Some("reauthentication_required")),
            (409, Some("profile_exists")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (422, Some("validation_failed")),
            (429, Some("rate_limited")),
            (500, Some("internal_error")),
            (503, Some("service_unavailable")),
            (503, Some("request_timeout")),
        ] {
            assert!(!is_kept(status, code), "{status} {code:?}");
        }
    }

    #[test]
    fn a_claim_goes_stale_after_twice_the_request_timeout_and_at_least_a_minute() {
        assert_eq!(
            stale_after(Duration::from_secs(30)),
            Duration::from_secs(60)
        );
        assert_eq!(stale_after(Duration::from_secs(5)), Duration::from_secs(60));
        assert_eq!(
            stale_after(Duration::from_secs(120)),
            Duration::from_secs(240)
        );
    }
}
