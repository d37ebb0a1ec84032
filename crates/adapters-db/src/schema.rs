//! The schema version guard: bringing a database up to this build's schema, and refusing one
//! that does not match it — above all one migrated by a newer Roster, whose data this build
//! would misread.

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait};
use sea_orm_migration::MigratorTrait;
use thiserror::Error;

use crate::connect::{Db, Engine};
use crate::migrations::{MIGRATIONS_TABLE, Migrator, known_migrations};

/// A fixed key for PostgreSQL's advisory lock that serializes `migrate` across processes.
const MIGRATION_LOCK: i64 = 0x726f_7374_6572_6d67; // "rostermg"

/// Why the schema cannot be used, or could not be changed.
#[derive(Debug, Error)]
pub enum SchemaError {
    /// The database was migrated by a newer build of Roster: it has applied migrations this build
    /// does not know. Running on it could corrupt data the newer build wrote.
    #[error(
        "the database schema is newer than this build of roster: it has applied migration(s) {} \
         that this build does not know; run a roster at least as new as the one that migrated it, \
         or point ROSTER_DATABASE_URL at another database",
        .unknown.join(", ")
    )]
    NewerSchema { unknown: Vec<String> },
    /// Migrations this build needs are not applied yet (`roster migrate` applies them).
    #[error("the database schema is older than this build of roster: migration(s) {} are not applied; run `roster migrate`", .pending.join(", "))]
    Outdated { pending: Vec<String> },
    /// The database failed while the schema was read or changed; nothing was changed.
    #[error("could not read or change the database schema")]
    Database(#[from] DbErr),
}

/// Applies every pending migration, all in one transaction, and answers their names (empty when
/// the schema was already current). Refuses a newer schema before changing anything.
///
/// Two processes migrating one database at once are serialized (PostgreSQL: an advisory lock
/// held until commit; SQLite: an immediate write transaction): the second finds nothing left to
/// do.
///
/// # Errors
/// [`SchemaError::NewerSchema`], or [`SchemaError::Database`] if a migration fails (then none
/// of them is applied).
pub async fn migrate(db: &Db) -> Result<Vec<String>, SchemaError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.connection().begin_with_options(options).await?;
    if db.engine() == Engine::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).await?;
    }
    let applied = applied_migrations(&txn, db.engine()).await?;
    let (unknown, pending) = compare(&applied);
    if !unknown.is_empty() {
        return Err(SchemaError::NewerSchema { unknown });
    }
    // Each migration runs in a savepoint of this transaction and records itself in
    // `roster_migrations`; the commit makes them all visible at once.
    Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(pending)
}

/// Checks that the database's schema is exactly the one this build knows: every known migration
/// applied, and no other. Changes nothing.
///
/// # Errors
/// [`SchemaError::NewerSchema`] (applied migrations this build does not know, named),
/// [`SchemaError::Outdated`] (known migrations not applied yet, named), or
/// [`SchemaError::Database`].
pub async fn check_schema(db: &Db) -> Result<(), SchemaError> {
    let applied = applied_migrations(db.connection(), db.engine()).await?;
    let (unknown, pending) = compare(&applied);
    if !unknown.is_empty() {
        return Err(SchemaError::NewerSchema { unknown });
    }
    if !pending.is_empty() {
        return Err(SchemaError::Outdated { pending });
    }
    Ok(())
}

/// The applied migrations this build does not know, and the known ones not applied, each in
/// name (= time) order.
fn compare(applied: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    let known: BTreeSet<String> = known_migrations().into_iter().collect();
    (applied.difference(&known).cloned().collect(), known.difference(applied).cloned().collect())
}

/// The names recorded in the migrations table; none when the table does not exist yet (an
/// empty database). Creates nothing, so it works on a read-only connection.
async fn applied_migrations(conn: &impl ConnectionTrait, engine: Engine) -> Result<BTreeSet<String>, DbErr> {
    let exists = match engine {
        Engine::Sqlite => format!(
            "SELECT COUNT(*) > 0 AS present FROM sqlite_master WHERE type = 'table' AND name = '{MIGRATIONS_TABLE}'"
        ),
        // `to_regclass` resolves the name through the search path, as every other query does.
        Engine::Postgres => format!("SELECT to_regclass('{MIGRATIONS_TABLE}') IS NOT NULL AS present"),
    };
    let backend = engine.backend();
    let present = match conn.query_one_raw(Statement::from_string(backend, exists)).await? {
        Some(row) => row.try_get::<bool>("", "present")?,
        None => false,
    };
    if !present {
        return Ok(BTreeSet::new());
    }
    let rows =
        conn.query_all_raw(Statement::from_string(backend, format!("SELECT version FROM {MIGRATIONS_TABLE}"))).await?;
    rows.iter().map(|row| row.try_get::<String>("", "version")).collect()
}
