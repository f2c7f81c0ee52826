//! Token verification: local keys first (HS256 with `JWT_SECRET`, RS256/ES256 with the JWKS keys), then the
//! auth service for tokens no local key can judge. Every verdict is counted in `auth_verifications_total`.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::{
    auth::{
        breaker::{BreakerState, CircuitBreaker},
        caller::{AuthError, Caller},
        fetch::http_client,
        jwks::{Jwks, Lookup, VerifyingKey},
        remote::{RemoteVerifier, Unverified},
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
    /// When the user last authenticated (OpenID Connect), seconds since the epoch; destructive self-service
    /// needs it recent (`REAUTH_MAX_AGE_SECONDS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
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
        let auth_time = claims.auth_time;
        Self::from_parts(claims.sub, &claims.roles, scopes).map(|c| c.with_auth_time(auth_time))
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
    max_token_bytes: usize,
    jwks: Option<Jwks>,
    remote: Option<RemoteVerifier>,
    /// One breaker for every call to the auth service, JWKS and remote verification alike.
    breaker: Option<Arc<CircuitBreaker>>,
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
        let breaker = needs_http.then(|| {
            Arc::new(CircuitBreaker::new(
                config.auth_breaker_failure_threshold,
                config.auth_breaker_reset,
            ))
        });
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
                max_lifetime: config.jwt_max_lifetime_seconds,
                issuer: config.jwt_issuer.clone(),
                audience: config.jwt_audience.clone(),
            },
            max_token_bytes: config.jwt_max_token_bytes,
            jwks: config
                .jwt_jwks_url
                .clone()
                .zip(client.clone())
                .zip(breaker.clone())
                .map(|((url, client), breaker)| Jwks::new(url, client, breaker)),
            remote: client
                .zip(breaker.clone())
                .and_then(|(client, breaker)| RemoteVerifier::new(config, client, breaker)),
            breaker,
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

    /// The auth service's breaker state, and whether any call to the service has succeeded since start-up;
    /// `None` when neither `JWT_JWKS_URL` nor `AUTH_SERVICE_URL` is configured.
    pub fn auth_service_state(&self) -> Option<(BreakerState, bool)> {
        self.breaker.as_ref().map(|b| (b.state(), b.reached()))
    }

    /// Loads the JWKS ahead of the first request; a failure is logged, never fatal.
    pub async fn warm_up(&self) {
        if let Some(jwks) = &self.jwks {
            jwks.warm_up().await;
        }
    }

    async fn judge(&self, token: &str) -> (&'static str, Result<Caller, AuthError>) {
        // Before any decoding or call: an oversized token costs nothing but this comparison.
        if token.len() > self.max_token_bytes {
            return (LOCAL, Err(AuthError::Invalid));
        }
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
        let unverified = match self.rules.check_unverified(token) {
            Ok(unverified) => unverified,
            Err(err) => return (LOCAL, Err(err)),
        };
        match (&self.remote, &self.jwks) {
            (Some(remote), _) => match remote.cached(token) {
                Some(caller) => (CACHED, Ok(caller)),
                None => (REMOTE, remote.verify(token, unverified).await),
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
        self.accept(data.claims)
    }

    /// The last checks on claims whose signature was verified: the lifetime cap, then the caller they name.
    fn accept(&self, claims: Claims) -> Result<Caller, AuthError> {
        self.rules
            .check_lifetime(claims.exp, claims.iat, unix_now())?;
        Caller::from_claims(claims)
    }

    /// Without a `kid` several keys may fit: the first whose signature matches decides.
    fn decode_with_any(&self, token: &str, keys: &[VerifyingKey]) -> Result<Caller, AuthError> {
        for key in keys {
            match jsonwebtoken::decode::<Claims>(token, &key.key, self.validation_for(key.alg)) {
                Err(err) if is_key_mismatch(&err) => {}
                Err(err) => return Err(map_jwt_error(&err)),
                Ok(data) => return self.accept(data.claims),
            }
        }
        Err(AuthError::Invalid)
    }
}

/// The claim rules checked on a token no local key can verify, before asking the auth service.
#[derive(Debug)]
struct ClaimRules {
    leeway: u64,
    max_lifetime: u64,
    issuer: Option<String>,
    audience: Option<String>,
}

#[derive(Deserialize)]
struct UnverifiedClaims {
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    iss: Option<String>,
    aud: Option<serde_json::Value>,
    auth_time: Option<u64>,
}

impl ClaimRules {
    /// Checks `exp`, `nbf`, the lifetime, `iss` and `aud` of a token whose signature is not checked here;
    /// returns its `exp` and `auth_time`.
    fn check_unverified(&self, token: &str) -> Result<Unverified, AuthError> {
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
        self.check_lifetime(exp, claims.iat, now)?;
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
        Ok(Unverified {
            exp,
            auth_time: claims.auth_time,
        })
    }

    /// A token may live at most `JWT_MAX_LIFETIME_SECONDS`: from `iat` to `exp` when it says when it was
    /// issued, and from now to `exp` in any case (with the leeway for clock skew), so neither a missing nor a
    /// future `iat` stretches it.
    fn check_lifetime(&self, exp: u64, iat: Option<u64>, now: u64) -> Result<(), AuthError> {
        let too_long = iat.is_some_and(|iat| exp.saturating_sub(iat) > self.max_lifetime)
            || exp.saturating_sub(now) > self.max_lifetime.saturating_add(self.leeway);
        if too_long {
            Err(AuthError::Invalid)
        } else {
            Ok(())
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &str = "unit-test-secret-0123456789abcdefghij";

    fn verifier(vars: &[(&str, &str)]) -> TokenVerifier {
        let mut all = vec![("DATABASE_URL", "sqlite::memory:"), ("JWT_SECRET", SECRET)];
        all.extend_from_slice(vars);
        TokenVerifier::new(&Config::from_vars(all).unwrap())
    }

    /// A verifier with no key at all: every token goes through the unverified claim checks.
    fn keyless_verifier() -> TokenVerifier {
        TokenVerifier::new(&Config::from_vars([("DATABASE_URL", "sqlite::memory:")]).unwrap())
    }

    fn verify(verifier: &TokenVerifier, token: &str) -> Result<Caller, AuthError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(verifier.verify(token))
    }

    fn signed(claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_token_living_longer_than_the_maximum_is_invalid() {
        let verifier = verifier(&[("JWT_MAX_LIFETIME_SECONDS", "3600")]);
        let now = unix_now();
        let within = json!({"sub": "u1", "iat": now, "exp": now + 3600});
        let beyond = json!({"sub": "u1", "iat": now, "exp": now + 3601});
        let no_iat_beyond = json!({"sub": "u1", "exp": now + 3600 + 30 + 5});
        let future_iat = json!({"sub": "u1", "iat": now + 86_400, "exp": now + 86_400 + 60});

        assert!(verify(&verifier, &signed(&within)).is_ok());
        assert_eq!(verify(&verifier, &signed(&beyond)), Err(AuthError::Invalid));
        assert_eq!(
            verify(&verifier, &signed(&no_iat_beyond)),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            verify(&verifier, &signed(&future_iat)),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn the_lifetime_is_also_capped_for_tokens_no_local_key_can_judge() {
        let now = unix_now();
        let long = format!(
            "{}.{}.sig",
            b64(br#"{"alg":"RS384","typ":"JWT"}"#),
            b64(
                json!({"sub": "u1", "iat": now, "exp": now + 31 * 365 * 86_400})
                    .to_string()
                    .as_bytes()
            )
        );
        let rules = ClaimRules {
            leeway: 30,
            max_lifetime: 86_400,
            issuer: None,
            audience: None,
        };
        assert_eq!(rules.check_unverified(&long), Err(AuthError::Invalid));
    }

    #[test]
    fn a_token_larger_than_the_maximum_is_invalid_before_it_is_parsed() {
        let verifier = verifier(&[("JWT_MAX_TOKEN_BYTES", "256")]);
        let now = unix_now();
        let small = signed(&json!({"sub": "u1", "exp": now + 60}));
        let padded = signed(&json!({"sub": "u1", "exp": now + 60, "pad": "x".repeat(256)}));

        assert!(verify(&verifier, &small).is_ok());
        assert_eq!(verify(&verifier, &padded), Err(AuthError::Invalid));
    }

    /// Claims of every shape a token might carry, valid or not.
    fn arbitrary_claims() -> impl Strategy<Value = Value> {
        let now = unix_now() as i64;
        let number = prop_oneof![
            Just(Value::Null),
            (now - 1_000..now + 100_000).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
        ];
        let text = prop_oneof![
            Just(Value::Null),
            ".{0,200}".prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            proptest::collection::vec(".{0,5}", 0..3).prop_map(Value::from),
        ];
        (
            text.clone(),
            number.clone(),
            number.clone(),
            number,
            text.clone(),
            text,
        )
            .prop_map(|(sub, exp, iat, nbf, roles, scope)| {
                let mut claims = serde_json::Map::new();
                for (name, value) in [
                    ("sub", sub),
                    ("exp", exp),
                    ("iat", iat),
                    ("nbf", nbf),
                    ("roles", roles),
                    ("scope", scope),
                ] {
                    if !value.is_null() {
                        claims.insert(name.into(), value);
                    }
                }
                Value::Object(claims)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any string at all as a bearer token is refused as a bad token, never as an outage and never by a panic.
        #[test]
        fn arbitrary_strings_are_invalid_tokens(token in prop_oneof![any::<String>(), "[A-Za-z0-9_=.-]{0,400}"]) {
            for verifier in [verifier(&[]), keyless_verifier()] {
                let verdict = verify(&verifier, &token);
                prop_assert!(matches!(verdict, Err(AuthError::Invalid | AuthError::Expired)), "{:?}", verdict);
            }
        }

        /// Three well-encoded parts with arbitrary JSON in the header and claims, unsigned by our key.
        #[test]
        fn arbitrary_headers_and_claims_are_invalid_tokens(
            alg in prop_oneof![
                proptest::sample::select(&["HS256", "none", "RS256", "ES256", "RS384"][..]).prop_map(String::from),
                ".{0,6}",
            ],
            kid in proptest::option::of(".{0,20}"),
            claims in arbitrary_claims(),
            signature in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
            let token = format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()), b64(&signature));
            for verifier in [verifier(&[]), keyless_verifier()] {
                let verdict = verify(&verifier, &token);
                prop_assert!(matches!(verdict, Err(AuthError::Invalid | AuthError::Expired)), "{:?}", verdict);
            }
        }

        /// Correctly signed tokens with arbitrary claims: a caller only when `sub` is a string of 1-128 characters.
        #[test]
        fn signed_tokens_with_arbitrary_claims_name_their_sub_or_are_refused(claims in arbitrary_claims()) {
            match verify(&verifier(&[]), &signed(&claims)) {
                Ok(caller) => {
                    prop_assert_eq!(Some(caller.user_id.as_str()), claims["sub"].as_str());
                    prop_assert!((1..=128).contains(&caller.user_id.chars().count()));
                }
                Err(err) => prop_assert!(matches!(err, AuthError::Invalid | AuthError::Expired), "{:?}", err),
            }
        }
    }
}
