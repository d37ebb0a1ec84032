//! The persistence contract suite ([`roster_testkit::contract`]) on the in-memory store:
//! the reference implementation passes every case, each on a fresh store. The SQL adapters run
//! the same macro on SQLite and PostgreSQL.

use roster_testkit::InMemoryStore;

roster_testkit::store_contract_tests!(|| async { InMemoryStore::new() });
