//! Everything a handler may need, shared across requests.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use crate::{auth::TokenVerifier, cache::Cache, config::Config, db::Db, outbox::Outbox};

#[derive(Clone, Debug)]
pub struct AppState {
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
        AppState {
            config: Arc::new(config),
            db,
            verifier,
            cache,
            outbox: Outbox::default(),
            draining: Draining::default(),
        }
    }
}
