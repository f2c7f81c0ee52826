//! One typed configuration, read once from the environment (and `.env`), validated before anything starts.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};

use reqwest::Url;
use serde::Deserialize;

mod otel;

pub use otel::{Sampler, TraceExport};

/// Runtime mode: development is forgiving and chatty, production refuses unsafe settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A secret value whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The service configuration. Each field's doc line matches its entry in `.env.example`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `development` or `production`.
    pub app_env: AppEnv,
    /// Listen address.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// Port of a second listener that serves only `/metrics` (the main port then answers 404 there); unset:
    /// `/metrics` is served on the main port.
    pub metrics_port: Option<u16>,
    /// `sqlite:...` or `postgres://...`.
    pub database_url: Secret,
    /// Optional read replica: read-only queries of other services and admins go there.
    pub database_read_url: Option<Secret>,
    /// Pool size; unset means a sensible size per backend.
    pub database_max_connections: Option<u32>,
    /// Apply pending migrations at start-up.
    pub run_migrations: bool,
    /// Days audit events are kept; older ones are deleted hourly, in batches. `None` (0) keeps them forever.
    pub audit_retention: Option<Duration>,
    /// How long an `Idempotency-Key` and its kept answer live (`IDEMPOTENCY_TTL_HOURS`, 1 to 720 hours);
    /// older keys count as unused and are deleted hourly.
    pub idempotency_ttl: Duration,
    /// HS256 key shared with the auth service.
    pub jwt_secret: Option<Secret>,
    /// JWKS endpoint of the auth service (RS256/ES256 keys).
    pub jwt_jwks_url: Option<Url>,
    /// Expected `iss` claim, validated when set.
    pub jwt_issuer: Option<String>,
    /// Expected `aud` claim, validated when set.
    pub jwt_audience: Option<String>,
    /// Clock skew allowed on `exp`/`nbf`.
    pub jwt_leeway_seconds: u64,
    /// Longest token lifetime accepted, in seconds: `exp - iat`, and `exp - now` (plus the leeway).
    pub jwt_max_lifetime_seconds: u64,
    /// Largest bearer token accepted, in bytes; a longer one is refused before it is parsed.
    pub jwt_max_token_bytes: usize,
    /// Erasing your profile or changing your email needs a login (`auth_time`) at most this many seconds old;
    /// 0 turns the check off.
    pub reauth_max_age_seconds: u64,
    /// Base URL of the auth service, for remote verification.
    pub auth_service_url: Option<Url>,
    /// The auth service's verification endpoint.
    pub auth_verify_path: String,
    /// Timeout of each remote verification call.
    pub auth_service_timeout: Duration,
    /// Consecutive remote failures that open the circuit breaker.
    pub auth_breaker_failure_threshold: u32,
    /// How long the breaker stays open before one trial call.
    pub auth_breaker_reset: Duration,
    /// Enables the profile read cache.
    pub redis_url: Option<Secret>,
    /// How long a cached read lives in Redis.
    pub redis_cache_ttl: Duration,
    /// Longest a request waits for Redis before using the database instead.
    pub redis_timeout: Duration,
    /// Comma-separated origins allowed by CORS; empty means CORS is off.
    pub cors_allowed_origins: Vec<String>,
    /// Per-request time limit.
    pub request_timeout: Duration,
    /// How long connections may take and how many may be open (`HTTP_*`).
    pub connections: ConnectionLimits,
    /// Per-caller request budgets (`RATE_LIMIT_*`).
    pub rate_limits: RateLimits,
    /// After SIGTERM/SIGINT, the longest the process takes to exit: requests in flight finish, then the pools
    /// close; whatever is still running at the end is abandoned.
    pub shutdown_timeout: Duration,
    /// After SIGTERM/SIGINT, how long the service keeps serving with readiness answering 503 before it stops
    /// accepting connections, so that load balancers stop sending traffic first; 0 stops at once.
    pub shutdown_delay: Duration,
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// Where the development SQLite file and the generated development JWT secret live.
    pub data_dir: PathBuf,
    /// Serve Swagger UI at `/docs` and the OpenAPI document at `/api-docs/openapi.json`.
    pub docs_enabled: bool,
    /// The change feed: retention and the NATS JetStream relay (docs/events.md).
    pub events: EventSettings,
    /// Export of traces over OTLP/HTTP (`OTEL_*`); `None` (no `OTEL_EXPORTER_OTLP_ENDPOINT`): nothing exported.
    pub traces: Option<TraceExport>,
}

/// The raw variables as strings; everything is parsed and checked in [`Config::from_raw`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    app_env: Option<String>,
    host: Option<String>,
    port: Option<String>,
    metrics_port: Option<String>,
    database_url: Option<String>,
    database_read_url: Option<String>,
    database_max_connections: Option<String>,
    run_migrations: Option<String>,
    audit_retention_days: Option<String>,
    idempotency_ttl_hours: Option<String>,
    jwt_secret: Option<String>,
    jwt_jwks_url: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    jwt_leeway_seconds: Option<String>,
    jwt_max_lifetime_seconds: Option<String>,
    jwt_max_token_bytes: Option<String>,
    reauth_max_age_seconds: Option<String>,
    auth_service_url: Option<String>,
    auth_verify_path: Option<String>,
    auth_service_timeout_ms: Option<String>,
    auth_breaker_failure_threshold: Option<String>,
    auth_breaker_reset_seconds: Option<String>,
    redis_url: Option<String>,
    redis_cache_ttl_seconds: Option<String>,
    redis_timeout_ms: Option<String>,
    cors_allowed_origins: Option<String>,
    request_timeout_seconds: Option<String>,
    http_header_read_timeout_seconds: Option<String>,
    http_idle_timeout_seconds: Option<String>,
    http_max_connections: Option<String>,
    rate_limit_enabled: Option<String>,
    rate_limit_writes_per_minute: Option<String>,
    rate_limit_reads_per_minute: Option<String>,
    rate_limit_client_ip_header: Option<String>,
    shutdown_timeout_seconds: Option<String>,
    shutdown_delay_seconds: Option<String>,
    log_format: Option<String>,
    data_dir: Option<String>,
    docs_enabled: Option<String>,
    events_retention_days: Option<String>,
    nats_url: Option<String>,
    nats_stream: Option<String>,
    nats_subject_prefix: Option<String>,
    otel_sdk_disabled: Option<String>,
    otel_traces_exporter: Option<String>,
    otel_exporter_otlp_endpoint: Option<String>,
    otel_exporter_otlp_traces_endpoint: Option<String>,
    otel_exporter_otlp_protocol: Option<String>,
    otel_exporter_otlp_headers: Option<String>,
    otel_exporter_otlp_timeout: Option<String>,
    otel_service_name: Option<String>,
    otel_resource_attributes: Option<String>,
    otel_traces_sampler: Option<String>,
    otel_traces_sampler_arg: Option<String>,
}

/// A configuration problem, phrased as the one line the operator sees.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

impl Config {
    /// Reads `.env` (when present) and the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_source(None)
    }

    /// Builds a configuration from explicit variables only (tests use this; the process environment is ignored).
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError> {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_source(Some(map))
    }

    fn from_source(source: Option<HashMap<String, String>>) -> Result<Self, ConfigError> {
        let env = config::Environment::default()
            .ignore_empty(true)
            .source(source.map(|m| m.into_iter().collect()));
        let raw: Raw = config::Config::builder()
            .add_source(env)
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| bad(e.to_string()))?;
        Self::from_raw(raw)
    }

    /// Parses each area in turn; the first problem found is the one reported.
    fn from_raw(mut raw: Raw) -> Result<Self, ConfigError> {
        let app_env = parse_app_env(raw.app_env.as_deref())?;
        let data_dir = PathBuf::from(raw.data_dir.take().unwrap_or_else(|| "./data".into()));
        let database = DatabaseSettings::parse(&mut raw, &data_dir)?;
        let audit_retention = parse_audit_retention(raw.audit_retention_days.take())?;
        let idempotency_ttl = parse_idempotency_ttl(raw.idempotency_ttl_hours.take())?;
        let auth = AuthSettings::parse(&mut raw, app_env)?;
        let token_limits = TokenLimits::parse(&mut raw)?;
        let cache = CacheSettings::parse(&mut raw)?;
        let http = HttpSettings::parse(&mut raw)?;
        let connections = ConnectionLimits::parse(&mut raw)?;
        let rate_limits = RateLimits::parse(&mut raw, app_env)?;
        let log_format = parse_log_format(raw.log_format.as_deref(), app_env)?;
        Ok(Config {
            app_env,
            host: http.host,
            port: http.port,
            metrics_port: http.metrics_port,
            database_url: database.url,
            database_read_url: database.read_url,
            database_max_connections: database.max_connections,
            run_migrations: database.run_migrations,
            audit_retention,
            idempotency_ttl,
            jwt_secret: auth.jwt_secret,
            jwt_jwks_url: auth.jwt_jwks_url,
            jwt_issuer: auth.jwt_issuer,
            jwt_audience: auth.jwt_audience,
            jwt_leeway_seconds: auth.jwt_leeway_seconds,
            jwt_max_lifetime_seconds: token_limits.max_lifetime_seconds,
            jwt_max_token_bytes: token_limits.max_token_bytes,
            reauth_max_age_seconds: parse_num(
                "REAUTH_MAX_AGE_SECONDS",
                raw.reauth_max_age_seconds.take(),
                300,
            )?,
            auth_service_url: auth.service_url,
            auth_verify_path: auth.verify_path,
            auth_service_timeout: auth.service_timeout,
            auth_breaker_failure_threshold: auth.breaker_failure_threshold,
            auth_breaker_reset: auth.breaker_reset,
            redis_url: cache.redis_url,
            redis_cache_ttl: cache.ttl,
            redis_timeout: cache.timeout,
            cors_allowed_origins: http.cors_allowed_origins,
            request_timeout: http.request_timeout,
            connections,
            rate_limits,
            shutdown_timeout: parse_shutdown_timeout(&mut raw)?,
            shutdown_delay: parse_shutdown_delay(&mut raw)?,
            log_format,
            data_dir,
            docs_enabled: parse_bool("DOCS_ENABLED", raw.docs_enabled.as_deref(), true)?,
            events: EventSettings::parse(&mut raw)?,
            traces: TraceExport::parse(&mut raw)?,
        })
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// True when the configuration offers no way at all to verify a token.
    pub fn has_no_token_verification(&self) -> bool {
        self.jwt_secret.is_none() && self.jwt_jwks_url.is_none() && self.auth_service_url.is_none()
    }
}

fn parse_app_env(value: Option<&str>) -> Result<AppEnv, ConfigError> {
    match value.unwrap_or("development") {
        "development" => Ok(AppEnv::Development),
        "production" => Ok(AppEnv::Production),
        other => Err(bad(format!(
            "APP_ENV must be `development` or `production`, not `{other}`"
        ))),
    }
}

fn parse_log_format(value: Option<&str>, app_env: AppEnv) -> Result<LogFormat, ConfigError> {
    match value {
        None if app_env == AppEnv::Production => Ok(LogFormat::Json),
        None => Ok(LogFormat::Pretty),
        Some("pretty") => Ok(LogFormat::Pretty),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(bad(format!(
            "LOG_FORMAT must be `pretty` or `json`, not `{other}`"
        ))),
    }
}

/// The database area of [`Config`].
struct DatabaseSettings {
    url: Secret,
    read_url: Option<Secret>,
    max_connections: Option<u32>,
    run_migrations: bool,
}

impl DatabaseSettings {
    fn parse(raw: &mut Raw, data_dir: &Path) -> Result<Self, ConfigError> {
        let url = match raw.database_url.take() {
            Some(url) => url,
            None => format!("sqlite:{}?mode=rwc", data_dir.join("profiles.db").display()),
        };
        check_database_url("DATABASE_URL", &url)?;
        let read_url = raw.database_read_url.take();
        if let Some(url) = &read_url {
            check_database_url("DATABASE_READ_URL", url)?;
        }
        Ok(Self {
            url: Secret::new(url),
            read_url: read_url.map(Secret::new),
            // 0 means unset: a sensible size per backend.
            max_connections: raw
                .database_max_connections
                .take()
                .map(|v| parse_num("DATABASE_MAX_CONNECTIONS", Some(v), 0))
                .transpose()?
                .filter(|n| *n > 0),
            run_migrations: parse_bool("RUN_MIGRATIONS", raw.run_migrations.as_deref(), true)?,
        })
    }
}

/// `AUDIT_RETENTION_DAYS`: how long audit events are kept (default 400 days; 0 keeps them forever).
fn parse_audit_retention(value: Option<String>) -> Result<Option<Duration>, ConfigError> {
    const MAX_DAYS: u64 = 36_500;
    let days: u64 = parse_num("AUDIT_RETENTION_DAYS", value, 400)?;
    if days > MAX_DAYS {
        return Err(bad(format!(
            "AUDIT_RETENTION_DAYS is at most {MAX_DAYS} (0 keeps events forever), not {days}"
        )));
    }
    Ok((days > 0).then(|| Duration::from_secs(days * 86_400)))
}

/// The change feed's settings (`EVENTS_RETENTION_DAYS`, `NATS_*`).
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// How long events stay in the feed; older ones are deleted in the background.
    pub retention: Duration,
    /// Where the relay publishes the events; `None` (no `NATS_URL`): no relay.
    pub nats: Option<NatsSettings>,
}

/// The NATS JetStream relay's settings.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// `NATS_URL`, e.g. `nats://127.0.0.1:4222` (it may hold credentials).
    pub url: Secret,
    /// The JetStream stream the relay creates when missing.
    pub stream: String,
    /// Events are published on `{prefix}.{type}`, e.g. `user_profile.address.created`.
    pub subject_prefix: String,
}

impl EventSettings {
    fn parse(raw: &mut Raw) -> Result<Self, ConfigError> {
        const MAX_DAYS: u64 = 3_650;
        let days: u64 = parse_num("EVENTS_RETENTION_DAYS", raw.events_retention_days.take(), 7)?;
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(bad(format!(
                "EVENTS_RETENTION_DAYS is between 1 and {MAX_DAYS}, not {days}"
            )));
        }
        let nats = match raw.nats_url.take() {
            None => None,
            Some(url) => Some(NatsSettings {
                url: Secret::new(url),
                stream: nats_name(
                    "NATS_STREAM",
                    raw.nats_stream.take(),
                    "USER_PROFILE_EVENTS",
                    false,
                )?,
                subject_prefix: nats_name(
                    "NATS_SUBJECT_PREFIX",
                    raw.nats_subject_prefix.take(),
                    "user_profile",
                    true,
                )?,
            }),
        };
        Ok(Self {
            retention: Duration::from_secs(days * 86_400),
            nats,
        })
    }
}

/// A stream name (letters, digits, `-`, `_`) or a subject prefix (the same, plus `.` between tokens).
fn nats_name(
    name: &str,
    value: Option<String>,
    default: &str,
    dots: bool,
) -> Result<String, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_string());
    let token_ok = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let ok = if dots {
        value.split('.').all(token_ok)
    } else {
        token_ok(&value)
    };
    if ok && value.len() <= 200 {
        Ok(value)
    } else {
        Err(bad(format!(
            "{name} holds letters, digits, `-` and `_`{}, not `{value}`",
            if dots { " (tokens joined by `.`)" } else { "" }
        )))
    }
}

/// `IDEMPOTENCY_TTL_HOURS`: how long idempotency keys are kept (default 24 hours, as Stripe; 1 to 720).
fn parse_idempotency_ttl(value: Option<String>) -> Result<Duration, ConfigError> {
    const MAX_HOURS: u64 = 720;
    let hours: u64 = parse_num("IDEMPOTENCY_TTL_HOURS", value, 24)?;
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(bad(format!(
            "IDEMPOTENCY_TTL_HOURS must be between 1 and {MAX_HOURS}, not {hours}"
        )));
    }
    Ok(Duration::from_secs(hours * 3600))
}

/// The token verification area of [`Config`]: local keys and the remote auth service.
struct AuthSettings {
    jwt_secret: Option<Secret>,
    jwt_jwks_url: Option<Url>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    jwt_leeway_seconds: u64,
    service_url: Option<Url>,
    verify_path: String,
    service_timeout: Duration,
    breaker_failure_threshold: u32,
    breaker_reset: Duration,
}

impl AuthSettings {
    fn parse(raw: &mut Raw, app_env: AppEnv) -> Result<Self, ConfigError> {
        let jwt_secret = raw.jwt_secret.take().map(Secret::new);
        if let Some(secret) = &jwt_secret {
            if app_env == AppEnv::Production {
                check_production_secret(secret.expose())?;
            }
        }
        let jwt_jwks_url = optional_http_url("JWT_JWKS_URL", raw.jwt_jwks_url.as_deref())?;
        let service_url = optional_http_url("AUTH_SERVICE_URL", raw.auth_service_url.as_deref())?;
        if app_env == AppEnv::Production
            && jwt_secret.is_none()
            && jwt_jwks_url.is_none()
            && service_url.is_none()
        {
            return Err(bad(
                "production needs a way to verify tokens: set JWT_SECRET, JWT_JWKS_URL or AUTH_SERVICE_URL",
            ));
        }
        let verify_path = raw
            .auth_verify_path
            .take()
            .unwrap_or_else(|| "/api/v1/auth/verify".into());
        if !verify_path.starts_with('/') {
            return Err(bad("AUTH_VERIFY_PATH must start with `/`"));
        }
        Ok(Self {
            jwt_secret,
            jwt_jwks_url,
            jwt_issuer: raw.jwt_issuer.take(),
            jwt_audience: raw.jwt_audience.take(),
            jwt_leeway_seconds: parse_num("JWT_LEEWAY_SECONDS", raw.jwt_leeway_seconds.take(), 30)?,
            service_url,
            verify_path,
            service_timeout: Duration::from_millis(parse_num(
                "AUTH_SERVICE_TIMEOUT_MS",
                raw.auth_service_timeout_ms.take(),
                2000,
            )?),
            breaker_failure_threshold: parse_num(
                "AUTH_BREAKER_FAILURE_THRESHOLD",
                raw.auth_breaker_failure_threshold.take(),
                5,
            )?
            .max(1),
            breaker_reset: Duration::from_secs(parse_num(
                "AUTH_BREAKER_RESET_SECONDS",
                raw.auth_breaker_reset_seconds.take(),
                30,
            )?),
        })
    }
}

/// Limits on the bearer tokens themselves, whoever verifies them (SPEC section 7, production refusals).
struct TokenLimits {
    max_lifetime_seconds: u64,
    max_token_bytes: usize,
}

impl TokenLimits {
    fn parse(raw: &mut Raw) -> Result<Self, ConfigError> {
        Ok(Self {
            max_lifetime_seconds: parse_num(
                "JWT_MAX_LIFETIME_SECONDS",
                raw.jwt_max_lifetime_seconds.take(),
                86_400,
            )?
            .max(1),
            max_token_bytes: parse_num(
                "JWT_MAX_TOKEN_BYTES",
                raw.jwt_max_token_bytes.take(),
                8192,
            )?
            .max(1),
        })
    }
}

/// Secrets published as examples (here, in the tests, on jwt.io) or that anyone would guess first; compared
/// ignoring case. Production must never run with one, whatever its length.
const PLACEHOLDER_SECRETS: &[&str] = &[
    "change-me-to-at-least-32-random-bytes-0123456789",
    "test-secret-0123456789abcdef0123456789",
    "a-string-secret-at-least-256-bits-long",
    "your-256-bit-secret",
    "changeme",
    "change-me",
    "secret",
    "jwt-secret",
    "password",
];

/// Words that mark a placeholder wherever they appear. Each has 8 or more characters and letters outside the
/// hex alphabet, so a hex secret never contains one and a random base64 secret practically never does.
const PLACEHOLDER_MARKERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "replaceme",
    "replace-me",
    "replace_me",
    "placeholder",
];

/// The fewest distinct bytes a production secret may have.
const MIN_DISTINCT_BYTES: usize = 8;
/// The least estimated entropy (length x Shannon entropy of the byte frequencies) of a production secret.
const MIN_ENTROPY_BITS: f64 = 96.0;

/// A production `JWT_SECRET`: not a known placeholder, at least 32 bytes, not of low entropy. 32 random bytes,
/// hex- or base64-encoded, pass with a wide margin: over 100,000 draws of each encoding the fewest distinct
/// bytes was 12 and the lowest estimate 184 bits, and the odds that a random string repeats itself or contains
/// a placeholder word are under 1 in 10^9.
fn check_production_secret(secret: &str) -> Result<(), ConfigError> {
    const ADVICE: &str = "production needs a random secret, e.g. `openssl rand -base64 32`";
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDER_SECRETS.contains(&lower.as_str())
        || PLACEHOLDER_MARKERS.iter().any(|m| lower.contains(m))
    {
        return Err(bad(format!("JWT_SECRET is a known placeholder; {ADVICE}")));
    }
    if secret.len() < 32 {
        return Err(bad(format!(
            "JWT_SECRET is {} bytes; production needs at least 32",
            secret.len()
        )));
    }
    if let Some(why) = low_entropy(secret.as_bytes()) {
        return Err(bad(format!("JWT_SECRET has low entropy ({why}); {ADVICE}")));
    }
    Ok(())
}

/// Why `secret` is guessable despite its length, if it is: too few distinct bytes, a shorter string repeated,
/// or too little estimated entropy.
fn low_entropy(secret: &[u8]) -> Option<String> {
    let mut counts = [0usize; 256];
    for &b in secret {
        counts[usize::from(b)] += 1;
    }
    let distinct = counts.iter().filter(|&&c| c > 0).count();
    if distinct < MIN_DISTINCT_BYTES {
        return Some(format!(
            "{distinct} distinct bytes, fewer than {MIN_DISTINCT_BYTES}"
        ));
    }
    if let Some(period) = shortest_period(secret).filter(|p| p * 2 <= secret.len()) {
        return Some(format!("a {period}-byte string repeated"));
    }
    let len = secret.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2() * len
        })
        .sum();
    (bits < MIN_ENTROPY_BITS)
        .then(|| format!("about {bits:.0} bits estimated, under {MIN_ENTROPY_BITS:.0}"))
}

/// The shortest `p` such that every byte equals the one `p` before it (the string is its first `p` bytes
/// repeated, the last copy perhaps cut short); `None` for an empty string. Knuth-Morris-Pratt's prefix function.
fn shortest_period(s: &[u8]) -> Option<usize> {
    let mut border = vec![0usize; s.len()];
    for i in 1..s.len() {
        let mut k = border[i - 1];
        while k > 0 && s[i] != s[k] {
            k = border[k - 1];
        }
        if s[i] == s[k] {
            k += 1;
        }
        border[i] = k;
    }
    border.last().map(|b| s.len() - b)
}

/// The Redis read cache area of [`Config`].
struct CacheSettings {
    redis_url: Option<Secret>,
    ttl: Duration,
    timeout: Duration,
}

impl CacheSettings {
    fn parse(raw: &mut Raw) -> Result<Self, ConfigError> {
        let redis_url = raw.redis_url.take();
        if let Some(url) = &redis_url {
            let parsed =
                Url::parse(url).map_err(|e| bad(format!("REDIS_URL is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "redis" | "rediss") {
                return Err(bad("REDIS_URL must start with redis:// or rediss://"));
            }
        }
        Ok(Self {
            redis_url: redis_url.map(Secret::new),
            ttl: Duration::from_secs(parse_num(
                "REDIS_CACHE_TTL_SECONDS",
                raw.redis_cache_ttl_seconds.take(),
                300,
            )?),
            timeout: Duration::from_millis(
                parse_num("REDIS_TIMEOUT_MS", raw.redis_timeout_ms.take(), 50)?.max(1),
            ),
        })
    }
}

/// The listener and HTTP area of [`Config`].
struct HttpSettings {
    host: String,
    port: u16,
    metrics_port: Option<u16>,
    cors_allowed_origins: Vec<String>,
    request_timeout: Duration,
}

impl HttpSettings {
    fn parse(raw: &mut Raw) -> Result<Self, ConfigError> {
        let cors_allowed_origins =
            parse_origins(raw.cors_allowed_origins.as_deref().unwrap_or(""))?;
        let port = parse_num("PORT", raw.port.take(), 8080)?;
        let metrics_port = raw
            .metrics_port
            .take()
            .map(|v| parse_num("METRICS_PORT", Some(v), 0u16))
            .transpose()?;
        if metrics_port.is_some_and(|m| m == 0 || m == port) {
            return Err(bad(format!(
                "METRICS_PORT must be a port from 1 to 65535 other than PORT ({port})"
            )));
        }
        Ok(Self {
            host: raw.host.take().unwrap_or_else(|| "0.0.0.0".into()),
            port,
            metrics_port,
            cors_allowed_origins,
            request_timeout: Duration::from_secs(
                parse_num(
                    "REQUEST_TIMEOUT_SECONDS",
                    raw.request_timeout_seconds.take(),
                    30,
                )?
                .max(1),
            ),
        })
    }
}

/// How long a client may take and how many connections may be open; enforced by `server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers, from connecting (or, on a kept-alive connection,
    /// from the request's first byte); then the connection is closed.
    pub header_read_timeout: Duration,
    /// Longest a kept-alive connection may wait, idle, for its next request, and longest a response may wait
    /// for a client that does not read it; then the connection is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once; beyond it, new connections wait in the listen queue until one closes.
    pub max_connections: usize,
}

impl ConnectionLimits {
    fn parse(raw: &mut Raw) -> Result<Self, ConfigError> {
        let seconds = |name, value, default| {
            parse_num(name, value, default).map(|s: u64| Duration::from_secs(s.max(1)))
        };
        Ok(Self {
            header_read_timeout: seconds(
                "HTTP_HEADER_READ_TIMEOUT_SECONDS",
                raw.http_header_read_timeout_seconds.take(),
                10,
            )?,
            idle_timeout: seconds(
                "HTTP_IDLE_TIMEOUT_SECONDS",
                raw.http_idle_timeout_seconds.take(),
                60,
            )?,
            max_connections: parse_num(
                "HTTP_MAX_CONNECTIONS",
                raw.http_max_connections.take(),
                1024,
            )?
            .max(1),
        })
    }
}

/// Per-caller request budgets; counted by `rate_limit`, enforced by `http::rate_limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Count each caller's requests and answer those over its budget with 429; off in development, on in
    /// production unless set.
    pub enabled: bool,
    /// Writes (PUT, POST, PATCH, DELETE) one caller may send per minute.
    pub writes_per_minute: u32,
    /// Reads (GET, HEAD) one caller may send per minute.
    pub reads_per_minute: u32,
    /// Header in which the proxy in front passes the client's address (its last value counts), for requests
    /// without a valid token; unset means the connection's peer address. Lower case.
    pub client_ip_header: Option<String>,
}

impl RateLimits {
    fn parse(raw: &mut Raw, app_env: AppEnv) -> Result<Self, ConfigError> {
        let client_ip_header = raw
            .rate_limit_client_ip_header
            .take()
            .map(|name| name.trim().to_ascii_lowercase());
        if let Some(name) = &client_ip_header {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(bad(format!(
                    "RATE_LIMIT_CLIENT_IP_HEADER must be a header name, not `{name}`"
                )));
            }
        }
        Ok(Self {
            enabled: parse_bool(
                "RATE_LIMIT_ENABLED",
                raw.rate_limit_enabled.as_deref(),
                app_env == AppEnv::Production,
            )?,
            writes_per_minute: parse_num(
                "RATE_LIMIT_WRITES_PER_MINUTE",
                raw.rate_limit_writes_per_minute.take(),
                60,
            )?
            .max(1),
            reads_per_minute: parse_num(
                "RATE_LIMIT_READS_PER_MINUTE",
                raw.rate_limit_reads_per_minute.take(),
                600,
            )?
            .max(1),
            client_ip_header,
        })
    }
}

/// The shutdown area of [`Config`]: `SHUTDOWN_TIMEOUT_SECONDS`, at least 1 s, 30 s by default (SPEC section 6).
fn parse_shutdown_timeout(raw: &mut Raw) -> Result<Duration, ConfigError> {
    let seconds = parse_num(
        "SHUTDOWN_TIMEOUT_SECONDS",
        raw.shutdown_timeout_seconds.take(),
        30,
    )?;
    Ok(Duration::from_secs(seconds.max(1)))
}

/// `SHUTDOWN_DELAY_SECONDS`: 0 (stop at once) by default, at most 300 s.
fn parse_shutdown_delay(raw: &mut Raw) -> Result<Duration, ConfigError> {
    const MAX_SECONDS: u64 = 300;
    let seconds = parse_num(
        "SHUTDOWN_DELAY_SECONDS",
        raw.shutdown_delay_seconds.take(),
        0,
    )?;
    if seconds > MAX_SECONDS {
        return Err(bad(format!(
            "SHUTDOWN_DELAY_SECONDS is at most {MAX_SECONDS}, not {seconds}"
        )));
    }
    Ok(Duration::from_secs(seconds))
}

/// Comma-separated origins, each `scheme://host[:port]` with no path.
fn parse_origins(value: &str) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let url = parse_http_url("CORS_ALLOWED_ORIGINS", o)?;
            if url.path() != "/" || o.ends_with('/') {
                return Err(bad(format!(
                    "CORS_ALLOWED_ORIGINS entry `{o}` must be an origin without a path"
                )));
            }
            Ok(o.to_string())
        })
        .collect()
}

fn parse_num<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            bad(format!(
                "{name} must be a non-negative whole number, not `{v}`"
            ))
        }),
    }
}

fn parse_bool(name: &str, value: Option<&str>, default: bool) -> Result<bool, ConfigError> {
    match value.map(str::trim) {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(v) => Err(bad(format!("{name} must be `true` or `false`, not `{v}`"))),
    }
}

fn optional_http_url(name: &str, value: Option<&str>) -> Result<Option<Url>, ConfigError> {
    value.map(|u| parse_http_url(name, u)).transpose()
}

fn parse_http_url(name: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| bad(format!("{name} is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(format!("{name} must be an http(s) URL with a host")));
    }
    Ok(url)
}

fn check_database_url(name: &str, value: &str) -> Result<(), ConfigError> {
    if value.starts_with("sqlite:") {
        return Ok(());
    }
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        // Parse without echoing the value: it may carry a password.
        let url =
            Url::parse(value).map_err(|_| bad(format!("{name} is not a valid PostgreSQL URL")))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad(format!("{name} has no host")));
        }
        return Ok(());
    }
    Err(bad(format!(
        "{name} must start with `sqlite:` or `postgres://`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_timeout_is_30_s_by_default_and_at_least_1_s() {
        let default = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        let zero = Config::from_vars([("SHUTDOWN_TIMEOUT_SECONDS", "0")]).unwrap();
        let bad = Config::from_vars([("SHUTDOWN_TIMEOUT_SECONDS", "soon")]).unwrap_err();

        assert_eq!(default.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(zero.shutdown_timeout, Duration::from_secs(1));
        assert_eq!(
            bad.to_string(),
            "configuration: SHUTDOWN_TIMEOUT_SECONDS must be a non-negative whole number, not `soon`"
        );
    }

    #[test]
    fn defaults_give_development_on_sqlite_under_data_dir() {
        let config = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(config.app_env, AppEnv::Development);
        assert_eq!(config.port, 8080);
        assert_eq!(
            config.database_url.expose(),
            "sqlite:./data/profiles.db?mode=rwc"
        );
        assert_eq!(config.jwt_leeway_seconds, 30);
        assert_eq!(config.auth_verify_path, "/api/v1/auth/verify");
        assert_eq!(config.auth_service_timeout, Duration::from_millis(2000));
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert!(config.run_migrations);
        assert!(config.cors_allowed_origins.is_empty());
    }

    #[test]
    fn production_without_any_token_verification_is_refused() {
        let err = Config::from_vars([("APP_ENV", "production")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("JWT_SECRET, JWT_JWKS_URL or AUTH_SERVICE_URL"),
            "{err}"
        );
    }

    #[test]
    fn production_with_a_short_secret_is_refused() {
        let err =
            Config::from_vars([("APP_ENV", "production"), ("JWT_SECRET", "short")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: JWT_SECRET is 5 bytes; production needs at least 32"
        );
    }

    #[test]
    fn production_with_a_long_secret_uses_json_logs() {
        let config = Config::from_vars([
            ("APP_ENV", "production"),
            ("JWT_SECRET", "q7Lk2vR9xT4mW8pZ3nB6cY1hJ5fD0sGa"),
        ])
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn malformed_urls_are_refused_with_the_variable_name() {
        for (name, value) in [
            ("JWT_JWKS_URL", "not a url"),
            ("AUTH_SERVICE_URL", "ftp://auth"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://cache"),
            ("CORS_ALLOWED_ORIGINS", "https://shop.example/path"),
        ] {
            let err = Config::from_vars([(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    /// One bad value per area: the variable, its value, and the line the operator sees.
    const REFUSALS: [(&str, &str, &str); 10] = [
        (
            "APP_ENV",
            "staging",
            "APP_ENV must be `development` or `production`, not `staging`",
        ),
        (
            "DATABASE_READ_URL",
            "postgres://",
            "DATABASE_READ_URL has no host",
        ),
        (
            "DATABASE_MAX_CONNECTIONS",
            "-1",
            "DATABASE_MAX_CONNECTIONS must be a non-negative whole number, not `-1`",
        ),
        (
            "RUN_MIGRATIONS",
            "maybe",
            "RUN_MIGRATIONS must be `true` or `false`, not `maybe`",
        ),
        (
            "AUTH_VERIFY_PATH",
            "verify",
            "AUTH_VERIFY_PATH must start with `/`",
        ),
        (
            "AUTH_SERVICE_TIMEOUT_MS",
            "2s",
            "AUTH_SERVICE_TIMEOUT_MS must be a non-negative whole number, not `2s`",
        ),
        (
            "REDIS_TIMEOUT_MS",
            "fast",
            "REDIS_TIMEOUT_MS must be a non-negative whole number, not `fast`",
        ),
        (
            "PORT",
            "70000",
            "PORT must be a non-negative whole number, not `70000`",
        ),
        (
            "REQUEST_TIMEOUT_SECONDS",
            "x",
            "REQUEST_TIMEOUT_SECONDS must be a non-negative whole number, not `x`",
        ),
        (
            "LOG_FORMAT",
            "xml",
            "LOG_FORMAT must be `pretty` or `json`, not `xml`",
        ),
    ];

    #[test]
    fn each_area_refuses_a_bad_value_with_one_line() {
        for (name, value, message) in REFUSALS {
            let err = Config::from_vars([(name, value)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("configuration: {message}"),
                "{name}"
            );
        }
    }

    #[test]
    fn numbers_below_their_floor_are_raised_and_zero_connections_means_unset() {
        let config = Config::from_vars([
            ("AUTH_BREAKER_FAILURE_THRESHOLD", "0"),
            ("REDIS_TIMEOUT_MS", "0"),
            ("REQUEST_TIMEOUT_SECONDS", "0"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
        ])
        .unwrap();
        assert_eq!(config.auth_breaker_failure_threshold, 1);
        assert_eq!(config.redis_timeout, Duration::from_millis(1));
        assert_eq!(config.request_timeout, Duration::from_secs(1));
        assert_eq!(config.database_max_connections, None);
    }

    #[test]
    fn rate_limits_are_off_in_development_and_on_in_production_unless_set() {
        let development = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        let production = Config::from_vars([
            ("APP_ENV", "production"),
            ("JWT_SECRET", "q7Lk2vR9xT4mW8pZ3nB6cY1hJ5fD0sGa"),
        ])
        .unwrap();
        let switched = Config::from_vars([("RATE_LIMIT_ENABLED", "true")]).unwrap();

        assert!(!development.rate_limits.enabled);
        assert!(production.rate_limits.enabled);
        assert!(switched.rate_limits.enabled);
        assert_eq!(production.rate_limits.writes_per_minute, 60);
        assert_eq!(production.rate_limits.reads_per_minute, 600);
        assert_eq!(production.rate_limits.client_ip_header, None);
        assert_eq!(
            production.connections,
            ConnectionLimits {
                header_read_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                max_connections: 1024,
            }
        );
    }

    #[test]
    fn limits_below_one_are_raised_and_a_bad_client_ip_header_is_refused() {
        let config = Config::from_vars([
            ("RATE_LIMIT_WRITES_PER_MINUTE", "0"),
            ("HTTP_HEADER_READ_TIMEOUT_SECONDS", "0"),
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("RATE_LIMIT_CLIENT_IP_HEADER", "X-Forwarded-For"),
        ])
        .unwrap();
        assert_eq!(config.rate_limits.writes_per_minute, 1);
        assert_eq!(
            config.connections.header_read_timeout,
            Duration::from_secs(1)
        );
        assert_eq!(config.connections.max_connections, 1);
        assert_eq!(
            config.rate_limits.client_ip_header.as_deref(),
            Some("x-forwarded-for")
        );

        let err = Config::from_vars([("RATE_LIMIT_CLIENT_IP_HEADER", "client ip")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: RATE_LIMIT_CLIENT_IP_HEADER must be a header name, not `client ip`"
        );
    }

    #[test]
    fn idempotency_keys_live_24_hours_by_default_and_1_to_720_hours_when_set() {
        let hours = |n: u64| Duration::from_secs(n * 3600);
        let default = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(default.idempotency_ttl, hours(24));
        let set = Config::from_vars([("IDEMPOTENCY_TTL_HOURS", "48")]).unwrap();
        assert_eq!(set.idempotency_ttl, hours(48));
        for bad in ["0", "721"] {
            let err = Config::from_vars([("IDEMPOTENCY_TTL_HOURS", bad)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "configuration: IDEMPOTENCY_TTL_HOURS must be between 1 and 720, not {bad}"
                )
            );
        }
    }

    #[test]
    fn audit_retention_defaults_to_400_days_and_zero_keeps_events_forever() {
        let days = |n: u64| Some(Duration::from_secs(n * 86_400));
        let default = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(default.audit_retention, days(400));
        let set = Config::from_vars([("AUDIT_RETENTION_DAYS", "30")]).unwrap();
        assert_eq!(set.audit_retention, days(30));
        let forever = Config::from_vars([("AUDIT_RETENTION_DAYS", "0")]).unwrap();
        assert_eq!(forever.audit_retention, None);
        let err = Config::from_vars([("AUDIT_RETENTION_DAYS", "99999")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: AUDIT_RETENTION_DAYS is at most 36500 (0 keeps events forever), not 99999"
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config =
            Config::from_vars([("JWT_SECRET", "super-secret-value-0123456789abcdef")]).unwrap();
        assert!(!format!("{config:?}").contains("super-secret"));
    }

    #[test]
    fn cors_origins_are_split_on_commas() {
        let config = Config::from_vars([(
            "CORS_ALLOWED_ORIGINS",
            "https://a.example, http://localhost:3000",
        )])
        .unwrap();
        assert_eq!(
            config.cors_allowed_origins,
            vec!["https://a.example", "http://localhost:3000"]
        );
    }

    fn production_with_secret(secret: &str) -> Result<Config, ConfigError> {
        Config::from_vars([("APP_ENV", "production"), ("JWT_SECRET", secret)])
    }

    #[test]
    fn production_refuses_the_env_example_placeholder() {
        let example = include_str!("../.env.example")
            .lines()
            .find_map(|l| l.trim_start_matches(['#', ' ']).strip_prefix("JWT_SECRET="))
            .expect(".env.example shows a JWT_SECRET");

        let err = production_with_secret(example).unwrap_err();

        assert_eq!(
            err.to_string(),
            "configuration: JWT_SECRET is a known placeholder; production needs a random secret, e.g. \
             `openssl rand -base64 32`"
        );
    }

    #[test]
    fn production_refuses_obvious_placeholders_whatever_their_case_or_length() {
        for secret in [
            "changeme",
            "SECRET",
            "a-string-secret-at-least-256-bits-long",
            "please-CHANGE_ME-before-going-live-0123456789",
            "placeholder-value-for-the-jwt-secret-xyz",
        ] {
            let err = production_with_secret(secret).unwrap_err();
            assert!(
                err.to_string().contains("known placeholder"),
                "{secret}: {err}"
            );
        }
    }

    #[test]
    fn production_refuses_a_secret_of_one_repeated_byte() {
        let err = production_with_secret(&"x".repeat(64)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: JWT_SECRET has low entropy (1 distinct bytes, fewer than 8); production needs a \
             random secret, e.g. `openssl rand -base64 32`"
        );
    }

    #[test]
    fn production_refuses_a_shorter_string_repeated() {
        let err = production_with_secret("0123456789abcdef0123456789abcdef").unwrap_err();
        assert!(
            err.to_string()
                .contains("low entropy (a 16-byte string repeated)"),
            "{err}"
        );
        let cut_short = production_with_secret("Kx9!mQ2zKx9!mQ2zKx9!mQ2zKx9!mQ2zKx9").unwrap_err();
        assert!(
            cut_short.to_string().contains("8-byte string repeated"),
            "{cut_short}"
        );
    }

    #[test]
    fn production_refuses_a_secret_whose_estimated_entropy_is_under_96_bits() {
        let secret = format!("{}bcdefghij", "a".repeat(40));
        let err = production_with_secret(&secret).unwrap_err();
        assert!(
            err.to_string().contains("bits estimated, under 96"),
            "{err}"
        );
    }

    #[test]
    fn development_accepts_any_secret() {
        let config = Config::from_vars([("JWT_SECRET", "changeme")]).unwrap();
        assert_eq!(config.jwt_secret.unwrap().expose(), "changeme");
    }

    #[test]
    fn the_shortest_period_is_found_even_when_the_last_copy_is_cut_short() {
        assert_eq!(shortest_period(b""), None);
        assert_eq!(shortest_period(b"a"), Some(1));
        assert_eq!(shortest_period(b"abcabcab"), Some(3));
        assert_eq!(shortest_period(b"abcd"), Some(4));
        assert_eq!(shortest_period(b"aabaaab"), Some(4));
    }

    proptest::proptest! {
        /// Whatever the bytes, a real 32-byte random secret in the usual encodings starts in production.
        #[test]
        fn production_accepts_32_random_bytes_in_hex_or_base64(bytes in proptest::array::uniform32(0u8..)) {
            use base64::Engine;
            use std::fmt::Write;
            let hex = bytes.iter().fold(String::new(), |mut out, b| {
                let _ = write!(out, "{b:02x}");
                out
            });
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            for secret in std::iter::once(hex).chain(engines.iter().map(|e| e.encode(bytes))) {
                proptest::prop_assert!(check_production_secret(&secret).is_ok(), "{}", secret);
            }
        }
    }

    #[test]
    fn token_limits_default_to_a_day_and_8_kib_and_refuse_nonsense() {
        let config = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(config.jwt_max_lifetime_seconds, 86_400);
        assert_eq!(config.jwt_max_token_bytes, 8192);

        let config = Config::from_vars([
            ("JWT_MAX_LIFETIME_SECONDS", "900"),
            ("JWT_MAX_TOKEN_BYTES", "0"),
        ])
        .unwrap();
        assert_eq!(config.jwt_max_lifetime_seconds, 900);
        assert_eq!(config.jwt_max_token_bytes, 1);

        let err = Config::from_vars([("JWT_MAX_LIFETIME_SECONDS", "1d")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: JWT_MAX_LIFETIME_SECONDS must be a non-negative whole number, not `1d`"
        );
    }

    #[test]
    fn recent_login_is_five_minutes_by_default_and_zero_turns_it_off() {
        let default = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        let off = Config::from_vars([("REAUTH_MAX_AGE_SECONDS", "0")]).unwrap();
        let err = Config::from_vars([("REAUTH_MAX_AGE_SECONDS", "5m")]).unwrap_err();

        assert_eq!(default.reauth_max_age_seconds, 300);
        assert_eq!(off.reauth_max_age_seconds, 0);
        assert_eq!(
            err.to_string(),
            "configuration: REAUTH_MAX_AGE_SECONDS must be a non-negative whole number, not `5m`"
        );
    }

    #[test]
    fn docs_are_enabled_unless_turned_off() {
        let on = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        let off = Config::from_vars([("DOCS_ENABLED", "false")]).unwrap();
        assert!(on.docs_enabled);
        assert!(!off.docs_enabled);
        let err = Config::from_vars([("DOCS_ENABLED", "off")]).unwrap_err();
        assert!(err.to_string().contains("DOCS_ENABLED"), "{err}");
    }

    #[test]
    fn metrics_share_the_main_port_unless_metrics_port_names_another() {
        let default = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        let own = Config::from_vars([("METRICS_PORT", "9090")]).unwrap();
        assert_eq!(default.metrics_port, None);
        assert_eq!(own.metrics_port, Some(9090));
        for (port, metrics_port) in [("8080", "8080"), ("8080", "0"), ("9000", "9000")] {
            let err =
                Config::from_vars([("PORT", port), ("METRICS_PORT", metrics_port)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "configuration: METRICS_PORT must be a port from 1 to 65535 other than PORT ({port})"
                )
            );
        }
        let err = Config::from_vars([("METRICS_PORT", "70000")]).unwrap_err();
        assert!(err.to_string().contains("METRICS_PORT"), "{err}");
    }

    #[test]
    fn the_shutdown_delay_is_zero_by_default_and_at_most_300_s() {
        let default = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        let set = Config::from_vars([("SHUTDOWN_DELAY_SECONDS", "5")]).unwrap();
        let err = Config::from_vars([("SHUTDOWN_DELAY_SECONDS", "301")]).unwrap_err();

        assert_eq!(default.shutdown_delay, Duration::ZERO);
        assert_eq!(set.shutdown_delay, Duration::from_secs(5));
        assert_eq!(
            err.to_string(),
            "configuration: SHUTDOWN_DELAY_SECONDS is at most 300, not 301"
        );
    }
}
