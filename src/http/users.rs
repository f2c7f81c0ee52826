//! `/api/v1/users/{user_id}/...`: reads by other services (the order service first), by `user_id`.
//!
//! Allowed for role `service` or `admin`, scope `addresses:read`, or the user themself. Served from the read
//! replica when one is configured, so they never wait for writes.

use axum::{
    Json,
    extract::{Path, State},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Caller,
    domain::{
        address::{Address, DefaultAddresses},
        precondition::Preconditions,
    },
    http::{
        error::{ApiError, ProblemDetails},
        extract::{AppQuery, PageParams, check_user_id, parse_address_id},
        pages::AddressPage,
        respond::{respond_entry, versioned},
    },
    service,
    state::AppState,
};

const SCOPE: &str = "addresses:read";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_user_addresses))
        .routes(routes!(get_default_addresses))
        .routes(routes!(get_user_address))
        .routes(routes!(get_address_revision))
}

/// List a user's live addresses, oldest first.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/addresses", tag = "service reads",
    params(("user_id" = String, Path, description = "The user's id (`sub`)"), PageParams),
    responses(
        (status = 200, description = "The user's live addresses", body = AddressPage),
        (status = 404, description = "`profile_not_found`: no such user, or they erased their profile", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `limit` or `cursor`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn list_user_addresses(
    caller: Caller,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    page: Result<AppQuery<PageParams>, ApiError>,
) -> Result<Json<AddressPage>, ApiError> {
    caller.require_reader_of(&user_id, SCOPE)?;
    check_user_id(&user_id)?;
    // Judged after the caller, so a refused caller learns nothing from a 422.
    let AppQuery(page) = page?;
    let (after, limit) = (page.cursor::<Uuid>()?, page.limit()?);
    let found = service::users::list_addresses(&state, &user_id, after, limit).await?;
    Ok(Json(AddressPage::from(found)))
}

/// A user's default shipping and billing addresses, for checkout.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/addresses/defaults", tag = "service reads",
    params(("user_id" = String, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 200, description = "The defaults; store `(id, revision)` of the one you use with the order", body = DefaultAddresses),
        (status = 404, description = "`profile_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_default_addresses(
    caller: Caller,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, SCOPE)?;
    check_user_id(&user_id)?;
    let entry = service::users::default_addresses(&state, &user_id).await?;
    Ok(respond_entry(&Preconditions::default(), entry))
}

/// Read one address of a user in its current state; a deleted one too, with `deleted_at` set.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/addresses/{address_id}", tag = "service reads",
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The address", body = Address,
            headers(("ETag" = String, description = "The revision, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "`profile_not_found` (erased) or `address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_user_address(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path((user_id, address_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, SCOPE)?;
    check_user_id(&user_id)?;
    let id = parse_address_id(&address_id)?;
    let address = service::users::address(&state, &user_id, id).await?;
    Ok(versioned(&pre, address.revision, Json(address)))
}

/// Read an address exactly as it was at one revision. It never changes, even after the address is edited or
/// deleted, until the user erases their profile.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/addresses/{address_id}/revisions/{revision}", tag = "service reads",
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("revision" = i64, Path, minimum = 1, description = "The revision stored with the order"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The address at that revision (`deleted_at` is set on the revision that deleted it)",
            body = Address, headers(("ETag" = String, description = "The revision, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "`profile_not_found` (erased), `address_not_found` or `revision_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_address_revision(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path((user_id, address_id, revision)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, SCOPE)?;
    check_user_id(&user_id)?;
    let id = parse_address_id(&address_id)?;
    // A revision that is not a positive number names no revision: answered like a missing one.
    let revision = revision.parse::<i64>().ok().filter(|r| *r >= 1);
    let address = service::users::address_revision(&state, &user_id, id, revision).await?;
    Ok(versioned(&pre, address.revision, Json(address)))
}
