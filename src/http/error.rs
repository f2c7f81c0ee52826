//! `ApiError`: every failure the API can answer, rendered as RFC 9457 problem+json with a stable `code`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::domain::validation::FieldError;
use crate::{request_id, service, trace_context};

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
    /// Short summary of the status.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation of this occurrence.
    pub detail: String,
    /// Stable, snake_case error code.
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

/// Every error the API can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedJson(String),
    #[error("no bearer token was sent")]
    Unauthorized,
    #[error("the bearer token is not valid")]
    InvalidToken,
    #[error("the bearer token has expired")]
    TokenExpired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("this profile is suspended; it can be read, exported and erased, but not changed")]
    ProfileSuspended,
    /// Destructive self-service with a login older than `max_age_secs` (or a token without `auth_time`).
    #[error(
        "log in again: erasing your profile or changing your email needs a login at most {max_age_secs} seconds old"
    )]
    ReauthenticationRequired { max_age_secs: u64 },
    #[error("{detail}")]
    NotFound {
        code: &'static str,
        detail: &'static str,
    },
    /// Erased data (410): it existed, and was erased.
    #[error("{detail}")]
    Gone {
        code: &'static str,
        detail: &'static str,
    },
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("{detail}")]
    Conflict {
        code: &'static str,
        detail: &'static str,
    },
    /// `current` is the resource's current version, absent when it does not exist.
    #[error(
        "the precondition does not hold: the resource is at another version (current_version), or If-Match is \
         not * or a list of strong entity tags such as \"3\""
    )]
    PreconditionFailed { current: Option<i64> },
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// The same `Idempotency-Key` is on a request that is still running.
    #[error(
        "a request with this Idempotency-Key is still running; retry when it has finished to get its answer"
    )]
    IdempotencyInProgress,
    /// The `Idempotency-Key` was first used with another request; the text says how this one differs.
    #[error("{0}")]
    IdempotencyKeyReused(&'static str),
    #[error("the request could not be served in time")]
    Timeout,
    /// Over the caller's budget of `class` (`reads` or `writes`); the window ends in `reset_secs`.
    #[error("this caller has used its {limit} {class} a minute; try again in {reset_secs} s")]
    RateLimited {
        class: &'static str,
        limit: u32,
        reset_secs: u64,
    },
    #[error("the auth service is unavailable; try again shortly")]
    AuthServiceUnavailable { retry_after_secs: u64 },
    #[error("the database is unavailable; try again shortly")]
    ServiceUnavailable,
    #[error("an internal error occurred")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Validation(vec![FieldError::new(field, code, message)])
    }

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
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
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
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
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
}

impl From<service::Error> for ApiError {
    fn from(err: service::Error) -> Self {
        use service::Error;
        match err {
            Error::NotFound { code, detail } => ApiError::NotFound { code, detail },
            Error::ProfileSuspended => ApiError::ProfileSuspended,
            Error::ReauthenticationRequired { max_age_secs } => {
                ApiError::ReauthenticationRequired { max_age_secs }
            }
            Error::Gone { code, detail } => ApiError::Gone { code, detail },
            Error::Conflict { code, detail } => ApiError::Conflict { code, detail },
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
        let mut problem = self.problem();
        let mut etag = None;
        let mut retry_after = None;
        let mut challenge = None;
        match self {
            ApiError::Validation(errors) => problem.errors = Some(errors),
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
        response
    }
}

impl ApiError {
    /// The problem body's common members; `into_response` adds the ones of a particular error.
    fn problem(&self) -> ProblemDetails {
        let status = self.status();
        ProblemDetails {
            problem_type: format!("urn:user-profile-service:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
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
    ApiError::NotFound {
        code: "not_found",
        detail: "no resource at this path",
    }
}

/// Answers requests whose path exists but whose method it does not serve.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
