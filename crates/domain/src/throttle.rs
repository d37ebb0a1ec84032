//! Login throttling (§10): failures are counted per account and per source address over a
//! sliding window; past the limit, logins are refused with `rate_limited` until the oldest
//! counted failure leaves the window. The adapter stores the failure times; the rule is here.

use time::{Duration, OffsetDateTime};

use crate::error::{ServiceError, ServiceResult};

/// A sliding-window limit on failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub max_failures: usize,
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
