//! Roster's test kit: what tests, benchmarks and demos need around the domain, kept out of
//! `roster-domain` so that the domain crate holds only the product's rules.
//!
//! - [`generator`]: the seeded [`Rng`](generator::Rng) and the plan of a realistic
//!   organization (groups, people, roles, licenses, connections) as plain data; `roster
//!   demo-data` and the benchmark turn it into rows each their own way. Always built.
//!
//! With the `full` feature (on by default; the `roster` binary turns it off):
//! - [`InMemoryStore`]: the reference implementation of the persistence contract, with failure
//!   injection; SQL adapters' contract tests compare their answers with it.
//! - [`ManualClock`], [`SequentialIds`]: time and ids a test controls, so runs replay exactly.
//! - [`FakeHasher`]: a fast stand-in for Argon2id (test-only: it is not a password hash).
//! - [`InMemoryCrmDirectory`]: a CRM directory a test fills and changes.
//! - [`state_machine`]: the state-machine property test of SPEC §14 (operations, reference
//!   model, invariants, runner) over any `roster_domain::ports::Store`.
//! - [`contract`]: the persistence contract suite every `roster_domain::ports::Store` runs
//!   ([`store_contract_tests!`](crate::store_contract_tests)).
//!
//! The mockall mocks of the port traits stay in `roster-domain` (feature `mocks`): a mock must
//! be generated where its trait is defined.

pub mod generator;

#[cfg(feature = "full")]
pub mod contract;
#[cfg(feature = "full")]
pub mod state_machine;

#[cfg(feature = "full")]
mod clock;
#[cfg(feature = "full")]
mod crm;
#[cfg(feature = "full")]
mod hasher;
#[cfg(feature = "full")]
mod ids;
#[cfg(feature = "full")]
mod memory;

#[cfg(feature = "full")]
pub use clock::ManualClock;
#[cfg(feature = "full")]
pub use crm::{CRM_PAGE_SIZE, InMemoryCrmDirectory};
#[cfg(feature = "full")]
pub use hasher::FakeHasher;
#[cfg(feature = "full")]
pub use ids::SequentialIds;
#[cfg(feature = "full")]
pub use memory::{InMemoryStore, MemoryState};
