//! How the store opens transactions on each engine, beyond what the contract suite can see
//! through the port: PostgreSQL connections run at `READ COMMITTED` whatever the URL or the
//! server says, and read transactions are marked as such.

#[allow(dead_code, reason = "shared by the test binaries; this one uses a part")]
mod support;

use roster_adapters_db::{SeaOrmStore, connect, migrate};
use sea_orm::{ConnectionTrait, Statement};
use support::{PG_URL_VAR, TestDb, stores};

#[tokio::test]
async fn read_transactions_are_read_only_and_write_transactions_are_not() {
    for (t, store) in stores("read_transactions_are_read_only").await {
        let read = store.begin_read().await.expect("opens a read transaction");
        assert!(read.is_read_only(), "{:?}", t.engine());
        read.commit().await.expect("ends it");
        let write = store.begin_tx().await.expect("opens a read-write transaction");
        assert!(!write.is_read_only(), "{:?}", t.engine());
        drop(write);
        t.finish().await;
    }
}

/// The URL asks for `SERIALIZABLE`; every pooled connection still starts at `READ COMMITTED`,
/// which `lock_org` and `take_seats` rely on, and keeps the URL's other options (the schema).
#[tokio::test]
async fn postgres_connections_run_at_read_committed_whatever_the_url_says() {
    let Some(t) = TestDb::postgres("postgres_connections_run_at_read_committed").await else {
        eprintln!("skipped: {PG_URL_VAR} is not set");
        return;
    };
    let schema = t.schema().expect("a PostgreSQL test database").to_owned();
    let url = format!("{}%20-c%20default_transaction_isolation%3Dserializable", t.url);
    let db = connect(&url).await.expect("connects");
    migrate(&db).await.expect("migrates");
    let show =
        |setting: &str| Statement::from_string(db.connection().get_database_backend(), format!("SHOW {setting}"));
    for _ in 0..3 {
        let row = db.connection().query_one_raw(show("default_transaction_isolation")).await.expect("shows");
        let level: String = row.expect("a row").try_get_by_index(0).expect("text");
        assert_eq!(level, "read committed");
        let row = db.connection().query_one_raw(show("search_path")).await.expect("shows");
        let path: String = row.expect("a row").try_get_by_index(0).expect("text");
        assert_eq!(path, schema, "the URL's own options are kept");
    }
    let store = SeaOrmStore::new(db.clone());
    let tx = store.begin_tx().await.expect("opens a transaction");
    tx.commit().await.expect("commits");
    db.close().await.expect("closes");
    t.finish().await;
}
