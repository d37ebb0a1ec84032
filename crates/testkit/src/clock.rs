//! A clock that only moves when a test moves it.
//!
//! Services read time through the [`Clock`] port, so a test that owns a [`ManualClock`] decides
//! exactly when a token expires or a scheduled change falls due, without sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use roster_domain::ports::Clock;

/// A [`Clock`] set by hand. Clones share the same time, so the copy handed to a service moves
/// when the test moves its own.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self { now: Arc::new(Mutex::new(start)) }
    }

    /// Puts the clock at `t` (backwards too: tests may need to).
    pub fn set(&self, t: OffsetDateTime) {
        *self.lock() = t;
    }

    /// Moves the clock by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // A panic while the lock is held cannot leave a half-written `OffsetDateTime` behind
        // (assignment of a `Copy` value), so a poisoned lock still holds a valid time.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn clones_share_the_time_a_test_sets_and_advances() {
        let clock = ManualClock::new(datetime!(2024-01-01 0:00 UTC));
        let service_copy = clock.clone();
        clock.advance(Duration::days(7));
        assert_eq!(service_copy.now(), datetime!(2024-01-08 0:00 UTC));
        clock.set(datetime!(2023-12-31 12:00 UTC));
        assert_eq!(service_copy.now(), datetime!(2023-12-31 12:00 UTC));
    }
}
