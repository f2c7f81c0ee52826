//! Who is calling: the `Caller`, its roles and scopes, token verification, and the policy of who may do what.
//! Knows nothing of HTTP routing or the app state: `http::caller` extracts a `Caller` and answers its errors.
//!
//! Inside `auth`, imports run one way, each module using only those listed above it:
//! - `caller`     Caller, Role, AuthError, Denied and the access policy
//! - `breaker`    the circuit breaker of remote verification
//! - `fetch`      the HTTP client and the size-limited body reader
//! - `jwks`       <- `fetch`
//! - `remote`     <- `caller`, `breaker`, `fetch`
//! - `jwt`        <- `caller`, `breaker`, `fetch`, `jwks`, `remote`
//! - `dev_secret` stands alone: the development `JWT_SECRET`

pub mod breaker;
pub mod caller;
pub mod dev_secret;
mod fetch;
pub mod jwks;
pub mod jwt;
pub mod remote;

pub use caller::{AuthError, Caller, Denied, Role, StaleLogin, scopes};
pub use jwt::{Claims, TokenVerifier};
