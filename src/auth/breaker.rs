//! Circuit breaker around every call to the auth service (the JWKS fetch and the remote verification): after
//! enough consecutive failures it fails fast, then lets one trial call through to see whether the service is back.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// What the breaker lets through, as reported by `/health/ready` and the `auth_breaker_state` gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast.
    Open,
    /// The open period is over: the next call is a trial.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// The value of the `auth_breaker_state` gauge: 0 closed, 1 half-open, 2 open.
    fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { trial_in_flight: bool },
}

/// Counts consecutive failures of the calls it lets through.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    reset: Duration,
    inner: Mutex<Inner>,
    /// Whether any call let through has succeeded: until then readiness cannot say the service is up.
    reached: AtomicBool,
}

/// The breaker refused the call; the caller may retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub retry_after_secs: u64,
}

/// Permission for one call. Report its result with [`Permit::success`] or [`Permit::failure`]; a permit
/// dropped without a result (the request was cancelled) lets the next call be the trial instead.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    trial: bool,
    reported: bool,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, reset: Duration) -> Self {
        let breaker = CircuitBreaker {
            threshold: threshold.max(1),
            reset,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
            reached: AtomicBool::new(false),
        };
        publish(BreakerState::Closed);
        breaker
    }

    /// The current state; an open breaker whose time is up reports `half_open`.
    pub fn state(&self) -> BreakerState {
        let state = match *self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() < until => BreakerState::Open,
            Inner::Open { .. } | Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        };
        publish(state);
        state
    }

    /// Whether the auth service has answered any call since start-up.
    pub fn reached(&self) -> bool {
        self.reached.load(Ordering::Relaxed)
    }

    /// Lets a call through, or refuses it while the breaker is open (or a half-open trial is under way).
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let mut inner = self.lock();
        let now = Instant::now();
        let trial = match *inner {
            Inner::Closed { .. } => false,
            Inner::Open { until } if now < until => {
                return Err(Rejected {
                    retry_after_secs: seconds_until(until, now),
                });
            }
            Inner::HalfOpen {
                trial_in_flight: true,
            } => {
                return Err(Rejected {
                    retry_after_secs: 1,
                });
            }
            Inner::Open { .. } | Inner::HalfOpen { .. } => {
                *inner = Inner::HalfOpen {
                    trial_in_flight: true,
                };
                publish(BreakerState::HalfOpen);
                true
            }
        };
        Ok(Permit {
            breaker: self,
            trial,
            reported: false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state is a few plain values, always consistent: a panic elsewhere cannot corrupt it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        *inner = Inner::Open {
            until: now + self.reset,
        };
        publish(BreakerState::Open);
        tracing::warn!(
            reset_seconds = self.reset.as_secs(),
            "auth service circuit breaker opened; remote verification fails fast"
        );
    }
}

impl Permit<'_> {
    /// The auth service answered (a verdict, valid or not).
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.reached.store(true, Ordering::Relaxed);
        let mut inner = self.breaker.lock();
        match *inner {
            Inner::HalfOpen { .. } if self.trial => {
                *inner = Inner::Closed { failures: 0 };
                publish(BreakerState::Closed);
                tracing::info!("auth service circuit breaker closed");
            }
            Inner::Closed { .. } => *inner = Inner::Closed { failures: 0 },
            // A late answer to a call made before the breaker opened does not close it.
            _ => {}
        }
    }

    /// The auth service failed (timeout, refused connection, 5xx, unusable answer).
    /// Returns how many seconds the caller should wait before retrying.
    pub fn failure(mut self) -> u64 {
        self.reported = true;
        let breaker = self.breaker;
        let mut inner = breaker.lock();
        let now = Instant::now();
        match *inner {
            Inner::HalfOpen { .. } if self.trial => breaker.open(&mut inner, now),
            Inner::Closed { failures } if failures + 1 >= breaker.threshold => {
                breaker.open(&mut inner, now);
            }
            Inner::Closed { failures } => {
                *inner = Inner::Closed {
                    failures: failures + 1,
                }
            }
            _ => {}
        }
        match *inner {
            Inner::Open { until } => seconds_until(until, now),
            _ => 1,
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.trial && !self.reported {
            let mut inner = self.breaker.lock();
            if let Inner::HalfOpen { .. } = *inner {
                *inner = Inner::HalfOpen {
                    trial_in_flight: false,
                };
            }
        }
    }
}

/// Whole seconds until `until`, rounded up, at least 1 (a `Retry-After` of 0 invites a busy loop).
fn seconds_until(until: Instant, now: Instant) -> u64 {
    let remaining = until.saturating_duration_since(now);
    (remaining.as_millis().div_ceil(1000) as u64).max(1)
}

fn publish(state: BreakerState) {
    metrics::gauge!("auth_breaker_state").set(state.gauge_value());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(breaker: &CircuitBreaker) -> u64 {
        breaker.try_acquire().expect("call let through").failure()
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        assert_eq!(fail(&breaker), 1);
        assert_eq!(fail(&breaker), 1);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(fail(&breaker), 30);
        assert_eq!(breaker.state(), BreakerState::Open);
        let rejected = breaker.try_acquire().unwrap_err();
        assert!((29..=30).contains(&rejected.retry_after_secs));
    }

    #[test]
    fn a_success_resets_the_count_of_failures() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(30));
        fail(&breaker);
        breaker.try_acquire().unwrap().success();
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_lets_one_trial_through_and_closes_on_success() {
        let breaker = CircuitBreaker::new(1, Duration::ZERO);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let trial = breaker.try_acquire().unwrap();
        assert_eq!(
            breaker.try_acquire().unwrap_err(),
            Rejected {
                retry_after_secs: 1
            }
        );
        trial.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_trial_opens_the_breaker_again() {
        let breaker = CircuitBreaker::new(1, Duration::from_secs(60));
        *breaker.lock() = Inner::HalfOpen {
            trial_in_flight: false,
        };
        assert_eq!(breaker.try_acquire().unwrap().failure(), 60);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn a_cancelled_trial_lets_the_next_call_be_the_trial() {
        let breaker = CircuitBreaker::new(1, Duration::ZERO);
        fail(&breaker);
        drop(breaker.try_acquire().unwrap());
        assert!(breaker.try_acquire().is_ok());
    }
}
