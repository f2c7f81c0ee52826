//! The `Caller` extractor: reads the bearer token, has the verifier judge it (once a request: the rate limiter may
//! have asked first), and answers auth's verdicts as `ApiError`s; `UserCaller`, the caller of every `/profiles/me`
//! route, which must be a user.

use axum::{
    extract::FromRequestParts,
    http::{Extensions, HeaderMap, header, request::Parts},
};

use crate::{
    auth::{AuthError, Caller, Denied},
    http::error::ApiError,
    state::AppState,
};

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        verdict(&parts.headers, &mut parts.extensions, state).await
    }
}

/// A caller that is a user (`Caller::require_user`): the only caller `/profiles/me` and everything under it
/// accept, so a service, admin or scoped token gets 403 `forbidden` before anything is read or written.
#[derive(Debug, Clone)]
pub struct UserCaller(pub Caller);

impl FromRequestParts<AppState> for UserCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_user()?;
        Ok(UserCaller(caller))
    }
}

/// The verdict on a request's bearer token. Whoever needs it first (the rate limiter, else the extractor)
/// judges the token and keeps the verdict in the request's extensions, so a token is verified once a request.
#[derive(Debug, Clone)]
struct Verdict(Result<Caller, Refusal>);

/// Why a request has no caller.
#[derive(Debug, Clone)]
enum Refusal {
    NoToken,
    Malformed,
    Auth(AuthError),
}

/// The caller named by the request's bearer token, verified at most once per request.
pub async fn verdict(
    headers: &HeaderMap,
    extensions: &mut Extensions,
    state: &AppState,
) -> Result<Caller, ApiError> {
    let verdict = match extensions.get::<Verdict>() {
        Some(kept) => kept.clone(),
        None => {
            let judged = Verdict(judge(headers, state).await);
            extensions.insert(judged.clone());
            judged
        }
    };
    verdict.0.map_err(|refusal| match refusal {
        Refusal::NoToken => ApiError::Unauthorized,
        Refusal::Malformed => ApiError::InvalidToken,
        Refusal::Auth(err) => err.into(),
    })
}

async fn judge(headers: &HeaderMap, state: &AppState) -> Result<Caller, Refusal> {
    let header = headers.get(header::AUTHORIZATION).ok_or(Refusal::NoToken)?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(Refusal::Malformed)?;
    let caller = state.verifier.verify(token).await.map_err(Refusal::Auth)?;
    crate::telemetry::request::record_user_id(&caller.user_id);
    Ok(caller)
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Invalid => ApiError::InvalidToken,
            AuthError::Expired => ApiError::TokenExpired,
            AuthError::Unavailable { retry_after_secs } => {
                ApiError::AuthServiceUnavailable { retry_after_secs }
            }
        }
    }
}

/// So `caller.require_admin()?` answers 403 `forbidden` with the policy's reason as `detail`.
impl From<Denied> for ApiError {
    fn from(Denied(reason): Denied) -> Self {
        ApiError::Forbidden(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denied_policy_check_is_answered_403_forbidden_with_its_reason() {
        let user = Caller::from_parts("u1".into(), &["user".into()], vec![]).unwrap();

        let admin_only = ApiError::from(user.require_admin().unwrap_err());
        let other_user = ApiError::from(user.require_reader_of("u2", "profiles:read").unwrap_err());

        assert_eq!(
            (admin_only.status().as_u16(), admin_only.code()),
            (403, "forbidden")
        );
        assert_eq!(admin_only.to_string(), "this operation needs role admin");
        assert_eq!(other_user.code(), "forbidden");
        assert_eq!(
            other_user.to_string(),
            "this token may not read this user's data"
        );
    }
}
