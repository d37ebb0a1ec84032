//! Throttling (§10). [`LoginThrottle`]: a sliding window (sign-up requests per source address);
//! past the limit, attempts are refused with `rate_limited` until the oldest counted one leaves
//! the window. [`ProgressiveDelay`]: failed logins per account and address, and per address. The
//! store keeps the attempt times; the rules are here.

use time::{Duration, OffsetDateTime};

use crate::error::{ServiceError, ServiceResult};

/// A sliding-window limit on attempts: at most `max_failures` inside `window` (used for sign-up
/// requests per source address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// How many attempts inside `window` are allowed; the next one is refused.
    pub max_failures: usize,
    /// How far back attempts count.
    pub window: Duration,
}

impl Default for LoginThrottle {
    /// Five failures per account in 15 minutes (per address the adapter may use a larger
    /// limit: an office shares one address).
    fn default() -> Self {
        Self { max_failures: 5, window: Duration::minutes(15) }
    }
}

impl LoginThrottle {
    /// Checks whether another attempt is allowed given the recent failure times.
    ///
    /// # Errors
    /// `rate_limited` with the seconds until the next attempt is allowed.
    pub fn check(&self, failures: &[OffsetDateTime], now: OffsetDateTime) -> ServiceResult<()> {
        let mut recent: Vec<OffsetDateTime> =
            failures.iter().copied().filter(|t| *t > now - self.window && *t <= now).collect();
        if recent.len() < self.max_failures {
            return Ok(());
        }
        recent.sort();
        // The attempt is allowed again once enough failures have left the window.
        let release = recent[recent.len() - self.max_failures] + self.window;
        // Round a partial second up: a client that waits the seconds it is told must find the
        // failure gone, not be refused again for the fraction that was cut off.
        let wait = release - now;
        let whole_seconds = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
        let retry_after_seconds = u64::try_from(whole_seconds.max(1)).unwrap_or(1);
        Err(ServiceError::RateLimited { retry_after_seconds })
    }
}

/// A progressive delay on failed attempts (§10): the first `free` failures inside `window`
/// cost nothing; from then on, each next attempt must wait `base · 2^k` after the newest
/// failure, `k` being how many failures there were beyond `free` (0 at exactly `free`), capped
/// at `cap`.
/// A guesser slows down exponentially; the owner who mistyped a few times does not hit a wall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressiveDelay {
    /// How many failures inside `window` cost no delay.
    pub free: usize,
    /// The delay after the first failure beyond `free`; each further one doubles it.
    pub base: Duration,
    /// The longest delay, however many failures.
    pub cap: Duration,
    /// How far back failures count; older ones are forgotten.
    pub window: Duration,
}

impl ProgressiveDelay {
    /// Per account and source address: five free failures, then 1 s, 2 s, 4 s, … up to 15 min.
    pub const PER_ACCOUNT: Self =
        Self { free: 5, base: Duration::seconds(1), cap: Duration::minutes(15), window: Duration::minutes(15) };
    /// Per source address across accounts (an office shares one address): twenty free failures,
    /// then the same doubling.
    pub const PER_ADDRESS: Self =
        Self { free: 20, base: Duration::seconds(1), cap: Duration::minutes(15), window: Duration::minutes(15) };

    /// The wait after `extra` failures beyond the free ones.
    pub fn delay(&self, extra: usize) -> Duration {
        let doublings = u32::try_from(extra).unwrap_or(u32::MAX).min(40);
        let factor = 1_i64.checked_shl(doublings).unwrap_or(i64::MAX);
        let millis = i64::try_from(self.base.whole_milliseconds()).unwrap_or(i64::MAX).saturating_mul(factor);
        Duration::milliseconds(millis).min(self.cap)
    }

    /// Checks whether another attempt is allowed given the recent failure times.
    ///
    /// # Errors
    /// `rate_limited` with the seconds until the next attempt is allowed (rounded up, at least
    /// one).
    pub fn check(&self, failures: &[OffsetDateTime], now: OffsetDateTime) -> ServiceResult<()> {
        let recent = failures.iter().copied().filter(|t| *t > now - self.window && *t <= now);
        let (count, newest) = recent.fold((0usize, None), |(n, newest), t| (n + 1, newest.max(Some(t))));
        let Some(newest) = newest.filter(|_| count >= self.free) else { return Ok(()) };
        let release = newest + self.delay(count - self.free);
        if now >= release {
            return Ok(());
        }
        let wait = release - now;
        let whole_seconds = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
        Err(ServiceError::RateLimited { retry_after_seconds: u64::try_from(whole_seconds.max(1)).unwrap_or(1) })
    }
}
