//! Read-through cache: Redis when `REDIS_URL` is set (shared by every instance), else, on SQLite, an in-process
//! cache (one process owns a SQLite file, so its own writes are the only ones to invalidate for). The database
//! stays the source of truth: every cache failure falls back to it, and writers invalidate after commit.
//!
//! Staleness guard: each cached entry belongs to a per-key generation. Writers bump the generation and delete the
//! entry after they commit; a reader stores what it read only if the generation it saw before reading the
//! database is still current (one Lua script), so a slow reader can never put back a value older than a write.
//! In Redis every key also carries the shared epoch (`ups:v1:epoch`): after any failed Redis call an instance
//! skips Redis for a short back-off and, before it uses Redis again, moves the epoch past every value it has
//! seen, so entries an invalidation may have missed (or a snapshot brought back) are never read again.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use bytes::Bytes;
use redis::{Script, aio::ConnectionManager};
use tracing::Instrument;

use crate::{config::Config, trace_context};

/// How long Redis is skipped after a failed call; then the next call (or the background probe) tries again.
pub const REDIS_BACKOFF: Duration = Duration::from_secs(1);
/// How often the background probe checks Redis (and whether it restarted).
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
const EPOCH_KEY: &str = "ups:v1:epoch";
const PREFIX: &str = "ups:v1:";

/// The cache: Redis, the in-process cache, or nothing (PostgreSQL without `REDIS_URL`).
#[derive(Clone, Default)]
pub struct Cache {
    redis: Option<Arc<Redis>>,
    local: Option<Arc<LocalCache>>,
}

struct Redis {
    conn: ConnectionManager,
    ttl_secs: u64,
    /// Longest a request waits for Redis before going to the database instead.
    timeout: Duration,
    scripts: Scripts,
    health: Mutex<Health>,
}

struct Scripts {
    lookup: Script,
    store_if_current: Script,
    invalidate: Script,
    bump_epoch: Script,
}

/// What this instance knows of Redis.
#[derive(Default)]
struct Health {
    /// The highest epoch seen; a smaller one in Redis (a snapshot restored) is never used.
    floor: i64,
    /// Failed Redis calls so far, and how many of them an epoch bump has covered.
    failures: u64,
    covered: u64,
    /// Redis is skipped until then.
    skip_until: Option<Instant>,
    /// Redis's `run_id`: a new one means it restarted, maybe from an old snapshot.
    run_id: Option<String>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("redis", &self.redis.is_some())
            .field("local", &self.local.is_some())
            .finish()
    }
}

/// A cached representation: its JSON body and, for a versioned resource, its version (the `ETag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub version: Option<i64>,
    pub json: Bytes,
}

/// What a lookup found; a miss carries the ticket to store under.
enum Found {
    Hit(Bytes),
    Miss(Ticket),
}

/// What a reader saw before it read the database; a store with an outdated ticket is dropped.
pub struct Ticket(TicketKind);

enum TicketKind {
    /// The epoch and the key's generation in Redis.
    Redis {
        epoch: i64,
        generation: Option<String>,
    },
    /// The shard's write count in the in-process cache.
    Local(u64),
}

impl Cache {
    /// Redis when `REDIS_URL` is set (connecting lazily: the service starts even when Redis is down); else the
    /// in-process cache when the database is SQLite; else none.
    pub fn from_config(config: &Config, sqlite: bool) -> Result<Self, redis::RedisError> {
        let Some(url) = &config.redis_url else {
            let local = sqlite.then(|| Arc::new(LocalCache::new(LOCAL_TTL, LOCAL_CAPACITY)));
            return Ok(Cache { redis: None, local });
        };
        let client = redis::Client::open(url.expose())?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(200)))
            // The longest budget (invalidation); reads enforce their shorter one themselves.
            .set_response_timeout(Some(config.redis_timeout * 10))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)?;
        let redis = Arc::new(Redis {
            conn,
            ttl_secs: config.redis_cache_ttl.as_secs().max(1),
            timeout: config.redis_timeout,
            scripts: Scripts::new(),
            health: Mutex::default(),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(probe(Arc::downgrade(&redis)));
        }
        Ok(Cache {
            redis: Some(redis),
            local: None,
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.redis.is_some() || self.local.is_some()
    }

    /// Read-through: the cached entry of `key`, else `load`'s answer, stored for the next reader unless a
    /// writer invalidated `key` meanwhile. `load` is told whether its answer will be stored: such a read must
    /// go to the primary, since a lagging replica's answer must never be cached.
    pub async fn read_through<E, Fut>(
        &self,
        key: &str,
        load: impl FnOnce(bool) -> Fut,
    ) -> Result<Entry, E>
    where
        Fut: std::future::Future<Output = Result<Entry, E>>,
    {
        let ticket = match self.lookup(key).await {
            Some(Found::Hit(raw)) => match Entry::decode(&raw) {
                Some(entry) => return Ok(entry),
                None => None,
            },
            Some(Found::Miss(ticket)) => Some(ticket),
            None => None,
        };
        let entry = load(ticket.is_some()).await?;
        if let Some(ticket) = ticket {
            self.store(key, ticket, &entry.encode()).await;
        }
        Ok(entry)
    }

    /// Looks `key` up; `None` when the cache is off or failing (the caller reads the database and does not store).
    async fn lookup(&self, key: &str) -> Option<Found> {
        if let Some(local) = &self.local {
            let found = local.lookup(key);
            let outcome = if matches!(found, Found::Hit(_)) {
                "hit"
            } else {
                "miss"
            };
            metrics::counter!("cache_requests_total", "outcome" => outcome).increment(1);
            return Some(found);
        }
        let redis = self.redis.as_ref()?;
        if !redis.usable().await {
            return None;
        }
        let mut conn = redis.conn.clone();
        let mut invocation = redis.scripts.lookup.key(EPOCH_KEY);
        invocation.arg(redis.floor()).arg(PREFIX).arg(key);
        let (epoch, value, generation): (i64, Option<Vec<u8>>, Option<String>) = redis
            .within("lookup", redis.timeout, invocation.invoke_async(&mut conn))
            .await?;
        redis.saw(epoch);
        let outcome = if value.is_some() { "hit" } else { "miss" };
        metrics::counter!("cache_requests_total", "outcome" => outcome).increment(1);
        Some(match value {
            Some(value) => Found::Hit(Bytes::from(value)),
            None => Found::Miss(Ticket(TicketKind::Redis { epoch, generation })),
        })
    }

    /// Stores `value` read from the database, unless a writer invalidated `key` (or the epoch moved) since the
    /// lookup.
    async fn store(&self, key: &str, ticket: Ticket, value: &[u8]) {
        let (epoch, generation) = match (ticket.0, &self.local) {
            (TicketKind::Local(writes), Some(local)) => return local.store(key, writes, value),
            (TicketKind::Redis { epoch, generation }, _) => (epoch, generation),
            (TicketKind::Local(_), None) => return,
        };
        let Some(redis) = self.redis.as_ref() else {
            return;
        };
        if !redis.usable().await {
            return;
        }
        let mut conn = redis.conn.clone();
        let mut invocation = redis.scripts.store_if_current.key(EPOCH_KEY);
        invocation
            .arg(epoch)
            .arg(PREFIX)
            .arg(key)
            .arg(generation.unwrap_or_else(|| "0".into()))
            .arg(value)
            .arg(redis.ttl_secs);
        redis
            .within(
                "store",
                redis.timeout,
                invocation.invoke_async::<i64>(&mut conn),
            )
            .await;
    }

    /// Drops the cached entries of `keys` after a committed write. While Redis is skipped nothing is sent: the
    /// epoch moves before Redis is used again, which drops every entry at once.
    pub async fn invalidate(&self, keys: &[String]) {
        if let Some(local) = &self.local {
            local.invalidate(keys);
        }
        let Some(redis) = self.redis.as_ref() else {
            return;
        };
        if keys.is_empty() || !redis.usable().await {
            return;
        }
        let mut invocation = redis.scripts.invalidate.key(EPOCH_KEY);
        // The generation outlives any entry, so a reader that saw the old one cannot store.
        invocation
            .arg(redis.floor())
            .arg(PREFIX)
            .arg(redis.ttl_secs * 4);
        for key in keys {
            invocation.arg(key);
        }
        let mut conn = redis.conn.clone();
        // Invalidation gets a longer budget than reads; a failed one moves the epoch before the next use.
        redis
            .within(
                "invalidate",
                redis.timeout * 10,
                invocation.invoke_async::<i64>(&mut conn),
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

impl Scripts {
    fn new() -> Self {
        // Keys are built from the epoch inside the scripts, so every call uses the current one atomically.
        // (Fine on a single Redis; a Redis Cluster would need the keys declared.)
        let epoch = r"local e = tonumber(redis.call('GET', KEYS[1]) or '0')
              if e < tonumber(ARGV[1]) then e = tonumber(ARGV[1]) redis.call('SET', KEYS[1], e) end
              local p = ARGV[2] .. string.format('%d', e) .. ':'";
        Scripts {
            lookup: Script::new(&format!(
                r"{epoch}
                  return {{e, redis.call('GET', p .. ARGV[3]), redis.call('GET', p .. 'gen:' .. ARGV[3])}}"
            )),
            store_if_current: Script::new(
                r"local e = redis.call('GET', KEYS[1]) or '0'
                  if e ~= ARGV[1] then return 0 end
                  local p = ARGV[2] .. e .. ':'
                  local g = redis.call('GET', p .. 'gen:' .. ARGV[3]) or '0'
                  if g ~= ARGV[4] then return 0 end
                  redis.call('SET', p .. ARGV[3], ARGV[5], 'EX', ARGV[6])
                  return 1",
            ),
            invalidate: Script::new(&format!(
                r"{epoch}
                  for i = 4, #ARGV do
                    redis.call('INCR', p .. 'gen:' .. ARGV[i])
                    redis.call('EXPIRE', p .. 'gen:' .. ARGV[i], ARGV[3])
                    redis.call('DEL', p .. ARGV[i])
                  end
                  return e"
            )),
            bump_epoch: Script::new(
                r"local e = tonumber(redis.call('GET', KEYS[1]) or '0')
                  if e < tonumber(ARGV[1]) then e = tonumber(ARGV[1]) end
                  e = e + 1
                  redis.call('SET', KEYS[1], e)
                  return e",
            ),
        }
    }
}

impl Redis {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        // A few plain values, always consistent: a panic elsewhere cannot corrupt them.
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn floor(&self) -> i64 {
        self.health().floor
    }

    fn saw(&self, epoch: i64) {
        let mut health = self.health();
        health.floor = health.floor.max(epoch);
    }

    /// Whether Redis may be used now: not during the back-off after a failure, and only once the epoch has
    /// moved past every failure (moved here when needed).
    async fn usable(&self) -> bool {
        let failures = {
            let health = self.health();
            if health.skip_until.is_some_and(|t| Instant::now() < t) {
                metrics::counter!("cache_requests_total", "outcome" => "skipped").increment(1);
                return false;
            }
            if health.failures == health.covered {
                return true;
            }
            health.failures
        };
        self.bump_epoch(failures).await
    }

    /// Moves the shared epoch past every value this instance has seen, covering `failures` failed calls.
    async fn bump_epoch(&self, failures: u64) -> bool {
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.bump_epoch.key(EPOCH_KEY);
        invocation.arg(self.floor());
        let Some(epoch) = self
            .within(
                "move the epoch",
                self.timeout * 4,
                invocation.invoke_async::<i64>(&mut conn),
            )
            .await
        else {
            return false;
        };
        let mut health = self.health();
        health.floor = health.floor.max(epoch);
        health.covered = health.covered.max(failures);
        health.skip_until = None;
        tracing::info!(
            epoch,
            "cache epoch moved; entries older than it are never read"
        );
        health.failures == health.covered
    }

    /// A failed call: skip Redis for the back-off, and move the epoch before the next use.
    fn failed(&self) {
        let mut health = self.health();
        health.failures += 1;
        health.skip_until = Some(Instant::now() + REDIS_BACKOFF);
    }

    /// Runs one Redis operation within `limit`; a failure is counted, logged, remembered and answered with
    /// `None`.
    async fn within<T>(
        &self,
        operation: &'static str,
        limit: Duration,
        op: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        // A trace span for the calls a request makes; the background probe's would be a trace a second.
        let span = if trace_context::in_request() {
            tracing::info_span!(
                target: trace_context::SPAN_TARGET,
                "cache",
                otel.name = %format_args!("redis {operation}"),
                otel.kind = "client",
                db.system.name = "redis",
                db.operation.name = operation,
                otel.status_code = tracing::field::Empty,
            )
        } else {
            tracing::Span::none()
        };
        let error = match tokio::time::timeout(limit, op)
            .instrument(span.clone())
            .await
        {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(err)) => err.category().to_string(),
            Err(_) => "timed out".to_string(),
        };
        span.record("otel.status_code", "ERROR");
        self.failed();
        metrics::counter!("cache_requests_total", "outcome" => "error").increment(1);
        tracing::warn!(operation, error, "cache unavailable; using the database");
        None
    }

    /// One background check: Redis's `run_id`, to learn of a restart (maybe from an old snapshot) that no
    /// request noticed, and to end a back-off without a request paying for the trial.
    async fn check(&self) {
        let due = {
            let health = self.health();
            health.skip_until.is_none_or(|t| Instant::now() >= t)
        };
        if !due {
            return;
        }
        let mut conn = self.conn.clone();
        let mut command = redis::cmd("INFO");
        command.arg("server");
        let info = command.query_async::<String>(&mut conn);
        let Some(info) = self.within("probe", self.timeout * 4, info).await else {
            return;
        };
        let run_id = info
            .lines()
            .find_map(|line| line.strip_prefix("run_id:"))
            .map(|id| id.trim().to_string());
        let failures = {
            let mut health = self.health();
            if health.run_id.is_some() && run_id.is_some() && health.run_id != run_id {
                tracing::warn!("Redis restarted; moving the cache epoch");
                health.failures += 1;
            }
            health.run_id = run_id;
            health.failures
        };
        if failures != self.health().covered {
            self.bump_epoch(failures).await;
        }
    }
}

/// Checks Redis every [`PROBE_INTERVAL`] while the cache lives.
async fn probe(redis: Weak<Redis>) {
    let mut every = tokio::time::interval(PROBE_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(redis) = redis.upgrade() else { return };
        redis.check().await;
    }
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

/// How long an in-process entry lives; only this process writes its SQLite file, so this bounds nothing but
/// changes made behind the service's back (an operator's SQL).
const LOCAL_TTL: Duration = Duration::from_secs(60);
/// Entries kept in process (about 40 MB of profiles); a full shard starts over.
const LOCAL_CAPACITY: usize = 100_000;
const LOCAL_SHARDS: usize = 32;

/// The in-process cache: sharded maps whose per-shard write count plays the role of Redis's generation.
struct LocalCache {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    ttl: Duration,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    /// Invalidations so far; a reader's store is dropped if any happened in this shard since its lookup.
    writes: u64,
    entries: HashMap<String, (Instant, Bytes)>,
}

impl LocalCache {
    fn new(ttl: Duration, capacity: usize) -> Self {
        LocalCache {
            shards: (0..LOCAL_SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            ttl,
            per_shard: (capacity / LOCAL_SHARDS).max(1),
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard> {
        let index = self.hasher.hash_one(key) as usize % self.shards.len();
        // A poisoned shard only means a panic elsewhere mid-update of a cache: its data is still usable.
        self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lookup(&self, key: &str) -> Found {
        let shard = self.shard(key);
        match shard.entries.get(key) {
            Some((stored, value)) if stored.elapsed() < self.ttl => Found::Hit(value.clone()),
            _ => Found::Miss(Ticket(TicketKind::Local(shard.writes))),
        }
    }

    fn store(&self, key: &str, writes: u64, value: &[u8]) {
        let mut shard = self.shard(key);
        if shard.writes != writes {
            return;
        }
        if shard.entries.len() >= self.per_shard {
            shard.entries.clear();
        }
        shard.entries.insert(
            key.to_string(),
            (Instant::now(), Bytes::copy_from_slice(value)),
        );
    }

    fn invalidate(&self, keys: &[String]) {
        for key in keys {
            let mut shard = self.shard(key);
            shard.writes += 1;
            shard.entries.remove(key);
        }
    }
}

impl Entry {
    /// Stored as `"{version}\n{json}"`, the version empty for an unversioned body.
    fn encode(&self) -> Vec<u8> {
        let version = self.version.map(|v| v.to_string()).unwrap_or_default();
        let mut out = Vec::with_capacity(version.len() + 1 + self.json.len());
        out.extend_from_slice(version.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&self.json);
        out
    }

    /// Splits what [`Entry::encode`] stored; `None` for anything else. The body shares the entry's memory.
    fn decode(raw: &Bytes) -> Option<Entry> {
        let split = raw.iter().position(|b| *b == b'\n')?;
        let version = match std::str::from_utf8(&raw[..split]).ok()? {
            "" => None,
            digits => Some(digits.parse::<i64>().ok()?),
        };
        Some(Entry {
            version,
            json: raw.slice(split + 1..),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_and_without_a_version_and_garbage_is_refused() {
        for version in [Some(7), None] {
            let entry = Entry {
                version,
                json: Bytes::from_static(br#"{"a":1}"#),
            };
            assert_eq!(Entry::decode(&Bytes::from(entry.encode())), Some(entry));
        }
        assert_eq!(Entry::decode(&Bytes::from_static(b"no newline")), None);
        assert_eq!(Entry::decode(&Bytes::from_static(b"x\n{}")), None);
    }

    #[tokio::test]
    async fn read_through_loads_once_then_answers_from_the_cache_until_invalidated() {
        let cache = Cache {
            redis: None,
            local: Some(Arc::new(LocalCache::new(LOCAL_TTL, 1000))),
        };
        let loads = std::sync::atomic::AtomicU32::new(0);
        let read = || {
            cache.read_through("profile:u1", |fills| {
                assert!(fills, "a miss on a working cache stores what it loads");
                let n = loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                async move {
                    Ok::<_, ()>(Entry {
                        version: Some(i64::from(n)),
                        json: Bytes::from_static(b"{}"),
                    })
                }
            })
        };
        assert_eq!(read().await.unwrap().version, Some(1));
        assert_eq!(
            read().await.unwrap().version,
            Some(1),
            "served from the cache"
        );
        cache.invalidate(&["profile:u1".to_string()]).await;
        assert_eq!(read().await.unwrap().version, Some(2), "loaded again");
    }

    #[test]
    fn the_local_cache_drops_a_store_that_raced_with_an_invalidation() {
        let cache = LocalCache::new(Duration::from_secs(60), 1000);
        let Found::Miss(Ticket(TicketKind::Local(seen))) = cache.lookup("profile:u1") else {
            panic!("miss")
        };
        // A writer commits and invalidates while the reader is still reading the database...
        cache.invalidate(&["profile:u1".to_string()]);
        // ...so the reader's (older) value is not kept.
        cache.store("profile:u1", seen, b"old");
        assert!(matches!(cache.lookup("profile:u1"), Found::Miss(_)));
        let Found::Miss(Ticket(TicketKind::Local(now))) = cache.lookup("profile:u1") else {
            panic!("miss")
        };
        cache.store("profile:u1", now, b"new");
        assert!(
            matches!(cache.lookup("profile:u1"), Found::Hit(v) if v == Bytes::from_static(b"new"))
        );
    }

    #[test]
    fn local_entries_expire_and_a_full_shard_starts_over() {
        let cache = LocalCache::new(Duration::from_millis(0), 1000);
        let Found::Miss(Ticket(TicketKind::Local(seen))) = cache.lookup("k") else {
            panic!("miss")
        };
        cache.store("k", seen, b"v");
        assert!(
            matches!(cache.lookup("k"), Found::Miss(_)),
            "a zero TTL keeps nothing"
        );
        let small = LocalCache::new(Duration::from_secs(60), LOCAL_SHARDS);
        for i in 0..200 {
            let key = format!("k{i}");
            if let Found::Miss(Ticket(TicketKind::Local(seen))) = small.lookup(&key) {
                small.store(&key, seen, b"v");
            }
        }
        let kept: usize = small
            .shards
            .iter()
            .map(|s| s.lock().unwrap().entries.len())
            .sum();
        assert!(kept <= LOCAL_SHARDS, "{kept} entries kept");
    }
}
