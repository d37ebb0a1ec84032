//! In-memory implementations of every port, for tests here and in the adapters' crates.
//!
//! - [`InMemoryStore`]: the reference implementation of the persistence contract, with failure
//!   injection; SQL adapters' contract tests compare their answers with it.
//! - [`ManualClock`], [`SequentialIds`]: time and ids a test controls, so runs replay exactly.
//! - [`FakeHasher`]: a fast stand-in for Argon2id (test-only: it is not a password hash).
//! - [`InMemoryCrmDirectory`]: a CRM directory a test fills and changes.
//! - [`state_machine`]: the state-machine property test of SPEC §14 (operations, reference
//!   model, invariants, runner) over any [`crate::ports::Store`].
//! - [`contract`]: the persistence contract suite every [`crate::ports::Store`] runs
//!   ([`store_contract_tests!`](crate::store_contract_tests)).

pub mod contract;
pub mod state_machine;

mod clock;
mod crm;
mod hasher;
mod ids;
mod memory;

pub use clock::ManualClock;
pub use crm::{CRM_PAGE_SIZE, InMemoryCrmDirectory};
pub use hasher::FakeHasher;
pub use ids::SequentialIds;
pub use memory::{InMemoryStore, MemoryState};
