//! `/api/v1/address-formats`: how each country writes an address, for frontends to render address forms.
//! Public (no token) and cacheable: the same data for every caller, changed only by a release.

use axum::{extract::Path, response::Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::{
        address_format::{AddressFormat, AddressFormatList},
        precondition::Preconditions,
    },
    http::{
        error::{ApiError, ProblemDetails},
        respond::cacheable,
    },
    service,
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_address_formats))
        .routes(routes!(get_address_format))
}

/// Every country's address form.
///
/// Its fields in print order, the required ones, the region's name and list, the postal code's pattern and an
/// example. What a form built from it shows is what `POST /api/v1/profiles/me/addresses` accepts. No token
/// needed; cache it (`ETag`, `Cache-Control: public`).
#[utoipa::path(
    get, path = "/api/v1/address-formats", tag = "address formats", security(()),
    params(("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current")),
    responses(
        (status = 200, description = "One format per assigned ISO 3166-1 alpha-2 code, in code order", body = AddressFormatList,
            headers(("ETag" = String, description = "Weak entity tag, a digest of the data: `W/\"...\"`; it changes only with the data"),
                    ("Cache-Control" = String, description = "`public, max-age=86400`"))),
        (status = 304, description = "Your copy is current",
            headers(("ETag" = String, description = "The same weak entity tag"),
                    ("Cache-Control" = String, description = "`public, max-age=86400`"))),
    )
)]
async fn list_address_formats(pre: Preconditions) -> Response {
    cacheable(&pre, service::address_formats::list())
}

/// One country's address form.
///
/// The same entry as in the list, for one ISO 3166-1 alpha-2 code. No token needed; cache it (`ETag`,
/// `Cache-Control: public`).
#[utoipa::path(
    get, path = "/api/v1/address-formats/{country}", tag = "address formats", security(()),
    params(
        ("country" = String, Path, pattern = "^[A-Z]{2}$", description = "ISO 3166-1 alpha-2 code, upper case, e.g. `US`"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of your copy; 304 when it is current"),
    ),
    responses(
        (status = 200, description = "The country's address form", body = AddressFormat,
            headers(("ETag" = String, description = "Weak entity tag, a digest of the data: `W/\"...\"`; it changes only with the data"),
                    ("Cache-Control" = String, description = "`public, max-age=86400`"))),
        (status = 304, description = "Your copy is current",
            headers(("ETag" = String, description = "The same weak entity tag"),
                    ("Cache-Control" = String, description = "`public, max-age=86400`"))),
        (status = 404, description = "`address_format_not_found`: not an assigned ISO 3166-1 alpha-2 code in upper case", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
async fn get_address_format(
    pre: Preconditions,
    Path(country): Path<String>,
) -> Result<Response, ApiError> {
    let published = service::address_formats::get(&country)?;
    Ok(cacheable(&pre, published))
}
