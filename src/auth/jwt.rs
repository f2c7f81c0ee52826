//! Token verification: local keys first (HS256 with `JWT_SECRET`, RS256/ES256 with the JWKS keys), then the
//! auth service for tokens no local key can judge. Every verdict is counted in `auth_verifications_total`.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::{
    auth::{
        breaker::BreakerState,
        caller::{AuthError, Caller},
        fetch::http_client,
        jwks::{Jwks, Lookup, VerifyingKey},
        remote::RemoteVerifier,
    },
    config::Config,
};

/// Kept at this path for the `token` command and the tests, which mint tokens with it.
use crate::clock::unix_now;

/// The claims the service reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
}

impl Caller {
    /// Builds a caller from verified claims; a `sub` outside 1-128 characters makes the token invalid. Kept
    /// beside `Claims`, so `caller` knows nothing of tokens.
    pub fn from_claims(claims: Claims) -> Result<Self, AuthError> {
        let scopes = claims
            .scope
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Self::from_parts(claims.sub, &claims.roles, scopes)
    }
}

/// The `method` label of `auth_verifications_total`: who judged the token.
const LOCAL: &str = "local";
const JWKS: &str = "jwks";
const REMOTE: &str = "remote";
const CACHED: &str = "cached";

/// Verifies bearer tokens and turns them into callers.
pub struct TokenVerifier {
    hs256: Option<DecodingKey>,
    hs256_validation: Validation,
    rs256_validation: Validation,
    es256_validation: Validation,
    rules: ClaimRules,
    jwks: Option<Jwks>,
    remote: Option<RemoteVerifier>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("hs256", &self.hs256.is_some())
            .field("jwks", &self.jwks)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    pub fn new(config: &Config) -> Self {
        let needs_http = config.jwt_jwks_url.is_some() || config.auth_service_url.is_some();
        let client = needs_http.then(|| http_client(config));
        TokenVerifier {
            hs256: config
                .jwt_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.expose().as_bytes())),
            hs256_validation: validation(config, Algorithm::HS256),
            rs256_validation: validation(config, Algorithm::RS256),
            es256_validation: validation(config, Algorithm::ES256),
            rules: ClaimRules {
                leeway: config.jwt_leeway_seconds,
                issuer: config.jwt_issuer.clone(),
                audience: config.jwt_audience.clone(),
            },
            jwks: config
                .jwt_jwks_url
                .clone()
                .zip(client.clone())
                .map(|(url, client)| Jwks::new(url, client)),
            remote: client.and_then(|client| RemoteVerifier::new(config, client)),
        }
    }

    /// Verifies a token and returns the caller it names.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let (method, result) = self.judge(token).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(AuthError::Invalid | AuthError::Expired) => "failed",
            Err(AuthError::Unavailable { .. }) => "unavailable",
        };
        metrics::counter!("auth_verifications_total", "method" => method, "outcome" => outcome)
            .increment(1);
        result
    }

    /// The remote verification breaker's state; `None` when no `AUTH_SERVICE_URL` is configured.
    pub fn remote_breaker_state(&self) -> Option<BreakerState> {
        self.remote.as_ref().map(RemoteVerifier::breaker_state)
    }

    /// Loads the JWKS ahead of the first request; a failure is logged, never fatal.
    pub async fn warm_up(&self) {
        if let Some(jwks) = &self.jwks {
            jwks.warm_up().await;
        }
    }

    async fn judge(&self, token: &str) -> (&'static str, Result<Caller, AuthError>) {
        // `alg: none` and unknown algorithms fail here: jsonwebtoken has no such `Algorithm`.
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return (LOCAL, Err(AuthError::Invalid));
        };
        let mut jwks_unreachable = false;
        match (header.alg, &self.hs256, &self.jwks) {
            (Algorithm::HS256, Some(secret), _) => {
                return (LOCAL, self.decode(token, secret, Algorithm::HS256));
            }
            (Algorithm::RS256 | Algorithm::ES256, _, Some(jwks)) => {
                match jwks.find(header.kid.as_deref(), header.alg).await {
                    Lookup::Found(keys) => return (JWKS, self.decode_with_any(token, &keys)),
                    Lookup::WrongAlgorithm => return (JWKS, Err(AuthError::Invalid)),
                    Lookup::Unknown { fetch_failed } => jwks_unreachable = fetch_failed,
                }
            }
            (_, _, Some(jwks)) => {
                // A `kid` of our key set on a token of another algorithm is algorithm confusion, not a
                // question for the auth service.
                if let Some(kid) = &header.kid {
                    if jwks.knows(kid).await {
                        return (JWKS, Err(AuthError::Invalid));
                    }
                }
            }
            _ => {}
        }
        // Claims that make the token unacceptable whatever its signature are refused here, without a call.
        let exp = match self.rules.check_unverified(token) {
            Ok(exp) => exp,
            Err(err) => return (LOCAL, Err(err)),
        };
        match (&self.remote, &self.jwks) {
            (Some(remote), _) => match remote.cached(token) {
                Some(caller) => (CACHED, Ok(caller)),
                None => (REMOTE, remote.verify(token, exp).await),
            },
            // The key may well exist: we could not ask. Retry rather than log in again.
            (None, Some(jwks)) if jwks_unreachable => (
                JWKS,
                Err(AuthError::Unavailable {
                    retry_after_secs: jwks.retry_after_secs(),
                }),
            ),
            (None, _) => (LOCAL, Err(AuthError::Invalid)),
        }
    }

    fn validation_for(&self, alg: Algorithm) -> &Validation {
        match alg {
            Algorithm::RS256 => &self.rs256_validation,
            Algorithm::ES256 => &self.es256_validation,
            _ => &self.hs256_validation,
        }
    }

    fn decode(&self, token: &str, key: &DecodingKey, alg: Algorithm) -> Result<Caller, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, key, self.validation_for(alg))
            .map_err(|err| map_jwt_error(&err))?;
        Caller::from_claims(data.claims)
    }

    /// Without a `kid` several keys may fit: the first whose signature matches decides.
    fn decode_with_any(&self, token: &str, keys: &[VerifyingKey]) -> Result<Caller, AuthError> {
        for key in keys {
            match jsonwebtoken::decode::<Claims>(token, &key.key, self.validation_for(key.alg)) {
                Err(err) if is_key_mismatch(&err) => {}
                Err(err) => return Err(map_jwt_error(&err)),
                Ok(data) => return Caller::from_claims(data.claims),
            }
        }
        Err(AuthError::Invalid)
    }
}

/// The claim rules checked on a token no local key can verify, before asking the auth service.
#[derive(Debug)]
struct ClaimRules {
    leeway: u64,
    issuer: Option<String>,
    audience: Option<String>,
}

#[derive(Deserialize)]
struct UnverifiedClaims {
    exp: Option<u64>,
    nbf: Option<u64>,
    iss: Option<String>,
    aud: Option<serde_json::Value>,
}

impl ClaimRules {
    /// Checks `exp`, `nbf`, `iss` and `aud` of a token whose signature is not checked here; returns its `exp`.
    fn check_unverified(&self, token: &str) -> Result<u64, AuthError> {
        let payload = token.split('.').nth(1).ok_or(AuthError::Invalid)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| AuthError::Invalid)?;
        let claims: UnverifiedClaims =
            serde_json::from_slice(&bytes).map_err(|_| AuthError::Invalid)?;
        let now = unix_now();
        let exp = claims.exp.ok_or(AuthError::Invalid)?;
        if exp.saturating_add(self.leeway) < now {
            return Err(AuthError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(AuthError::Invalid);
        }
        if let Some(issuer) = &self.issuer {
            if claims.iss.as_ref() != Some(issuer) {
                return Err(AuthError::Invalid);
            }
        }
        if let Some(audience) = &self.audience {
            let matches = match &claims.aud {
                Some(serde_json::Value::String(aud)) => aud == audience,
                Some(serde_json::Value::Array(auds)) => {
                    auds.iter().any(|a| a.as_str() == Some(audience))
                }
                _ => false,
            };
            if !matches {
                return Err(AuthError::Invalid);
            }
        }
        Ok(exp)
    }
}

fn validation(config: &Config, alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = config.jwt_leeway_seconds;
    v.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    match &config.jwt_issuer {
        Some(iss) => {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        None => v.iss = None,
    }
    match &config.jwt_audience {
        Some(aud) => {
            v.set_audience(&[aud]);
            required.push("aud");
        }
        None => v.validate_aud = false,
    }
    v.set_required_spec_claims(&required);
    v
}

fn map_jwt_error(err: &jsonwebtoken::errors::Error) -> AuthError {
    match err.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        _ => AuthError::Invalid,
    }
}

/// The key did not verify the signature (as opposed to a verified token whose claims fail).
fn is_key_mismatch(err: &jsonwebtoken::errors::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::InvalidSignature
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
    )
}

/// Mints an HS256 token; used by the `token` command and the tests.
pub fn mint_hs256(secret: &str, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}
