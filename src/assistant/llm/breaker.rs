//! A circuit breaker: after `failures` failed completions in a row the LLM is not asked for
//! `cooldown`, so customers get the fallback answer at once instead of waiting for yet
//! another timeout. After the cooldown one trial request goes through (half-open): its
//! success closes the breaker, its failure opens it for another cooldown.
//!
//! Hand-written because it is small and must answer without awaiting; the clock is a trait
//! so tests move time by hand instead of sleeping.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where the breaker reads the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The machine's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// The trial request after the cooldown is under way; others wait for its outcome.
    HalfOpen,
}

/// Counts failures in a row and decides whether a request may go out.
pub struct CircuitBreaker {
    failures: u32,
    cooldown: Duration,
    /// Names the server in logs.
    label: String,
    clock: Arc<dyn Clock>,
    // A std mutex: it is never held across an await.
    state: Mutex<State>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("failures", &self.failures)
            .field("cooldown", &self.cooldown)
            .field("state", &*self.lock())
            .finish()
    }
}

impl CircuitBreaker {
    /// Opens after `failures` failures in a row (at least 1) for `cooldown`.
    pub fn new(failures: u32, cooldown: Duration, label: impl Into<String>) -> Self {
        Self::with_clock(failures, cooldown, label, Arc::new(SystemClock))
    }

    pub fn with_clock(
        failures: u32,
        cooldown: Duration,
        label: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            failures: failures.max(1),
            cooldown,
            label: label.into(),
            clock,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// A permit to send one request, or how long until one will be given (zero while a
    /// trial request is under way).
    pub fn try_acquire(&self) -> Result<Permit<'_>, Duration> {
        let now = self.clock.now();
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(Permit::new(self, false)),
            State::Open { until } if now < until => Err(until - now),
            State::Open { .. } => {
                *state = State::HalfOpen;
                tracing::info!(llm = %self.label, "LLM circuit breaker half-open: sending one trial request");
                Ok(Permit::new(self, true))
            }
            State::HalfOpen => Err(Duration::ZERO),
        }
    }

    /// True while requests are refused (open, or half-open with the trial under way).
    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed { .. })
    }

    fn succeeded(&self) {
        let mut state = self.lock();
        if !matches!(*state, State::Closed { .. }) {
            tracing::info!(llm = %self.label, "LLM answered again: circuit breaker closed");
            metrics::gauge!("showroom_llm_breaker_open").set(0.0);
        }
        *state = State::Closed { failures: 0 };
    }

    fn failed(&self, probe: bool) {
        let now = self.clock.now();
        let mut state = self.lock();
        let open = match *state {
            State::Closed { failures } => {
                let failures = failures + 1;
                *state = State::Closed { failures };
                failures >= self.failures
            }
            State::HalfOpen => probe,
            // A request sent before the breaker opened: already open, leave the deadline.
            State::Open { .. } => false,
        };
        if open {
            *state = State::Open {
                until: now + self.cooldown,
            };
            metrics::counter!("showroom_llm_breaker_opens_total").increment(1);
            metrics::gauge!("showroom_llm_breaker_open").set(1.0);
            tracing::warn!(
                llm = %self.label,
                failures_in_a_row = self.failures,
                cooldown_ms = self.cooldown.as_millis() as u64,
                trial = probe,
                "LLM circuit breaker opened: answers fall back until the cooldown ends"
            );
        }
    }

    /// The trial request was abandoned (its caller went away): let the next call try.
    fn abandoned(&self) {
        let now = self.clock.now();
        let mut state = self.lock();
        if *state == State::HalfOpen {
            *state = State::Open { until: now };
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a plain value always left consistent, so a panic elsewhere while it
        // was held cannot have broken it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Leave to send one request; say how it went with [`Permit::succeeded`] or
/// [`Permit::failed`]. Dropped without either, it counts as neither.
#[must_use = "report the outcome with succeeded() or failed()"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl<'a> Permit<'a> {
    fn new(breaker: &'a CircuitBreaker, probe: bool) -> Self {
        Self {
            breaker,
            probe,
            reported: false,
        }
    }

    /// True for the single trial request after a cooldown.
    pub fn is_trial(&self) -> bool {
        self.probe
    }

    pub fn succeeded(mut self) {
        self.reported = true;
        self.breaker.succeeded();
    }

    pub fn failed(mut self) {
        self.reported = true;
        self.breaker.failed(self.probe);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.abandoned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock moved by hand.
    struct ManualClock(Mutex<Instant>);

    impl ManualClock {
        fn advance(&self, by: Duration) {
            let mut now = self.0.lock().unwrap();
            *now += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    fn breaker(failures: u32) -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
        let breaker =
            CircuitBreaker::with_clock(failures, Duration::from_secs(60), "test", clock.clone());
        (breaker, clock)
    }

    fn fail(breaker: &CircuitBreaker) {
        breaker.try_acquire().expect("closed").failed();
    }

    #[test]
    fn opens_after_failures_in_a_row_and_says_how_long() {
        let (breaker, clock) = breaker(3);
        fail(&breaker);
        fail(&breaker);
        assert!(!breaker.is_open());
        fail(&breaker);
        assert!(breaker.is_open());
        assert_eq!(breaker.try_acquire().err(), Some(Duration::from_secs(60)));
        clock.advance(Duration::from_secs(45));
        assert_eq!(breaker.try_acquire().err(), Some(Duration::from_secs(15)));
    }

    #[test]
    fn a_success_resets_the_count() {
        let (breaker, _) = breaker(2);
        fail(&breaker);
        breaker.try_acquire().expect("closed").succeeded();
        fail(&breaker);
        assert!(!breaker.is_open(), "failures were not in a row");
        fail(&breaker);
        assert!(breaker.is_open());
    }

    #[test]
    fn after_the_cooldown_one_trial_goes_and_its_success_closes() {
        let (breaker, clock) = breaker(1);
        fail(&breaker);
        clock.advance(Duration::from_secs(60));
        let trial = breaker.try_acquire().expect("trial let through");
        assert!(trial.is_trial());
        assert_eq!(
            breaker.try_acquire().err(),
            Some(Duration::ZERO),
            "only one trial at a time"
        );
        trial.succeeded();
        assert!(!breaker.is_open());
        let next = breaker.try_acquire().expect("closed again");
        assert!(!next.is_trial());
        next.succeeded();
    }

    #[test]
    fn a_failed_trial_reopens_for_a_whole_cooldown() {
        let (breaker, clock) = breaker(3);
        for _ in 0..3 {
            fail(&breaker);
        }
        clock.advance(Duration::from_secs(61));
        breaker.try_acquire().expect("trial").failed();
        assert_eq!(breaker.try_acquire().err(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_call_try() {
        let (breaker, clock) = breaker(1);
        fail(&breaker);
        clock.advance(Duration::from_secs(60));
        drop(breaker.try_acquire().expect("trial"));
        let again = breaker.try_acquire().expect("another trial");
        assert!(again.is_trial());
        again.succeeded();
    }

    #[test]
    fn late_failures_do_not_extend_an_open_breaker() {
        let (breaker, clock) = breaker(1);
        let early = breaker.try_acquire().expect("closed");
        fail(&breaker);
        clock.advance(Duration::from_secs(30));
        early.failed();
        assert_eq!(breaker.try_acquire().err(), Some(Duration::from_secs(30)));
    }
}
