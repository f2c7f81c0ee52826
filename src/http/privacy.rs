//! `/api/v1/profiles/me/export`: everything held about the caller, as one downloadable JSON document.
//! (Erasure is `DELETE /api/v1/profiles/me`, in `profiles.rs`.)

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::Caller,
    db,
    domain::{preferences::Preferences, privacy::ProfileExport},
    http::error::{ApiError, ProblemDetails},
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_profile))
}

/// Download everything held about you: profile, preferences, consent records, addresses with all revisions.
#[utoipa::path(
    get, path = "/api/v1/profiles/me/export", tag = "privacy",
    responses(
        (status = 200, description = "The export, as an attachment", body = ProfileExport,
            headers(
                ("Content-Disposition" = String, description = "`attachment; filename=\"profile-export.json\"`"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn export_profile(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    // One transaction: a consistent snapshot (the profile row is locked), and the audit event commits with it.
    let mut tx = state.db.begin().await?;
    let profile = db::profiles::find_for_update(&mut tx, &caller.user_id)
        .await?
        .ok_or(ApiError::PROFILE_NOT_FOUND)?;
    let preferences = db::preferences::find(&mut tx, &caller.user_id)
        .await?
        .unwrap_or_else(Preferences::defaults);
    let consent_records = db::preferences::consent_records(&mut tx, &caller.user_id).await?;
    let addresses = db::export::addresses_with_revisions(&mut tx, &caller.user_id).await?;
    db::audit::record(
        &mut tx,
        &caller.audit("profile.exported", &caller.user_id, vec![]),
    )
    .await?;
    tx.commit().await?;
    let export = ProfileExport {
        exported_at: db::now(),
        profile,
        preferences,
        consent_records,
        addresses,
    };
    let mut response = axum::Json(export).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"profile-export.json\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
