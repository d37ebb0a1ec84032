//! The persistence contract suite (`roster_domain::testing::contract`) on the in-memory store:
//! the reference implementation passes every case, each on a fresh store. The SQL adapters run
//! the same macro on SQLite and PostgreSQL.

use roster_domain::testing::InMemoryStore;

roster_domain::store_contract_tests!(|| async { InMemoryStore::new() });
