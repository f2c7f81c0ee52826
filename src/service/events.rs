//! The change feed read by other services (docs/events.md): keyset pages in position order, with long polling.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    db::{self, events::Positioned},
    service::{Error, Result},
    state::AppState,
};

pub use crate::db::events::Filter;

/// The longest a reader may wait for an event (`wait`, SPEC section 7).
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// What a reader asks for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Events after this position; `None`: from the oldest event kept.
    pub after: Option<i64>,
    pub limit: u32,
    pub filter: Filter,
    /// How long to wait when nothing follows `after` yet; zero answers at once.
    pub wait: Duration,
}

/// One page of the feed.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Positioned>,
    /// Where the next read starts: the last item's position on a full page; otherwise the head the page was
    /// read up to, so that a filtered reader does not scan again what did not match.
    pub next: i64,
}

/// Events after `query.after`, waiting up to `query.wait` for the first one. A cursor older than the
/// retention is 410 `cursor_expired` rather than a silent jump over the events that were deleted.
pub async fn read(state: &AppState, query: Query) -> Result<Page> {
    let pool = state.db.reader();
    let after = match query.after {
        Some(after) => {
            require_retained(state, after).await?;
            after
        }
        None => db::events::pruned_through(pool).await?,
    };
    let deadline = Instant::now() + query.wait;
    let mut heads = state.outbox.head();
    loop {
        let head = db::events::head(pool).await?;
        let items = db::events::page(pool, after, head, &query.filter, query.limit).await?;
        if !items.is_empty() || Instant::now() >= deadline {
            // Retention may have run while the page was read: a page with a hole in it is never answered.
            if query.after.is_some() {
                require_retained(state, after).await?;
            }
            let full = items.len() >= query.limit as usize;
            let next = match items.last() {
                Some(last) if full => last.position,
                _ => head.max(after),
            };
            return Ok(Page { items, next });
        }
        // Woken when this instance sees the head move (its own commits at once, other instances' within the
        // sequencer's poll); a moved head with nothing for this filter waits again.
        let _ = tokio::time::timeout_at(deadline, heads.wait_for(|seen| *seen > head)).await;
    }
}

async fn require_retained(state: &AppState, after: i64) -> Result<()> {
    if after < db::events::pruned_through(state.db.reader()).await? {
        return Err(Error::CURSOR_EXPIRED);
    }
    Ok(())
}
