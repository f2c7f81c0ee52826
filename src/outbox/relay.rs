//! The relay: publishes the change feed's events, in position order, to a NATS JetStream stream (docs/events.md).
//!
//! One instance relays at a time: it holds a lease in the database (`db::events::claim_relay`), renewed with
//! every batch it marks as published. Each message carries `Nats-Msg-Id` = the event id, so a batch published
//! again after a crash or a hand-over (published, but not yet marked) is dropped by the server within the
//! stream's duplicate window, and `traceparent` = the trace context of the request that made the change. Writes
//! never wait for NATS: while it is down, events wait in the outbox.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use tracing::Instrument;

use crate::{
    config::NatsSettings,
    db::{self, Db, events::Filter},
    outbox::{Inner, OUTBOX_OLDEST_PENDING_SECONDS, OUTBOX_PENDING, OUTBOX_PUBLISH_TOTAL},
    trace_context,
};

/// Events published per batch: sent back to back, then their acknowledgements awaited together.
const BATCH: u32 = 500;
/// How long the lease lasts without renewal; a dead relay's successor takes over after it.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a relay that does not hold the lease asks for it again.
const STANDBY_POLL: Duration = Duration::from_secs(2);
/// Longest wait for the broker's acknowledgement of one message.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// The stream's duplicate window: a publish repeated within it is dropped by the server. It covers a restart
/// after a crash between publishing a batch and marking it.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);
/// Back-off between attempts while NATS cannot be reached.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the relay of this instance is doing, for readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayState {
    /// Not connected yet.
    Starting = 1,
    /// Connected and holding the lease: publishing.
    Publishing = 2,
    /// Connected; another instance holds the lease.
    Standby = 3,
    /// NATS cannot be reached or refuses the publishes: events wait in the outbox.
    Down = 4,
}

impl RelayState {
    pub(super) fn from_u8(raw: u8) -> Option<Self> {
        match raw {
            1 => Some(RelayState::Starting),
            2 => Some(RelayState::Publishing),
            3 => Some(RelayState::Standby),
            4 => Some(RelayState::Down),
            _ => None,
        }
    }
}

/// Why a relay session ended.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("NATS: {0}")]
    Broker(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

fn broker(err: impl std::fmt::Display) -> Stop {
    Stop::Broker(err.to_string())
}

/// Runs the relay until the pools close or `Outbox::stop` is called, then gives up the lease.
pub(super) async fn run(inner: std::sync::Arc<Inner>, db: Db, settings: NatsSettings) {
    let owner = format!("relay-{}", uuid::Uuid::now_v7());
    let mut stopping = inner.stopping.subscribe();
    let mut pause = RETRY_MIN;
    while !db.is_closed() && !*stopping.borrow() {
        let session = session(&inner, &db, &settings, &owner);
        let ended = tokio::select! {
            ended = session => ended,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        if let Err(err) = ended {
            report_backlog(&db).await;
            if inner.set_relay(RelayState::Down) {
                tracing::warn!(error = %err, "the change feed relay cannot publish; events wait in the outbox");
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stopping.wait_for(|stop| *stop) => break,
            }
            pause = (pause * 2).min(RETRY_MAX);
        }
        if inner.relay_state() == Some(RelayState::Publishing) {
            pause = RETRY_MIN;
        }
    }
    if let Err(err) = db::events::release_relay(&db, &owner).await {
        tracing::debug!(error = %err, "the relay's lease was not released; it expires by itself");
    }
}

/// One connection to NATS: ensures the stream, then relays (or stands by) until something fails.
async fn session(inner: &Inner, db: &Db, settings: &NatsSettings, owner: &str) -> Result<(), Stop> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .request_timeout(Some(ACK_TIMEOUT))
        .connect(settings.url.expose())
        .await
        .map_err(broker)?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: settings.stream.clone(),
        subjects: vec![format!("{}.>", settings.subject_prefix)],
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    })
    .await
    .map_err(broker)?;
    let mut heads = inner.head.subscribe();
    loop {
        let lease_ms = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let Some(published) = db::events::claim_relay(db, owner, lease_ms).await? else {
            inner.set_relay(RelayState::Standby);
            tokio::time::sleep(STANDBY_POLL).await;
            continue;
        };
        if inner.set_relay(RelayState::Publishing) {
            tracing::info!(
                published,
                "the change feed relay publishes to NATS JetStream"
            );
        }
        let head = db::events::head(db.reader()).await?;
        let batch =
            db::events::page(db.reader(), published, head, &Filter::default(), BATCH).await?;
        report_backlog(db).await;
        if batch.is_empty() {
            // Woken by new events, and at least once per third of the lease to renew it.
            let _ = tokio::time::timeout(LEASE / 3, heads.wait_for(|seen| *seen > head)).await;
            continue;
        }
        let (through, failure) = publish(&js, &settings.subject_prefix, batch).await;
        if through > published && !db::events::mark_published(db, owner, through, lease_ms).await? {
            tracing::warn!("the relay's lease passed to another instance; standing by");
        }
        if let Some(err) = failure {
            return Err(err);
        }
    }
}

/// Publishes `batch` back to back, then awaits the acknowledgements in order; returns the position through
/// which every event was acknowledged, and the first failure.
async fn publish(
    js: &jetstream::Context,
    prefix: &str,
    batch: Vec<db::events::Positioned>,
) -> (i64, Option<Stop>) {
    let through = batch.first().map_or(0, |p| p.position - 1);
    let mut pending = Vec::with_capacity(batch.len());
    for item in batch {
        let subject = format!("{prefix}.{}", item.event.kind.as_str());
        let payload = match serde_json::to_vec(&item.event) {
            Ok(json) => Bytes::from(json),
            Err(err) => return (through, Some(broker(err))),
        };
        let span = tracing::info_span!(
            target: trace_context::SPAN_TARGET,
            "outbox.publish",
            otel.name = %format_args!("publish {subject}"),
            otel.kind = "producer",
            messaging.system = "nats",
            messaging.destination.name = %subject,
            messaging.message.id = %item.event.id,
        );
        let mut message = PublishMessage::build()
            .payload(payload)
            .message_id(item.event.id.to_string());
        // The consumer continues the trace of the request that made the change.
        if let Some(traceparent) = trace_context::continue_from(&span, item.traceparent.as_deref())
        {
            message = message.header(trace_context::TRACEPARENT, traceparent.as_str());
        }
        match js.send_publish(subject, message).instrument(span).await {
            Ok(ack) => pending.push((item.position, ack)),
            Err(err) => {
                metrics::counter!(OUTBOX_PUBLISH_TOTAL, "outcome" => "error").increment(1);
                return (acknowledged(pending, through).await.0, Some(broker(err)));
            }
        }
    }
    let (through, failure) = acknowledged(pending, through).await;
    (through, failure)
}

/// Awaits acknowledgements in position order, stopping at the first that fails.
async fn acknowledged(
    pending: Vec<(i64, jetstream::context::PublishAckFuture)>,
    mut through: i64,
) -> (i64, Option<Stop>) {
    for (position, ack) in pending {
        match ack.await {
            Ok(ack) => {
                let outcome = if ack.duplicate { "duplicate" } else { "ok" };
                metrics::counter!(OUTBOX_PUBLISH_TOTAL, "outcome" => outcome).increment(1);
                through = position;
            }
            Err(err) => {
                metrics::counter!(OUTBOX_PUBLISH_TOTAL, "outcome" => "error").increment(1);
                return (through, Some(broker(err)));
            }
        }
    }
    (through, None)
}

/// Sets the backlog gauges: events not yet acknowledged by the broker, and the age of the oldest.
pub(super) async fn report_backlog(db: &Db) {
    let Ok((count, oldest)) = db::events::backlog(db).await else {
        return;
    };
    #[allow(
        clippy::cast_precision_loss,
        reason = "a gauge; exact below 2^53 events"
    )]
    metrics::gauge!(OUTBOX_PENDING).set(count as f64);
    let age = oldest.map_or(0.0, |at| {
        (crate::clock::now() - at).as_seconds_f64().max(0.0)
    });
    metrics::gauge!(OUTBOX_OLDEST_PENDING_SECONDS).set(age);
}
