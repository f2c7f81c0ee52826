//! `/api/v1/users/{user_id}/...`: reads by other services (the order service first), by `user_id`.
//!
//! Allowed for role `service` or `admin`, scope `addresses:read`, or the user themself. Served from the read
//! replica when one is configured, so they never wait for writes.

use axum::{
    Json,
    extract::{Path, State},
    response::Response,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::Caller,
    cache::{self, Lookup},
    db,
    domain::address::Address,
    http::{
        addresses::{AddressPage, page_of, parse_address_id, require_profile},
        error::{ApiError, ProblemDetails},
        extract::{AppQuery, PageParams, Preconditions},
        respond::{json_body, versioned},
    },
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

/// The user's default addresses; both are `null` only while the user has no address.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultAddresses {
    /// Where to ship by default.
    #[schema(required = true)]
    pub shipping: Option<Address>,
    /// Where to bill by default (often the same address).
    #[schema(required = true)]
    pub billing: Option<Address>,
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
    // Judged after the caller, so a refused caller learns nothing from a 422.
    let AppQuery(page) = page?;
    let pool = state.db.replica();
    require_profile(pool, &user_id).await?;
    Ok(Json(page_of(pool, &user_id, &page).await?))
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
    let key = cache::defaults_key(&user_id);
    let generation = match state.cache.lookup(&key).await {
        Some(Lookup::Hit(json)) => return Ok(json_body(json)),
        Some(Lookup::Miss(generation)) => Some(generation),
        None => None,
    };
    // A read that fills the cache goes to the primary: a lagging replica's answer must never be cached.
    let pool = match generation {
        Some(_) => state.db.reader(),
        None => state.db.replica(),
    };
    require_profile(pool, &user_id).await?;
    let defaults = db::addresses::find_defaults(pool, &user_id).await?;
    let pick = |is: fn(&Address) -> bool| defaults.iter().find(|a| is(a)).cloned();
    let body = DefaultAddresses {
        shipping: pick(|a| a.is_default_shipping),
        billing: pick(|a| a.is_default_billing),
    };
    let json = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    if let Some(generation) = generation {
        state.cache.store(&key, generation, &json).await;
    }
    Ok(json_body(json))
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
    let pool = state.db.replica();
    let id = parse_address_id(&address_id)?;
    match db::addresses::find_any(pool, &user_id, id).await? {
        Some(address) => Ok(versioned(&pre, address.revision, Json(address))),
        None => {
            require_profile(pool, &user_id).await?;
            Err(ApiError::ADDRESS_NOT_FOUND)
        }
    }
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
    let pool = state.db.replica();
    let id = parse_address_id(&address_id)?;
    let revision = revision.parse::<i64>().ok().filter(|r| *r >= 1);
    let found = match revision {
        Some(revision) => db::addresses::find_revision(pool, &user_id, id, revision).await?,
        None => None,
    };
    if let Some(address) = found {
        return Ok(versioned(&pre, address.revision, Json(address)));
    }
    // Say why, so the caller can tell an erased user from a wrong reference.
    require_profile(pool, &user_id).await?;
    match db::addresses::find_any(pool, &user_id, id).await? {
        Some(_) => Err(ApiError::REVISION_NOT_FOUND),
        None => Err(ApiError::ADDRESS_NOT_FOUND),
    }
}
