//! The response headers of every answer, declared where they are sent: `X-Request-Id` on all of them,
//! `WWW-Authenticate` on 401 (and on the 403 that asks for a fresh login), `Retry-After` on 503, 429 and
//! `idempotency_in_progress`, `ETag` on 304 and 412, `RateLimit-*` on every `/api/` answer. Each is described once
//! under `components.headers` and referenced.

use utoipa::openapi::{
    OpenApi, Ref, RefOr, Type, header::HeaderBuilder, response::Response, schema::ObjectBuilder,
};

use super::operations_mut;

const X_REQUEST_ID: &str = "X-Request-Id";
const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
const RETRY_AFTER: &str = "Retry-After";
const ETAG: &str = "ETag";
const RATE_LIMIT: [&str; 3] = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"];

/// Adds the shared header descriptions and references them from every response that carries them.
pub(super) fn declare(openapi: &mut OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    for (name, header) in shared_headers() {
        components.headers.insert(name.into(), RefOr::T(header));
    }
    // The one shared response is the 429 of every `/api/` operation.
    for response in components.responses.values_mut() {
        if let RefOr::T(response) = response {
            declare_on("429", true, response);
        }
    }
    for (path, _, op) in operations_mut(openapi) {
        let api = path.starts_with("/api/");
        for (status, response) in &mut op.responses.responses {
            if let RefOr::T(response) = response {
                declare_on(status, api, response);
            }
        }
    }
}

fn declare_on(status: &str, api: bool, response: &mut Response) {
    reference(response, X_REQUEST_ID);
    let mentions = |code: &str| response.description.contains(&format!("`{code}`"));
    let challenge = status == "401" || (status == "403" && mentions("reauthentication_required"));
    let retry =
        matches!(status, "429" | "503") || (status == "409" && mentions("idempotency_in_progress"));
    let etag = matches!(status, "304" | "412") || response.headers.contains_key(ETAG);
    if challenge {
        reference(response, WWW_AUTHENTICATE);
    }
    if retry {
        reference(response, RETRY_AFTER);
    }
    if etag {
        reference(response, ETAG);
    }
    if api {
        for name in RATE_LIMIT {
            reference(response, name);
        }
    }
}

fn reference(response: &mut Response, name: &str) {
    response.headers.insert(
        name.into(),
        RefOr::Ref(Ref::new(format!("#/components/headers/{name}"))),
    );
}

/// (name, pattern for text or `None` for a count of seconds or requests, description).
const SHARED: [(&str, Option<&str>, &str); 7] = [
    (
        X_REQUEST_ID,
        Some("^[A-Za-z0-9_-]{1,64}$"),
        "The request's id: the caller's `X-Request-Id` when it is 1-64 letters, digits, `-` or `_`, else a new \
         UUID; logs and problem bodies carry the same id",
    ),
    (
        WWW_AUTHENTICATE,
        Some("^Bearer"),
        "`Bearer` (no token), `Bearer error=\"invalid_token\", error_description=\"<code>\"`, or on \
         `reauthentication_required` `Bearer error=\"insufficient_user_authentication\", max_age=\"<s>\"`",
    ),
    (RETRY_AFTER, None, "Seconds to wait before trying again"),
    (
        ETAG,
        Some("^(W/)?\"[!#-~]*\"$"),
        "An entity tag: a versioned resource's current version (or revision), strong and quoted, such as `\"3\"`; \
         the address formats' digest, weak (`W/\"...\"`)",
    ),
    (
        RATE_LIMIT[0],
        None,
        "Requests of this class (reads or writes) allowed per one-minute window; sent when rate limits are on \
         (`RATE_LIMIT_*`)",
    ),
    (
        RATE_LIMIT[1],
        None,
        "Requests left in the window; sent when rate limits are on",
    ),
    (
        RATE_LIMIT[2],
        None,
        "Seconds until the window ends and the budget is whole again; sent when rate limits are on",
    ),
];

fn shared_headers() -> Vec<(&'static str, utoipa::openapi::header::Header)> {
    SHARED
        .iter()
        .map(|(name, pattern, description)| {
            let schema = match pattern {
                Some(pattern) => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(*pattern)),
                None => ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            };
            let header = HeaderBuilder::new()
                .schema(Some(schema))
                .description(Some(*description))
                .build();
            (*name, header)
        })
        .collect()
}
