//! `/api/v1/users/{user_id}/preferences`: other services read a user's preferences (from the replica).

use axum::{
    extract::{Path, State},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::{Caller, scopes},
    domain::{fields::PREFERENCES_FIELDS, precondition::Preconditions, preferences::Preferences},
    http::{
        error::{ApiError, ProblemDetails},
        extract::{AppQuery, FieldsParam, check_user_id},
        respond::{masked, versioned},
    },
    service,
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_user_preferences))
}

/// Read a user's preferences (role `service` or `admin`, scope `preferences:read`, or the user themself); no
/// profile field.
///
/// Served from the read replica when one is configured; `?fields=` asks for fewer top-level fields. An erased
/// user answers 410 `profile_erased`.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/preferences", tag = "service reads",
    security(("bearer" = ["preferences:read"])),
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        FieldsParam,
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The user's preferences; the defaults (version 0) when never set", body = Preferences,
            headers(("ETag" = String, description = "Current version, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "`profile_not_found`: the user never had a profile", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 410, description = "`profile_erased`: the user's profile was erased", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `fields` (top-level names: `notifications`, `language`, `currency`, `cart`, `recommendations`, `version`, `updated_at`)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_user_preferences(
    caller: Caller,
    Path(user_id): Path<String>,
    pre: Preconditions,
    State(state): State<AppState>,
    fields: Result<AppQuery<FieldsParam>, ApiError>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, scopes::PREFERENCES_READ)?;
    check_user_id(&user_id)?;
    let mask = fields?.0.mask(PREFERENCES_FIELDS)?;
    let preferences = service::users::preferences(&state, &user_id).await?;
    Ok(versioned(
        &pre,
        preferences.version,
        masked(&mask, &preferences)?,
    ))
}
