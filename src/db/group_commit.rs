//! SQLite group commit: the writes waiting for the one write connection run together in one transaction, each
//! in its own savepoint, and one `COMMIT` answers them all.
//!
//! A write joins the open batch (or opens one with `BEGIN IMMEDIATE`), runs its statements inside
//! `SAVEPOINT member`, and on success leaves the savepoint in place and waits for the batch's commit. The member that
//! finds nobody else queued (or the batch full) commits the batch and tells every member the outcome: a write is
//! acknowledged only after the `COMMIT` that holds it succeeded, so a crash loses no acknowledged write. A member
//! that fails or is dropped rolls back to its savepoint: its work goes and the batch's stays. When a rollback to
//! the savepoint itself fails (SQLite rolled the whole transaction back, as on a full disk), the batch is
//! settled at once and its members are told whether it committed.
//!
//! Why: one write per transaction spent most of its time handing the connection over, beginning and committing
//! (docs/benchmarks.md, "Second round"); with a batch, those costs are paid once per batch.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

/// The statement that starts a write's savepoint; a statement of its own, or the first of a write's first query.
macro_rules! savepoint {
    () => {
        "SAVEPOINT member"
    };
}
pub(crate) use savepoint;

/// Most writes one `COMMIT` answers: bounds how long the first member of a busy batch waits for its answer.
const MAX_BATCH: usize = 32;

/// The write side of one SQLite database: its pool of one connection and the batch being filled.
#[derive(Debug)]
pub struct GroupCommit {
    pool: SqlitePool,
    batch: Arc<Mutex<Batch>>,
    /// Writes queued for the batch, not yet in it: while any is, a member leaves the commit to a later one.
    queued: AtomicUsize,
}

#[derive(Debug, Default)]
struct Batch {
    /// The open transaction, from the first member's `BEGIN IMMEDIATE` to the batch's `COMMIT`.
    tx: Option<Transaction<'static, Sqlite>>,
    /// Members that kept their write: each waits to hear whether the batch committed.
    kept: Vec<oneshot::Sender<bool>>,
    /// Members that joined this batch, kept or not.
    joined: usize,
}

impl Batch {
    /// Commits the batch (rolls it back when no member kept its work) and tells each kept member whether
    /// its write is stored; the connection goes back to the pool either way.
    async fn settle(&mut self) {
        let Some(tx) = self.tx.take() else {
            return;
        };
        let kept = std::mem::take(&mut self.kept);
        self.joined = 0;
        let result = if kept.is_empty() {
            tx.rollback().await
        } else {
            tx.commit().await
        };
        if let Err(err) = &result {
            // A connection still in a transaction after this is closed when it returns to the pool.
            tracing::warn!(error = %err, writes = kept.len(), "group commit failed");
        }
        for member in kept {
            let _ = member.send(result.is_ok());
        }
    }

    fn conn(&mut self) -> &mut SqliteConnection {
        self.tx
            .as_deref_mut()
            .expect("a member holds the batch only while it is open")
    }
}

impl GroupCommit {
    pub fn new(pool: SqlitePool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            batch: Arc::default(),
            queued: AtomicUsize::new(0),
        })
    }

    /// Joins the batch (opening it when none is open) and starts this write's savepoint.
    pub async fn join(self: &Arc<Self>) -> Result<Member, sqlx::Error> {
        let guard = Queued::enter(self).lock().await;
        let mut member = Member {
            guard: Some(guard),
            group: self.clone(),
            open: false,
            pending: false,
        };
        let batch = member.batch();
        if batch.tx.is_none() {
            // IMMEDIATE takes the write lock up front, so no member fails half-way on a lock upgrade.
            let begin = concat!("BEGIN IMMEDIATE; ", savepoint!());
            batch.tx = Some(self.pool.begin_with(begin).await?);
            member.open = true;
        } else {
            // Started with this write's first statement (`savepoint`, `take_savepoint`): one round trip less.
            member.pending = true;
        }
        member.batch().joined += 1;
        Ok(member)
    }

    /// True when the member leaving `batch` must settle it: no other write is queued to join it, or it is full.
    fn must_settle(&self, batch: &Batch) -> bool {
        batch.joined >= MAX_BATCH || self.queued.load(Ordering::Acquire) == 0
    }
}

/// A write queued for the batch lock; counted in [`GroupCommit::queued`] until it holds the lock or gives up.
struct Queued<'a> {
    group: &'a Arc<GroupCommit>,
    waiting: bool,
}

impl<'a> Queued<'a> {
    fn enter(group: &'a Arc<GroupCommit>) -> Self {
        group.queued.fetch_add(1, Ordering::AcqRel);
        Queued {
            group,
            waiting: true,
        }
    }

    async fn lock(mut self) -> OwnedMutexGuard<Batch> {
        let guard = self.group.batch.clone().lock_owned().await;
        self.group.queued.fetch_sub(1, Ordering::AcqRel);
        self.waiting = false;
        guard
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.waiting {
            return;
        }
        // A write that gave up waiting (its request was cancelled): a member may have left the commit to it.
        if self.group.queued.fetch_sub(1, Ordering::AcqRel) == 1 {
            let group = self.group.clone();
            spawn(async move {
                let mut batch = group.batch.clone().lock_owned().await;
                if group.must_settle(&batch) {
                    batch.settle().await;
                }
            });
        }
    }
}

/// One write in the batch: it holds the connection, inside its savepoint, until it commits or is dropped.
#[derive(Debug)]
pub struct Member {
    guard: Option<OwnedMutexGuard<Batch>>,
    group: Arc<GroupCommit>,
    /// True while the savepoint is open: dropping the member then rolls back to it.
    open: bool,
    /// True until the savepoint is started, with the member's first statement.
    pending: bool,
}

impl Member {
    fn batch(&mut self) -> &mut Batch {
        self.guard.as_mut().expect("held until commit or drop")
    }

    /// Starts this write's savepoint, unless it is started already; before each statement (`with_conn!`).
    pub async fn savepoint(&mut self) -> Result<(), sqlx::Error> {
        if self.take_savepoint() {
            if let Err(err) = sqlx::query(savepoint!()).execute(&mut **self).await {
                self.open = false;
                return Err(err);
            }
        }
        Ok(())
    }

    /// True when the savepoint is not started yet: the caller then starts it, by putting
    /// [`savepoint!`](crate::db::group_commit::savepoint) first in its next statement.
    pub fn take_savepoint(&mut self) -> bool {
        let pending = std::mem::take(&mut self.pending);
        self.open |= pending;
        pending
    }

    /// Keeps this write: leaves its savepoint and waits for the commit of its batch, which it runs itself when no
    /// other write is queued or the batch is full. Ok only once the write is committed.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let batch = self.batch();
        // The savepoint stays on SQLite's stack (no `RELEASE`, one round trip less): a later member's rollback
        // goes back to its own, the most recent one of the name, and the `COMMIT` ends them all.
        let (sender, committed) = oneshot::channel();
        batch.kept.push(sender);
        self.open = false;
        let mut guard = self.guard.take().expect("held until commit or drop");
        if self.group.must_settle(&guard) {
            // In a task of its own, so a cancelled request cannot stop a commit that other writes wait for.
            spawn(async move { guard.settle().await });
        } else {
            drop(guard);
        }
        match committed.await {
            Ok(true) => Ok(()),
            _ => Err(sqlx::Error::Io(std::io::Error::other(
                "the transaction this write was committed in failed",
            ))),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        let (group, open) = (self.group.clone(), self.open);
        // The rest needs the connection, so it runs in a task of its own that keeps the batch locked.
        spawn(async move {
            if open {
                let undone = sqlx::raw_sql("ROLLBACK TO member; RELEASE member")
                    .execute(guard.conn())
                    .await;
                if undone.is_err() {
                    // The transaction is gone (SQLite rolled it back): tell the members now.
                    guard.settle().await;
                    return;
                }
            }
            if group.must_settle(&guard) {
                guard.settle().await;
            }
        });
    }
}

impl std::ops::Deref for Member {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.guard
            .as_ref()
            .and_then(|batch| batch.tx.as_deref())
            .expect("held until commit or drop")
    }
}

impl std::ops::DerefMut for Member {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.batch().conn()
    }
}

/// Runs `task` on the current runtime; without one (the process is ending), the batch's transaction is left
/// to roll back when its connection closes.
fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(task);
    }
}
