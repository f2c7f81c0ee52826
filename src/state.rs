//! Everything a handler may need, shared across requests.

use std::sync::Arc;

use crate::{auth::TokenVerifier, cache::Cache, config::Config, db::Db, outbox::Outbox};

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub verifier: Arc<TokenVerifier>,
    pub cache: Cache,
    /// Wakes the change feed after writes; its head wakes long-polling readers.
    pub outbox: Outbox,
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
        }
    }
}
