//! The id of the request being served, readable anywhere on its task: problem bodies and audit events carry it.

use std::future::Future;

use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `work` with `id` as the current request id.
pub fn scope<F: Future>(id: String, work: F) -> TaskLocalFuture<String, F> {
    REQUEST_ID.scope(id, work)
}
