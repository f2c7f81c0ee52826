//! Everything a handler may need, shared across requests.

use std::{
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use crate::{auth::TokenVerifier, cache::Cache, config::Config, db::Db, outbox::Outbox};

/// The handles of [`Shared`], behind one `Arc`: the router clones the state for every layer and extractor of every
/// request, and one reference count is far cheaper than the dozen the handles hold (measured: cloning and
/// dropping the handles themselves was a fifth of a cached read's CPU time; docs/benchmarks.md).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Debug)]
pub struct Shared {
    pub config: Arc<Config>,
    pub db: Db,
    pub verifier: Arc<TokenVerifier>,
    pub cache: Cache,
    /// Wakes the change feed after writes; its head wakes long-polling readers.
    pub outbox: Outbox,
    /// Set once the process is asked to stop (see [`Draining`]).
    pub draining: Draining,
}

/// Set when the process has been asked to stop: during `SHUTDOWN_DELAY_SECONDS` readiness answers 503 (so load
/// balancers take the instance out) and every answer closes its connection (so clients reconnect elsewhere),
/// while requests are still served.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl AppState {
    pub fn new(config: Config, db: Db) -> Self {
        let verifier = Arc::new(TokenVerifier::new(&config));
        let cache = Cache::from_config(&config, db.backend() == "sqlite").unwrap_or_else(|err| {
            tracing::warn!(error = %err, "REDIS_URL cannot be used; the cache is off");
            Cache::default()
        });
        AppState(Arc::new(Shared {
            config: Arc::new(config),
            db,
            verifier,
            cache,
            outbox: Outbox::default(),
            draining: Draining::default(),
        }))
    }
}
