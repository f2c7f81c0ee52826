//! The change feed outside a request (docs/events.md): the sequencer that gives committed events their
//! positions and tells waiting feed readers, the retention that prunes old events, and the relay that
//! publishes them to NATS JetStream (`relay`).

pub mod relay;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

pub use relay::RelayState;

use crate::{clock, config::EventSettings, db::Db};

/// The relay's metrics (described in `http::metrics`).
pub const OUTBOX_PENDING: &str = "outbox_pending";
pub const OUTBOX_OLDEST_PENDING_SECONDS: &str = "outbox_oldest_pending_seconds";
pub const OUTBOX_PUBLISH_TOTAL: &str = "outbox_publish_total";

/// How often the sequencer looks for events committed by other instances (its own commits wake it at once).
const POLL: Duration = Duration::from_millis(250);
/// How often retention runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Events deleted per statement by retention.
const RETENTION_BATCH: u32 = 1000;

/// What writers, feed readers and the relay share: a wake-up after each commit, and the feed's head (the
/// highest position every reader may see).
#[derive(Clone, Debug)]
pub struct Outbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    committed: Notify,
    head: watch::Sender<i64>,
    /// The relay's `RelayState` as a number; 0 while no relay runs.
    relay: AtomicU8,
    /// Set at shutdown: the relay gives up its lease and stops.
    stopping: watch::Sender<bool>,
    relay_task: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    /// Records the relay's state; true when it changed.
    fn set_relay(&self, state: RelayState) -> bool {
        self.relay.swap(state as u8, Ordering::Relaxed) != state as u8
    }

    fn relay_state(&self) -> Option<RelayState> {
        RelayState::from_u8(self.relay.load(Ordering::Relaxed))
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            inner: Arc::new(Inner {
                committed: Notify::new(),
                head: watch::Sender::new(0),
                relay: AtomicU8::new(0),
                stopping: watch::Sender::new(false),
                relay_task: Mutex::new(None),
            }),
        }
    }
}

impl Outbox {
    /// A write committed (with events, or none): the sequencer runs now rather than at its next poll.
    pub fn committed(&self) {
        self.inner.committed.notify_one();
    }

    /// The feed's head as this instance last saw it; changes wake the receiver.
    pub fn head(&self) -> watch::Receiver<i64> {
        self.inner.head.subscribe()
    }

    /// Runs the sequencer and the retention until the pools close, and the relay when `NATS_URL` is set.
    pub fn spawn(&self, db: &Db, settings: &EventSettings) {
        tokio::spawn(sequence(self.inner.clone(), db.clone()));
        tokio::spawn(retain(db.clone(), settings.clone()));
        if let Some(nats) = settings.nats.clone() {
            self.inner.set_relay(RelayState::Starting);
            let task = tokio::spawn(relay::run(self.inner.clone(), db.clone(), nats));
            if let Ok(mut slot) = self.inner.relay_task.lock() {
                *slot = Some(task);
            }
        }
    }

    /// What this instance's relay is doing; `None` without `NATS_URL`.
    pub fn relay_state(&self) -> Option<RelayState> {
        self.inner.relay_state()
    }

    /// At shutdown: the relay finishes the batch it is acknowledging at most within `limit`, gives up its lease
    /// (so another instance takes over at once) and stops.
    pub async fn stop(&self, limit: Duration) {
        self.inner.stopping.send_replace(true);
        let task = self.inner.relay_task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            if tokio::time::timeout(limit, task).await.is_err() {
                tracing::warn!(
                    "the change feed relay did not stop in time; its lease expires by itself"
                );
            }
        }
    }
}

/// After each local commit, and every `POLL` for the commits of other instances: numbers the committed events
/// (PostgreSQL; see `db::events`) and publishes the head to the feed's readers.
async fn sequence(inner: Arc<Inner>, db: Db) {
    let mut failing = false;
    while !db.is_closed() {
        tokio::select! {
            () = inner.committed.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
        if db.is_down() {
            continue;
        }
        match crate::db::events::assign_positions(&db).await {
            Ok(head) => {
                failing = false;
                inner.head.send_if_modified(|seen| {
                    let moved = head > *seen;
                    *seen = (*seen).max(head);
                    moved
                });
            }
            Err(err) if !failing && !db.is_closed() => {
                failing = true;
                tracing::warn!(error = %err, "numbering the change feed's events failed; retrying");
            }
            Err(_) => {}
        }
    }
}

/// Deletes the events older than `EVENTS_RETENTION_DAYS`, hourly. With a relay configured, an event the broker
/// has not acknowledged is kept however old it is.
async fn retain(db: Db, settings: EventSettings) {
    let mut tick = tokio::time::interval(RETENTION_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !db.is_closed() {
        tick.tick().await;
        if db.is_down() {
            continue;
        }
        let result = prune(&db, &settings).await;
        match result {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "expired change events deleted"),
            Err(err) if !db.is_closed() => {
                tracing::warn!(error = %err, "deleting expired change events failed");
            }
            Err(_) => {}
        }
    }
}

/// One retention pass; returns how many events it deleted.
pub async fn prune(db: &Db, settings: &EventSettings) -> Result<u64, sqlx::Error> {
    let at_most = if settings.nats.is_some() {
        crate::db::events::published_through(db.reader()).await?
    } else {
        i64::MAX
    };
    let cutoff = clock::now() - settings.retention;
    crate::db::events::prune(db, cutoff, at_most, RETENTION_BATCH).await
}
