//! The persistence contract suite (`roster_testkit::store_contract_tests!`) on PostgreSQL: every
//! case in a fresh, migrated schema of its own. Runs when `ROSTER_TEST_DATABASE_URL` is set
//! (`.ci/run` always sets it) and fails if that server cannot be reached.

#[allow(dead_code, reason = "this binary uses only the fresh-database part of the shared test support")]
mod support;

use roster_adapters_db::{SeaOrmStore, migrate};
use roster_testkit::contract::FreshStore;
use support::TestDb;

roster_testkit::store_contract_tests!(|| async {
    let test_db = TestDb::postgres("store contract").await?;
    migrate(&test_db.db).await.expect("migrates a fresh PostgreSQL schema");
    Some(FreshStore::new(SeaOrmStore::new(test_db.db.clone())).with_guard(test_db))
});
