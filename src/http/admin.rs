//! `/api/v1/admin`: support actions on any profile and the audit trail; role `admin` only.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Caller,
    cache, db,
    domain::{
        audit::{AuditEvent, changed_fields},
        preferences::Preferences,
        profile::{Profile, ProfileInput, ProfileSummary},
    },
    http::{
        error::{ApiError, ProblemDetails, ResultExt},
        extract::{AppQuery, MergePatch, PageParams, Preconditions, encode_cursor, validate},
        respond::with_etag,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_profiles))
        .routes(routes!(
            admin_get_profile,
            admin_patch_profile,
            admin_delete_profile
        ))
        .routes(routes!(list_audit_events))
}

/// Longest search term accepted (the longest email).
const MAX_Q_CHARS: usize = 254;

/// Filters of the profile search.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProfileQuery {
    /// Case-insensitive prefix of the email, display name, first name or last name.
    #[param(max_length = 254, example = "ada")]
    pub q: Option<String>,
    /// `active` or `suspended`.
    #[param(example = "suspended")]
    pub status: Option<String>,
}

/// One page of profiles, ordered by `user_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfilePage {
    pub items: Vec<ProfileSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A profile with everything attached to it, as an admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminProfileView {
    pub profile: Profile,
    /// The defaults (version 0) when the user never set any.
    pub preferences: Preferences,
    /// Every address, deleted ones included, each with all its revisions.
    #[schema(value_type = Vec<Object>)]
    pub addresses: Vec<serde_json::Value>,
}

/// The profile fields an admin may change: those of a user's own PATCH, plus `status`.
// Only documents the body: the handler takes `status` out of the merge patch and applies the rest to ProfileInput.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminProfilePatch {
    #[serde(flatten)]
    pub profile: ProfileInput,
    /// `active` or `suspended` (a suspended user can read, export and erase, nothing else).
    #[schema(example = "suspended")]
    pub status: Option<String>,
}

/// Filters of the audit trail.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Whose data the event is about.
    pub user_id: Option<String>,
    /// Who acted.
    pub actor_id: Option<String>,
    /// e.g. `profile.updated`, `preferences.updated`, `profile.exported`.
    #[param(example = "profile.suspended")]
    pub action: Option<String>,
    /// RFC 3339; events at or after this instant.
    #[param(format = DateTime, example = "2025-01-01T00:00:00Z")]
    pub since: Option<String>,
    /// RFC 3339; events before this instant.
    #[param(format = DateTime)]
    pub until: Option<String>,
}

/// One page of audit events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ProfileCursor {
    after_user_id: String,
}

#[derive(Serialize, Deserialize)]
struct AuditCursor {
    after_id: Uuid,
}

/// Find profiles by email or name prefix and status.
#[utoipa::path(
    get, path = "/api/v1/admin/profiles", tag = "admin",
    params(ProfileQuery, PageParams),
    responses(
        (status = 200, description = "One page of matching profiles", body = ProfilePage),
        (status = 422, description = "`validation_failed`: a bad `status`, `q`, `limit` or `cursor`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn list_profiles(
    caller: Caller,
    AppQuery(query): AppQuery<ProfileQuery>,
    AppQuery(page): AppQuery<PageParams>,
    State(state): State<AppState>,
) -> Result<axum::Json<ProfilePage>, ApiError> {
    caller.require_admin()?;
    if let Some(status) = &query.status {
        parse_status(status)?;
    }
    if query
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_Q_CHARS)
    {
        return Err(ApiError::validation(
            "q",
            "length",
            "q must be at most 254 characters",
        ));
    }
    let limit = page.limit()?;
    let search = db::profiles::Search {
        q: query.q,
        status: query.status,
        after_user_id: page.cursor::<ProfileCursor>()?.map(|c| c.after_user_id),
        limit: limit + 1,
    };
    let mut items = db::profiles::search(state.db.replica(), &search).await?;
    let next_cursor = next_page(&mut items, limit, |last| ProfileCursor {
        after_user_id: last.user_id.clone(),
    });
    Ok(axum::Json(ProfilePage { items, next_cursor }))
}

/// Read a user's profile with preferences and addresses; recorded as `profile.admin_viewed`.
#[utoipa::path(
    get, path = "/api/v1/admin/profiles/{user_id}", tag = "admin",
    params(("user_id" = String, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 200, description = "The profile and what is attached to it", body = AdminProfileView,
            headers(("ETag" = String, description = "The profile's version, quoted"))),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn admin_get_profile(
    caller: Caller,
    Path(user_id): Path<String>,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let mut tx = state.db.begin().await?;
    let profile = db::profiles::find_for_update(&mut tx, &user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    let preferences = db::preferences::find(&mut tx, &user_id)
        .await?
        .unwrap_or_else(Preferences::defaults);
    let addresses = db::export::addresses_with_revisions(&mut tx, &user_id).await?;
    db::audit::record(
        &mut tx,
        &caller.audit("profile.admin_viewed", &user_id, vec![]),
    )
    .await?;
    tx.commit().await?;
    let version = profile.version;
    let view = AdminProfileView {
        profile,
        preferences,
        addresses,
    };
    Ok(with_etag(StatusCode::OK, version, axum::Json(view)))
}

/// Change a user's profile fields or suspend/reactivate it (JSON Merge Patch).
#[utoipa::path(
    patch, path = "/api/v1/admin/profiles/{user_id}", tag = "admin",
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the profile is at this ETag"),
    ),
    request_body(content = AdminProfilePatch, content_type = "application/merge-patch+json",
        description = "Any subset of the profile's writable fields, and `status`"),
    responses(
        (status = 200, description = "Updated (or unchanged)", body = Profile, headers(("ETag" = String))),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn admin_patch_profile(
    caller: Caller,
    Path(user_id): Path<String>,
    pre: Preconditions,
    State(state): State<AppState>,
    MergePatch(mut patch): MergePatch,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let status = match patch.remove("status") {
        None => None,
        Some(serde_json::Value::String(s)) => Some(parse_status(&s)?),
        Some(serde_json::Value::Null) => {
            return Err(ApiError::validation(
                "status",
                "required",
                "status cannot be cleared",
            ));
        }
        Some(_) => return Err(invalid_status()),
    };
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, &user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(&existing.version.to_string()))?;
    let before = ProfileInput::from_profile(&existing);
    let input = MergePatch(patch).apply_to(&before)?;
    validate(&input)?;
    let fields = changed_fields(&before, &input);
    let new_status = status.filter(|s| *s != existing.status);
    if fields.is_empty() && new_status.is_none() {
        return Ok(with_etag(
            StatusCode::OK,
            existing.version,
            axum::Json(existing),
        ));
    }
    let profile =
        db::profiles::update_with_status(&mut tx, &user_id, &input, new_status, db::now())
            .await
            .on_unique_violation()?;
    if !fields.is_empty() {
        db::audit::record(&mut tx, &caller.audit("profile.updated", &user_id, fields)).await?;
    }
    if let Some(status) = new_status {
        let action = if status == "suspended" {
            "profile.suspended"
        } else {
            "profile.reactivated"
        };
        db::audit::record(
            &mut tx,
            &caller.audit(action, &user_id, vec!["status".into()]),
        )
        .await?;
    }
    tx.commit().await?;
    state
        .cache
        .invalidate(&[cache::profile_key(&user_id)])
        .await;
    Ok(with_etag(
        StatusCode::OK,
        profile.version,
        axum::Json(profile),
    ))
}

/// Erase a user's profile and everything held about them.
#[utoipa::path(
    delete, path = "/api/v1/admin/profiles/{user_id}", tag = "admin",
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("If-Match" = Option<String>, Header, description = "Erase only if the profile is at this ETag"),
    ),
    responses(
        (status = 204, description = "Erased"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn admin_delete_profile(
    caller: Caller,
    Path(user_id): Path<String>,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let mut tx = state.db.begin().await?;
    let existing = db::profiles::find_for_update(&mut tx, &user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    pre.check_write(Some(&existing.version.to_string()))?;
    db::profiles::delete(&mut tx, &user_id).await?;
    db::audit::record(&mut tx, &caller.audit("profile.deleted", &user_id, vec![])).await?;
    tx.commit().await?;
    state.cache.invalidate(&cache::user_keys(&user_id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Read the audit trail, oldest first.
#[utoipa::path(
    get, path = "/api/v1/admin/audit-events", tag = "admin",
    params(AuditQuery, PageParams),
    responses(
        (status = 200, description = "One page of events", body = AuditEventPage),
        (status = 422, description = "`validation_failed`: a bad `since`, `until`, `limit` or `cursor`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn list_audit_events(
    caller: Caller,
    AppQuery(query): AppQuery<AuditQuery>,
    AppQuery(page): AppQuery<PageParams>,
    State(state): State<AppState>,
) -> Result<axum::Json<AuditEventPage>, ApiError> {
    caller.require_admin()?;
    let limit = page.limit()?;
    let filter = db::audit::Filter {
        target_user_id: query.user_id,
        actor_id: query.actor_id,
        action: query.action,
        since: parse_instant("since", query.since.as_deref())?,
        until: parse_instant("until", query.until.as_deref())?,
        after_id: page.cursor::<AuditCursor>()?.map(|c| c.after_id),
        limit: limit + 1,
    };
    let mut items = db::audit::list(state.db.replica(), &filter).await?;
    let next_cursor = next_page(&mut items, limit, |last| AuditCursor { after_id: last.id });
    Ok(axum::Json(AuditEventPage { items, next_cursor }))
}

/// Trims a page fetched with one extra row to `limit`, and returns the cursor when there is more.
fn next_page<T, C: Serialize>(
    items: &mut Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> C,
) -> Option<String> {
    if items.len() <= limit as usize {
        return None;
    }
    items.truncate(limit as usize);
    items.last().map(|last| encode_cursor(&cursor(last)))
}

fn parse_status(raw: &str) -> Result<&'static str, ApiError> {
    match raw {
        "active" => Ok("active"),
        "suspended" => Ok("suspended"),
        _ => Err(invalid_status()),
    }
}

fn invalid_status() -> ApiError {
    ApiError::validation(
        "status",
        "invalid_value",
        "status must be active or suspended",
    )
}

fn parse_instant(field: &str, raw: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    raw.map(|raw| {
        OffsetDateTime::parse(raw, &Rfc3339)
            .map(|t| t.to_offset(time::UtcOffset::UTC))
            .map_err(|_| {
                ApiError::validation(
                    field,
                    "invalid_format",
                    format!("{field} must be an RFC 3339 timestamp, e.g. 2025-01-01T00:00:00Z"),
                )
            })
    })
    .transpose()
}
