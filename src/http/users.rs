//! `/api/v1/users/{user_id}/...`: reads by other services (the order service first), by `user_id`.
//!
//! Each read needs role `service` or `admin`, its scope (`profiles:read`, `addresses:read`), or the user
//! themself, and takes `?fields=` to ask for less. Served from the read replica when one is configured, so they
//! never wait for writes. An erased user's data answers 410, not 404.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::{Caller, scopes},
    domain::{
        address::{Address, DefaultAddresses},
        fields::{ADDRESS_FIELDS, FieldMask, PROFILE_FIELDS},
        precondition::Preconditions,
        profile::Profile,
    },
    http::{
        error::{ApiError, ProblemDetails},
        extract::{AppQuery, FieldsParam, PageParams, check_user_id, parse_address_id},
        pages::AddressPage,
        respond::{masked, masked_within, respond_entry, versioned},
    },
    service,
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_user_profile))
        .routes(routes!(list_user_addresses))
        .routes(routes!(get_default_addresses))
        .routes(routes!(get_user_address))
        .routes(routes!(get_address_revision))
}

/// Read a user's profile (role `service` or `admin`, scope `profiles:read`, or the user themself).
/// `date_of_birth` and `phone` only with scope `profiles:read_sensitive` too (or a role, or the user).
///
/// Served from the read replica when one is configured. `?fields=` asks for less; an erased user answers 410
/// `profile_erased`.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/profile", tag = "service reads",
    security(("bearer" = ["profiles:read"]), ("bearer" = ["profiles:read", "profiles:read_sensitive"])),
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        FieldsParam,
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The profile; without `date_of_birth` and `phone` (absent, not null) unless the token may read them",
            body = Profile, headers(("ETag" = String, description = "Current version, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 403, description = "`forbidden`: no role or scope allows this read, or `fields` names `date_of_birth` or `phone` without `profiles:read_sensitive`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`: the user never had a profile", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 410, description = "`profile_erased`: the user erased their profile (or an admin did) and has not created one since", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `fields` names a field the profile does not have", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_user_profile(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    fields: Result<AppQuery<FieldsParam>, ApiError>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, scopes::PROFILES_READ)?;
    check_user_id(&user_id)?;
    let mask = caller.visible_profile_fields(&user_id, fields?.0.mask(PROFILE_FIELDS)?)?;
    let profile = service::users::profile(&state, &user_id).await?;
    Ok(versioned(&pre, profile.version, masked(&mask, &profile)?))
}

/// List a user's live addresses, oldest first.
///
/// Role `service` or `admin`, scope `addresses:read`, or the user themself. Live addresses only; pages with
/// `limit` and `cursor`; `?fields=` asks for fewer fields.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/addresses", tag = "service reads",
    security(("bearer" = ["addresses:read"])),
    params(("user_id" = String, Path, description = "The user's id (`sub`)"), PageParams, FieldsParam),
    responses(
        (status = 200, description = "The user's live addresses", body = AddressPage),
        (status = 404, description = "`profile_not_found`: the user never had a profile", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 410, description = "`profile_erased`: the user's profile was erased", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `limit`, `cursor` or `fields`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn list_user_addresses(
    caller: Caller,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    page: Result<AppQuery<PageParams>, ApiError>,
    fields: Result<AppQuery<FieldsParam>, ApiError>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, scopes::ADDRESSES_READ)?;
    check_user_id(&user_id)?;
    // Judged after the caller, so a refused caller learns nothing from a 422.
    let (AppQuery(page), mask) = (page?, address_mask(fields)?);
    let (after, limit) = (page.cursor::<Uuid>()?, page.limit()?);
    let found = service::users::list_addresses(&state, &user_id, after, limit).await?;
    let page = serde_json::to_value(AddressPage::from(found)).map_err(ApiError::internal)?;
    Ok(masked_within(&mask, page, &["items"]).into_response())
}

/// A user's default shipping and billing addresses, for checkout.
///
/// Role `service` or `admin`, scope `addresses:read`, or the user themself. Each default is `null` only while
/// the user has no address; store the `(id, revision)` you ship or bill to with the order.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/addresses/defaults", tag = "service reads",
    security(("bearer" = ["addresses:read"])),
    params(("user_id" = String, Path, description = "The user's id (`sub`)"), FieldsParam),
    responses(
        (status = 200, description = "The defaults; store `(id, revision)` of the one you use with the order", body = DefaultAddresses),
        (status = 404, description = "`profile_not_found`: the user never had a profile", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 410, description = "`profile_erased`: the user's profile was erased", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `fields`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_default_addresses(
    caller: Caller,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    fields: Result<AppQuery<FieldsParam>, ApiError>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, scopes::ADDRESSES_READ)?;
    check_user_id(&user_id)?;
    let mask = address_mask(fields)?;
    let entry = service::users::default_addresses(&state, &user_id).await?;
    if mask.is_all() {
        return Ok(respond_entry(&Preconditions::default(), entry));
    }
    let defaults = serde_json::from_slice(&entry.json).map_err(ApiError::internal)?;
    Ok(masked_within(&mask, defaults, &["shipping", "billing"]).into_response())
}

/// Read one address of a user in its current state; a deleted one too, with `deleted_at` set.
///
/// Role `service` or `admin`, scope `addresses:read`, or the user themself. For an order placed earlier, read
/// the stored revision instead: it never changes.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/addresses/{address_id}", tag = "service reads",
    security(("bearer" = ["addresses:read"])),
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        FieldsParam,
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The address", body = Address,
            headers(("ETag" = String, description = "The revision, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "`profile_not_found` (the user never had a profile) or `address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 410, description = "`address_erased`: the address was erased with its user's profile; `profile_erased`: the user was erased and this id was never one of their addresses", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `fields`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_user_address(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path((user_id, address_id)): Path<(String, String)>,
    fields: Result<AppQuery<FieldsParam>, ApiError>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, scopes::ADDRESSES_READ)?;
    check_user_id(&user_id)?;
    let mask = address_mask(fields)?;
    let id = parse_address_id(&address_id)?;
    let address = service::users::address(&state, &user_id, id).await?;
    Ok(versioned(&pre, address.revision, masked(&mask, &address)?))
}

/// Read an address exactly as it was at one revision. It never changes, even after the address is edited or
/// deleted; after the user's erasure it answers 410 `address_erased`.
///
/// Role `service` or `admin`, scope `addresses:read`, or the user themself. Answers 304 to an `If-None-Match`
/// that names the revision.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/addresses/{address_id}/revisions/{revision}", tag = "service reads",
    security(("bearer" = ["addresses:read"])),
    params(
        ("user_id" = String, Path, description = "The user's id (`sub`)"),
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("revision" = i64, Path, minimum = 1, description = "The revision stored with the order"),
        FieldsParam,
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The address at that revision (`deleted_at` is set on the revision that deleted it)",
            body = Address, headers(("ETag" = String, description = "The revision, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "`profile_not_found` (the user never had a profile), `address_not_found` or `revision_not_found` (also a revision after the last one of an erased address)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 410, description = "`address_erased`: this revision existed and was erased with its user's profile; `profile_erased`: the user was erased and this id was never one of their addresses", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `fields`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_address_revision(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path((user_id, address_id, revision)): Path<(String, String, String)>,
    fields: Result<AppQuery<FieldsParam>, ApiError>,
) -> Result<Response, ApiError> {
    caller.require_reader_of(&user_id, scopes::ADDRESSES_READ)?;
    check_user_id(&user_id)?;
    let mask = address_mask(fields)?;
    let id = parse_address_id(&address_id)?;
    // A revision that is not a positive number names no revision: answered like a missing one.
    let revision = revision.parse::<i64>().ok().filter(|r| *r >= 1);
    let address = service::users::address_revision(&state, &user_id, id, revision).await?;
    Ok(versioned(&pre, address.revision, masked(&mask, &address)?))
}

/// The `?fields=` of an address read, judged after the caller.
fn address_mask(fields: Result<AppQuery<FieldsParam>, ApiError>) -> Result<FieldMask, ApiError> {
    fields?.0.mask(ADDRESS_FIELDS)
}

#[cfg(test)]
mod tests {
    use axum::Json;

    use super::*;

    #[test]
    fn masked_within_masks_each_item_of_a_list_and_each_object_of_the_defaults() {
        let mask = FieldMask::parse(Some("id"), ADDRESS_FIELDS).unwrap();
        let page = serde_json::json!({"items": [{"id": 1, "city": "x"}, {"id": 2, "city": "y"}], "next_cursor": null});
        let defaults = serde_json::json!({"shipping": {"id": 1, "city": "x"}, "billing": null});

        let Json(page) = masked_within(&mask, page, &["items"]);
        let Json(defaults) = masked_within(&mask, defaults, &["shipping", "billing"]);

        assert_eq!(
            page,
            serde_json::json!({"items": [{"id": 1}, {"id": 2}], "next_cursor": null})
        );
        assert_eq!(
            defaults,
            serde_json::json!({"shipping": {"id": 1}, "billing": null})
        );
    }
}
