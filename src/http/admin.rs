//! `/api/v1/admin`: support actions on any profile and the audit trail; role `admin` only.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{RefOr, Schema},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Caller,
    domain::{
        audit::AuditAction,
        patch::MergePatch,
        precondition::Preconditions,
        privacy::KeptSuspension,
        profile::{Profile, ProfileInput, ProfileStatus},
    },
    http::{
        error::{ApiError, FieldError, ProblemDetails},
        extract::{AppQuery, PageParams, check_user_id},
        openapi::merge_patch_of,
        pages::{AuditEventPage, ErasureReceiptPage, ProfilePage, next_cursor},
        respond::{erased, with_etag},
    },
    service::{
        self,
        admin::{AdminProfileView, AuditFilter, ErasureFilter},
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
        .routes(routes!(get_kept_suspension, lift_kept_suspension))
        .routes(routes!(list_audit_events))
        .routes(routes!(list_erasures))
}

/// Filters of the profile search.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProfileQuery {
    /// Case-insensitive prefix of the email, display name, first name or last name.
    #[param(max_length = 254, example = "ada")]
    pub q: Option<String>,
    /// Only profiles with this status.
    #[param(value_type = Option<ProfileStatus>)]
    pub status: Option<String>,
}

/// The body of an admin's PATCH: a merge patch of the profile (`ProfilePatch`) plus `status`. Only the fields
/// sent change: suspending a user with `{"status": "suspended"}` leaves every other field as the user last set it.
pub struct AdminProfilePatch;

impl PartialSchema for AdminProfilePatch {
    fn schema() -> RefOr<Schema> {
        merge_patch_of::<ProfileInput>(
            "A merge patch of a profile by an admin: any subset of the writable fields of `ProfileInput`, and \
             `status`. Fields not sent keep their current value; `null` clears an optional field; an unknown field \
             is a 422.",
            [(
                "status",
                serde_json::json!({
                    "$ref": "#/components/schemas/ProfileStatus",
                    "description": "`suspended`: the user can read, export and erase, nothing else; `active` lifts it. Cannot be `null`.",
                }),
            )],
        )
    }
}

impl ToSchema for AdminProfilePatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <ProfileInput as ToSchema>::schemas(schemas);
        schemas.push((ProfileStatus::name().into(), ProfileStatus::schema()));
    }
}

/// Filters of the audit trail.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Whose data the event is about.
    pub user_id: Option<String>,
    /// Who acted.
    pub actor_id: Option<String>,
    /// Only events of this action.
    #[param(value_type = Option<AuditAction>)]
    pub action: Option<String>,
    /// RFC 3339; events at or after this instant.
    #[param(format = DateTime, example = "2025-01-01T00:00:00Z")]
    pub since: Option<String>,
    /// RFC 3339; events before this instant.
    #[param(format = DateTime)]
    pub until: Option<String>,
}

/// Filters of the erasure receipts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErasureQuery {
    /// Whose profile was erased.
    #[param(example = "u-42")]
    pub user_id: Option<String>,
    /// RFC 3339; erasures at or after this instant.
    #[param(format = DateTime, example = "2025-01-01T00:00:00Z")]
    pub since: Option<String>,
    /// RFC 3339; erasures before this instant.
    #[param(format = DateTime)]
    pub until: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ProfileCursor {
    after_user_id: String,
}

/// The position after an item with a UUIDv7 id: an audit event or an erasure receipt.
#[derive(Serialize, Deserialize)]
struct AuditCursor {
    after_id: Uuid,
}

/// Find profiles by email or name prefix and status.
///
/// Role `admin` only. Pages by `user_id` with `limit` and `cursor`; `q` matches the start of the email or a
/// name regardless of case, `status` narrows to active or suspended profiles. Reading the list is not audited;
/// reading one profile is.
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
    let (limit, after) = (page.limit()?, page.cursor::<ProfileCursor>()?);
    let after_user_id = after.map(|c| c.after_user_id);
    let found =
        service::admin::search_profiles(&state, query.q, query.status, after_user_id, limit)
            .await?;
    let next_cursor = next_cursor(&found, |last| ProfileCursor {
        after_user_id: last.user_id.clone(),
    });
    Ok(axum::Json(ProfilePage {
        items: found.items,
        next_cursor,
    }))
}

/// Read a user's profile with preferences and addresses; recorded as `profile.admin_viewed`.
///
/// Role `admin` only. Answers the profile, its preferences and every address with all revisions, and records a
/// `profile.admin_viewed` audit event that the user sees in their export.
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
    check_user_id(&user_id)?;
    let view = service::admin::view_profile(&state, &caller, &user_id).await?;
    Ok(with_etag(
        StatusCode::OK,
        view.profile.version,
        axum::Json(view),
    ))
}

/// Change a user's profile fields or suspend/reactivate it (JSON Merge Patch).
///
/// Role `admin` only. A merge patch: only the fields sent change, so `{"status": "suspended"}` suspends the
/// user without touching their email or name. Changes are audited (`profile.updated`, `profile.suspended`,
/// `profile.reactivated`) and published as change events.
#[utoipa::path(
    patch, path = "/api/v1/admin/profiles/{user_id}", tag = "admin",
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the profile is at this ETag: `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing"),
    ),
    request_body(content = AdminProfilePatch, content_type = "application/merge-patch+json",
        description = "Any subset of the profile's writable fields, and `status`"),
    responses(
        (status = 200, description = "Updated (or unchanged)", body = Profile, headers(("ETag" = String))),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another version or is malformed; `current_version` (an integer) and `ETag` tell the current version", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn admin_patch_profile(
    caller: Caller,
    Path(user_id): Path<String>,
    pre: Preconditions,
    State(state): State<AppState>,
    patch: MergePatch,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    check_user_id(&user_id)?;
    let profile = service::admin::patch_profile(&state, &caller, &user_id, &pre, patch).await?;
    Ok(with_etag(
        StatusCode::OK,
        profile.version,
        axum::Json(profile),
    ))
}

/// Erase a user's profile and everything held about them; a suspended profile's suspension is kept.
///
/// Role `admin` only. Erases like the user's own `DELETE /api/v1/profiles/me`: profile, addresses with
/// revisions, preferences and consent records; later reads answer 410. The answer names the erasure receipt.
#[utoipa::path(
    delete, path = "/api/v1/admin/profiles/{user_id}", tag = "admin",
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("If-Match" = Option<String>, Header, description = "Erase only if the profile is at this ETag: `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing"),
    ),
    responses(
        (status = 204, description = "Erased",
            headers(("Erasure-Receipt" = String, description = "UUID of the erasure's receipt (see `/api/v1/admin/erasures`)"))),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another version or is malformed; `current_version` (an integer) and `ETag` tell the current version", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn admin_delete_profile(
    caller: Caller,
    Path(user_id): Path<String>,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    check_user_id(&user_id)?;
    let receipt = service::profiles::erase(&state, &caller, &user_id, &pre).await?;
    Ok(erased(&receipt))
}

/// Read the suspension kept when a suspended user's profile was erased (user id and times only).
///
/// Role `admin` only. A user whose suspended profile was erased keeps the suspension, so the same `sub` cannot
/// come back active by creating a new profile.
#[utoipa::path(
    get, path = "/api/v1/admin/kept-suspensions/{user_id}", tag = "admin",
    params(("user_id" = String, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 200, description = "The kept suspension: the user cannot create a profile until it is lifted", body = KeptSuspension),
        (status = 404, description = "`kept_suspension_not_found`: none is kept for this user", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_kept_suspension(
    caller: Caller,
    Path(user_id): Path<String>,
    State(state): State<AppState>,
) -> Result<axum::Json<KeptSuspension>, ApiError> {
    caller.require_admin()?;
    check_user_id(&user_id)?;
    let kept = service::admin::kept_suspension(&state, &user_id).await?;
    Ok(axum::Json(kept))
}

/// Lift the suspension kept after a suspended user's profile was erased, so they can create a profile again;
/// recorded as `profile.reactivated`. (A suspended profile that exists is reactivated with `PATCH`.)
///
/// Role `admin` only. After this the user may create a profile again; audited as `profile.reactivated`.
#[utoipa::path(
    delete, path = "/api/v1/admin/kept-suspensions/{user_id}", tag = "admin",
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("If-Match" = Option<String>, Header, description = "A kept suspension has no version: only `*` holds; any other value is 412 and nothing is lifted"),
    ),
    responses(
        (status = 204, description = "Lifted"),
        (status = 404, description = "`kept_suspension_not_found`: none is kept for this user", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: an `If-Match` other than `*`, or a malformed `If-None-Match`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn lift_kept_suspension(
    caller: Caller,
    Path(user_id): Path<String>,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    check_user_id(&user_id)?;
    service::admin::lift_kept_suspension(&state, &caller, &user_id, &pre).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Read the audit trail, oldest first.
///
/// Role `admin` only. Filters by the user the event is about, who acted, the action and a time range; pages
/// with `limit` and `cursor`. Events hold field names, never values.
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
    let filter = AuditFilter {
        target_user_id: query.user_id,
        actor_id: query.actor_id,
        action: parse_action(query.action)?,
        since: parse_instant("since", query.since.as_deref())?,
        until: parse_instant("until", query.until.as_deref())?,
        after_id: page.cursor::<AuditCursor>()?.map(|c| c.after_id),
        limit: page.limit()?,
    };
    let found = service::admin::audit_events(&state, filter).await?;
    let next_cursor = next_cursor(&found, |last| AuditCursor { after_id: last.id });
    Ok(axum::Json(AuditEventPage {
        items: found.items,
        next_cursor,
    }))
}

/// The erasure receipts, oldest first: was this user erased, when, by whom, and how much was removed.
///
/// Role `admin` only. Receipts hold ids, times and counts, no personal data; they are kept after the data is
/// gone.
#[utoipa::path(
    get, path = "/api/v1/admin/erasures", tag = "admin",
    params(ErasureQuery, PageParams),
    responses(
        (status = 200, description = "One page of receipts (no personal data)", body = ErasureReceiptPage),
        (status = 422, description = "`validation_failed`: a bad `user_id`, `since`, `until`, `limit` or `cursor`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn list_erasures(
    caller: Caller,
    AppQuery(query): AppQuery<ErasureQuery>,
    AppQuery(page): AppQuery<PageParams>,
    State(state): State<AppState>,
) -> Result<axum::Json<ErasureReceiptPage>, ApiError> {
    caller.require_admin()?;
    if let Some(user_id) = &query.user_id {
        check_user_id(user_id)?;
    }
    let filter = ErasureFilter {
        user_id: query.user_id,
        since: parse_instant("since", query.since.as_deref())?,
        until: parse_instant("until", query.until.as_deref())?,
        after_id: page.cursor::<AuditCursor>()?.map(|c| c.after_id),
        limit: page.limit()?,
    };
    let found = service::admin::erasures(&state, filter).await?;
    let next_cursor = next_cursor(&found, |last| AuditCursor { after_id: last.id });
    Ok(axum::Json(ErasureReceiptPage {
        items: found.items,
        next_cursor,
    }))
}

/// The `action` filter, or a 422 when it names no action the audit trail records.
fn parse_action(raw: Option<String>) -> Result<Option<String>, ApiError> {
    match raw {
        Some(raw) if AuditAction::parse(&raw).is_none() => {
            let allowed: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
            Err(ApiError::from(
                FieldError::new("action", "invalid_value")
                    .message("invalid_value.one_of")
                    .with("allowed", allowed.join(", ")),
            ))
        }
        raw => Ok(raw),
    }
}

fn parse_instant(field: &str, raw: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    raw.map(|raw| {
        OffsetDateTime::parse(raw, &Rfc3339)
            .map(|t| t.to_offset(time::UtcOffset::UTC))
            .map_err(|_| {
                ApiError::from(
                    FieldError::new(field, "invalid_format").message("invalid_format.timestamp"),
                )
            })
    })
    .transpose()
}
