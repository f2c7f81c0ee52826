//! The language of the request being served, chosen from its `Accept-Language` by a layer around everything
//! that can answer with a problem (timeouts and panics included); `ApiError` reads it to write the problem's
//! `title`, `detail` and field messages (docs/errors.md#languages).

use axum::{
    extract::Request,
    http::{HeaderMap, header},
    middleware::Next,
    response::Response,
};

use crate::domain::messages::Language;

tokio::task_local! {
    static LANGUAGE: Language;
}

/// The language chosen for the request on this task; English outside a request.
pub fn current() -> Language {
    LANGUAGE.try_with(|language| *language).unwrap_or_default()
}

/// The layer: runs the request with the language its `Accept-Language` header lines ask for.
pub async fn negotiate(request: Request, next: Next) -> Response {
    let language = of_headers(request.headers());
    LANGUAGE.scope(language, next.run(request)).await
}

/// Several header lines are one comma-separated list; a line that is not text is left out.
fn of_headers(headers: &HeaderMap) -> Language {
    let lines: Vec<&str> = headers
        .get_all(header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    if lines.is_empty() {
        return Language::En;
    }
    Language::negotiate(Some(&lines.join(",")))
}

/// Declares `Accept-Language` on every `/api/` operation and `Content-Language` on every problem answer of the
/// OpenAPI document (the `RateLimited` answer included). Runs last, after every problem answer is added.
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        Object, RefOr, Required, Type,
        path::{ParameterBuilder, ParameterIn},
    };
    let parameter = ParameterBuilder::new()
        .name("Accept-Language")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "The language of a problem's `title`, `detail` and field `message`s: `en`, `de`, `fr` or `es` \
             (`de-CH` counts as `de`; q-values are honoured; anything else gets `en`). `code` and `params` are \
             the same in every language (docs/errors.md#languages).",
        ))
        .schema(Some(Object::with_type(Type::String)))
        .build();
    let components = openapi.components.get_or_insert_with(Default::default);
    components
        .responses
        .values_mut()
        .for_each(declare_content_language);
    for (path, _, op) in crate::http::openapi::operations_mut(openapi) {
        op.responses
            .responses
            .values_mut()
            .for_each(declare_content_language);
        if path.starts_with("/api/") {
            op.parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(parameter.clone()));
        }
    }
}

/// `Content-Language` on a problem answer.
fn declare_content_language(response: &mut utoipa::openapi::RefOr<utoipa::openapi::Response>) {
    use utoipa::openapi::{Object, RefOr, Type, header::HeaderBuilder};
    let RefOr::T(response) = response else {
        return;
    };
    if !response.content.contains_key("application/problem+json") {
        return;
    }
    let header = HeaderBuilder::new()
        .schema(Some(Object::with_type(Type::String)))
        .description(Some(
            "The language of `title`, `detail` and the field messages: `en`, `de`, `fr` or `es`",
        ))
        .build();
    response
        .headers
        .insert("Content-Language".into(), RefOr::T(header));
}
