//! The real clock and the real source of ids and secrets: the only place Roster reads the
//! system clock or the operating system's randomness for the domain.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roster_domain::ports::{Clock, IdGenerator};
use time::OffsetDateTime;
use uuid::Uuid;

/// The system clock, truncated to whole microseconds (what both databases store).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods, reason = "the one adapter of the Clock port reads the system clock")]
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now)
    }
}

/// UUIDv7 ids (sorted by creation) and 256-bit secrets from the thread-local CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn uuid(&self) -> Uuid {
        Uuid::now_v7()
    }

    fn secret(&self) -> String {
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    }
}

/// A password for the first admin: 18 random bytes, 24 URL-safe characters.
pub fn one_time_password() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_and_distinct_and_ids_sort_by_creation() {
        let ids = RandomIds;
        let (a, b) = (ids.secret(), ids.secret());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        let (x, y) = (ids.uuid(), ids.uuid());
        assert!(x < y);
        assert_eq!(SystemClock.now().nanosecond() % 1000, 0);
        assert!(one_time_password().len() >= 12);
    }
}
