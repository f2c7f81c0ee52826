//! The command line: `serve` (default), `migrate`, `token`, `openapi`, `healthcheck`.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::{
    auth::{
        dev_secret,
        jwt::{Claims, mint_hs256},
    },
    clock::unix_now,
    config::Config,
    db::Db,
};

#[derive(Debug, Parser)]
#[command(name = "user-profile-service", version, about = "User Profile Service")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Mint a development JWT signed with the configured secret (refused in production).
    Token {
        /// The user id (`sub` claim).
        #[arg(long)]
        sub: String,
        /// A role: user, service or admin; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Space-separated scopes, e.g. "addresses:read preferences:read".
        #[arg(long)]
        scope: Option<String>,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
        /// When the user logged in (`auth_time` claim): `now` (the default, like a fresh login), seconds since
        /// the epoch, or `none` (no claim: erasing the profile or changing the email is then refused).
        #[arg(long, default_value = "now", value_parser = parse_auth_time)]
        auth_time: AuthTime,
    },
    /// Print the OpenAPI document as JSON.
    Openapi,
    /// Exit 0 when the local server answers `/health` (for container health checks).
    Healthcheck,
}

/// The `auth_time` a development token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthTime {
    /// The moment the token is minted.
    Now,
    /// Seconds since the epoch.
    At(u64),
    /// No `auth_time` claim.
    Absent,
}

/// Parses `now`, `none` or seconds since the epoch.
pub fn parse_auth_time(raw: &str) -> Result<AuthTime, String> {
    match raw.trim() {
        "now" => Ok(AuthTime::Now),
        "none" => Ok(AuthTime::Absent),
        secs => secs
            .parse()
            .map(AuthTime::At)
            .map_err(|_| format!("`{raw}` is not `now`, `none` or seconds since the epoch")),
    }
}

/// Parses `90s`, `30m`, `1h`, `7d` (or plain seconds).
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration like 30m, 1h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("`{raw}` is not a duration like 30m, 1h or 7d")),
    };
    if secs == 0 {
        return Err("the lifetime must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Loads the configuration and, in development with no key configured, the generated secret
/// (returning where it is kept, so the caller can say so once logging runs).
pub fn load_config() -> anyhow::Result<(Config, Option<std::path::PathBuf>)> {
    let mut config = Config::from_env()?;
    let secret_file =
        dev_secret::ensure(&mut config).context("cannot keep the development JWT secret")?;
    Ok((config, secret_file))
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(config)
        .await
        .context("cannot connect to the database")?;
    db.migrate().await.context("migrations failed")?;
    db.close().await;
    Ok(())
}

pub fn token(
    config: &Config,
    sub: String,
    roles: Vec<String>,
    scope: Option<String>,
    ttl: Duration,
    auth_time: AuthTime,
) -> anyhow::Result<String> {
    if config.is_production() {
        bail!("`token` mints development tokens and is refused when APP_ENV=production");
    }
    if ttl.as_secs() > config.jwt_max_lifetime_seconds {
        bail!(
            "--ttl is longer than JWT_MAX_LIFETIME_SECONDS ({} s): the service would refuse the token",
            config.jwt_max_lifetime_seconds
        );
    }
    let secret = config
        .jwt_secret
        .as_ref()
        .context("no JWT_SECRET is configured to sign with")?;
    let now = unix_now();
    let roles = if roles.is_empty() {
        vec!["user".to_string()]
    } else {
        roles
    };
    let claims = Claims {
        sub,
        exp: now + ttl.as_secs(),
        nbf: None,
        iat: Some(now),
        roles,
        scope,
        iss: config.jwt_issuer.clone(),
        aud: config.jwt_audience.clone().map(serde_json::Value::String),
        auth_time: match auth_time {
            AuthTime::Now => Some(now),
            AuthTime::At(at) => Some(at),
            AuthTime::Absent => None,
        },
    };
    Ok(mint_hs256(secret.expose(), &claims)?)
}

pub async fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{}/health", config.port);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    if !response.status().is_success() {
        bail!("{url} answered {}", response.status());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_accepts_units_and_refuses_nonsense() {
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(604800));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("h").is_err());
    }

    #[test]
    fn auth_time_is_now_seconds_or_none() {
        assert_eq!(parse_auth_time("now"), Ok(AuthTime::Now));
        assert_eq!(
            parse_auth_time("1700000000"),
            Ok(AuthTime::At(1_700_000_000))
        );
        assert_eq!(parse_auth_time("none"), Ok(AuthTime::Absent));
        assert!(parse_auth_time("yesterday").is_err());
        assert!(parse_auth_time("-5").is_err());
    }

    #[test]
    fn the_token_carries_auth_time_now_unless_told_otherwise() {
        let config =
            Config::from_vars([("JWT_SECRET", "cli-test-secret-0123456789abcdefghij")]).unwrap();
        let claims = |auth_time| {
            let token = token(
                &config,
                "u1".into(),
                vec![],
                None,
                Duration::from_secs(60),
                auth_time,
            )
            .unwrap();
            let payload = token.split('.').nth(1).unwrap();
            let bytes =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                    .unwrap();
            serde_json::from_slice::<Claims>(&bytes).unwrap()
        };
        let before = unix_now();

        let now = claims(AuthTime::Now);

        assert!(
            now.auth_time
                .is_some_and(|at| at >= before && at <= unix_now())
        );
        assert_eq!(claims(AuthTime::At(42)).auth_time, Some(42));
        assert_eq!(claims(AuthTime::Absent).auth_time, None);
    }

    #[test]
    fn token_refuses_a_lifetime_the_service_would_refuse() {
        let config = Config::from_vars([
            ("JWT_SECRET", "cli-test-secret-0123456789abcdefghij"),
            ("JWT_MAX_LIFETIME_SECONDS", "3600"),
        ])
        .unwrap();

        let err = token(
            &config,
            "u1".into(),
            vec![],
            None,
            Duration::from_secs(3601),
            AuthTime::Now,
        )
        .unwrap_err();

        assert!(
            err.to_string()
                .contains("JWT_MAX_LIFETIME_SECONDS (3600 s)"),
            "{err}"
        );
        assert!(
            token(
                &config,
                "u1".into(),
                vec![],
                None,
                Duration::from_secs(3600),
                AuthTime::Now,
            )
            .is_ok()
        );
    }
}
