//! `/api/v1/profiles/me`: the caller's own profile.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::Response,
};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{RefOr, Schema},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::{
        patch::MergePatch,
        precondition::Preconditions,
        profile::{Profile, ProfileInput},
    },
    http::{
        caller::UserCaller,
        error::{ApiError, ProblemDetails},
        extract::ValidatedJson,
        openapi::merge_patch_of,
        respond::{erased, respond_entry, with_etag},
    },
    service::{self, profiles::Put},
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(
        get_profile,
        put_profile,
        patch_profile,
        delete_profile
    ))
}

const PATH: &str = "/api/v1/profiles/me";

/// Read your profile.
///
/// Needs a user's token (role `user`). Acts on the token's `sub` only: there is no way to name another user
/// here. Answers 304 to an `If-None-Match` that names the current version.
#[utoipa::path(
    get, path = "/api/v1/profiles/me", tag = "profiles",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current")),
    responses(
        (status = 200, description = "Your profile", body = Profile,
            headers(("ETag" = String, description = "Current version, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 403, description = "`forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`: you have no profile yet", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_profile(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let entry = service::profiles::get(&state, &caller.user_id).await?;
    Ok(respond_entry(&pre, entry))
}

/// Create your profile (201) or replace it (200). After erasing a suspended profile, 403 `profile_suspended`
/// until an admin lifts the kept suspension.
///
/// Needs a user's token. The email must be unique regardless of case. Send `If-None-Match: *` to create only,
/// or `If-Match` with the version you read to replace only that version; send `Idempotency-Key` to make a retry
/// safe.
#[utoipa::path(
    put, path = "/api/v1/profiles/me", tag = "profiles",
    params(
        ("If-Match" = Option<String>, Header, description = "Replace only if the profile is at this ETag: `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: create only; 412 when a profile exists (also when the value is not `*` or a list of entity tags)"),
    ),
    request_body(content = ProfileInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced", body = Profile, headers(("ETag" = String))),
        (status = 201, description = "Created", body = Profile,
            headers(("ETag" = String), ("Location" = String, description = "/api/v1/profiles/me"))),
        (status = 403, description = "`profile_suspended`: your profile is suspended (or was, when you erased it); `reauthentication_required`: a change of email needs a login at most `REAUTH_MAX_AGE_SECONDS` old (the token's `auth_time`); or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`: another profile uses this email", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another version or is malformed, or `If-None-Match` holds (`*`: a profile exists); `current_version` (an integer) and `ETag` tell the current version", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn put_profile(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    ValidatedJson(input): ValidatedJson<ProfileInput>,
) -> Result<Response, ApiError> {
    Ok(
        match service::profiles::put(&state, &caller, &pre, input).await? {
            Put::Created(profile) => {
                let mut response = with_etag(StatusCode::CREATED, profile.version, Json(profile));
                let location = header::HeaderValue::from_static(PATH);
                response.headers_mut().insert(header::LOCATION, location);
                response
            }
            Put::Replaced(profile) => with_etag(StatusCode::OK, profile.version, Json(profile)),
        },
    )
}

/// Change some fields of your profile (JSON Merge Patch; `null` clears an optional field).
///
/// Needs a user's token. Applies the merge patch to the stored profile and validates the result; a change of
/// email needs a recent login. Send `If-Match` to guard against a concurrent change.
#[utoipa::path(
    patch, path = "/api/v1/profiles/me", tag = "profiles",
    params(("If-Match" = Option<String>, Header, description = "Apply only if the profile is at this ETag: `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing")),
    request_body(content = ProfilePatch, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields"),
    responses(
        (status = 200, description = "Updated", body = Profile, headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`: your profile is suspended; `reauthentication_required`: a change of email needs a login at most `REAUTH_MAX_AGE_SECONDS` old (the token's `auth_time`); or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another version or is malformed; `current_version` (an integer) and `ETag` tell the current version", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn patch_profile(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    patch: MergePatch,
) -> Result<Response, ApiError> {
    let profile = service::profiles::patch(&state, &caller, &pre, &patch).await?;
    Ok(with_etag(StatusCode::OK, profile.version, Json(profile)))
}

/// Erase your profile and everything held about you (addresses, revisions, preferences, consent records). Needs
/// a recent login; leaves an erasure receipt, whose id the answer carries.
///
/// Needs a user's token with a recent login (`auth_time`). Removes the profile, every address and revision, the
/// preferences and the consent records; the audit trail keeps ids and actions only, and the email is free again
/// at once. Later service reads answer 410.
#[utoipa::path(
    delete, path = "/api/v1/profiles/me", tag = "profiles",
    params(("If-Match" = Option<String>, Header, description = "Erase only if the profile is at this ETag: `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing")),
    responses(
        (status = 204, description = "Erased (a suspended profile's suspension is kept: you cannot create a new profile until an admin lifts it)",
            headers(("Erasure-Receipt" = String, description = "UUID of the erasure's receipt (no personal data; admins read it at `/api/v1/admin/erasures`)"))),
        (status = 403, description = "`reauthentication_required`: the token's `auth_time` is missing or older than `REAUTH_MAX_AGE_SECONDS` (log in again; `WWW-Authenticate` carries `max_age`); or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another version or is malformed; `current_version` (an integer) and `ETag` tell the current version", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn delete_profile(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let receipt = service::profiles::erase(&state, &caller, &caller.user_id, &pre).await?;
    Ok(erased(&receipt))
}

/// A merge patch of a profile (RFC 7386): any subset of `ProfileInput`'s fields; `null` clears an optional one.
/// Its schema is `ProfileInput`'s with nothing required and unknown fields refused.
pub struct ProfilePatch;

impl PartialSchema for ProfilePatch {
    fn schema() -> RefOr<Schema> {
        merge_patch_of::<ProfileInput>(
            "A merge patch of a profile: any subset of the writable fields of `ProfileInput`, with the same rules; \
             `null` clears an optional field (`email` and `display_name` cannot be cleared); an unknown field is a 422.",
            [],
        )
    }
}

impl ToSchema for ProfilePatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <ProfileInput as ToSchema>::schemas(schemas);
    }
}
