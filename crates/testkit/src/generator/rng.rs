//! The kit's one seeded generator (SplitMix64): small, fast and the same on every platform, so
//! the same seed gives the same rows, queries and organization on every run and every store,
//! and a failure replays exactly. The modulo bias of [`Rng::below`] is far below anything a
//! test or a benchmark could notice.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator of its own for item `index` of a stream named by `salt`: items drawn this
    /// way are pure functions of `(seed, salt, index)`, so a caller can recompute any one of
    /// them without keeping the others.
    pub fn for_item(seed: u64, salt: u64, index: u64) -> Self {
        let mut rng = Self(seed ^ salt ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        // The first output mixes the nearby seeds of neighbouring items apart.
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`; `0` when `n` is `0`).
    pub fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n).unwrap_or(u64::MAX).max(1);
        usize::try_from(self.next_u64() % n64).unwrap_or(0)
    }

    /// `true` with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of `items` (non-empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A copy of one of `items` (non-empty).
    pub fn one<T: Copy>(&mut self, items: &[T]) -> T {
        *self.pick(items)
    }

    /// An index into a list of `n` items, skewed towards the front (a few names are common,
    /// most are rare, as in a real directory).
    pub fn skewed(&mut self, n: usize) -> usize {
        let (a, b) = (self.below(n), self.below(n));
        a.min(b)
    }

    /// Each item kept with probability `percent`/100.
    pub fn subset<T: Ord + Clone>(&mut self, items: &[T], percent: u64) -> BTreeSet<T> {
        items.iter().filter(|_| self.chance(percent)).cloned().collect()
    }

    /// A random (version-less) UUID: ids in no relation to the order rows were written in.
    pub fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next_u64(), self.next_u64())
    }

    /// An id that sorts after every earlier id of the same `kind` (`n` increasing), as the
    /// product's time-ordered UUIDv7 ids do: rows are appended to the end of their primary-key
    /// index instead of landing at random places in it.
    pub fn ordered_id(&mut self, kind: u8, n: usize) -> Uuid {
        Uuid::from_u64_pair((u64::from(kind) << 56) | n as u64, self.next_u64())
    }

    /// A word of `len` lowercase ASCII letters.
    pub fn word(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b'a' + u8::try_from(self.below(26)).unwrap_or(0))).collect()
    }

    /// One of `count` instants spread over a few days after `base`, whole microseconds, so
    /// that several rows share an instant and the id tie-breaker matters.
    pub fn instant(&mut self, base: OffsetDateTime, count: usize) -> OffsetDateTime {
        let slot = i64::try_from(self.below(count)).unwrap_or(0);
        base + Duration::hours(7 * slot) + Duration::microseconds(slot * 1_001)
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let first: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..8).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first, (0..8).map(|_| Rng::new(8).next_u64()).collect::<Vec<_>>());
    }

    #[test]
    fn an_item_generator_depends_only_on_seed_salt_and_index() {
        assert_eq!(Rng::for_item(1, 2, 3).next_u64(), Rng::for_item(1, 2, 3).next_u64());
        assert_ne!(Rng::for_item(1, 2, 3).next_u64(), Rng::for_item(1, 2, 4).next_u64());
    }

    #[test]
    fn draws_stay_in_their_range() {
        let mut rng = Rng::new(1);
        for n in 1..50 {
            assert!(rng.below(n) < n);
            assert!(rng.skewed(n) < n);
        }
        assert_eq!(rng.below(0), 0);
        assert!(rng.word(12).chars().all(|c| c.is_ascii_lowercase()));
    }

    #[test]
    fn ordered_ids_sort_by_their_number() {
        let mut rng = Rng::new(3);
        let ids: Vec<_> = (0..100).map(|n| rng.ordered_id(1, n)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
