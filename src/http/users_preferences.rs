//! `/api/v1/users/{user_id}/preferences`: other services read a user's preferences (from the replica).

use axum::{
    extract::{Path, State},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::Caller,
    db,
    domain::preferences::Preferences,
    http::{
        error::{ApiError, ProblemDetails},
        extract::Preconditions,
        respond::versioned,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_user_preferences))
}

/// Read a user's preferences (role `service` or `admin`, scope `preferences:read`, or the user themself).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/preferences", tag = "service reads",
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The user's preferences; the defaults (version 0) when never set", body = Preferences,
            headers(("ETag" = String, description = "Current version, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "`profile_not_found`: the user has no profile", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_user_preferences(
    caller: Caller,
    Path(user_id): Path<String>,
    pre: Preconditions,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, "preferences:read")?;
    let pool = state.db.replica();
    db::profiles::find(pool, &user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    let preferences = db::preferences::find(pool, &user_id)
        .await?
        .unwrap_or_else(Preferences::defaults);
    Ok(versioned(
        &pre,
        preferences.version,
        axum::Json(preferences),
    ))
}
