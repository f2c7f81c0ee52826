//! Per-caller request budgets (SPEC section 7): each caller may send so many reads and so many writes a minute.
//!
//! A fixed window per caller and class, opened by the caller's first request and lasting one minute; every
//! request in it, refused ones included, adds one. The count lives in Redis when `REDIS_URL` is set (one script:
//! INCR, and PEXPIRE when the key is new, so every instance shares it) and in this process otherwise.
//!
//! Redis failing or slower than `REDIS_TIMEOUT_MS` does not open the gate: the request is counted in process
//! instead (each instance then enforces the budget on its own), and Redis is left alone for a second before
//! the next try, so an outage costs one timeout a second rather than one per request.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use redis::{Script, aio::ConnectionManager};

use crate::config::Config;

/// The length of a window: budgets are per minute.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What a request does, as far as budgets go: reads and writes are counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Read,
    Write,
}

impl Class {
    /// `reads` or `writes`: the metric label, the key's prefix and the word in the 429's detail.
    pub fn label(self) -> &'static str {
        match self {
            Class::Read => "reads",
            Class::Write => "writes",
        }
    }
}

/// The verdict on one request, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The budget of the window.
    pub limit: u32,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// Time until the window ends and the budget is whole again.
    pub reset: Duration,
}

impl Decision {
    /// The decision for the `count`th request of a window that ends in `reset`.
    fn new(limit: u32, count: u64, reset: Duration) -> Self {
        Decision {
            allowed: count <= u64::from(limit),
            limit,
            remaining: u32::try_from(u64::from(limit).saturating_sub(count)).unwrap_or(0),
            reset,
        }
    }

    /// `reset` in whole seconds, rounded up and at least 1, as `RateLimit-Reset` and `Retry-After` carry it.
    pub fn reset_secs(&self) -> u64 {
        self.reset.as_millis().div_ceil(1000).max(1) as u64
    }
}

/// The limiter: off (every check answers `None`), or counting in Redis and/or in process.
#[derive(Clone, Default)]
pub struct RateLimiter {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    reads: u32,
    writes: u32,
    window: Duration,
    shared: Option<SharedCounter>,
    local: LocalCounter,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("RateLimiter");
        if let Some(inner) = &self.inner {
            out.field("reads", &inner.reads)
                .field("writes", &inner.writes)
                .field("redis", &inner.shared.is_some());
        }
        out.finish()
    }
}

impl RateLimiter {
    /// Off unless `RATE_LIMIT_ENABLED`; counting in Redis when `REDIS_URL` is set (connecting lazily, so the
    /// service starts while Redis is down), else in process.
    pub fn from_config(config: &Config) -> Self {
        let limits = &config.rate_limits;
        if !limits.enabled {
            return RateLimiter::default();
        }
        let shared = config.redis_url.as_ref().and_then(|url| {
            SharedCounter::connect(url.expose(), config.redis_timeout)
                .inspect_err(|err| {
                    tracing::warn!(error = %err, "REDIS_URL cannot be used; rate limits are counted in process");
                })
                .ok()
        });
        Self::with(
            limits.reads_per_minute,
            limits.writes_per_minute,
            WINDOW,
            shared,
        )
    }

    fn with(reads: u32, writes: u32, window: Duration, shared: Option<SharedCounter>) -> Self {
        RateLimiter {
            inner: Some(Arc::new(Inner {
                reads,
                writes,
                window,
                shared,
                local: LocalCounter::new(LOCAL_CAPACITY),
            })),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Counts one request of `class` by `caller` and says whether it is within the budget; `None` when off.
    pub async fn check(&self, class: Class, caller: &str) -> Option<Decision> {
        let inner = self.inner.as_ref()?;
        let limit = match class {
            Class::Read => inner.reads,
            Class::Write => inner.writes,
        };
        let key = format!("{}:{caller}", class.label());
        let shared = match &inner.shared {
            Some(shared) => shared.count(&key, inner.window).await,
            None => None,
        };
        let (count, reset) = match shared {
            Some(counted) => counted,
            None => inner.local.count(key, inner.window, Instant::now()),
        };
        Some(Decision::new(limit, count, reset))
    }
}

/// The count in Redis, shared by every instance.
struct SharedCounter {
    conn: ConnectionManager,
    timeout: Duration,
    script: Script,
    /// Until then Redis is not asked: it failed a moment ago.
    resting_until: Mutex<Option<Instant>>,
}

/// How long Redis is left alone after a failure.
const REST: Duration = Duration::from_secs(1);

/// Adds one to the window's count, opening the window (with its lifetime) when the key is new or has somehow
/// lost its expiry; answers the count and the milliseconds the window has left.
const COUNT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}";

impl SharedCounter {
    fn connect(url: &str, timeout: Duration) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(200)))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        Ok(SharedCounter {
            conn: ConnectionManager::new_lazy_with_config(client, manager_config)?,
            timeout,
            script: Script::new(COUNT_SCRIPT),
            resting_until: Mutex::new(None),
        })
    }

    /// The count after this request and the time left in the window; `None` when Redis cannot say in time.
    async fn count(&self, key: &str, window: Duration) -> Option<(u64, Duration)> {
        let now = Instant::now();
        if lock(&self.resting_until).is_some_and(|until| now < until) {
            metrics::counter!("rate_limit_fallbacks_total").increment(1);
            return None;
        }
        let mut conn = self.conn.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("ups:v1:rate:{key}"))
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
        let answer = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<(u64, i64)>(&mut conn),
        )
        .await;
        let error = match answer {
            Ok(Ok((count, ttl_ms))) => {
                let left = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
                return Some((count, left.min(window)));
            }
            Ok(Err(err)) => err.category().to_string(),
            Err(_) => "timed out".to_string(),
        };
        metrics::counter!("rate_limit_fallbacks_total").increment(1);
        let was_resting = lock(&self.resting_until).replace(now + REST).is_some();
        if !was_resting {
            tracing::warn!(
                error,
                "Redis unavailable; rate limits are counted in process"
            );
        }
        None
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere mid-update of a counter: its data is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Windows kept in process (a few MB); a full shard first drops its ended windows, then starts over.
const LOCAL_CAPACITY: usize = 100_000;
const LOCAL_SHARDS: usize = 32;

/// The count in this process: sharded maps from key to its open window.
struct LocalCounter {
    shards: Vec<Mutex<HashMap<String, Window>>>,
    hasher: RandomState,
    per_shard: usize,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    count: u64,
    ends: Instant,
}

impl LocalCounter {
    fn new(capacity: usize) -> Self {
        LocalCounter {
            shards: (0..LOCAL_SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            per_shard: (capacity / LOCAL_SHARDS).max(1),
        }
    }

    /// Adds one to `key`'s window (opening one when it has none or it ended) and answers the count and the
    /// time left.
    fn count(&self, key: String, window: Duration, now: Instant) -> (u64, Duration) {
        let index = self.hasher.hash_one(&key) as usize % self.shards.len();
        let mut shard = lock(&self.shards[index]);
        let ended = shard.get(&key).is_none_or(|w| w.ends <= now);
        if ended && shard.len() >= self.per_shard {
            shard.retain(|_, w| w.ends > now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        let fresh = Window {
            count: 0,
            ends: now + window,
        };
        let open = shard.entry(key).or_insert(fresh);
        if ended {
            *open = fresh;
        }
        open.count += 1;
        (open.count, open.ends - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(reads: u32, writes: u32, window: Duration) -> RateLimiter {
        RateLimiter::with(reads, writes, window, None)
    }

    #[tokio::test]
    async fn the_request_after_the_budget_is_refused_with_nothing_remaining() {
        let limiter = local(10, 2, WINDOW);

        let first = limiter.check(Class::Write, "u1").await.unwrap();
        let second = limiter.check(Class::Write, "u1").await.unwrap();
        let third = limiter.check(Class::Write, "u1").await.unwrap();

        assert!(first.allowed && second.allowed && !third.allowed);
        assert_eq!(
            [first.remaining, second.remaining, third.remaining],
            [1, 0, 0]
        );
        assert_eq!(third.limit, 2);
        assert!((1..=60).contains(&third.reset_secs()), "{third:?}");
    }

    #[tokio::test]
    async fn classes_and_callers_have_budgets_of_their_own() {
        let limiter = local(1, 1, WINDOW);

        assert!(limiter.check(Class::Write, "u1").await.unwrap().allowed);
        assert!(!limiter.check(Class::Write, "u1").await.unwrap().allowed);

        assert!(limiter.check(Class::Read, "u1").await.unwrap().allowed);
        assert!(limiter.check(Class::Write, "u2").await.unwrap().allowed);
    }

    #[tokio::test]
    async fn a_limiter_that_is_off_decides_nothing() {
        let limiter = RateLimiter::default();
        assert!(!limiter.is_enabled());
        assert_eq!(limiter.check(Class::Write, "u1").await, None);
    }

    #[test]
    fn a_window_that_ended_starts_a_new_count() {
        let counter = LocalCounter::new(1000);
        let start = Instant::now();
        assert_eq!(counter.count("k".into(), WINDOW, start).0, 1);
        assert_eq!(counter.count("k".into(), WINDOW, start).0, 2);

        let later = start + WINDOW;
        assert_eq!(counter.count("k".into(), WINDOW, later), (1, WINDOW));
    }

    #[test]
    fn a_full_shard_drops_ended_windows_first_and_never_grows_past_its_share() {
        let counter = LocalCounter::new(LOCAL_SHARDS);
        let start = Instant::now();
        for i in 0..200 {
            counter.count(format!("k{i}"), WINDOW, start);
        }
        let kept: usize = counter.shards.iter().map(|s| lock(s).len()).sum();
        assert!(kept <= LOCAL_SHARDS, "{kept} windows kept");
    }

    #[test]
    fn reset_is_rounded_up_to_whole_seconds() {
        let decision = |ms| Decision::new(1, 1, Duration::from_millis(ms)).reset_secs();
        assert_eq!(decision(0), 1);
        assert_eq!(decision(1), 1);
        assert_eq!(decision(1000), 1);
        assert_eq!(decision(1001), 2);
        assert_eq!(decision(60_000), 60);
    }
}
