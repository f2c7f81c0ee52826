//! `/api/v1/profiles/me`: the caller's own profile.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::Caller,
    cache::{self, Lookup},
    db,
    domain::{
        audit::changed_fields,
        profile::{Profile, ProfileInput},
    },
    http::{
        error::{ApiError, ProblemDetails, ResultExt},
        extract::{MergePatch, Preconditions, ValidatedJson, validate},
        respond::{respond_json, with_etag},
    },
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
#[utoipa::path(
    get, path = "/api/v1/profiles/me", tag = "profiles",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current")),
    responses(
        (status = 200, description = "Your profile", body = Profile,
            headers(("ETag" = String, description = "Current version, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "`profile_not_found`: you have no profile yet", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_profile(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let key = cache::profile_key(&caller.user_id);
    let generation = match state.cache.lookup(&key).await {
        Some(Lookup::Hit(entry)) => match cache::decode_versioned(&entry) {
            Some((version, json)) => return Ok(respond_json(&pre, version, json)),
            None => None,
        },
        Some(Lookup::Miss(generation)) => Some(generation),
        None => None,
    };
    let profile = db::profiles::find(state.db.reader(), &caller.user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    let json = serde_json::to_vec(&profile).map_err(ApiError::internal)?;
    if let Some(generation) = generation {
        let entry = cache::encode_versioned(profile.version, &json);
        state.cache.store(&key, generation, &entry).await;
    }
    Ok(respond_json(&pre, &profile.version.to_string(), json))
}

/// Create your profile (201) or replace it (200).
#[utoipa::path(
    put, path = "/api/v1/profiles/me", tag = "profiles",
    params(
        ("If-Match" = Option<String>, Header, description = "Replace only if the profile is at this ETag"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: create only; 412 when a profile exists"),
    ),
    request_body(content = ProfileInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced", body = Profile, headers(("ETag" = String))),
        (status = 201, description = "Created", body = Profile,
            headers(("ETag" = String), ("Location" = String, description = "/api/v1/profiles/me"))),
        (status = 403, description = "`profile_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`: another profile uses this email", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn put_profile(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    ValidatedJson(input): ValidatedJson<ProfileInput>,
) -> Result<Response, ApiError> {
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, &caller.user_id).await?;
    pre.check_write(existing.as_ref().map(|p| p.version.to_string()).as_deref())?;
    let Some(existing) = existing else {
        let profile = db::profiles::insert(&mut tx, &caller.user_id, &input, db::now())
            .await
            .on_unique_violation()?;
        let fields = changed_fields(&ProfileInput::default(), &input);
        db::audit::record(
            &mut tx,
            &caller.audit("profile.created", &caller.user_id, fields),
        )
        .await?;
        tx.commit().await?;
        state
            .cache
            .invalidate(&[cache::profile_key(&caller.user_id)])
            .await;
        let mut response = with_etag(StatusCode::CREATED, profile.version, axum::Json(profile));
        response
            .headers_mut()
            .insert(header::LOCATION, header::HeaderValue::from_static(PATH));
        return Ok(response);
    };
    replace(&state, tx, &caller, existing, input).await
}

/// Change some fields of your profile (JSON Merge Patch; `null` clears an optional field).
#[utoipa::path(
    patch, path = "/api/v1/profiles/me", tag = "profiles",
    params(("If-Match" = Option<String>, Header, description = "Apply only if the profile is at this ETag")),
    request_body(content = ProfilePatch, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields"),
    responses(
        (status = 200, description = "Updated", body = Profile, headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn patch_profile(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    patch: MergePatch,
) -> Result<Response, ApiError> {
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, &caller.user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(&existing.version.to_string()))?;
    let input = patch.apply_to(&ProfileInput::from_profile(&existing))?;
    validate(&input)?;
    replace(&state, tx, &caller, existing, input).await
}

/// Shared end of PUT and PATCH on an existing profile: write only what changed, with its audit event.
async fn replace(
    state: &AppState,
    mut tx: db::Tx,
    caller: &Caller,
    existing: Profile,
    input: ProfileInput,
) -> Result<Response, ApiError> {
    if existing.status == "suspended" {
        return Err(ApiError::ProfileSuspended);
    }
    let fields = changed_fields(&ProfileInput::from_profile(&existing), &input);
    if fields.is_empty() {
        return Ok(with_etag(
            StatusCode::OK,
            existing.version,
            axum::Json(existing),
        ));
    }
    let profile = db::profiles::update(&mut tx, &caller.user_id, &input, db::now())
        .await
        .on_unique_violation()?;
    db::audit::record(
        &mut tx,
        &caller.audit("profile.updated", &caller.user_id, fields),
    )
    .await?;
    tx.commit().await?;
    state
        .cache
        .invalidate(&[cache::profile_key(&caller.user_id)])
        .await;
    Ok(with_etag(
        StatusCode::OK,
        profile.version,
        axum::Json(profile),
    ))
}

/// Locks the caller's profile for the rest of the transaction, so that one user's writes to what hangs off it
/// (addresses, preferences) run one at a time; a suspended profile may not write (SPEC section 5).
pub(crate) async fn lock_writable_profile(
    tx: &mut db::Tx,
    user_id: &str,
) -> Result<Profile, ApiError> {
    let profile = db::profiles::find_for_update(tx, user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    if profile.status == "suspended" {
        return Err(ApiError::ProfileSuspended);
    }
    Ok(profile)
}

/// Erase your profile and everything held about you (addresses, revisions, preferences, consent records).
#[utoipa::path(
    delete, path = "/api/v1/profiles/me", tag = "profiles",
    params(("If-Match" = Option<String>, Header, description = "Erase only if the profile is at this ETag")),
    responses(
        (status = 204, description = "Erased"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn delete_profile(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, &caller.user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(&existing.version.to_string()))?;
    db::profiles::delete(&mut tx, &caller.user_id).await?;
    db::audit::record(
        &mut tx,
        &caller.audit("profile.deleted", &caller.user_id, vec![]),
    )
    .await?;
    tx.commit().await?;
    state
        .cache
        .invalidate(&cache::user_keys(&caller.user_id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// A merge patch of a profile: any subset of the writable fields; `null` clears an optional one.
/// (Documentation only: the patch is applied to the stored profile and the result validated as `ProfileInput`.)
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ProfilePatch {
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    email: Option<String>,
    #[schema(min_length = 1, max_length = 100, example = "Ada")]
    display_name: Option<String>,
    #[schema(nullable, min_length = 1, max_length = 100)]
    first_name: Option<String>,
    #[schema(nullable, min_length = 1, max_length = 100)]
    last_name: Option<String>,
    #[schema(nullable, pattern = r"^\+[1-9][0-9]{1,14}$", example = "+442079460000")]
    phone: Option<String>,
    #[schema(nullable, format = Date, example = "1990-12-10")]
    date_of_birth: Option<String>,
    #[schema(nullable, max_length = 35, example = "en-GB")]
    locale: Option<String>,
    #[schema(nullable, max_length = 64, example = "Europe/London")]
    timezone: Option<String>,
    #[schema(
        nullable,
        max_length = 2048,
        example = "https://cdn.example.com/avatars/42.png"
    )]
    avatar_url: Option<String>,
}
