//! Start-up and serving: connect, migrate, listen, and shut down gracefully on SIGTERM/SIGINT.
//!
//! Connections are HTTP/1.1, served by hyper with the deadlines of `connection` (header read, idle keep-alive,
//! stalled response) and at most `HTTP_MAX_CONNECTIONS` open at once: beyond that, the accept loop stops
//! accepting, so new connections wait in the kernel's listen queue until one closes (once the queue is full,
//! the kernel drops new attempts). Waiting there rather than being closed at once serves a short burst late
//! instead of failing it.
//!
//! On the signal, after the shutdown delay (`SHUTDOWN_DELAY_SECONDS`, 0 by default: readiness 503 and every
//! answer closing its connection, while serving goes on), the listener is closed (new connections are refused), requests in flight get the
//! shutdown time (`SHUTDOWN_TIMEOUT_SECONDS`, 30 s) less one second to finish, idle keep-alive connections are
//! closed, then the pools get what is left to close, and `serve` returns (the process exits 0) within the
//! shutdown time whatever the database does: a statement stuck on a lock is abandoned, not waited for.
//!
//! The service starts while the database is down: migrations run in the background once it answers, and API
//! requests get 503 until then (`/health` 200, `/health/ready` 503). With `METRICS_PORT`, `/metrics` has a
//! listener of its own, served until the process exits.

mod connection;

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{rt::TokioIo, server::graceful::GracefulShutdown};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    task::JoinHandle,
};
use tower::ServiceExt;

use crate::{
    config::{Config, ConnectionLimits},
    db::Db,
    http,
    state::{AppState, Draining},
};

/// The part of the shutdown time kept for closing the pools after requests in flight have had theirs.
const CLOSE_RESERVE: Duration = Duration::from_secs(1);
/// The shortest time between two warnings that the connection cap is reached.
const CAP_WARNING_EVERY: Duration = Duration::from_secs(60);

pub async fn serve(config: Config) -> anyhow::Result<()> {
    // Handlers are registered before anything else, so a signal during start-up is a clean stop too.
    let signal = shutdown_signal().context("cannot listen for shutdown signals")?;
    let db = Db::connect_lazily(&config)
        .await
        .context("cannot connect to the database")?;
    let start_up = spawn_database_tasks(&db, &config);
    let (listener, metrics_listener) = bind_listeners(&config, db.backend()).await?;
    let (limits, shutdown_timeout) = (config.connections, config.shutdown_timeout);
    let shutdown_delay = config.shutdown_delay;
    let state = AppState::new(config, db.clone());
    state.outbox.spawn(&db, &state.config.events);
    let outbox = state.outbox.clone();
    // Load the JWKS early when configured; the auth service being down must not stop start-up.
    tokio::spawn({
        let verifier = state.verifier.clone();
        async move { verifier.warm_up().await }
    });
    let metrics_server = metrics_listener.map(|l| spawn_metrics_listener(l, state.clone()));
    let draining = state.draining.clone();
    let app = http::router(state);
    http::metrics::spawn_upkeep();

    let serving = Serving::new(app, limits, draining.clone());
    let start_up_failed = async {
        match start_up.await {
            Ok(Err(err)) => err,
            _ => std::future::pending().await,
        }
    };
    tokio::select! {
        () = accept_until(stop_requested(signal, draining, shutdown_delay), listener, &serving) => {}
        err = start_up_failed => return Err(err),
    }
    outbox
        .stop(Duration::from_secs(1).min(shutdown_timeout / 4))
        .await;
    drain_and_close(serving, &db, shutdown_timeout).await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Starts the database's background work: the start-up (migrations, see [`start_up`]), whose handle is
/// returned, WAL checkpoints, the availability probe, and the retention of audit events and idempotency keys.
fn spawn_database_tasks(db: &Db, config: &Config) -> JoinHandle<anyhow::Result<()>> {
    db.set_starting(true);
    let start_up = tokio::spawn(start_up(db.clone(), config.run_migrations));
    db.spawn_wal_checkpoints();
    db.spawn_availability_probe();
    crate::db::audit::spawn_retention(db, config.audit_retention);
    crate::db::idempotency::spawn_pruning(db, config.idempotency_ttl);
    start_up
}

/// Binds the API listener (`HOST`:`PORT`) and, when `METRICS_PORT` is set, the metrics listener beside it.
async fn bind_listeners(
    config: &Config,
    backend: &str,
) -> anyhow::Result<(TcpListener, Option<TcpListener>)> {
    async fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
        let addr = format!("{host}:{port}");
        TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))
    }
    let listener = bind(&config.host, config.port).await?;
    let metrics_listener = match config.metrics_port {
        Some(port) => Some(bind(&config.host, port).await?),
        None => None,
    };
    let metrics_address = match &metrics_listener {
        Some(l) => l.local_addr()?.to_string(),
        None => "the API port".to_string(),
    };
    tracing::info!(
        address = %listener.local_addr()?,
        metrics_address,
        database = backend,
        env = ?config.app_env,
        "serving; Swagger UI at /docs"
    );
    Ok((listener, metrics_listener))
}

/// Serves `/metrics` alone on its own listener (`METRICS_PORT`) until the process stops, so scrapes go on
/// while the API drains.
fn spawn_metrics_listener(listener: TcpListener, state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, http::metrics::router(state)).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    })
}

/// Resolves when the API listener should close: at the shutdown signal, or, with a shutdown delay
/// (`SHUTDOWN_DELAY_SECONDS`), that long after it. Meanwhile requests are served as usual, but readiness answers
/// 503 `draining` and every answer closes its connection, so that load balancers and kept-alive clients move to
/// other instances before this one refuses connections.
async fn stop_requested(signal: impl Future<Output = ()>, draining: Draining, delay: Duration) {
    signal.await;
    draining.start();
    if delay.is_zero() {
        tracing::info!("shutdown signal received; finishing in-flight requests");
        return;
    }
    tracing::info!(
        delay_seconds = delay.as_secs(),
        "shutdown signal received; draining: readiness answers 503 and serving goes on for the shutdown delay"
    );
    tokio::time::sleep(delay).await;
    tracing::info!("shutdown delay over; finishing in-flight requests");
}

/// Lets requests in flight finish until one second before the shutdown deadline, then closes the pools until
/// the deadline. Whatever is still running then is abandoned (logged as a warning): the exit is still 0, as SPEC
/// section 6 asks, since the stop was requested and nothing acknowledged is lost (the database rolls back an
/// abandoned transaction when its connection closes with the process).
async fn drain_and_close(serving: Serving, db: &Db, shutdown_timeout: Duration) {
    let deadline = Instant::now() + shutdown_timeout;
    let reserve = CLOSE_RESERVE.min(shutdown_timeout / 2);
    tokio::select! {
        () = serving.connections.shutdown() => {}
        () = tokio::time::sleep(shutdown_timeout - reserve) => tracing::warn!(
            seconds = (shutdown_timeout - reserve).as_secs_f64(),
            "in-flight requests did not finish in time; stopping anyway"
        ),
    }
    if !db
        .close_within(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        tracing::warn!("database connections still in use at the shutdown deadline were abandoned");
    }
}

/// Waits for the database (retrying with back-off from 0.25 s up to 10 s while it cannot be reached) and
/// runs the migrations when it first answers, or, with `RUN_MIGRATIONS=false`, waits until the migrations this
/// binary knows have been applied by someone else (`user-profile-service migrate`, the Kubernetes Job). API
/// requests get 503 until then, `/health` answers 200 and `/health/ready` 503. Any other failure (a migration
/// that fails) ends `serve`.
async fn start_up(db: Db, run_migrations: bool) -> anyhow::Result<()> {
    let mut pause = Duration::from_millis(250);
    loop {
        let result = if run_migrations {
            db.migrate().await.map(|()| Vec::new())
        } else {
            db.pending_migrations()
                .await
                .map_err(sqlx::migrate::MigrateError::Execute)
        };
        match result {
            Ok(pending) if pending.is_empty() => break,
            Ok(pending) => tracing::warn!(
                ?pending,
                retry_in_ms = pause.as_millis(),
                "RUN_MIGRATIONS=false and migrations of this release are not applied yet; not ready until `migrate` has run"
            ),
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

/// Serves each accepted connection on a task of its own until `shutdown` resolves, then returns, closing the
/// listener. At most `HTTP_MAX_CONNECTIONS` are open at once: at the cap no connection is accepted until one
/// closes.
async fn accept_until(
    shutdown: impl Future<Output = ()>,
    listener: TcpListener,
    serving: &Serving,
) {
    tokio::pin!(shutdown);
    let limits = serving.limits;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut warned_at: Option<Instant> = None;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // At most one line a minute however often the cap is reached.
                if warned_at.is_none_or(|at| at.elapsed() >= CAP_WARNING_EVERY) {
                    warned_at = Some(Instant::now());
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached; new connections wait in the listen queue"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => return,
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                }
            }
        };
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => serving.connection(stream, peer, slot),
            Err(err) => accept_failed(&err).await,
        }
    }
}

/// What every connection is served with.
struct Serving {
    app: Router,
    http: http1::Builder,
    limits: ConnectionLimits,
    /// Every open connection, for the graceful shutdown.
    connections: GracefulShutdown,
    /// While set, every answer carries `Connection: close`.
    draining: Draining,
}

impl Serving {
    fn new(app: Router, limits: ConnectionLimits, draining: Draining) -> Self {
        let mut http = http1::Builder::new();
        // The header read deadline is `connection`'s (hyper's would also cut idle keep-alive connections).
        http.header_read_timeout(None);
        Serving {
            app,
            http,
            limits,
            connections: GracefulShutdown::new(),
            draining,
        }
    }

    /// Serves one connection on a task of its own, holding its `slot` until the connection ends.
    fn connection(&self, stream: TcpStream, peer: SocketAddr, slot: OwnedSemaphorePermit) {
        let _ = stream.set_nodelay(true);
        let activity = connection::Activity::new(&self.limits);
        let service = hyper::service::service_fn({
            let (app, activity) = (self.app.clone(), activity.clone());
            let draining = self.draining.clone();
            move |mut request: hyper::Request<Incoming>| {
                // For the rate limiter: the client's address, as `axum::serve` would give it.
                request.extensions_mut().insert(ConnectInfo(peer));
                let in_flight = activity.begin();
                let (app, draining) = (app.clone(), draining.clone());
                async move {
                    let mut response = app.oneshot(request).await?;
                    if draining.is_draining() {
                        // hyper closes the connection after this answer: the client reconnects elsewhere.
                        let close = axum::http::HeaderValue::from_static("close");
                        response
                            .headers_mut()
                            .insert(axum::http::header::CONNECTION, close);
                    }
                    in_flight.responded();
                    Ok::<_, Infallible>(response.map(|body| in_flight.attach(body)))
                }
            }
        });
        let io = TokioIo::new(connection::WatchedIo::new(stream, activity.clone()));
        let served = self
            .connections
            .watch(self.http.serve_connection(io, service));
        tokio::spawn(async move {
            ::metrics::gauge!(http::metrics::HTTP_CONNECTIONS_OPEN).increment(1);
            if let Some(Err(err)) = connection::run_until_deadline(served, &activity).await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            ::metrics::gauge!(http::metrics::HTTP_CONNECTIONS_OPEN).decrement(1);
            drop(slot);
        });
    }
}

/// A failed `accept`: a connection reset before it was accepted is nothing; anything else (out of file
/// descriptors, say) is logged and the loop pauses a second, as `axum::serve` does.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "cannot accept a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
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
    })
}
