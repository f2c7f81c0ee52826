//! Outgoing HTTP to the auth service: the client with our settings and a body reader with a size limit.

use anyhow::Context;

use crate::config::Config;

/// The client for the JWKS and the verification endpoint.
pub fn http_client(config: &Config) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(config.auth_service_timeout)
        // A redirect would carry the bearer token somewhere we did not configure.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("user-profile-service/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot build the auth HTTP client with our settings; using defaults");
            reqwest::Client::new()
        })
}

/// Reads a response body, refusing one larger than `limit` bytes.
pub async fn read_body(mut response: reqwest::Response, limit: usize) -> anyhow::Result<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        anyhow::bail!("answer larger than {limit} bytes");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.context("reading the answer")? {
        if body.len() + chunk.len() > limit {
            anyhow::bail!("answer larger than {limit} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
