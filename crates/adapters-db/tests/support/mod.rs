//! Fresh, empty databases for tests: an SQLite file in a temporary directory, and — when
//! `ROSTER_TEST_DATABASE_URL` is set — a PostgreSQL schema of its own on every pooled connection,
//! dropped when the test ends.
//!
//! An unset variable skips the PostgreSQL half and says so; a set variable whose server cannot be
//! reached fails the test, so that CI (which always sets it) can never pass by skipping.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use roster_adapters_db::{Db, Engine, SeaOrmStore, SeaOrmTx, connect, migrate};
use sea_orm::{ConnectionTrait, DbErr, ExecResult, QueryResult, Statement, Value};
use tempfile::TempDir;

/// A migrated database on each configured engine, with a store on it.
#[allow(dead_code, reason = "shared by the repository test binaries; the schema tests do not use it")]
pub async fn stores(test: &str) -> Vec<(TestDb, SeaOrmStore)> {
    let mut out = Vec::new();
    for t in TestDb::each_engine(test).await {
        migrate(&t.db).await.expect("migrates");
        let store = SeaOrmStore::new(t.db.clone());
        out.push((t, store));
    }
    out
}

/// A transaction on `store`.
#[allow(dead_code, reason = "shared by the repository test binaries; the schema tests do not use it")]
pub async fn begin(store: &SeaOrmStore) -> SeaOrmTx {
    store.begin_tx().await.expect("begins a transaction")
}

/// The variable naming the PostgreSQL server the tests may create schemas in.
pub const PG_URL_VAR: &str = "ROSTER_TEST_DATABASE_URL";

/// A fresh database for one test, not migrated yet. Dropping it removes the database (the
/// temporary directory, or the schema).
#[derive(Debug)]
pub struct TestDb {
    pub db: Db,
    /// The URL `db` was opened with, to open a second pool on the same database.
    pub url: String,
    guard: Guard,
}

#[derive(Debug)]
enum Guard {
    Sqlite(#[allow(dead_code, reason = "held for its Drop, which removes the directory")] TempDir),
    Postgres(PgSchema),
}

impl TestDb {
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    /// Every configured engine: SQLite always, PostgreSQL when the variable is set.
    pub async fn each_engine(test: &str) -> Vec<TestDb> {
        let mut out = vec![Self::sqlite().await];
        out.extend(Self::postgres(test).await);
        out
    }

    /// A new SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("creates a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("roster.db").display());
        let db = connect(&url).await.expect("opens a new SQLite file");
        TestDb { db, url, guard: Guard::Sqlite(dir) }
    }

    /// A new schema on the server named by [`PG_URL_VAR`], or `None` (with a note) when it is
    /// unset.
    ///
    /// # Panics
    /// When the variable is set but the server cannot be reached or the schema not created.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(PG_URL_VAR) else {
            eprintln!("{test}: PostgreSQL part skipped: {PG_URL_VAR} is not set");
            return None;
        };
        let admin = connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("{PG_URL_VAR} is set but PostgreSQL cannot be used: {}", chain(&e));
        });
        let schema = unique_schema_name();
        admin
            .connection()
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create the test schema {schema}: {e}"));
        admin.close().await.expect("closes the admin connection");
        // The search path travels in the startup packet of every connection the pool opens, so
        // no pooled connection can ever see another test's tables (or the default schema's).
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        let guard = PgSchema { admin_url, name: schema };
        let db = connect(&url).await.expect("connects with the test schema as search path");
        Some(TestDb { db, url, guard: Guard::Postgres(guard) })
    }

    /// The PostgreSQL schema of this test, if it runs on PostgreSQL.
    pub fn schema(&self) -> Option<&str> {
        match &self.guard {
            Guard::Postgres(schema) => Some(&schema.name),
            Guard::Sqlite(_) => None,
        }
    }

    /// Closes the pool, then removes the database.
    pub async fn finish(self) {
        let TestDb { db, guard, .. } = self;
        db.close().await.expect("closes the pool");
        drop(guard);
    }

    /// Runs one statement written with `?` parameter markers and the `{t}` time literal (see
    /// [`TestDb::sql`]).
    pub async fn exec(&self, sql: &str, values: Vec<Value>) -> Result<ExecResult, DbErr> {
        self.db.connection().execute_raw(self.statement(sql, values)).await
    }

    /// Runs one query and answers its first row.
    pub async fn query_one(&self, sql: &str, values: Vec<Value>) -> Option<QueryResult> {
        self.db.connection().query_one_raw(self.statement(sql, values)).await.expect("the query runs")
    }

    /// Counts the rows of `SELECT COUNT(*) AS n …`.
    pub async fn count(&self, sql: &str, values: Vec<Value>) -> i64 {
        self.query_one(sql, values).await.expect("a count answers a row").try_get("", "n").expect("n is a number")
    }

    pub fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.engine().backend(), self.sql(sql), values)
    }

    /// `sql` for this engine: `?` parameter markers become `$1, $2…` on PostgreSQL, and `{t}` becomes
    /// a fixed instant in the engine's time representation (2026-01-01T00:00:00Z).
    pub fn sql(&self, sql: &str) -> String {
        match self.engine() {
            Engine::Sqlite => sql.replace("{t}", "1767225600000000"),
            Engine::Postgres => roster_adapters_db::number_parameters(
                Engine::Postgres,
                &sql.replace("{t}", "TIMESTAMPTZ '2026-01-01 00:00:00+00'"),
            ),
        }
    }
}

/// A PostgreSQL schema that drops itself (with everything in it) when dropped.
#[derive(Debug)]
struct PgSchema {
    admin_url: String,
    name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside the test's runtime (or while a failed test unwinds), where nothing
        // can be awaited: the schema is dropped from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = connect(&url).await.map_err(|e| chain(&e))?;
                // A connection of a failed test may still hold a lock; do not wait for ever.
                let sql = format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {name} CASCADE");
                let result = admin.connection().execute_unprepared(&sql).await.map_err(|e| e.to_string());
                admin.close().await.ok();
                result.map(|_| ())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop the test schema {}: {e}", self.name),
            Err(_) => eprintln!("could not drop the test schema {}: the dropping thread panicked", self.name),
        }
    }
}

/// `roster_test_` and 16 random hex digits: unique across concurrent tests and runs.
fn unique_schema_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("roster_test_{:016x}", hasher.finish())
}

/// An error with its causes, one after the other.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
