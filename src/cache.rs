//! Optional Redis read-through cache (`REDIS_URL`). The database stays the source of truth: every cache failure
//! falls back to it, and writers invalidate after commit.
//!
//! Staleness guard: each cached entry belongs to a per-key generation. Writers bump the generation and delete the
//! entry after they commit; a reader stores what it read only if the generation it saw before reading the
//! database is still current (one Lua script), so a slow reader can never put back a value older than a write.

use std::{sync::Arc, time::Duration};

use redis::{AsyncCommands, Script, aio::ConnectionManager};

use crate::config::Config;

/// The cache, or nothing when `REDIS_URL` is unset.
#[derive(Clone, Default)]
pub struct Cache {
    redis: Option<Arc<Redis>>,
}

struct Redis {
    conn: ConnectionManager,
    ttl_secs: u64,
    /// Longest a request waits for Redis before going to the database instead.
    timeout: Duration,
    store_if_current: Script,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("enabled", &self.redis.is_some())
            .finish()
    }
}

/// What a lookup found; a miss carries the generation to store under.
pub enum Lookup {
    Hit(Vec<u8>),
    Miss(Option<String>),
}

impl Cache {
    /// Connects lazily: the service starts even when Redis is down.
    pub fn from_config(config: &Config) -> Result<Self, redis::RedisError> {
        let Some(url) = &config.redis_url else {
            return Ok(Cache::default());
        };
        let client = redis::Client::open(url.expose())?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(200)))
            // The longest budget (invalidation); reads enforce their shorter one themselves.
            .set_response_timeout(Some(config.redis_timeout * 10))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)?;
        let store_if_current = Script::new(
            r"local g = redis.call('GET', KEYS[2]) or '0'
              if g == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end
              return 0",
        );
        Ok(Cache {
            redis: Some(Arc::new(Redis {
                conn,
                ttl_secs: config.redis_cache_ttl.as_secs().max(1),
                timeout: config.redis_timeout,
                store_if_current,
            })),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.redis.is_some()
    }

    /// Looks `key` up; `None` when the cache is off or failing (the caller reads the database and does not store).
    pub async fn lookup(&self, key: &str) -> Option<Lookup> {
        let redis = self.redis.as_ref()?;
        let mut conn = redis.conn.clone();
        let keys = [entry_key(key), generation_key(key)];
        let found: (Option<Vec<u8>>, Option<String>) =
            within("lookup", redis.timeout, conn.mget(&keys)).await?;
        let outcome = if found.0.is_some() { "hit" } else { "miss" };
        metrics::counter!("cache_requests_total", "outcome" => outcome).increment(1);
        Some(match found {
            (Some(value), _) => Lookup::Hit(value),
            (None, generation) => Lookup::Miss(generation),
        })
    }

    /// Stores `value` read from the database, unless a writer invalidated `key` since the lookup.
    pub async fn store(&self, key: &str, generation: Option<String>, value: &[u8]) {
        let Some(redis) = self.redis.as_ref() else {
            return;
        };
        let mut conn = redis.conn.clone();
        let mut invocation = redis.store_if_current.prepare_invoke();
        invocation
            .key(entry_key(key))
            .key(generation_key(key))
            .arg(generation.unwrap_or_else(|| "0".into()))
            .arg(value)
            .arg(redis.ttl_secs);
        within(
            "store",
            redis.timeout,
            invocation.invoke_async::<i64>(&mut conn),
        )
        .await;
    }

    /// Drops the cached entries of `keys` after a committed write.
    pub async fn invalidate(&self, keys: &[String]) {
        let Some(redis) = self.redis.as_ref() else {
            return;
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        for key in keys {
            // The generation outlives any entry, so a reader that saw the old one cannot store.
            pipe.incr(generation_key(key), 1).ignore();
            pipe.expire(generation_key(key), (redis.ttl_secs * 4) as i64)
                .ignore();
            pipe.del(entry_key(key)).ignore();
        }
        let mut conn = redis.conn.clone();
        // Invalidation gets a longer budget than reads: a missed one leaves a stale entry until its TTL.
        within(
            "invalidate",
            redis.timeout * 10,
            pipe.query_async::<()>(&mut conn),
        )
        .await;
    }

    /// Round trip for readiness; `None` when the cache is off.
    pub async fn ping(&self) -> Option<bool> {
        let redis = self.redis.as_ref()?;
        let mut conn = redis.conn.clone();
        let pong = tokio::time::timeout(
            redis.timeout * 4,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await;
        Some(matches!(pong, Ok(Ok(_))))
    }
}

/// Runs one Redis operation within `limit`; a failure is counted, logged and answered with `None`.
async fn within<T>(
    operation: &'static str,
    limit: Duration,
    op: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Option<T> {
    let error = match tokio::time::timeout(limit, op).await {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(err)) => err.category().to_string(),
        Err(_) => "timed out".to_string(),
    };
    metrics::counter!("cache_requests_total", "outcome" => "error").increment(1);
    tracing::warn!(operation, error, "cache unavailable; using the database");
    None
}

fn entry_key(key: &str) -> String {
    format!("ups:v1:{key}")
}

fn generation_key(key: &str) -> String {
    format!("ups:v1:gen:{key}")
}

/// Cache key of a user's profile.
pub fn profile_key(user_id: &str) -> String {
    format!("profile:{user_id}")
}

/// Cache key of a user's default addresses.
pub fn defaults_key(user_id: &str) -> String {
    format!("defaults:{user_id}")
}

/// Every cache key holding a user's data, for erasure.
pub fn user_keys(user_id: &str) -> [String; 2] {
    [profile_key(user_id), defaults_key(user_id)]
}

/// A cached representation: its version (for `ETag`) and its JSON body, stored as `"{version}\n{json}"`.
pub fn encode_versioned(version: i64, json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 12);
    out.extend_from_slice(version.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(json);
    out
}

/// Splits what [`encode_versioned`] stored; `None` for anything else.
pub fn decode_versioned(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let split = bytes.iter().position(|b| *b == b'\n')?;
    let version = std::str::from_utf8(&bytes[..split]).ok()?;
    version.parse::<i64>().ok()?;
    Some((version, &bytes[split + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_entries_round_trip_and_garbage_is_refused() {
        let stored = encode_versioned(7, br#"{"a":1}"#);
        assert_eq!(decode_versioned(&stored), Some(("7", &br#"{"a":1}"#[..])));
        assert_eq!(decode_versioned(b"no newline"), None);
        assert_eq!(decode_versioned(b"x\n{}"), None);
    }
}
