//! Token verification: local keys first (HS256 `JWT_SECRET`), structured so JWKS keys and the remote
//! fallback plug in here without touching handlers.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::{
    auth::{AuthError, Caller},
    config::Config,
};

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

/// Verifies bearer tokens and turns them into callers.
pub struct TokenVerifier {
    hs256: Option<DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("hs256", &self.hs256.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    pub fn new(config: &Config) -> Self {
        TokenVerifier {
            hs256: config
                .jwt_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.expose().as_bytes())),
            validation: validation(config, Algorithm::HS256),
        }
    }

    /// Verifies a token and returns the caller it names.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        // `alg: none` and unknown algorithms fail here: jsonwebtoken has no such `Algorithm`.
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        match (header.alg, &self.hs256) {
            (Algorithm::HS256, Some(key)) => {
                let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                    .map_err(map_jwt_error)?;
                Caller::from_claims(data.claims)
            }
            // No local key serves this algorithm.
            _ => Err(AuthError::Invalid),
        }
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

fn map_jwt_error(err: jsonwebtoken::errors::Error) -> AuthError {
    match err.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        _ => AuthError::Invalid,
    }
}

/// Mints an HS256 token; used by the `token` command and the tests.
pub fn mint_hs256(secret: &str, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
