//! The persistence contract suite (`roster_testkit::store_contract_tests!`) on SQLite: every case
//! on a fresh, migrated database file of its own.

#[allow(dead_code, reason = "this binary uses only the fresh-database part of the shared test support")]
mod support;

use roster_adapters_db::{SeaOrmStore, migrate};
use roster_testkit::contract::FreshStore;
use support::TestDb;

roster_testkit::store_contract_tests!(|| async {
    let test_db = TestDb::sqlite().await;
    migrate(&test_db.db).await.expect("migrates a fresh SQLite file");
    FreshStore::new(SeaOrmStore::new(test_db.db.clone())).with_guard(test_db)
});
