//! Everything a handler may need, shared across requests.

use std::sync::Arc;

use crate::{auth::TokenVerifier, config::Config, db::Db};

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub verifier: Arc<TokenVerifier>,
}

impl AppState {
    pub fn new(config: Config, db: Db) -> Self {
        let verifier = Arc::new(TokenVerifier::new(&config));
        AppState {
            config: Arc::new(config),
            db,
            verifier,
        }
    }
}
