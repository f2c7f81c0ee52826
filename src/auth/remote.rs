//! Remote verification: asks the auth service about tokens no local key can judge, behind a circuit breaker,
//! and remembers its positive answers for a short while (keyed by a hash of the token, never the token).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    auth::{
        breaker::CircuitBreaker,
        caller::{AuthError, Caller},
        fetch::{self, read_body},
    },
    clock::unix_now,
    config::Config,
};

/// Longest time a positive answer is reused (shorter when the token expires sooner).
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Most answers kept at once.
const CACHE_CAPACITY: usize = 10_000;
/// Largest answer body read.
const MAX_BODY_BYTES: usize = 64 * 1024;

type TokenHash = [u8; 32];

#[derive(Debug)]
struct Cached {
    caller: Caller,
    until: Instant,
}

/// The auth service's verification endpoint, its breaker and its answer cache.
#[derive(Debug)]
pub struct RemoteVerifier {
    client: reqwest::Client,
    url: String,
    breaker: Arc<CircuitBreaker>,
    cache: Mutex<HashMap<TokenHash, Cached>>,
}

/// What the remote verification needs of a token's claims, read (unverified) from its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unverified {
    /// Bounds how long the auth service's answer is reused.
    pub exp: u64,
    /// Used when the auth service's answer gives none: the service vouched for this very token.
    pub auth_time: Option<u64>,
}

/// The body of a 200 answer.
#[derive(Debug, Deserialize)]
struct VerifyAnswer {
    user_id: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    roles: Option<Words>,
    #[serde(default)]
    scopes: Option<Words>,
    /// Accepted as a synonym of `scopes`, as in the token itself.
    #[serde(default)]
    scope: Option<Words>,
    /// When the user last authenticated, seconds since the epoch.
    #[serde(default)]
    auth_time: Option<u64>,
}

/// An array of strings, or one space-separated string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Words {
    List(Vec<String>),
    Spaced(String),
}

impl Words {
    fn into_vec(self) -> Vec<String> {
        match self {
            Words::List(list) => list,
            Words::Spaced(s) => s.split_whitespace().map(str::to_owned).collect(),
        }
    }
}

impl RemoteVerifier {
    /// `None` when `AUTH_SERVICE_URL` is not set.
    pub fn new(
        config: &Config,
        client: reqwest::Client,
        breaker: Arc<CircuitBreaker>,
    ) -> Option<Self> {
        let base = config.auth_service_url.as_ref()?;
        Some(RemoteVerifier {
            client,
            url: format!(
                "{}{}",
                base.as_str().trim_end_matches('/'),
                config.auth_verify_path
            ),
            breaker,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A positive answer given for this token less than [`CACHE_TTL`] ago and before its expiry.
    pub fn cached(&self, token: &str) -> Option<Caller> {
        let key = hash(token);
        let mut cache = self.lock_cache();
        match cache.get(&key) {
            Some(entry) if entry.until > Instant::now() => Some(entry.caller.clone()),
            Some(_) => {
                cache.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Asks the auth service. `unverified` holds the token's expiry, which bounds how long a positive answer is
    /// reused, and its `auth_time`, taken when the answer gives none (the service vouched for this token).
    pub async fn verify(&self, token: &str, unverified: Unverified) -> Result<Caller, AuthError> {
        let permit = self
            .breaker
            .try_acquire()
            .map_err(|r| AuthError::Unavailable {
                retry_after_secs: r.retry_after_secs,
            })?;
        match fetch::traced("auth verify", self.call(token)).await {
            Ok(Verdict::Valid(answer)) => {
                permit.success();
                let caller = into_caller(answer, unverified.auth_time)?;
                self.remember(token, &caller, unverified.exp);
                Ok(caller)
            }
            Ok(Verdict::Refused) => {
                permit.success();
                Err(AuthError::Invalid)
            }
            Err(err) => {
                // Never the token: the error names the endpoint and what went wrong.
                tracing::warn!(error = %format!("{err:#}"), "remote token verification failed");
                Err(AuthError::Unavailable {
                    retry_after_secs: permit.failure(),
                })
            }
        }
    }

    async fn call(&self, token: &str) -> anyhow::Result<Verdict> {
        let response = fetch::request(&self.client, &self.url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{} unreachable: {}", self.url, describe(&e)))?;
        let status = response.status();
        fetch::record_status(status);
        match status.as_u16() {
            200 => {
                let body = read_body(response, MAX_BODY_BYTES).await?;
                let answer: VerifyAnswer =
                    serde_json::from_slice(&body).context("200 answer is not the expected JSON")?;
                if answer.user_id.is_none() && answer.sub.is_none() {
                    anyhow::bail!("200 answer names no user_id or sub");
                }
                Ok(Verdict::Valid(answer))
            }
            401 | 403 => Ok(Verdict::Refused),
            _ => anyhow::bail!("{} answered {status}", self.url),
        }
    }

    fn remember(&self, token: &str, caller: &Caller, exp: u64) {
        let ttl = CACHE_TTL.min(Duration::from_secs(exp.saturating_sub(unix_now())));
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut cache = self.lock_cache();
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, entry| entry.until > now);
        }
        if cache.len() >= CACHE_CAPACITY {
            // Still full of live answers: drop the one that would expire first.
            if let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, entry)| entry.until)
                .map(|(k, _)| *k)
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(
            hash(token),
            Cached {
                caller: caller.clone(),
                until: now + ttl,
            },
        );
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

enum Verdict {
    Valid(VerifyAnswer),
    Refused,
}

fn into_caller(answer: VerifyAnswer, token_auth_time: Option<u64>) -> Result<Caller, AuthError> {
    let user_id = answer.user_id.or(answer.sub).unwrap_or_default();
    let auth_time = answer.auth_time.or(token_auth_time);
    let caller = Caller::from_parts(
        user_id,
        &answer.roles.map(Words::into_vec).unwrap_or_default(),
        answer
            .scopes
            .or(answer.scope)
            .map(Words::into_vec)
            .unwrap_or_default(),
    )?;
    Ok(caller.with_auth_time(auth_time))
}

fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

fn describe(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: serde_json::Value) -> Result<Caller, AuthError> {
        into_caller(serde_json::from_value(json).unwrap(), None)
    }

    #[test]
    fn auth_time_comes_from_the_answer_else_from_the_token() {
        let json = serde_json::json!({"user_id": "u1", "auth_time": 1_700_000_000});
        let from_answer = into_caller(serde_json::from_value(json).unwrap(), Some(5)).unwrap();
        let from_token = into_caller(
            serde_json::from_value(serde_json::json!({"user_id": "u1"})).unwrap(),
            Some(5),
        )
        .unwrap();
        assert_eq!(from_answer.auth_time, Some(1_700_000_000));
        assert_eq!(from_token.auth_time, Some(5));
        assert_eq!(
            answer(serde_json::json!({"user_id": "u1"}))
                .unwrap()
                .auth_time,
            None
        );
    }

    #[test]
    fn scopes_may_be_an_array_or_a_space_separated_string() {
        let a = answer(serde_json::json!({"user_id": "u1", "roles": ["service"], "scopes": ["a:read", "b:read"]}))
            .unwrap();
        let b = answer(
            serde_json::json!({"sub": "u1", "roles": ["service"], "scopes": "a:read b:read"}),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.scopes, vec!["a:read", "b:read"]);
    }

    #[test]
    fn user_id_wins_over_sub_and_roles_and_scopes_are_optional() {
        let caller = answer(serde_json::json!({"user_id": "u1", "sub": "other"})).unwrap();
        assert_eq!(caller.user_id, "u1");
        assert!(caller.roles.is_empty() && caller.scopes.is_empty());
    }

    #[test]
    fn a_user_id_outside_the_allowed_length_is_refused() {
        assert_eq!(
            answer(serde_json::json!({"user_id": "x".repeat(129)})),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn the_cache_key_is_a_hash_not_the_token() {
        let key = hash("header.payload.signature");
        assert_eq!(key.len(), 32);
        assert_ne!(&key[..], b"header.payload.signature".as_slice());
    }
}
