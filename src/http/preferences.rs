//! `/api/v1/profiles/me/preferences`: the caller's notification opt-ins, language, currency, cart and
//! recommendation settings, with a consent record for every marketing/newsletter change.

use axum::{Json, extract::State, http::StatusCode, response::Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::{
        patch::MergePatch,
        precondition::Preconditions,
        preferences::{PreferenceSettings, Preferences, PreferencesInput},
    },
    http::{
        caller::UserCaller,
        error::{ApiError, ProblemDetails},
        extract::ValidatedJson,
        respond::{versioned, with_etag},
    },
    service,
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_preferences, put_preferences, patch_preferences))
}

/// Read your preferences; the documented defaults (version 0) until you set any.
///
/// Needs a user's token and an existing profile. Until the user sets anything the answer is the documented
/// defaults with version 0 and `updated_at` null.
#[utoipa::path(
    get, path = "/api/v1/profiles/me/preferences", tag = "preferences",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current")),
    responses(
        (status = 200, description = "Your preferences", body = Preferences,
            headers(("ETag" = String, description = "Current version, quoted; `\"0\"` for the defaults"))),
        (status = 304, description = "Your copy is current"),
        (status = 403, description = "`forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`: create your profile first", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_preferences(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let preferences = service::preferences::get(&state, &caller.user_id).await?;
    Ok(versioned(&pre, preferences.version, Json(preferences)))
}

/// Replace your preferences; a field you leave out (or send as `null`) takes its default.
///
/// Needs a user's token and an existing profile. Every change of a marketing or newsletter opt-in is kept as a
/// consent record. Send `If-Match` with the version you read (`"0"` while still the defaults) to avoid
/// overwriting a newer change.
#[utoipa::path(
    put, path = "/api/v1/profiles/me/preferences", tag = "preferences",
    params(
        ("If-Match" = Option<String>, Header, description = "Replace only if the preferences are at this ETag (`\"0\"`: still the defaults): `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: only if you have never set preferences (412 also when the value is not `*` or a list of entity tags)"),
    ),
    request_body(content = PreferencesInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (or unchanged)", body = Preferences, headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`: your profile is suspended; or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`consent_history_full`: 1000 consent records; opt-ins are refused, opt-outs still recorded", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another version or is malformed, or `If-None-Match` holds (`*`: preferences were set); `current_version` (an integer) and `ETag` tell the current version", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn put_preferences(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    ValidatedJson(settings): ValidatedJson<PreferenceSettings>,
) -> Result<Response, ApiError> {
    let saved = service::preferences::put(&state, &caller, &pre, settings).await?;
    Ok(with_etag(StatusCode::OK, saved.version, Json(saved)))
}

/// Change some preferences (JSON Merge Patch; `null` resets a field to its default).
///
/// Needs a user's token and an existing profile. Nested groups are merged (`{"notifications": {"email":
/// {"marketing": true}}}` changes one opt-in); an unknown key, or a group that is not an object, is a 422.
#[utoipa::path(
    patch, path = "/api/v1/profiles/me/preferences", tag = "preferences",
    params(("If-Match" = Option<String>, Header, description = "Apply only if the preferences are at this ETag (`\"0\"`: still the defaults): `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing")),
    request_body(content = PreferencesInput, content_type = "application/merge-patch+json",
        description = "Any subset of the fields, nested objects merged"),
    responses(
        (status = 200, description = "Stored (or unchanged)", body = Preferences, headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`: your profile is suspended; or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`consent_history_full`: 1000 consent records; opt-ins are refused, opt-outs still recorded", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another version or is malformed; `current_version` (an integer) and `ETag` tell the current version", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn patch_preferences(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    patch: MergePatch,
) -> Result<Response, ApiError> {
    let saved = service::preferences::patch(&state, &caller, &pre, &patch).await?;
    Ok(with_etag(StatusCode::OK, saved.version, Json(saved)))
}
