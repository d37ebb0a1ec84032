//! Deterministic identifiers and secrets, for tests only.
//!
//! Production adapters hand out UUIDv7 ids and random secrets; tests want the same values on
//! every run, so that a failing property test replays exactly and snapshots compare equal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use uuid::Uuid;

use roster_domain::ports::IdGenerator;

/// An [`IdGenerator`] counting from 1. Clones share the counter.
///
/// Ids are `Uuid::from_u128(n)`, so later ids sort after earlier ones, as UUIDv7 ids do in
/// production (orderings by id then mean "by creation" in both). Secrets are the hex SHA-256 of
/// the counter: 64 URL-safe characters, unique, but **predictable** — never use this outside
/// tests.
#[derive(Debug, Clone, Default)]
pub struct SequentialIds {
    next: Arc<AtomicU64>,
}

impl SequentialIds {
    pub fn new() -> Self {
        Self::default()
    }

    fn tick(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl IdGenerator for SequentialIds {
    fn uuid(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.tick()))
    }

    fn secret(&self) -> String {
        hex::encode(Sha256::digest(format!("roster-test-secret-{}", self.tick()).as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_secrets_are_distinct_64_hex_chars() {
        let ids = SequentialIds::new();
        let shared = ids.clone();
        let a = ids.uuid();
        let b = shared.uuid();
        assert!(a < b);
        let (s, t) = (ids.secret(), ids.secret());
        assert_ne!(s, t);
        assert_eq!(s.len(), 64);
        assert!(s.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn two_generators_give_the_same_sequence() {
        let (x, y) = (SequentialIds::new(), SequentialIds::new());
        assert_eq!((x.uuid(), x.secret()), (y.uuid(), y.secret()));
    }
}
