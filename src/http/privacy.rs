//! `/api/v1/profiles/me/export`: everything held about the caller, as one downloadable JSON document.
//! (Erasure is `DELETE /api/v1/profiles/me`, in `profiles.rs`.)

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::privacy::ProfileExport,
    http::{
        caller::UserCaller,
        error::{ApiError, ProblemDetails},
    },
    service,
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_profile))
}

/// Download everything held about you: profile, preferences, consent records, addresses with all revisions.
///
/// Needs a user's token. The answer is one JSON document to download (`Content-Disposition: attachment`), never
/// cached; the export itself is audited as `profile.exported`.
#[utoipa::path(
    get, path = "/api/v1/profiles/me/export", tag = "privacy",
    responses(
        (status = 200, description = "The export, as an attachment", body = ProfileExport,
            headers(
                ("Content-Disposition" = String, description = "`attachment; filename=\"profile-export.json\"`"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 403, description = "`forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn export_profile(
    UserCaller(caller): UserCaller,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let export = service::privacy::export(&state, &caller).await?;
    let mut response = axum::Json(export).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"profile-export.json\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
