//! Start-up and serving: connect, migrate, listen, and shut down gracefully on SIGTERM/SIGINT.
//!
//! On the signal the listener is closed at once (new connections are refused), requests in flight get up to
//! 30 s to finish, idle keep-alive connections are closed, then the pools are closed and `serve` returns
//! (the process exits 0).

use std::{future::Future, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{config::Config, db::Db, http, state::AppState};

/// How long in-flight requests may run after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

pub async fn serve(config: Config) -> anyhow::Result<()> {
    // Handlers are registered before anything else, so a signal during start-up is a clean stop too.
    let shutdown = shutdown_signal().context("cannot listen for shutdown signals")?;
    let db = Db::connect(&config)
        .await
        .context("cannot connect to the database")?;
    if config.run_migrations {
        db.migrate().await.context("migrations failed")?;
    }
    db.spawn_wal_checkpoints();
    crate::db::audit::spawn_retention(&db, config.audit_retention);
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
    http::metrics::spawn_upkeep();

    let (signal_tx, signal_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
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

/// Resolves at the first SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is called, not
/// when the future is first polled.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let (mut terminate, mut interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
    })
}
