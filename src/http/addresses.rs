//! `/api/v1/profiles/me/addresses`: the caller's own shipping and billing addresses.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{RefOr, Schema},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    domain::{
        address::{Address, AddressInput},
        patch::MergePatch,
        precondition::Preconditions,
    },
    http::{
        caller::UserCaller,
        error::{ApiError, ProblemDetails},
        extract::{AppQuery, PageParams, ValidatedJson, parse_address_id},
        openapi::merge_patch_of,
        pages::AddressPage,
        respond::{versioned, with_etag},
    },
    service,
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(
            get_address,
            replace_address,
            patch_address,
            delete_address
        ))
}

/// List your addresses, oldest first.
///
/// Needs a user's token (role `user`); answers only the caller's live addresses, never another user's. Pages
/// with `limit` and the `next_cursor` of the previous page.
#[utoipa::path(
    get, path = "/api/v1/profiles/me/addresses", tag = "addresses",
    params(PageParams),
    responses(
        (status = 200, description = "Your live addresses", body = AddressPage),
        (status = 403, description = "`forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`: create your profile first", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `limit` or `cursor`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn list_addresses(
    UserCaller(caller): UserCaller,
    State(state): State<AppState>,
    AppQuery(page): AppQuery<PageParams>,
) -> Result<Json<AddressPage>, ApiError> {
    let after = page.cursor::<Uuid>()?;
    let found = service::addresses::list(&state, &caller.user_id, after, page.limit()?).await?;
    Ok(Json(AddressPage::from(found)))
}

/// Add an address. Your first one becomes your default shipping and billing address.
///
/// Needs a user's token and an existing profile. Validates every field (the postal code against the country's
/// format where one is known); at most 50 live addresses. Send `Idempotency-Key` to make a retry safe. The
/// answer's `id` and `revision` name this exact address for good.
#[utoipa::path(
    post, path = "/api/v1/profiles/me/addresses", tag = "addresses",
    params(("If-Match" = Option<String>, Header, description = "Leave it out: a new address has no version yet, so any `If-Match` is 412 and nothing is written")),
    request_body(content = AddressInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Address,
            headers(("ETag" = String, description = "The revision, quoted"),
                    ("Location" = String, description = "/api/v1/profiles/me/addresses/{id}"))),
        (status = 403, description = "`profile_suspended`: your profile is suspended; or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`: create your profile first", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`address_limit_reached`: you have 50 addresses; `address_history_full`: your addresses hold 5000 revisions", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the request has an `If-Match` (or a malformed `If-None-Match`)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn create_address(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    ValidatedJson(input): ValidatedJson<AddressInput>,
) -> Result<Response, ApiError> {
    let address = service::addresses::create(&state, &caller, &pre, input).await?;
    let location = format!("/api/v1/profiles/me/addresses/{}", address.id);
    let mut response = with_etag(StatusCode::CREATED, address.revision, Json(address));
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Read one of your addresses.
///
/// Needs a user's token; another user's address is 404 `address_not_found`. Answers 304 to an `If-None-Match`
/// that names the current revision.
#[utoipa::path(
    get, path = "/api/v1/profiles/me/addresses/{address_id}", tag = "addresses",
    params(
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The address", body = Address,
            headers(("ETag" = String, description = "The revision, quoted"))),
        (status = 304, description = "Your copy is current"),
        (status = 403, description = "`forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_address(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(address_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_address_id(&address_id)?;
    let address = service::addresses::get(&state, &caller.user_id, id).await?;
    Ok(versioned(&pre, address.revision, Json(address)))
}

/// Replace one of your addresses. Omitted optional fields are cleared; omitted `is_default_*` keep their value.
///
/// Needs a user's token. Writes a new immutable revision (the old one stays readable by orders); send
/// `If-Match` with the revision you read to avoid overwriting a newer change.
#[utoipa::path(
    put, path = "/api/v1/profiles/me/addresses/{address_id}", tag = "addresses",
    params(
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("If-Match" = Option<String>, Header, description = "Replace only if the address is at this ETag: `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing"),
    ),
    request_body(content = AddressInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced (a new revision, unless nothing changed)", body = Address,
            headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`: your profile is suspended; or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found` or `address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`address_history_full`: your addresses hold 5000 revisions (they can still be deleted)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another revision or is malformed; `current_version` (an integer) and `ETag` tell the current revision", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn replace_address(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(address_id): Path<String>,
    ValidatedJson(input): ValidatedJson<AddressInput>,
) -> Result<Response, ApiError> {
    let id = parse_address_id(&address_id)?;
    let address = service::addresses::replace(&state, &caller, id, &pre, input).await?;
    Ok(with_etag(StatusCode::OK, address.revision, Json(address)))
}

/// Change some fields of one of your addresses (JSON Merge Patch; `null` clears an optional field).
///
/// Needs a user's token. Applies the merge patch to the current address and validates the result as a whole;
/// writes a new revision when something changed. Send `If-Match` to guard against a concurrent change.
#[utoipa::path(
    patch, path = "/api/v1/profiles/me/addresses/{address_id}", tag = "addresses",
    params(
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the address is at this ETag: `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing"),
    ),
    request_body(content = AddressPatch, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields, e.g. `{\"is_default_billing\": true}`"),
    responses(
        (status = 200, description = "Updated (a new revision, unless nothing changed)", body = Address,
            headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`: your profile is suspended; or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found` or `address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`address_history_full`: your addresses hold 5000 revisions (they can still be deleted)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another revision or is malformed; `current_version` (an integer) and `ETag` tell the current revision", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn patch_address(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(address_id): Path<String>,
    patch: MergePatch,
) -> Result<Response, ApiError> {
    let id = parse_address_id(&address_id)?;
    let address = service::addresses::patch(&state, &caller, id, &pre, &patch).await?;
    Ok(with_etag(StatusCode::OK, address.revision, Json(address)))
}

/// Delete one of your addresses. Orders keep reading its revisions; a lost default passes to your newest address.
///
/// Needs a user's token. The address leaves the user's lists; its revisions stay readable through the service
/// reads until the profile is erased.
#[utoipa::path(
    delete, path = "/api/v1/profiles/me/addresses/{address_id}", tag = "addresses",
    params(
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("If-Match" = Option<String>, Header, description = "Delete only if the address is at this ETag: `*` or a list of strong entity tags such as `\"3\"`; any other value (`3`, `W/\"3\"`, empty) is 412 and writes nothing"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`profile_suspended`: your profile is suspended; or `forbidden`: the token is not a user's (role `user`, or no role and no scope)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found` or `address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` names another revision or is malformed; `current_version` (an integer) and `ETag` tell the current revision", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn delete_address(
    UserCaller(caller): UserCaller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(address_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_address_id(&address_id)?;
    service::addresses::delete(&state, &caller, id, &pre).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A merge patch of an address (RFC 7386): any subset of `AddressInput`'s fields; `null` clears an optional one.
/// Its schema is `AddressInput`'s with nothing required and unknown fields refused.
pub struct AddressPatch;

impl PartialSchema for AddressPatch {
    fn schema() -> RefOr<Schema> {
        merge_patch_of::<AddressInput>(
            "A merge patch of an address: any subset of the writable fields of `AddressInput`, with the same rules; \
             `null` clears an optional field (the required ones cannot be cleared); an unknown field is a 422. The \
             result is checked as a whole (a new `country` needs a `postal_code` in its format).",
            [],
        )
    }
}

impl ToSchema for AddressPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <AddressInput as ToSchema>::schemas(schemas);
    }
}
