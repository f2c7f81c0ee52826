//! Start-up and serving: connect, migrate, listen, and shut down gracefully on SIGTERM/SIGINT.
//!
//! On the signal the listener is closed at once (new connections are refused), requests in flight get the
//! shutdown time (`SHUTDOWN_TIMEOUT_SECONDS`, 30 s) less one second to finish, idle keep-alive connections are
//! closed, then the pools get what is left to close, and `serve` returns (the process exits 0) within the
//! shutdown time whatever the database does: a statement stuck on a lock is abandoned, not waited for.

use std::{
    future::{Future, IntoFuture},
    time::Duration,
};

use anyhow::Context;
use tokio::{net::TcpListener, sync::watch, time::Instant};

use crate::{config::Config, db::Db, http, state::AppState};

/// The part of the shutdown time kept for closing the pools after requests in flight have had theirs.
const CLOSE_RESERVE: Duration = Duration::from_secs(1);

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
    db.spawn_availability_probe();
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
    let shutdown_timeout = config.shutdown_timeout;
    let state = AppState::new(config, db.clone());
    // Load the JWKS early when configured; the auth service being down must not stop start-up.
    tokio::spawn({
        let verifier = state.verifier.clone();
        async move { verifier.warm_up().await }
    });
    let app = http::router(state);
    http::metrics::spawn_upkeep();

    // Set to the moment by which the process must be gone, when the signal arrives.
    let (deadline_tx, deadline_rx) = watch::channel(None);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = deadline_tx.send(Some(Instant::now() + shutdown_timeout));
    });
    drain_and_close(server, deadline_rx, &db, shutdown_timeout).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Lets requests in flight finish until one second before the deadline, then closes the pools until the
/// deadline. Whatever is still running then is abandoned (logged as a warning): the exit is still 0, as SPEC
/// section 6 asks, since the stop was requested and nothing acknowledged is lost (the database rolls back an
/// abandoned transaction when its connection closes with the process).
async fn drain_and_close(
    server: impl IntoFuture<Output = std::io::Result<()>>,
    mut deadline: watch::Receiver<Option<Instant>>,
    db: &Db,
    shutdown_timeout: Duration,
) -> anyhow::Result<()> {
    let reserve = CLOSE_RESERVE.min(shutdown_timeout / 2);
    tokio::select! {
        result = server.into_future() => result.context("server error")?,
        _ = async {
            let at = deadline.wait_for(Option::is_some).await.map(|at| *at);
            match at {
                Ok(Some(at)) => tokio::time::sleep_until(at - reserve).await,
                // The server ends first when the sender is gone.
                _ => std::future::pending().await,
            }
        } => tracing::warn!(
            seconds = (shutdown_timeout - reserve).as_secs_f64(),
            "in-flight requests did not finish in time; stopping anyway"
        ),
    }
    let at = (*deadline.borrow()).unwrap_or_else(|| Instant::now() + shutdown_timeout);
    if !db
        .close_within(at.saturating_duration_since(Instant::now()))
        .await
    {
        tracing::warn!("database connections still in use at the shutdown deadline were abandoned");
    }
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
