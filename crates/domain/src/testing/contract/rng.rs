//! A small deterministic generator (SplitMix64) for the property cases: the same seed gives
//! the same rows and queries on every run and every store, so a failure replays exactly, and
//! the domain needs no random-number crate.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n).unwrap_or(u64::MAX).max(1);
        usize::try_from(self.next_u64() % n64).unwrap_or(0)
    }

    /// `true` with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A copy of one of `items` (non-empty).
    pub fn one<T: Copy>(&mut self, items: &[T]) -> T {
        *self.pick(items)
    }

    /// Each item kept with probability `percent`/100.
    pub fn subset<T: Ord + Clone>(&mut self, items: &[T], percent: u64) -> BTreeSet<T> {
        items.iter().filter(|_| self.chance(percent)).cloned().collect()
    }

    /// A random (version-less) UUID: ids in no relation to the order rows were written in.
    pub fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next_u64(), self.next_u64())
    }

    /// One of `count` instants spread over a few days after `base`, whole microseconds, so
    /// that several rows share an instant and the id tie-breaker matters.
    pub fn instant(&mut self, base: OffsetDateTime, count: usize) -> OffsetDateTime {
        let slot = i64::try_from(self.below(count)).unwrap_or(0);
        base + Duration::hours(7 * slot) + Duration::microseconds(slot * 1_001)
    }
}
