//! The OpenAPI document: info, bearer security, the problem responses every operation can give, the response
//! headers each answer carries (`headers`), the service reads' `?fields=` (`fields`), and the links between
//! operations (`links`).

mod fields;
mod headers;
mod links;

use utoipa::{
    Modify, OpenApi,
    openapi::{
        Ref, RefOr, Type,
        response::ResponseBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};

use crate::http::error::{FieldError, ProblemDetails};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "User Profile Service",
        description = "Profiles, addresses and preferences of the shop's users. Errors are RFC 9457 \
                       `application/problem+json` with a stable `code`. Authenticate with `Authorization: Bearer <JWT>`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/", description = "This server")),
    components(schemas(ProblemDetails, FieldError)),
    tags(
        (name = "profiles", description = "The caller's own profile"),
        (name = "addresses", description = "The caller's own shipping and billing addresses, each change an immutable revision"),
        (name = "address formats", description = "How each country writes an address, for address forms; public and cacheable"),
        (name = "service reads", description = "Other services read a user's data by `user_id` (role `service` or `admin`, the matching scope, or the user)"),
        (name = "preferences", description = "The caller's notification opt-ins, language, currency, cart and recommendation settings"),
        (name = "privacy", description = "Export of everything held about the caller (erasure is `DELETE /api/v1/profiles/me`)"),
        (name = "events", description = "The change feed: what changed, for other services (docs/events.md); also delivered through NATS JetStream"),
        (name = "admin", description = "Support actions and the audit trail; role `admin` only"),
        (name = "operations", description = "Probes for operators"),
    )
)]
pub struct ApiDoc;

/// The finished document: routes collected by the router plus the shared security and problem responses.
pub fn finish(mut openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    SecurityAndProblems.modify(&mut openapi);
    add_rate_limited(&mut openapi);
    add_parameter_formats(&mut openapi);
    crate::http::idempotency::document(&mut openapi);
    add_event_catalogue(&mut openapi);
    crate::http::language::document(&mut openapi);
    plain_header_parameters(&mut openapi);
    fields::describe(&mut openapi);
    empty_query_values(&mut openapi);
    text_patterns(&mut openapi);
    headers::declare(&mut openapi);
    links::add(&mut openapi);
    openapi
}

/// Every operation of the document with its path and lower-case method.
pub(crate) fn operations_mut(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&str, &'static str, &mut utoipa::openapi::path::Operation)> {
    openapi.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("patch", item.patch.as_mut()),
            ("delete", item.delete.as_mut()),
        ]
        .into_iter()
        .filter_map(move |(method, op)| op.map(|op| (path.as_str(), method, op)))
    })
}

/// Request headers are optional strings, never `null`: a generated client must leave a header out rather than
/// send an empty one (utoipa writes an `Option<String>` parameter as `["string", "null"]`).
fn plain_header_parameters(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Schema, path::ParameterIn, schema::SchemaType};
    for (_, _, op) in operations_mut(openapi) {
        for parameter in op.parameters.iter_mut().flatten() {
            let RefOr::T(parameter) = parameter else {
                continue;
            };
            if parameter.parameter_in != ParameterIn::Header {
                continue;
            }
            if let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() {
                schema.schema_type = SchemaType::Type(Type::String);
            }
        }
    }
}

/// An empty query value counts as absent (`?cursor=` is no cursor), as `AppQuery` reads every query string:
/// `allowEmptyValue` says so (utoipa has no field for it, so it goes in as an extension-style key).
fn empty_query_values(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    for (_, _, op) in operations_mut(openapi) {
        for parameter in op.parameters.iter_mut().flatten() {
            let RefOr::T(parameter) = parameter else {
                continue;
            };
            if parameter.parameter_in == ParameterIn::Query {
                parameter
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert("allowEmptyValue".into(), true.into());
            }
        }
    }
}

/// The request bodies whose free text follows `codes::TEXT_PATTERN`.
const TEXT_INPUTS: [&str; 5] = [
    "ProfileInput",
    "ProfilePatch",
    "AdminProfilePatch",
    "AddressInput",
    "AddressPatch",
];

/// Gives every free-text property of the request bodies (a string with no pattern, format or enum of its own)
/// the rule the handlers apply to it: no control or invisible character, not blank.
fn text_patterns(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Schema, schema::SchemaType};
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for name in TEXT_INPUTS {
        let Some(RefOr::T(Schema::Object(input))) = components.schemas.get_mut(name) else {
            continue;
        };
        for property in input.properties.values_mut() {
            let RefOr::T(Schema::Object(property)) = property else {
                continue;
            };
            let text = match &property.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if text
                && property.pattern.is_none()
                && property.format.is_none()
                && property.enum_values.is_none()
            {
                property.pattern = Some(crate::domain::codes::TEXT_PATTERN.to_string());
            }
        }
    }
}

/// The schema of a JSON Merge Patch (RFC 7386) over the input `T`: `T`'s properties and rules with nothing
/// required, plus `extra` properties; a property that may be `null` in `T` may be `null` here (it clears the
/// field), a required one may not; unknown keys are refused, as the handler answers them 422.
pub fn merge_patch_of<T: utoipa::PartialSchema>(
    description: &str,
    extra: impl IntoIterator<Item = (&'static str, serde_json::Value)>,
) -> RefOr<utoipa::openapi::Schema> {
    let mut schema = serde_json::to_value(T::schema()).unwrap_or_default();
    if let Some(object) = schema.as_object_mut() {
        object.remove("required");
        object.insert("description".into(), description.into());
        object.insert("additionalProperties".into(), false.into());
        let properties = object
            .entry("properties")
            .or_insert_with(|| serde_json::json!({}));
        for (name, property) in extra {
            properties[name] = property;
        }
    }
    serde_json::from_value(schema).unwrap_or_default()
}

/// One schema per change event type (`ProfileCreatedEvent`, ...): the `Event` with its `type` fixed and its
/// `version` or `revision` present. The NATS messages carry the same JSON (docs/events.md).
fn add_event_catalogue(openapi: &mut utoipa::openapi::OpenApi) {
    use crate::domain::event::EventType;
    let components = openapi.components.get_or_insert_with(Default::default);
    for kind in EventType::ALL {
        let number = if kind.is_about_an_address() {
            "revision"
        } else {
            "version"
        };
        let schema = serde_json::json!({
            "description": kind.meaning(),
            "allOf": [
                {"$ref": "#/components/schemas/Event"},
                {
                    "type": "object",
                    "required": [number],
                    "properties": {
                        "type": {"type": "string", "enum": [kind.as_str()]},
                        number: {"type": "integer", "format": "int64", "minimum": 1},
                    },
                },
            ],
        });
        if let Ok(schema) = serde_json::from_value(schema) {
            components.schemas.insert(event_schema_name(kind), schema);
        }
    }
}

/// `address.defaults_changed` -> `AddressDefaultsChangedEvent`.
pub fn event_schema_name(kind: crate::domain::event::EventType) -> String {
    let mut name: String = kind
        .as_str()
        .split(['.', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    name.push_str("Event");
    name
}

/// Cursors are what a page's `next_cursor` holds: base64url without padding (empty counts as absent).
const CURSOR: &str = "^[A-Za-z0-9_-]*$";
/// No text parameter may hold a control character or line separator (docs/input-rules.md).
const NO_CONTROL_CHARACTERS: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029]*$";

/// Writes the formats the handlers enforce on path and query parameters into the document, so that generated
/// clients and requests know them: opaque cursors, and text without control characters.
/// (Headers keep their prose: a malformed `If-Match` is a documented 412, SPEC section 7.)
fn add_parameter_formats(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        Schema,
        path::{ParameterIn, ParameterStyle},
        schema::SchemaType,
    };
    for (_, _, op) in operations_mut(openapi) {
        let parameters = op.parameters.iter_mut().flatten().filter_map(|p| match p {
            RefOr::T(parameter) => Some(parameter),
            RefOr::Ref(_) => None,
        });
        for parameter in parameters {
            // A list in one query value, comma-separated (`?type=a,b`), as the handler splits it.
            if parameter.parameter_in == ParameterIn::Query && parameter.name == "type" {
                parameter.style = Some(ParameterStyle::Form);
                parameter.explode = Some(false);
            }
            let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else {
                continue;
            };
            let text = match &schema.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            let in_url = matches!(
                parameter.parameter_in,
                ParameterIn::Path | ParameterIn::Query
            );
            if !text || !in_url || schema.pattern.is_some() || schema.format.is_some() {
                continue;
            }
            schema.pattern = Some(
                match (&parameter.parameter_in, parameter.name.as_str()) {
                    (ParameterIn::Query, "cursor" | "after") => CURSOR,
                    // `check_user_id`: no control and no invisible character.
                    (ParameterIn::Path, "user_id") => crate::domain::codes::PLAIN_TEXT_PATTERN,
                    _ => NO_CONTROL_CHARACTERS,
                }
                .to_string(),
            );
        }
    }
}

/// What each scope of a service token unlocks (docs/auth-contract.md), listed on the bearer scheme; each service
/// read names its scope in its `security`.
const SCOPES: &str = "A JWT from the auth service (docs/auth-contract.md). Roles (`roles` claim): `user` (the \
    `/profiles/me` routes), `service` and `admin` (every `/users/{user_id}/...` read: all scopes), `admin` (the \
    `/admin` routes). Scopes (`scope` claim) for `/users/{user_id}/...` reads: `profiles:read` (the profile, \
    without `date_of_birth` and `phone`), `profiles:read_sensitive` (with `profiles:read`: also `date_of_birth` \
    and `phone`), `addresses:read` (addresses, defaults, revisions; no profile field), `preferences:read` \
    (preferences; not the profile). A user reads their own data through `/users/{their id}/...` without a \
    scope. Erasing your profile or changing your email needs `auth_time` within `REAUTH_MAX_AGE_SECONDS`.";

/// Adds the bearer scheme (required by default) and the problem responses shared by all operations.
/// It runs after the router has added every path, which `#[openapi(modifiers)]` would not.
struct SecurityAndProblems;

impl Modify for SecurityAndProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(SCOPES))
                    .build(),
            ),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
        for item in openapi.paths.paths.values_mut() {
            for (method, op) in [
                ("get", item.get.as_mut()),
                ("put", item.put.as_mut()),
                ("post", item.post.as_mut()),
                ("patch", item.patch.as_mut()),
                ("delete", item.delete.as_mut()),
            ] {
                if let Some(op) = op {
                    add_problem_responses(method, op);
                }
            }
        }
    }
}

/// The problem responses an operation can give besides its own: auth and availability for protected ones,
/// body errors for writes, 422 for path and query values, and 500.
fn add_problem_responses(method: &str, op: &mut utoipa::openapi::path::Operation) {
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| r == &SecurityRequirement::default()));
    let has_body = matches!(method, "put" | "post" | "patch");
    // A path or query value can be refused too (a bad `limit`, or a control character).
    let has_url_values = op.parameters.iter().flatten().any(|p| {
        matches!(p, RefOr::T(p) if matches!(
            p.parameter_in,
            utoipa::openapi::path::ParameterIn::Path | utoipa::openapi::path::ParameterIn::Query
        ))
    });
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| problem(description));
    };
    if !public {
        add(
            "401",
            "`unauthorized` (no token), `invalid_token` or `token_expired`; with `WWW-Authenticate: Bearer`",
        );
        add("403", "`forbidden`: the token may not do this");
        add(
            "503",
            "`service_unavailable`, `request_timeout` or `auth_service_unavailable`; with `Retry-After`",
        );
    }
    if has_body {
        add("400", "`malformed_json`: the body is not JSON");
        add("413", "`payload_too_large`: the body is over 64 KiB");
        add("415", "`unsupported_media_type`: the body is not JSON");
        add(
            "422",
            "`validation_failed`: `errors[]` names each bad or unknown field",
        );
    }
    if has_url_values {
        add(
            "422",
            "`validation_failed`: `errors[]` names each bad path or query value",
        );
    }
    add("500", "`internal_error`");
}

/// Adds the 429 every `/api/` operation can give (probes and `/metrics` are not rate limited), described once
/// under `components.responses` and referenced from each operation.
fn add_rate_limited(openapi: &mut utoipa::openapi::OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components
        .responses
        .insert("RateLimited".into(), rate_limited());
    for (path, _, op) in operations_mut(openapi) {
        if path.starts_with("/api/") {
            op.responses
                .responses
                .entry("429".into())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name("RateLimited")));
        }
    }
}

/// The 429 answer; its headers (`Retry-After`, `RateLimit-*`) are declared by `headers::declare`.
fn rate_limited() -> RefOr<utoipa::openapi::Response> {
    problem(
        "`rate_limited`: the caller has used its budget of reads or of writes for this minute \
         (`RATE_LIMIT_*`); answers within the budget carry the `RateLimit-*` headers too",
    )
}

pub(crate) fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name(
                        "ProblemDetails",
                    )))
                    .build(),
            )
            .build(),
    )
}
