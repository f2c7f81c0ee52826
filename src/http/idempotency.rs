//! The `Idempotency-Key` layer (docs/idempotency.md): on the writes listed in [`OPERATIONS`], a request with the
//! header runs at most once per caller and key. The layer authenticates the caller, buffers the body, claims
//! the key (service::idempotency), runs the handler unchanged, and keeps its answer; a retry gets that answer
//! again with `Idempotent-Replayed: true`. The same list documents the header and its answers in OpenAPI.
//! Requests without the header, and other routes, pass through untouched.

use axum::{
    body::Body,
    extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use utoipa::openapi::{
    Object, RefOr, Type,
    header::HeaderBuilder,
    path::{Operation as ApiOperation, ParameterBuilder, ParameterIn},
    schema::ObjectBuilder,
};

use crate::{
    domain::idempotency::{Fingerprint, IdempotencyKey, MAX_KEY_LENGTH},
    http::{
        caller,
        error::{ApiError, FieldError},
        extract::{check_user_id, read_body},
    },
    service::idempotency::{self as idem, Answer, Attempt, Claimed, Reuse, Scope},
    state::AppState,
};

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Who may call an operation; it also scopes the keys, so a user's own keys and an admin's never meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// `/profiles/me`: the caller is the user whose data changes.
    User,
    /// `/admin`: the path's `user_id` is the user whose data changes.
    Admin,
}

/// An operation that takes an `Idempotency-Key`: its method and route template.
#[derive(Debug)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    audience: Audience,
}

/// The writes that take an `Idempotency-Key`: creating (or replacing) the profile, adding an address, replacing
/// the preferences, and the admin's suspend/reactivate (`PATCH`), erase, and lift of a kept suspension.
pub const OPERATIONS: [Operation; 6] = [
    Operation {
        method: "PUT",
        path: "/api/v1/profiles/me",
        audience: Audience::User,
    },
    Operation {
        method: "POST",
        path: "/api/v1/profiles/me/addresses",
        audience: Audience::User,
    },
    Operation {
        method: "PUT",
        path: "/api/v1/profiles/me/preferences",
        audience: Audience::User,
    },
    Operation {
        method: "PATCH",
        path: "/api/v1/admin/profiles/{user_id}",
        audience: Audience::Admin,
    },
    Operation {
        method: "DELETE",
        path: "/api/v1/admin/profiles/{user_id}",
        audience: Audience::Admin,
    },
    Operation {
        method: "DELETE",
        path: "/api/v1/admin/kept-suspensions/{user_id}",
        audience: Audience::Admin,
    },
];

/// The layer, on every route (`route_layer`); it acts on [`OPERATIONS`] with the header only.
pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let operation = request.extensions().get::<MatchedPath>().and_then(|route| {
        OPERATIONS
            .iter()
            .find(|op| op.method == request.method().as_str() && op.path == route.as_str())
    });
    match operation {
        Some(op) if request.headers().contains_key(&IDEMPOTENCY_KEY) => {
            run_once(&state, op, request, next)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        }
        _ => next.run(request).await,
    }
}

/// Runs the request if its key is free, else answers what the key says: the kept answer, 409 or 422.
async fn run_once(
    state: &AppState,
    operation: &Operation,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let (scope, target_user_id) = caller_scope(state, operation, &mut parts).await?;
    let key = key_of(&parts.headers)?;
    let body = read_body(Request::from_parts(parts.clone(), body), state).await?;
    let attempt = Attempt {
        scope,
        key: &key,
        target_user_id: &target_user_id,
        method: parts.method.as_str(),
        path: parts.uri.path(),
        fingerprint: Fingerprint::of_body(&body),
    };
    match idem::claim(state, &attempt).await? {
        Claimed::Run(claim) => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            let (response, answer, problem_code) = capture(response).await?;
            claim.finish(&answer, problem_code.as_deref()).await;
            Ok(response)
        }
        Claimed::Replay(answer) => Ok(replay(answer)),
        Claimed::InProgress => Err(ApiError::IdempotencyInProgress),
        Claimed::Reused(Reuse::Operation) => Err(ApiError::IdempotencyKeyReused(
            "idempotency_key_reused.operation",
        )),
        Claimed::Reused(Reuse::Body) => Err(ApiError::IdempotencyKeyReused(
            "idempotency_key_reused.body",
        )),
    }
}

/// The caller's key scope and the user whose data the operation changes; the caller is verified (the verdict is
/// kept for the handler) and must be one the operation accepts, so refused callers never claim a key.
async fn caller_scope(
    state: &AppState,
    operation: &Operation,
    parts: &mut Parts,
) -> Result<(Scope, String), ApiError> {
    let caller = caller::verdict(&parts.headers, &mut parts.extensions, state).await?;
    let (kind, target) = match operation.audience {
        Audience::User => {
            caller.require_user()?;
            ("user", caller.user_id.clone())
        }
        Audience::Admin => {
            caller.require_admin()?;
            let target = path_user_id(parts).await?;
            check_user_id(&target)?;
            ("admin", target)
        }
    };
    let scope = Scope {
        kind,
        caller_id: caller.user_id,
    };
    Ok((scope, target))
}

async fn path_user_id(parts: &mut Parts) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, &()).await.ok();
    params
        .as_ref()
        .and_then(|p| p.iter().find(|(name, _)| *name == "user_id"))
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| {
            ApiError::from(
                FieldError::new("user_id", "invalid_format").message("invalid_format.not_text"),
            )
        })
}

/// The request's one `Idempotency-Key`; a malformed one (or several) is 422 `validation_failed` naming the header.
fn key_of(headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
    let mut values = headers.get_all(&IDEMPOTENCY_KEY).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(FieldError::new("Idempotency-Key", "invalid_format")
            .message("invalid_format.one_header")
            .into());
    };
    IdempotencyKey::parse(value.as_bytes()).map_err(|err| ApiError::Validation(vec![err]))
}

/// The handler's answer, buffered: the response to send, the answer to keep, and a problem's `code`.
async fn capture(response: Response) -> Result<(Response, Answer, Option<String>), ApiError> {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(ApiError::internal)?;
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_LENGTH && *name != header::TRANSFER_ENCODING)
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let is_problem = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let problem_code = is_problem
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .flatten()
        .and_then(|problem| problem["code"].as_str().map(str::to_owned));
    let answer = Answer {
        status: parts.status.as_u16(),
        headers,
        body: body.to_vec(),
    };
    Ok((
        Response::from_parts(parts, Body::from(body)),
        answer,
        problem_code,
    ))
}

/// The kept answer again: its status, the headers its handler set, its body, and `Idempotent-Replayed: true`.
fn replay(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // The body as it is: only the kept headers describe it.
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(
        IDEMPOTENT_REPLAYED.clone(),
        HeaderValue::from_static("true"),
    );
    response
}

/// Declares the header, the replay header and the 409/422 answers on each of [`OPERATIONS`].
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    for op in &OPERATIONS {
        let Some(item) = openapi.paths.paths.get_mut(op.path) else {
            continue;
        };
        let operation = match op.method {
            "PUT" => item.put.as_mut(),
            "POST" => item.post.as_mut(),
            "PATCH" => item.patch.as_mut(),
            "DELETE" => item.delete.as_mut(),
            _ => None,
        };
        if let Some(operation) = operation {
            document_operation(operation);
        }
    }
}

fn document_operation(operation: &mut ApiOperation) {
    let key = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .description(Some(
            "Makes a retry safe: the first request with this key runs, a retry with the same key and request \
             gets the kept answer again (with `Idempotent-Replayed: true`) and changes nothing; keys are the \
             caller's own, kept `IDEMPOTENCY_TTL_HOURS` (24 by default). 1-255 visible ASCII characters, \
             e.g. a UUID; a malformed key is 422 `validation_failed`. See docs/idempotency.md.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_KEY_LENGTH))
                .pattern(Some("^[!-~]+$")),
        ))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(key));
    let replayed = HeaderBuilder::new()
        .schema(Some(Object::with_type(Type::String)))
        .description(Some(
            "`true` when this is the kept answer to an earlier request with the same `Idempotency-Key`",
        ))
        .build();
    for (status, response) in &mut operation.responses.responses {
        let RefOr::T(response) = response else {
            continue;
        };
        if is_replayable(status, &response.description) {
            response
                .headers
                .insert("Idempotent-Replayed".into(), RefOr::T(replayed.clone()));
        }
    }
    for (status, text) in [
        (
            "409",
            "`idempotency_in_progress`: a request with this `Idempotency-Key` is still running (`Retry-After`)",
        ),
        (
            "422",
            "`idempotency_key_reused`: this `Idempotency-Key` was used with another request (method, path or body)",
        ),
    ] {
        add_problem(operation, status, text);
    }
}

/// True when a documented answer can be a replay: a success, or a problem whose description names a code that
/// `service::idempotency::is_kept` keeps (codes are written in backticks, e.g. "`profile_suspended`: ...").
fn is_replayable(status: &str, description: &str) -> bool {
    let Ok(status) = status.parse::<u16>() else {
        return false;
    };
    if (200..300).contains(&status) {
        return idem::is_kept(status, None);
    }
    description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|code| {
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
        .any(|code| idem::is_kept(status, Some(code)))
}

/// Adds `text` to the operation's `status` answer, or adds the answer.
fn add_problem(operation: &mut ApiOperation, status: &str, text: &str) {
    match operation.responses.responses.get_mut(status) {
        Some(RefOr::T(response)) => {
            response.description = format!("{}; {text}", response.description);
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            operation
                .responses
                .responses
                .insert(status.to_string(), crate::http::openapi::problem(text));
        }
    }
}
