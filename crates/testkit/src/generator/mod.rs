//! Seeded generation of realistic data: the kit's one [`Rng`], names, and the [`OrgPlan`] of
//! an organization that `roster demo-data` writes through the use cases and the benchmark
//! writes straight through the store.

mod names;
mod plan;
mod rng;

pub use names::*;
pub use plan::*;
pub use rng::Rng;
