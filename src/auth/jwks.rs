//! The auth service's public keys from `JWT_JWKS_URL`: fetched on first need, cached by `kid`, refreshed when a
//! token names an unknown `kid` (at most once per interval, concurrent callers sharing one fetch).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use anyhow::Context;
use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse},
};
use reqwest::Url;
use serde::Deserialize;

use crate::auth::{
    breaker::CircuitBreaker,
    fetch::{self, read_body},
};

/// Least time between two refreshes caused by unknown `kid`s, and between attempts after a failed fetch.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Keys older than this are reloaded on next use, so a key removed from the set stops working even when no
/// unknown `kid` comes along.
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// Largest JWKS document accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// A public key and the one algorithm it verifies; the key decides the algorithm, never the token.
#[derive(Clone)]
pub struct VerifyingKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

/// What the key set says about a token's `kid` and `alg`.
pub enum Lookup {
    /// Keys that may have signed the token: the one its `kid` names, or without a `kid` every key of its algorithm.
    Found(Vec<VerifyingKey>),
    /// The `kid` names a key of another algorithm (algorithm confusion).
    WrongAlgorithm,
    /// No key, even after a refresh; `fetch_failed` when the last fetch of the set failed.
    Unknown { fetch_failed: bool },
}

#[derive(Default)]
struct KeySet {
    keys: Arc<HashMap<String, VerifyingKey>>,
    fetched_at: Option<Instant>,
    failed_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// Never loaded, or older than [`MAX_AGE`].
    Stale,
    /// A token names a `kid` the set does not have.
    UnknownKid,
}

pub struct Jwks {
    url: Url,
    client: reqwest::Client,
    set: RwLock<KeySet>,
    /// Held during a fetch, so concurrent callers wait for it instead of fetching again; holds the time of the
    /// last refresh caused by an unknown `kid`.
    refresh: tokio::sync::Mutex<Option<Instant>>,
    /// The auth service's breaker, shared with remote verification: a hung service costs one timeout.
    breaker: Arc<CircuitBreaker>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.url.as_str())
            .field("keys", &self.read().keys.len())
            .finish_non_exhaustive()
    }
}

impl Jwks {
    pub fn new(url: Url, client: reqwest::Client, breaker: Arc<CircuitBreaker>) -> Self {
        Jwks {
            url,
            client,
            breaker,
            set: RwLock::new(KeySet::default()),
            refresh: tokio::sync::Mutex::new(None),
        }
    }

    /// Finds the keys for a token's `kid` (or, without one, its algorithm), refreshing the set once when the
    /// `kid` is unknown.
    pub async fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        let started = Instant::now();
        self.ensure_fresh(started).await;
        if let Some(found) = self.lookup(kid, alg) {
            return found;
        }
        self.refresh(started, Reason::UnknownKid).await;
        self.lookup(kid, alg).unwrap_or_else(|| Lookup::Unknown {
            fetch_failed: self.read().failed_at.is_some(),
        })
    }

    /// Whether `kid` names a key of the set (loading the set first when it was never loaded).
    pub async fn knows(&self, kid: &str) -> bool {
        self.ensure_fresh(Instant::now()).await;
        self.read().keys.contains_key(kid)
    }

    /// Loads the set now; a failure is logged and remembered, never fatal.
    pub async fn warm_up(&self) {
        self.ensure_fresh(Instant::now()).await;
    }

    /// Seconds until the next fetch may be tried after a failed one.
    pub fn retry_after_secs(&self) -> u64 {
        let waited = self
            .read()
            .failed_at
            .map(|t| t.elapsed())
            .unwrap_or(MIN_REFRESH_INTERVAL);
        (MIN_REFRESH_INTERVAL
            .saturating_sub(waited)
            .as_millis()
            .div_ceil(1000) as u64)
            .max(1)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.set
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Option<Lookup> {
        let set = self.read();
        match kid {
            Some(kid) => set.keys.get(kid).map(|key| {
                if key.alg == alg {
                    Lookup::Found(vec![key.clone()])
                } else {
                    Lookup::WrongAlgorithm
                }
            }),
            None => {
                let keys: Vec<_> = set
                    .keys
                    .values()
                    .filter(|k| k.alg == alg)
                    .cloned()
                    .collect();
                (!keys.is_empty()).then_some(Lookup::Found(keys))
            }
        }
    }

    async fn ensure_fresh(&self, started: Instant) {
        if self
            .read()
            .fetched_at
            .is_some_and(|t| t.elapsed() < MAX_AGE)
        {
            return;
        }
        self.refresh(started, Reason::Stale).await;
    }

    async fn refresh(&self, started: Instant, reason: Reason) {
        let mut last_unknown_kid_refresh = self.refresh.lock().await;
        {
            let set = self.read();
            // Fetched while this request waited for the lock, or earlier in it: as fresh as it gets.
            if set.fetched_at.is_some_and(|t| t >= started) {
                return;
            }
            // The endpoint just failed: do not hammer it.
            if set
                .failed_at
                .is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL)
            {
                return;
            }
            let too_soon = match reason {
                Reason::Stale => set.fetched_at.is_some_and(|t| t.elapsed() < MAX_AGE),
                Reason::UnknownKid => {
                    last_unknown_kid_refresh.is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL)
                }
            };
            if too_soon {
                return;
            }
        }
        if reason == Reason::UnknownKid {
            *last_unknown_kid_refresh = Some(Instant::now());
        }
        let result = match self.breaker.try_acquire() {
            Ok(permit) => {
                let result = fetch::traced("auth jwks", self.fetch()).await;
                match &result {
                    Ok(_) => permit.success(),
                    Err(_) => {
                        permit.failure();
                    }
                }
                result
            }
            Err(_) => Err(anyhow::anyhow!(
                "the auth service's circuit breaker is open"
            )),
        };
        let mut set = self
            .set
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), reason = ?reason, "JWKS loaded");
                set.keys = Arc::new(keys);
                set.fetched_at = Some(Instant::now());
                set.failed_at = None;
            }
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "cannot fetch the JWKS; keeping the keys already loaded");
                set.failed_at = Some(Instant::now());
            }
        }
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, VerifyingKey>> {
        let response = fetch::request(&self.client, self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .context("request failed")?;
        let status = response.status();
        fetch::record_status(status);
        if !status.is_success() {
            anyhow::bail!("answered {status}");
        }
        let body = read_body(response, MAX_BODY_BYTES).await?;
        let document: JwksDocument =
            serde_json::from_slice(&body).context("not a JWKS document")?;
        Ok(parse_keys(document))
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// Keeps the keys this service can use: RSA keys for RS256 and P-256 keys for ES256, with a `kid`, meant for
/// signatures. Others are skipped one by one, so one odd key does not break the set.
fn parse_keys(document: JwksDocument) -> HashMap<String, VerifyingKey> {
    let mut keys = HashMap::new();
    for raw in document.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            tracing::debug!("JWKS entry skipped: not a JWK");
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::debug!("JWKS entry skipped: no kid");
            continue;
        };
        match verifying_key(&jwk) {
            Some(key) => {
                keys.insert(kid, key);
            }
            None => tracing::debug!(kid, "JWKS entry skipped: not an RS256/ES256 signing key"),
        }
    }
    keys
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    if jwk
        .common
        .key_algorithm
        .is_some_and(|declared| declared != KeyAlgorithm::from(alg))
    {
        return None;
    }
    DecodingKey::from_jwk(jwk)
        .ok()
        .map(|key| VerifyingKey { alg, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: serde_json::Value) -> HashMap<String, VerifyingKey> {
        parse_keys(serde_json::from_value(value).unwrap())
    }

    const N: &str = "qIB6EX00JzTL42UDK0xIx7ARXw1M23lViJAjPFYodFg";
    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    #[test]
    fn rsa_keys_serve_rs256_and_p256_keys_es256_only() {
        let keys = parse(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r", "n": N, "e": "AQAB"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": X, "y": Y, "alg": "ES256", "use": "sig"},
        ]}));
        assert_eq!(keys["r"].alg, Algorithm::RS256);
        assert_eq!(keys["e"].alg, Algorithm::ES256);
    }

    #[test]
    fn keys_this_service_cannot_use_safely_are_skipped() {
        let keys = parse(serde_json::json!({"keys": [
            {"kty": "RSA", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "es", "alg": "ES256", "n": N, "e": "AQAB"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": X, "y": Y},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": N, "e": "AQAB"},
            {"kty": "weird", "kid": "w"},
            "not even an object",
            {"kty": "RSA", "kid": "good", "alg": "RS256", "use": "sig", "n": N, "e": "AQAB"},
        ]}));
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["good"]);
    }
}
