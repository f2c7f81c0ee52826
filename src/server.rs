//! Start-up and serving: connect, migrate, listen, and shut down gracefully on SIGTERM/SIGINT.

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{config::Config, db::Db, http, state::AppState};

/// How long in-flight requests may run after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let db = Db::connect(&config)
        .await
        .context("cannot connect to the database")?;
    if config.run_migrations {
        db.migrate().await.context("migrations failed")?;
    }
    let addr = format!("{}:{}", config.host, config.port);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        database = db.backend(),
        env = ?config.app_env,
        "serving; Swagger UI at /docs"
    );
    let state = AppState::new(config, db.clone());
    // Load the JWKS early when configured; the auth service being down must not stop start-up.
    tokio::spawn({
        let verifier = state.verifier.clone();
        async move { verifier.warm_up().await }
    });
    let app = http::router(state);

    let (signal_tx, signal_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = signal_tx.send(true);
    });
    let mut grace = signal_rx;
    tokio::select! {
        result = server => result.context("server error")?,
        _ = async {
            let _ = grace.wait_for(|fired| *fired).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!("in-flight requests did not finish within 30 s; stopping anyway"),
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
