//! The rate-limit layer: every request under `/api/` is counted against its caller's budget (`rate_limit`)
//! before its handler runs, and answered 429 `rate_limited` when over it. Answers within the budget carry the
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers too.
//!
//! The caller is the verified token's `sub`; the token is verified here, and the verdict kept for the `Caller`
//! extractor (`http::caller::verdict`), so it is verified once. A request without a valid token is counted
//! against its client address (an IPv6 client against its /64). Probes, `/metrics` and the docs are not counted.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    http::{caller, error::ApiError, metrics},
    rate_limit::{Class, RateLimiter},
    state::AppState,
};

pub static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// What the layer needs: the state (to verify tokens), the limiter, and where the client address comes from.
#[derive(Clone, Debug)]
pub struct Limits {
    state: AppState,
    limiter: RateLimiter,
    client_ip_header: Option<HeaderName>,
}

impl Limits {
    /// The limits of `state`'s configuration; `None` when rate limits are off (no layer at all).
    pub fn new(state: &AppState) -> Option<Self> {
        let limiter = RateLimiter::from_config(&state.config);
        limiter.is_enabled().then(|| Limits {
            state: state.clone(),
            limiter,
            client_ip_header: state
                .config
                .rate_limits
                .client_ip_header
                .as_deref()
                .and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok()),
        })
    }

    /// `user:{sub}` for a valid token, else `ip:{client address}`.
    async fn caller_key(&self, parts: &mut Parts) -> String {
        match caller::verdict(&parts.headers, &mut parts.extensions, &self.state).await {
            Ok(caller) => format!("user:{}", caller.user_id),
            Err(_) => format!("ip:{}", self.client_ip(parts)),
        }
    }

    /// The proxy's header when configured and it holds an address (its last value: the one the proxy added),
    /// else the peer address; `unknown` when neither is known (requests that did not come through a socket).
    fn client_ip(&self, parts: &Parts) -> String {
        let forwarded = self.client_ip_header.as_ref().and_then(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        });
        let peer = || {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        };
        match forwarded.or_else(peer).map(|ip| ip.to_canonical()) {
            Some(IpAddr::V6(v6)) => {
                // One subscriber usually holds a whole /64.
                let prefix = u128::from(v6) & !(u128::from(u64::MAX));
                format!("{}/64", Ipv6Addr::from(prefix))
            }
            Some(IpAddr::V4(v4)) => v4.to_string(),
            None => "unknown".into(),
        }
    }
}

/// Counts the request against its caller's budget: over it, 429 without running the handler; within it, the
/// handler's answer. Both with the `RateLimit-*` headers.
pub async fn enforce(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let class = match *request.method() {
        Method::GET | Method::HEAD | Method::OPTIONS => Class::Read,
        _ => Class::Write,
    };
    let (mut parts, body) = request.into_parts();
    let key = limits.caller_key(&mut parts).await;
    let request = Request::from_parts(parts, body);
    let Some(decision) = limits.limiter.check(class, &key).await else {
        return next.run(request).await;
    };
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        ::metrics::counter!(metrics::RATE_LIMITED_TOTAL, "class" => class.label()).increment(1);
        ApiError::RateLimited {
            class: class.label(),
            limit: decision.limit,
            reset_secs: decision.reset_secs(),
        }
        .into_response()
    };
    set_headers(
        response.headers_mut(),
        decision.limit,
        decision.remaining,
        decision.reset_secs(),
    );
    response
}

/// Sets `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window ends).
fn set_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset_secs: u64) {
    headers.insert(RATELIMIT_LIMIT.clone(), HeaderValue::from(limit));
    headers.insert(RATELIMIT_REMAINING.clone(), HeaderValue::from(remaining));
    headers.insert(RATELIMIT_RESET.clone(), HeaderValue::from(reset_secs));
}
