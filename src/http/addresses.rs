//! `/api/v1/profiles/me/addresses`: the caller's own shipping and billing addresses.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::Response,
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

/// A merge patch of an address: any subset of the writable fields; `null` clears an optional one.
/// (Documentation only: the patch is applied to the current address and the result validated as `AddressInput`.)
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AddressPatch {
    #[schema(nullable, example = "Home")]
    label: Option<String>,
    #[schema(example = "Ada Lovelace")]
    recipient_name: Option<String>,
    #[schema(nullable)]
    company: Option<String>,
    #[schema(example = "12 St James's Square")]
    line1: Option<String>,
    #[schema(nullable)]
    line2: Option<String>,
    #[schema(example = "London")]
    city: Option<String>,
    #[schema(nullable)]
    region: Option<String>,
    /// Checked against the country's format.
    #[schema(example = "SW1Y 4JH")]
    postal_code: Option<String>,
    #[schema(pattern = "^[A-Z]{2}$", example = "GB")]
    country: Option<String>,
    #[schema(nullable, pattern = r"^\+[1-9][0-9]{1,14}$")]
    phone: Option<String>,
    /// `true` makes this the default shipping address.
    is_default_shipping: Option<bool>,
    /// `true` makes this the default billing address.
    is_default_billing: Option<bool>,
}
