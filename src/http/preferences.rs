//! `/api/v1/profiles/me/preferences`: the caller's notification opt-ins, language, currency, cart and
//! recommendation settings, with a consent record for every marketing/newsletter change.

use axum::{extract::State, http::StatusCode, response::Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::Caller,
    db,
    domain::{
        audit::changed_fields,
        preferences::{PreferenceSettings, Preferences, PreferencesInput, consent_changes},
    },
    http::{
        error::{ApiError, ProblemDetails},
        extract::{EtagCondition, MergePatch, Preconditions, ValidatedJson, validate},
        profiles::lock_writable_profile,
        respond::{versioned, with_etag},
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_preferences, put_preferences, patch_preferences))
}

/// Read your preferences; the documented defaults (version 0) until you set any.
#[utoipa::path(
    get, path = "/api/v1/profiles/me/preferences", tag = "preferences",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current")),
    responses(
        (status = 200, description = "Your preferences", body = Preferences,
            headers(("ETag" = String, description = "Current version, quoted; `\"0\"` for the defaults"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "`profile_not_found`: create your profile first", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_preferences(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let pool = state.db.reader();
    db::profiles::find(pool, &caller.user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    let preferences = db::preferences::find(pool, &caller.user_id)
        .await?
        .unwrap_or_else(Preferences::defaults);
    Ok(versioned(
        &pre,
        preferences.version,
        axum::Json(preferences),
    ))
}

/// Replace your preferences; a field you leave out (or send as `null`) takes its default.
#[utoipa::path(
    put, path = "/api/v1/profiles/me/preferences", tag = "preferences",
    params(
        ("If-Match" = Option<String>, Header, description = "Replace only if the preferences are at this ETag (`\"0\"`: still the defaults)"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: only if you have never set preferences"),
    ),
    request_body(content = PreferencesInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (or unchanged)", body = Preferences, headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn put_preferences(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    ValidatedJson(settings): ValidatedJson<PreferenceSettings>,
) -> Result<Response, ApiError> {
    let mut tx = state.db.begin().await?;
    let current = current_for_write(&mut tx, &caller, &pre).await?;
    store(tx, &caller, current, settings).await
}

/// Change some preferences (JSON Merge Patch; `null` resets a field to its default).
#[utoipa::path(
    patch, path = "/api/v1/profiles/me/preferences", tag = "preferences",
    params(("If-Match" = Option<String>, Header, description = "Apply only if the preferences are at this ETag")),
    request_body(content = PreferencesInput, content_type = "application/merge-patch+json",
        description = "Any subset of the fields, nested objects merged"),
    responses(
        (status = 200, description = "Stored (or unchanged)", body = Preferences, headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn patch_preferences(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    patch: MergePatch,
) -> Result<Response, ApiError> {
    let mut tx = state.db.begin().await?;
    let current = current_for_write(&mut tx, &caller, &pre).await?;
    let settings = patch.apply_to(&current.settings)?;
    validate(&settings)?;
    store(tx, &caller, current, settings).await
}

/// Locks the caller's profile (which serializes their preference writes), refuses suspended profiles and
/// stale preconditions, and returns the current preferences.
async fn current_for_write(
    tx: &mut db::Tx,
    caller: &Caller,
    pre: &Preconditions,
) -> Result<Preferences, ApiError> {
    lock_writable_profile(tx, &caller.user_id).await?;
    let stored = db::preferences::find(tx, &caller.user_id).await?;
    check_preconditions(pre, stored.as_ref())?;
    Ok(stored.unwrap_or_else(Preferences::defaults))
}

/// The defaults count as version 0: `If-Match: "0"` holds while nothing is stored, and `If-None-Match: *`
/// holds only then (the first write).
fn check_preconditions(pre: &Preconditions, stored: Option<&Preferences>) -> Result<(), ApiError> {
    let version = stored.map_or(0, |p| p.version).to_string();
    let if_match_fails = pre
        .if_match
        .as_ref()
        .is_some_and(|c| !c.matches(Some(&version)));
    let if_none_match_fails = match &pre.if_none_match {
        None => false,
        Some(EtagCondition::Any) => stored.is_some(),
        Some(tags) => tags.matches(Some(&version)),
    };
    if if_match_fails || if_none_match_fails {
        return Err(ApiError::PreconditionFailed {
            current: Some(version),
        });
    }
    Ok(())
}

/// Shared end of PUT and PATCH: store what changed, with its consent records and audit event, in `tx`.
async fn store(
    mut tx: db::Tx,
    caller: &Caller,
    current: Preferences,
    settings: PreferenceSettings,
) -> Result<Response, ApiError> {
    let fields = changed_fields(&current.settings, &settings);
    if fields.is_empty() {
        return Ok(with_etag(
            StatusCode::OK,
            current.version,
            axum::Json(current),
        ));
    }
    let now = db::now();
    let saved = db::preferences::save(&mut tx, &caller.user_id, &settings, now).await?;
    let event = caller.audit("preferences.updated", &caller.user_id, fields);
    let consents = consent_changes(&current.settings, &settings);
    db::preferences::record_consents(
        &mut tx,
        &caller.user_id,
        &consents,
        now,
        event.request_id.as_deref(),
    )
    .await?;
    db::audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, saved.version, axum::Json(saved)))
}
