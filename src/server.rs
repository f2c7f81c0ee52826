//! Start-up and serving: connect, listen, migrate once the database answers (API requests get 503 until then,
//! so the service starts while the database is down), and shut down gracefully on SIGTERM/SIGINT.
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
    let db = Db::connect_lazily(&config)
        .await
        .context("cannot connect to the database")?;
    db.set_starting(true);
    let start_up = tokio::spawn(start_up(db.clone(), config.run_migrations));
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
    let start_up_failed = async {
        match start_up.await {
            Ok(Err(err)) => err,
            _ => std::future::pending().await,
        }
    };
    drain_and_close(server, start_up_failed, deadline_rx, &db, shutdown_timeout).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Lets requests in flight finish until one second before the deadline, then closes the pools until the
/// deadline. Whatever is still running then is abandoned (logged as a warning): the exit is still 0, as SPEC
/// section 6 asks, since the stop was requested and nothing acknowledged is lost (the database rolls back an
/// abandoned transaction when its connection closes with the process).
async fn drain_and_close(
    server: impl IntoFuture<Output = std::io::Result<()>>,
    start_up_failed: impl Future<Output = anyhow::Error>,
    mut deadline: watch::Receiver<Option<Instant>>,
    db: &Db,
    shutdown_timeout: Duration,
) -> anyhow::Result<()> {
    let reserve = CLOSE_RESERVE.min(shutdown_timeout / 2);
    tokio::select! {
        result = server.into_future() => result.context("server error")?,
        err = start_up_failed => return Err(err),
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

/// Waits for the database (retrying with back-off from 0.25 s up to 10 s while it cannot be reached) and
/// runs the migrations when it first answers; API requests get 503 until then, `/health` answers 200 and
/// `/health/ready` 503 while the database is down. Any other failure (a migration that fails) ends `serve`.
async fn start_up(db: Db, run_migrations: bool) -> anyhow::Result<()> {
    let mut pause = Duration::from_millis(250);
    loop {
        let result = if run_migrations {
            db.migrate().await
        } else {
            crate::db::ping(db.reader()).await.map_err(Into::into)
        };
        match result {
            Ok(()) => break,
            Err(sqlx::migrate::MigrateError::Execute(err)) if is_unreachable(&err) => {
                tracing::warn!(error = %err, retry_in_ms = pause.as_millis(), "the database cannot be reached yet");
            }
            Err(err) => return Err(err).context("migrations failed"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
    db.set_starting(false);
    tracing::info!("database reached; serving API requests");
    Ok(())
}

/// True for the errors of a database that is down or not reachable (as opposed to one that refuses a query).
fn is_unreachable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
    )
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
