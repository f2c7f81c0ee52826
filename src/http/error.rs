//! `ApiError`: every failure the API can answer, rendered as RFC 9457 problem+json with a stable `code`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use serde_json::Value;

pub use crate::domain::validation::FieldError;
use crate::{
    domain::messages::{self, Language, Params},
    request_id, service, trace_context,
};

/// RFC 9457 problem details, as sent with `Content-Type: application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:user-profile-service:problem:email_taken",
    "title": "Conflict",
    "status": 409,
    "detail": "another profile already uses this email address",
    "code": "email_taken",
    "request_id": "0193b7c2-6f1e-7d2a-9b1c-3f4e5a6b7c8d",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"
}))]
pub struct ProblemDetails {
    /// URI reference identifying the problem type: `urn:user-profile-service:problem:{code}`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the status, in the language `Accept-Language` chose (`Content-Language` says which).
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation of this occurrence, in the language `Accept-Language` chose.
    pub detail: String,
    /// Stable, snake_case error code (the same in every language).
    pub code: String,
    /// The request id, as in the `X-Request-Id` response header.
    pub request_id: String,
    /// The W3C trace id of the request (32 lower-case hex digits): the caller's, from its `traceparent`, or one
    /// started for this request. Log lines and exported traces carry it too.
    pub trace_id: String,
    /// For `validation_failed`: one entry per invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// For `precondition_failed`: the resource's current version, an integer like its `version` field (the
    /// `ETag` header carries it quoted); absent when the resource does not exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 3)]
    pub current_version: Option<i64>,
}

/// Every error the API can answer with. Its `detail` comes from the message catalogue (`domain::messages`), in
/// the language the request's `Accept-Language` chose; `Display` is the English text, for logs and tests.
#[derive(Debug)]
pub enum ApiError {
    /// The body is not JSON: the line and column where parsing stopped; `None` when it could not be read at all.
    MalformedJson(Option<(usize, usize)>),
    Unauthorized,
    InvalidToken,
    TokenExpired,
    /// The policy's reason, a catalogue key such as `forbidden.admin_only`.
    Forbidden(&'static str),
    ProfileSuspended,
    /// Destructive self-service with a login older than `max_age_secs` (or a token without `auth_time`).
    ReauthenticationRequired {
        max_age_secs: u64,
    },
    NotFound {
        code: &'static str,
    },
    /// Erased data (410): it existed, and was erased.
    Gone {
        code: &'static str,
    },
    MethodNotAllowed,
    Conflict {
        code: &'static str,
    },
    /// `current` is the resource's current version, absent when it does not exist.
    PreconditionFailed {
        current: Option<i64>,
    },
    PayloadTooLarge,
    /// A body that is not JSON; a merge patch also takes `application/merge-patch+json`.
    UnsupportedMediaType {
        merge_patch: bool,
    },
    Validation(Vec<FieldError>),
    /// The same `Idempotency-Key` is on a request that is still running.
    IdempotencyInProgress,
    /// The `Idempotency-Key` was first used with another request: the catalogue key saying how this one
    /// differs (`idempotency_key_reused.operation` or `.body`).
    IdempotencyKeyReused(&'static str),
    Timeout,
    /// Over the caller's budget of `class` (`reads` or `writes`); the window ends in `reset_secs`.
    RateLimited {
        class: &'static str,
        limit: u32,
        reset_secs: u64,
    },
    AuthServiceUnavailable {
        retry_after_secs: u64,
    },
    ServiceUnavailable,
    Internal(anyhow::Error),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail(Language::En))
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Internal(err) => Some(err.as_ref()),
            _ => None,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::Validation(vec![error])
    }
}

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::InvalidToken | ApiError::TokenExpired => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_)
            | ApiError::ProfileSuspended
            | ApiError::ReauthenticationRequired { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::IdempotencyInProgress => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout
            | ApiError::AuthServiceUnavailable { .. }
            | ApiError::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidToken => "invalid_token",
            ApiError::TokenExpired => "token_expired",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::ProfileSuspended => "profile_suspended",
            ApiError::ReauthenticationRequired { .. } => "reauthentication_required",
            ApiError::NotFound { code, .. }
            | ApiError::Gone { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PreconditionFailed { .. } => "precondition_failed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::IdempotencyInProgress => "idempotency_in_progress",
            ApiError::IdempotencyKeyReused(_) => "idempotency_key_reused",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Timeout => "request_timeout",
            ApiError::AuthServiceUnavailable { .. } => "auth_service_unavailable",
            ApiError::ServiceUnavailable => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The `detail` in `language`: the catalogue's message for this error's code (or its variant), with the
    /// values it names.
    pub fn detail(&self, language: Language) -> String {
        let (key, params): (&str, Vec<(&str, Value)>) = match self {
            ApiError::MalformedJson(None) => ("malformed_json.unreadable", vec![]),
            ApiError::MalformedJson(Some((line, column))) => (
                "malformed_json",
                vec![("line", (*line).into()), ("column", (*column).into())],
            ),
            ApiError::Forbidden(key) | ApiError::IdempotencyKeyReused(key) => (key, vec![]),
            ApiError::ReauthenticationRequired { max_age_secs } => (
                "reauthentication_required",
                vec![("max_age_secs", (*max_age_secs).into())],
            ),
            ApiError::UnsupportedMediaType { merge_patch: true } => {
                ("unsupported_media_type.merge_patch", vec![])
            }
            ApiError::RateLimited {
                class,
                limit,
                reset_secs,
            } => (
                if *class == "writes" {
                    "rate_limited.writes"
                } else {
                    "rate_limited.reads"
                },
                vec![
                    ("limit", (*limit).into()),
                    ("reset_secs", (*reset_secs).into()),
                ],
            ),
            other => (other.code(), vec![]),
        };
        let params: Params = params
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        debug_assert!(
            messages::missing_problem_params(key, &params).is_empty(),
            "{key} lacks a param"
        );
        messages::problem_detail(key, &params, language)
    }
}

impl From<service::Error> for ApiError {
    fn from(err: service::Error) -> Self {
        use service::Error;
        match err {
            Error::NotFound { code } => ApiError::NotFound { code },
            Error::ProfileSuspended => ApiError::ProfileSuspended,
            Error::ReauthenticationRequired { max_age_secs } => {
                ApiError::ReauthenticationRequired { max_age_secs }
            }
            Error::Gone { code } => ApiError::Gone { code },
            Error::Conflict { code } => ApiError::Conflict { code },
            Error::PreconditionFailed { current } => ApiError::PreconditionFailed { current },
            Error::Validation(errors) => ApiError::Validation(errors),
            Error::Unavailable => ApiError::ServiceUnavailable,
            Error::Internal(err) => ApiError::Internal(err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(err) = &self {
            // Logged once here with detail; the caller sees only the opaque code.
            tracing::error!(error = format!("{err:#}"), "internal error");
        }
        let language = crate::http::language::current();
        let mut problem = self.problem(language);
        let mut etag = None;
        let mut retry_after = None;
        let mut challenge = None;
        match self {
            ApiError::Validation(errors) => problem.errors = Some(localised(errors, language)),
            ApiError::PreconditionFailed { current } => {
                etag = current.map(|v| crate::http::extract::etag_value(&v.to_string()));
                problem.current_version = current;
            }
            ApiError::AuthServiceUnavailable { retry_after_secs } => {
                retry_after = Some(retry_after_secs);
            }
            ApiError::ServiceUnavailable | ApiError::Timeout | ApiError::IdempotencyInProgress => {
                retry_after = Some(1);
            }
            ApiError::RateLimited { reset_secs, .. } => retry_after = Some(reset_secs),
            // RFC 9470's step-up challenge: the client sends the user through login again.
            ApiError::ReauthenticationRequired { max_age_secs } => {
                challenge = Some(format!(
                    "Bearer error=\"insufficient_user_authentication\", max_age=\"{max_age_secs}\""
                ));
            }
            _ => {}
        }
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            challenge = Some(token_challenge(&problem.code));
        }
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            headers.insert(header::ETAG, etag);
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // The text depends on `Accept-Language`; a cache must keep the languages apart.
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(language.tag()),
        );
        headers.append(header::VARY, HeaderValue::from_static("accept-language"));
        response
    }
}

/// Field errors with their messages in `language`.
fn localised(mut errors: Vec<FieldError>, language: Language) -> Vec<FieldError> {
    for error in &mut errors {
        debug_assert!(
            messages::missing_field_params(&error.key, &error.params).is_empty(),
            "{error:?} lacks a param"
        );
        error.localise(language);
    }
    errors
}

impl ApiError {
    /// The problem body's common members in `language`; `into_response` adds the ones of a particular error.
    fn problem(&self, language: Language) -> ProblemDetails {
        let status = self.status();
        let title = messages::title(status.as_u16(), language)
            .or(status.canonical_reason())
            .unwrap_or("Error");
        ProblemDetails {
            problem_type: format!("urn:user-profile-service:problem:{}", self.code()),
            title: title.to_string(),
            status: status.as_u16(),
            detail: self.detail(language),
            code: self.code().to_string(),
            request_id: request_id::current().unwrap_or_default(),
            trace_id: trace_context::current_trace_id().unwrap_or_default(),
            errors: None,
            current_version: None,
        }
    }
}

/// The `WWW-Authenticate` value of a 401 with this `code`.
fn token_challenge(code: &str) -> String {
    match code {
        "unauthorized" => "Bearer".to_string(),
        code => format!("Bearer error=\"invalid_token\", error_description=\"{code}\""),
    }
}

/// Answers requests to paths no route serves.
pub async fn route_not_found() -> ApiError {
    ApiError::NotFound { code: "not_found" }
}

/// Answers requests whose path exists but whose method it does not serve.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_titles_are_the_http_reason_phrases() {
        for status in [
            400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 422, 429, 500, 503,
        ] {
            let reason = StatusCode::from_u16(status).unwrap().canonical_reason();
            assert_eq!(messages::title(status, Language::En), reason, "{status}");
        }
    }

    #[test]
    fn every_error_has_its_detail_in_every_language() {
        let errors = [
            ApiError::MalformedJson(Some((1, 9))),
            ApiError::MalformedJson(None),
            ApiError::Forbidden("forbidden.admin_only"),
            ApiError::ReauthenticationRequired { max_age_secs: 300 },
            ApiError::UnsupportedMediaType { merge_patch: true },
            ApiError::IdempotencyKeyReused("idempotency_key_reused.body"),
            ApiError::RateLimited {
                class: "writes",
                limit: 3,
                reset_secs: 42,
            },
            ApiError::NotFound {
                code: "address_format_not_found",
            },
        ];
        for error in errors {
            for language in Language::ALL {
                let detail = error.detail(language);
                assert!(
                    !detail.is_empty() && !detail.contains('{'),
                    "{error:?} {language:?}: {detail}"
                );
            }
        }
        let limited = ApiError::RateLimited {
            class: "writes",
            limit: 3,
            reset_secs: 42,
        };
        assert_eq!(
            limited.to_string(),
            "this caller has used its 3 writes a minute; try again in 42 s"
        );
        assert!(limited.detail(Language::De).contains("3 Schreibzugriffe"));
    }
}
