//! One client connection's deadlines, after Go's `ReadHeaderTimeout` and `IdleTimeout`:
//!
//! - a new connection must deliver its first request's headers within `header_read` of connecting;
//! - between requests, a kept-alive connection may stay silent for `idle`; once the next request's first byte
//!   arrives, its headers are due within `header_read`;
//! - while its handler runs there is no deadline here: the request time limit of `http::middleware` applies;
//! - once the response is ready, a client that stops reading it (nothing written for `idle`) is cut off.
//!
//! HTTP/1.1 serves one request at a time on a connection, so a connection is in one of these phases at a time.
//!
//! hyper's own `header_read_timeout` is left off: its timer starts as soon as a connection is idle, so it would
//! also cut kept-alive connections after `header_read`, which proxies that pool connections for a minute or
//! more would see as resets. A connection that misses a deadline is dropped, which closes its socket.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use http_body::{Body, Frame, SizeHint};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::Notify,
};

use crate::{config::ConnectionLimits, http::metrics};

/// Where a connection is in its life, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connected, no request yet.
    Opened(Instant),
    /// Between requests, nothing received since the last one ended.
    Idle(Instant),
    /// The next request's head has begun to arrive.
    ReadingHead(Instant),
    /// The handler is running.
    Handling,
    /// The response is being sent; bytes last went out then.
    Sending(Instant),
}

/// Which deadline a connection missed (the metric's `timeout` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missed {
    HeaderRead,
    Idle,
    Send,
}

/// What one connection has been doing, shared by its socket, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
    header_read: Duration,
    idle: Duration,
}

impl Activity {
    pub fn new(limits: &ConnectionLimits) -> Arc<Self> {
        Arc::new(Activity {
            phase: Mutex::new(Phase::Opened(Instant::now())),
            changed: Notify::new(),
            header_read: limits.header_read_timeout,
            idle: limits.idle_timeout,
        })
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // A poisoned lock only means a panic elsewhere mid-update: the phase is still a phase.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deadline(&self) -> Option<(Instant, Missed)> {
        match *self.phase() {
            Phase::Opened(since) | Phase::ReadingHead(since) => {
                Some((since + self.header_read, Missed::HeaderRead))
            }
            Phase::Idle(since) => Some((since + self.idle, Missed::Idle)),
            Phase::Sending(since) => Some((since + self.idle, Missed::Send)),
            Phase::Handling => None,
        }
    }

    fn set(&self, next: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase();
        let before = *phase;
        *phase = next(before);
        if *phase != before {
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: between requests, the next request's head has begun.
    fn received(&self) {
        self.set(|phase| match phase {
            Phase::Idle(_) => Phase::ReadingHead(Instant::now()),
            other => other,
        });
    }

    /// Bytes went out: a response being sent is making progress. (No wake-up: the deadline only moves later,
    /// and the watchdog looks again when the old one passes.)
    fn sent(&self) {
        let mut phase = self.phase();
        if let Phase::Sending(_) = *phase {
            *phase = Phase::Sending(Instant::now());
        }
    }

    /// A request's head is complete and its handler called; the request is in flight until the guard is
    /// dropped (with the response body, once it is sent).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.set(|_| Phase::Handling);
        InFlight(self.clone())
    }
}

/// A request being served; dropping it (with its response body) ends it.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.set(|_| Phase::Idle(Instant::now()));
    }
}

impl InFlight {
    /// The handler has answered: from now on the client must keep reading the response.
    pub fn responded(&self) {
        self.0.set(|_| Phase::Sending(Instant::now()));
    }

    /// `body`, keeping the request in flight until the body is dropped.
    pub fn attach<B>(self, body: B) -> TrackedBody<B> {
        TrackedBody {
            body,
            _in_flight: self,
        }
    }
}

/// A response body that holds its request's [`InFlight`]; everything else is the inner body's.
#[derive(Debug)]
pub struct TrackedBody<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A socket that tells its connection's [`Activity`] when bytes arrive.
#[derive(Debug)]
pub struct WatchedIo<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> WatchedIo<T> {
    pub fn new(io: T, activity: Arc<Activity>) -> Self {
        WatchedIo { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.received();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.sent();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.sent();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Drives `connection` to its end, unless the client misses the deadline of its phase first: then the
/// connection is dropped (its socket closed) and the miss counted.
pub async fn run_until_deadline<F: Future>(
    connection: F,
    activity: &Activity,
) -> Option<F::Output> {
    tokio::pin!(connection);
    loop {
        let deadline = activity.deadline();
        if let Some((at, missed)) = deadline {
            if at <= Instant::now() {
                let timeout = match missed {
                    Missed::HeaderRead => "header_read",
                    Missed::Idle => "idle",
                    Missed::Send => "send",
                };
                ::metrics::counter!(metrics::HTTP_CONNECTION_TIMEOUTS_TOTAL, "timeout" => timeout)
                    .increment(1);
                tracing::debug!(timeout, "connection closed: deadline missed");
                return None;
            }
        }
        let sleep = async move {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            output = &mut connection => return Some(output),
            () = activity.changed.notified() => {}
            () = sleep => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity() -> Arc<Activity> {
        Activity::new(&ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1,
        })
    }

    fn missed(activity: &Activity) -> Option<Missed> {
        activity.deadline().map(|(_, missed)| missed)
    }

    #[test]
    fn a_new_connection_owes_its_headers_whatever_it_sends_meanwhile() {
        let activity = activity();
        assert_eq!(missed(&activity), Some(Missed::HeaderRead));
        let first = activity.deadline();

        activity.received();

        assert_eq!(
            activity.deadline(),
            first,
            "bytes do not extend the deadline"
        );
    }

    #[test]
    fn a_running_handler_has_no_deadline_and_the_end_of_its_response_starts_the_idle_one() {
        let activity = activity();
        let request = activity.begin();
        assert_eq!(activity.deadline(), None);

        request.responded();
        assert_eq!(missed(&activity), Some(Missed::Send));
        drop(request);
        assert_eq!(missed(&activity), Some(Missed::Idle));

        activity.received();
        assert_eq!(missed(&activity), Some(Missed::HeaderRead));
    }

    #[test]
    fn bytes_going_out_push_the_send_deadline_back() {
        let activity = activity();
        let request = activity.begin();
        request.responded();
        let before = activity.deadline().unwrap().0;

        std::thread::sleep(Duration::from_millis(5));
        activity.sent();

        assert!(activity.deadline().unwrap().0 > before);
        drop(request);
    }

    #[test]
    fn a_response_body_keeps_its_request_in_flight_until_dropped() {
        let activity = activity();
        let body = activity.begin().attach(String::from("{}"));
        assert_eq!(body.size_hint().exact(), Some(2));
        assert_eq!(activity.deadline(), None);

        drop(body);

        assert_eq!(missed(&activity), Some(Missed::Idle));
    }
}
