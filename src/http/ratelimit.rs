//! Per-account rate limiting (docs/decisions.md, "Operations"): an account that sends more than its share
//! gets 429 with `Retry-After` — Okta and Entra back off on it — instead of slowing every
//! other account down.
//!
//! The limit is a GCRA token bucket per account, kept in this process's memory: with several
//! replicas behind a load balancer each one enforces it on the requests it sees. That is the
//! right trade for an overload guard (no database round trip per request, no shared state to
//! lose); it is not a quota. Requests are counted after authentication, so a flood of bad
//! tokens aimed at an account's URL cannot use up that account's budget.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use uuid::Uuid;

use crate::clock::Clock;

/// Accounts kept before idle buckets are dropped; a full bucket carries no information.
const RETAIN_THRESHOLD: usize = 10_000;

/// Buckets per account, their windows measured on the service's clock.
type Limiter = RateLimiter<Uuid, DefaultKeyedStateStore<Uuid>, Clock, NoOpMiddleware<Duration>>;

pub struct AccountLimiter {
    limiter: Limiter,
    clock: Clock,
    burst: NonZeroU32,
}

impl AccountLimiter {
    /// `per_second` sustained requests with bursts of up to `burst`; `None` when
    /// `per_second` is 0 (limiting off). Windows refill as `clock` moves.
    pub fn new(per_second: u32, burst: u32, clock: Clock) -> Option<AccountLimiter> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
        Some(AccountLimiter {
            limiter: RateLimiter::dashmap_with_clock(
                Quota::per_second(rate).allow_burst(burst),
                clock.clone(),
            ),
            clock,
            burst,
        })
    }

    /// Takes one request from the account's bucket, or says how long until one is free.
    pub fn check(&self, account: Uuid) -> Result<(), Duration> {
        if self.limiter.len() > RETAIN_THRESHOLD {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&account)
            .map_err(|not_until| not_until.wait_time_from(self.clock.monotonic()))
    }
}

impl AccountLimiter {
    /// Takes `n` more requests' worth at once: a bulk request pays for its operations, each
    /// of which does a request's work. At most a full burst, so that a bulk request larger
    /// than the burst still passes when the bucket is full.
    pub fn check_n(&self, account: Uuid, n: u32) -> Result<(), Duration> {
        let Some(n) = NonZeroU32::new(n.min(self.burst.get())) else {
            return Ok(());
        };
        match self.limiter.check_key_n(&account, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.clock.monotonic())),
            // n is at most the burst, so the bucket can hold it.
            Err(_) => Ok(()),
        }
    }
}

/// The `Retry-After` value for a wait: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_burst_passes_then_the_account_waits_and_others_do_not() {
        let time = ManualClock::new();
        let limiter = AccountLimiter::new(1, 3, time.clock()).unwrap();
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(limiter.check(b).is_ok(), "another account keeps its own budget");
        // One request a second: the window refills one request at a time.
        time.advance(Duration::from_millis(400));
        assert_eq!(limiter.check(a).unwrap_err(), Duration::from_millis(600));
        time.advance(Duration::from_millis(600));
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_err());
    }

    #[test]
    fn a_bulk_request_pays_for_its_operations_up_to_a_burst() {
        let limiter = AccountLimiter::new(1, 5, ManualClock::new().clock()).unwrap();
        let a = Uuid::now_v7();
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check_n(a, 4).is_ok(), "five in all: the burst");
        assert!(limiter.check_n(a, 1).is_err());
        assert!(limiter.check_n(a, 0).is_ok(), "nothing more to pay");
        // More than a burst costs a burst, so it can still pass on a full bucket.
        let b = Uuid::now_v7();
        assert!(limiter.check_n(b, 1000).is_ok());
        assert!(limiter.check(b).is_err());
    }

    #[test]
    fn zero_rate_turns_limiting_off() {
        assert!(AccountLimiter::new(0, 100, Clock::system()).is_none());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }
}
