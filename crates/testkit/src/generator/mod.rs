//! Seeded generation of realistic data: the kit's one [`Rng`].

mod rng;

pub use rng::Rng;
