//! `/api/v1/profiles/me/addresses`: the caller's own shipping and billing addresses.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Caller,
    cache,
    db::{self, Pool, Tx},
    domain::{
        address::{Address, AddressInput, Defaults, MAX_ADDRESSES_PER_USER, resolve_defaults},
        audit::changed_fields,
    },
    http::{
        error::{ApiError, FieldError, ProblemDetails},
        extract::{
            AppQuery, MergePatch, PageParams, Preconditions, ValidatedJson, encode_cursor, validate,
        },
        profiles::lock_writable_profile,
        respond::{versioned, with_etag},
    },
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

/// One page of addresses, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressPage {
    pub items: Vec<Address>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    #[schema(required = true, example = json!(null))]
    pub next_cursor: Option<String>,
}

/// List your addresses, oldest first.
#[utoipa::path(
    get, path = "/api/v1/profiles/me/addresses", tag = "addresses",
    params(PageParams),
    responses(
        (status = 200, description = "Your live addresses", body = AddressPage),
        (status = 404, description = "`profile_not_found`: create your profile first", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad `limit` or `cursor`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn list_addresses(
    caller: Caller,
    State(state): State<AppState>,
    AppQuery(page): AppQuery<PageParams>,
) -> Result<Json<AddressPage>, ApiError> {
    let pool = state.db.reader();
    require_profile(pool, &caller.user_id).await?;
    Ok(Json(page_of(pool, &caller.user_id, &page).await?))
}

/// Add an address. Your first one becomes your default shipping and billing address.
#[utoipa::path(
    post, path = "/api/v1/profiles/me/addresses", tag = "addresses",
    request_body(content = AddressInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Address,
            headers(("ETag" = String, description = "The revision, quoted"),
                    ("Location" = String, description = "/api/v1/profiles/me/addresses/{id}"))),
        (status = 403, description = "`profile_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found`: create your profile first", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`address_limit_reached`: you have 50 addresses", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn create_address(
    caller: Caller,
    State(state): State<AppState>,
    ValidatedJson(input): ValidatedJson<AddressInput>,
) -> Result<Response, ApiError> {
    let mut tx = state.db.begin().await?;
    lock_writable_profile(&mut tx, &caller.user_id).await?;
    // Counted under the profile lock (PostgreSQL) or the exclusive write transaction (SQLite): race-free.
    let count = db::addresses::count_live(&mut tx, &caller.user_id).await?;
    if count >= MAX_ADDRESSES_PER_USER {
        return Err(ApiError::ADDRESS_LIMIT_REACHED);
    }
    let first = count == 0;
    let defaults = resolve(
        &input,
        Defaults {
            shipping: first,
            billing: first,
        },
    )?;
    let (id, now) = (Uuid::now_v7(), db::now());
    take_defaults(&mut tx, &caller, id, defaults, now).await?;
    let address =
        db::addresses::insert(&mut tx, &caller.user_id, id, &input, defaults, now).await?;
    let mut fields = changed_fields(&AddressInput::default(), &input.fields());
    fields.extend(Defaults::default().changed_fields(defaults));
    db::audit::record(
        &mut tx,
        &caller.audit("address.created", &caller.user_id, fields),
    )
    .await?;
    tx.commit().await?;
    state
        .cache
        .invalidate(&[cache::defaults_key(&caller.user_id)])
        .await;
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
        (status = 404, description = "`address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_address(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(address_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_address_id(&address_id)?;
    let address = db::addresses::find_live(state.db.reader(), &caller.user_id, id)
        .await?
        .ok_or(ApiError::ADDRESS_NOT_FOUND)?;
    Ok(versioned(&pre, address.revision, Json(address)))
}

/// Replace one of your addresses. Omitted optional fields are cleared; omitted `is_default_*` keep their value.
#[utoipa::path(
    put, path = "/api/v1/profiles/me/addresses/{address_id}", tag = "addresses",
    params(
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("If-Match" = Option<String>, Header, description = "Replace only if the address is at this ETag"),
    ),
    request_body(content = AddressInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced (a new revision, unless nothing changed)", body = Address,
            headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found` or `address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn replace_address(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(address_id): Path<String>,
    ValidatedJson(input): ValidatedJson<AddressInput>,
) -> Result<Response, ApiError> {
    let id = parse_address_id(&address_id)?;
    let mut tx = state.db.begin().await?;
    lock_writable_profile(&mut tx, &caller.user_id).await?;
    let existing = db::addresses::find_live(&mut tx, &caller.user_id, id)
        .await?
        .ok_or(ApiError::ADDRESS_NOT_FOUND)?;
    pre.check_write(Some(&existing.revision.to_string()))?;
    save(&state, tx, &caller, existing, input).await
}

/// Change some fields of one of your addresses (JSON Merge Patch; `null` clears an optional field).
#[utoipa::path(
    patch, path = "/api/v1/profiles/me/addresses/{address_id}", tag = "addresses",
    params(
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the address is at this ETag"),
    ),
    request_body(content = AddressPatch, content_type = "application/merge-patch+json",
        description = "Any subset of the writable fields, e.g. `{\"is_default_billing\": true}`"),
    responses(
        (status = 200, description = "Updated (a new revision, unless nothing changed)", body = Address,
            headers(("ETag" = String))),
        (status = 403, description = "`profile_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found` or `address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn patch_address(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(address_id): Path<String>,
    patch: MergePatch,
) -> Result<Response, ApiError> {
    let id = parse_address_id(&address_id)?;
    let mut tx = state.db.begin().await?;
    lock_writable_profile(&mut tx, &caller.user_id).await?;
    let existing = db::addresses::find_live(&mut tx, &caller.user_id, id)
        .await?
        .ok_or(ApiError::ADDRESS_NOT_FOUND)?;
    pre.check_write(Some(&existing.revision.to_string()))?;
    let input = patch.apply_to(&AddressInput::from_address(&existing))?;
    validate(&input)?;
    save(&state, tx, &caller, existing, input).await
}

/// Shared end of PUT and PATCH: write only what changed, as one new revision with its audit event.
async fn save(
    state: &AppState,
    mut tx: Tx,
    caller: &Caller,
    existing: Address,
    input: AddressInput,
) -> Result<Response, ApiError> {
    let before = Defaults::of(&existing);
    let defaults = resolve(&input, before)?;
    let mut fields = changed_fields(&AddressInput::from_address(&existing), &input.fields());
    fields.extend(before.changed_fields(defaults));
    if fields.is_empty() {
        return Ok(with_etag(StatusCode::OK, existing.revision, Json(existing)));
    }
    let now = db::now();
    take_defaults(&mut tx, caller, existing.id, defaults, now).await?;
    let address = db::addresses::update(&mut tx, existing.id, &input, defaults, now).await?;
    db::audit::record(
        &mut tx,
        &caller.audit("address.updated", &caller.user_id, fields),
    )
    .await?;
    tx.commit().await?;
    state
        .cache
        .invalidate(&[cache::defaults_key(&caller.user_id)])
        .await;
    Ok(with_etag(StatusCode::OK, address.revision, Json(address)))
}

/// Delete one of your addresses. Orders keep reading its revisions; a lost default passes to your newest address.
#[utoipa::path(
    delete, path = "/api/v1/profiles/me/addresses/{address_id}", tag = "addresses",
    params(
        ("address_id" = String, Path, format = Uuid, description = "The address's id"),
        ("If-Match" = Option<String>, Header, description = "Delete only if the address is at this ETag"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`profile_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`profile_not_found` or `address_not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn delete_address(
    caller: Caller,
    pre: Preconditions,
    State(state): State<AppState>,
    Path(address_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_address_id(&address_id)?;
    let mut tx = state.db.begin().await?;
    lock_writable_profile(&mut tx, &caller.user_id).await?;
    let existing = db::addresses::find_live(&mut tx, &caller.user_id, id)
        .await?
        .ok_or(ApiError::ADDRESS_NOT_FOUND)?;
    pre.check_write(Some(&existing.revision.to_string()))?;
    let now = db::now();
    db::addresses::soft_delete(&mut tx, id, now).await?;
    db::audit::record(
        &mut tx,
        &caller.audit("address.deleted", &caller.user_id, vec![]),
    )
    .await?;
    let lost = Defaults::of(&existing);
    if lost.any() {
        pass_defaults_to_newest(&mut tx, &caller, lost, now).await?;
    }
    tx.commit().await?;
    state
        .cache
        .invalidate(&[cache::defaults_key(&caller.user_id)])
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Parses an address id from the path: anything that is not a UUID names no address (404, not 400).
pub(crate) fn parse_address_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::ADDRESS_NOT_FOUND)
}

/// 404 `profile_not_found` unless `user_id` has a profile.
pub(crate) async fn require_profile(pool: &Pool, user_id: &str) -> Result<(), ApiError> {
    db::profiles::find(pool, user_id)
        .await?
        .map(|_| ())
        .ok_or(ApiError::PROFILE_NOT_FOUND)
}

/// One page of `user_id`'s live addresses; the cursor is the last id of the page.
pub(crate) async fn page_of(
    pool: &Pool,
    user_id: &str,
    page: &PageParams,
) -> Result<AddressPage, ApiError> {
    let limit = page.limit()?;
    let after = page.cursor::<Uuid>()?;
    // One extra row tells whether another page follows.
    let mut items = db::addresses::list_live(pool, user_id, after, limit + 1).await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|a| encode_cursor(&a.id))
    } else {
        None
    };
    Ok(AddressPage { items, next_cursor })
}

/// The defaults an address ends up with; refusing one it must keep is a 422 on that field.
fn resolve(input: &AddressInput, current: Defaults) -> Result<Defaults, ApiError> {
    resolve_defaults(input, current).map_err(|refused| {
        ApiError::Validation(
            refused
                .into_iter()
                .map(|(field, message)| FieldError::new(field, "invalid_value", message))
                .collect(),
        )
    })
}

/// Takes the defaults that address `id` is about to hold away from the user's other addresses (before `id`
/// gets them, so the unique indexes never see two); each address that loses one gets a revision and an event.
async fn take_defaults(
    tx: &mut Tx,
    caller: &Caller,
    id: Uuid,
    taken: Defaults,
    now: time::OffsetDateTime,
) -> Result<(), ApiError> {
    if !taken.any() {
        return Ok(());
    }
    for other in db::addresses::find_defaults(&mut *tx, &caller.user_id).await? {
        let before = Defaults::of(&other);
        let after = Defaults {
            shipping: before.shipping && !taken.shipping,
            billing: before.billing && !taken.billing,
        };
        if other.id == id || after == before {
            continue;
        }
        db::addresses::set_defaults(tx, other.id, after, now).await?;
        db::audit::record(
            tx,
            &caller.audit(
                "address.updated",
                &caller.user_id,
                before.changed_fields(after),
            ),
        )
        .await?;
    }
    Ok(())
}

/// After the default `lost` was deleted, the user's most recently created live address takes its place.
async fn pass_defaults_to_newest(
    tx: &mut Tx,
    caller: &Caller,
    lost: Defaults,
    now: time::OffsetDateTime,
) -> Result<(), ApiError> {
    let Some(heir) = db::addresses::find_newest_live(&mut *tx, &caller.user_id).await? else {
        return Ok(());
    };
    let before = Defaults::of(&heir);
    let after = Defaults {
        shipping: before.shipping || lost.shipping,
        billing: before.billing || lost.billing,
    };
    if after != before {
        db::addresses::set_defaults(tx, heir.id, after, now).await?;
        db::audit::record(
            tx,
            &caller.audit(
                "address.updated",
                &caller.user_id,
                before.changed_fields(after),
            ),
        )
        .await?;
    }
    Ok(())
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
