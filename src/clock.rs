//! The one clock the rules read (docs/decisions.md, "Time is injected: one Clock"): token
//! expiry, list-cursor expiry, rate-limit windows, the last-use refresh and export times.
//! Production reads the system's clock; tests hold a [`ManualClock`] that stands still until
//! they advance it, so a rule about time is tested without waiting for it.
//!
//! Times the database assigns (`meta.created`, `meta.lastModified`, audit `at`, `revoked_at`)
//! are not read from here: Postgres takes them from its own `now()`.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

/// A cheap handle on the system clock or on a [`ManualClock`].
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Manual>>,
}

struct Manual {
    /// The wall-clock time at which the manual clock was made.
    start: DateTime<Utc>,
    /// Nanoseconds it was advanced by since.
    advanced: AtomicU64,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(m) => m.start + TimeDelta::nanoseconds(m.advanced.load(Ordering::SeqCst) as i64),
        }
    }

    /// Time since an origin fixed for the clock: never goes backwards, whatever happens to
    /// the wall clock (the rate limiter's windows are measured on it).
    pub fn monotonic(&self) -> Duration {
        match &self.manual {
            None => {
                static ORIGIN: OnceLock<Instant> = OnceLock::new();
                ORIGIN.get_or_init(Instant::now).elapsed()
            }
            Some(m) => Duration::from_nanos(m.advanced.load(Ordering::SeqCst)),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::system"),
            Some(_) => write!(f, "Clock::manual({})", self.now()),
        }
    }
}

/// The rate limiter (governor) measures its windows on the same clock.
impl governor::clock::Clock for Clock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.monotonic()
    }
}

/// A clock that stands still until advanced: for tests.
#[derive(Clone)]
pub struct ManualClock(Arc<Manual>);

impl ManualClock {
    /// Stopped at the start of the system's current second: whole seconds are what tokens
    /// and cursors count in, so a test knows exactly when its one-second token expires.
    pub fn new() -> ManualClock {
        ManualClock(Arc::new(Manual {
            start: Utc::now().trunc_subsecs(0),
            advanced: AtomicU64::new(0),
        }))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.advanced.fetch_add(nanos, Ordering::SeqCst);
    }

    /// The handle the server reads.
    pub fn clock(&self) -> Clock {
        Clock {
            manual: Some(self.0.clone()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock().now()
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_advanced() {
        let manual = ManualClock::new();
        let clock = manual.clock();
        let t0 = clock.now();
        let m0 = clock.monotonic();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), t0);
        assert_eq!(clock.monotonic(), m0);
        manual.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - t0, TimeDelta::milliseconds(1500));
        assert_eq!(clock.monotonic() - m0, Duration::from_millis(1500));
        // Every handle reads the same clock.
        assert_eq!(manual.clock().now(), clock.now());
    }

    #[test]
    fn the_system_clock_moves() {
        let clock = Clock::system();
        let m0 = clock.monotonic();
        let t0 = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert!(clock.monotonic() > m0);
        assert!(clock.now() > t0);
    }
}
