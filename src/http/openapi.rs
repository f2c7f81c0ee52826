//! The OpenAPI document: info, bearer security, and the problem responses every operation can give.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        RefOr,
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
    ),
    servers((url = "/", description = "This server")),
    components(schemas(ProblemDetails, FieldError)),
    tags(
        (name = "profiles", description = "The caller's own profile"),
        (name = "addresses", description = "The caller's own shipping and billing addresses, each change an immutable revision"),
        (name = "service reads", description = "Other services read a user's data by `user_id` (role `service` or `admin`, the matching scope, or the user)"),
        (name = "preferences", description = "The caller's notification opt-ins, language, currency, cart and recommendation settings"),
        (name = "privacy", description = "Export of everything held about the caller (erasure is `DELETE /api/v1/profiles/me`)"),
        (name = "admin", description = "Support actions and the audit trail; role `admin` only"),
        (name = "operations", description = "Probes for operators"),
    )
)]
pub struct ApiDoc;

/// The finished document: routes collected by the router plus the shared security and problem responses.
pub fn finish(mut openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    SecurityAndProblems.modify(&mut openapi);
    openapi
}

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
                let Some(op) = op else { continue };
                let public = op
                    .security
                    .as_ref()
                    .is_some_and(|s| s.iter().all(|r| r == &SecurityRequirement::default()));
                let has_body = matches!(method, "put" | "post" | "patch");
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
                add("500", "`internal_error`");
            }
        }
    }
}

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
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
