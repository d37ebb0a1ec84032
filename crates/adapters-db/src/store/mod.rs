//! The domain's persistence port on sea-orm: one database transaction per unit of work.
//!
//! [`SeaOrmStore::begin_tx`] opens a [`SeaOrmTx`], which implements every repository of the
//! domain's port: `OrgRepository` (`orgs.rs`), `UserRepository` (`users.rs`, with the
//! Users-table query), `LicenseRepository` (`licenses.rs`), `RoleRepository` (`roles.rs`),
//! `GroupRepository` (`groups.rs`), `ConnectionRepository` (`connections.rs`, with the
//! visible-connections query), `InviteRepository` (`invites.rs`), `ScheduleRepository`
//! (`schedule.rs`), `AuditLog` (`audit.rs`), `Outbox` (`outbox.rs`), `WebhookRepository`
//! (`webhooks.rs`), `SessionRepository` (`sessions.rs`) and `PasswordResetRepository`
//! (`password_resets.rs`), each tested on both engines (`tests/repositories*.rs`,
//! `tests/sessions.rs`). On top of them `SeaOrmStore` implements the domain's `Store` and
//! `SeaOrmTx` its `Tx`, and the whole persistence contract suite
//! (`store_contract_tests!`) passes on SQLite (`tests/contract_sqlite.rs`) and PostgreSQL
//! (`tests/contract_postgres.rs`).
//!
//! # Transactions
//! Two kinds: [`SeaOrmStore::begin_tx`] for use cases that write, [`SeaOrmStore::begin_read`]
//! for those that only read (the port's `Store::begin_read`); and none at all for the port's
//! single statements (last item).
//! - **SQLite**, read-write: `BEGIN IMMEDIATE` (sea-orm 2.0.4's
//!   [`TransactionTrait::begin_with_options`] with
//!   [`SqliteTransactionMode::Immediate`]). The transaction takes SQLite's write lock when it
//!   starts, so write transactions run one at a time (others wait up to the busy timeout,
//!   [`SQLITE_BUSY_TIMEOUT`](crate::SQLITE_BUSY_TIMEOUT)), and a transaction can never fail to
//!   upgrade a read lock half-way through (the `SQLITE_BUSY` a deferred transaction gets when
//!   two readers both try to write). This is what makes `take_seats` race-free on SQLite and
//!   lets `lock_org` be a no-op there. Readers under WAL are not blocked.
//! - **SQLite**, read: a plain (deferred) `BEGIN`. It takes no lock until its first `SELECT`,
//!   and then only WAL's read snapshot: it neither waits for the writer nor holds it up. A read
//!   transaction would have queued behind every writer for the write lock it never uses.
//! - **PostgreSQL**, both kinds: a plain `BEGIN` at `READ COMMITTED`, set once per connection
//!   (`default_transaction_isolation` in the connection's startup options, see `connect.rs`)
//!   rather than per transaction, where sea-orm would send `SET TRANSACTION …` as one more round
//!   trip. The contract needs `READ COMMITTED` for `lock_org`: after waiting on the
//!   organization's row lock, the next statement takes a fresh snapshot and sees what the other
//!   transaction committed. The conditional `UPDATE` of `take_seats` re-checks its `WHERE` on
//!   the newest row version after waiting for a concurrent writer, so it never over-allocates.
//! - A read transaction refuses writes before sending them (`Unavailable`, nothing sent): the
//!   statements this crate writes start with `SELECT` or `WITH` exactly when they only read, and
//!   every statement passes [`SeaOrmTx::refuse_write`]. `BEGIN READ ONLY` would make PostgreSQL
//!   enforce it too, at the price of that extra round trip.
//! - Dropping a [`SeaOrmTx`] without [`SeaOrmTx::commit`] rolls back (sea-orm's
//!   `DatabaseTransaction` does so on drop).
//! - **No transaction** for the port's one-statement calls: the reads
//!   (`Store::single_read`, `Store::authority`, `Store::session`) run alone on a pooled
//!   connection, each statement its own snapshot, with writes refused as in a read transaction;
//!   `Store::touch_session` is one autocommitted `UPDATE`
//!   (`docs/decisions/0023-authority-in-one-statement.md`,
//!   `docs/decisions/0029-sessions-in-the-unit-of-work.md`).
//!
//! # Expected errors leave the transaction usable
//! A write that may fail with an expected error (`Conflict`, `Missing` from a foreign key,
//! `SeatsExhausted` from a `CHECK`) goes through [`SeaOrmTx::exec_guarded`]: on PostgreSQL it
//! runs inside a `SAVEPOINT` that is rolled back on failure (an error would otherwise abort the
//! whole transaction); on SQLite a failed statement is already undone alone and the transaction
//! goes on, so no savepoint is spent.
//!
//! # Batch writes
//! The port's plural writes (`insert_users`, `append_audits`, …) build multi-row `INSERT`
//! statements in `batch.rs`, sized under the engine's bind-parameter limit, and run them all or
//! nothing: a batch of several statements runs inside one savepoint on both engines.

mod audit;
mod batch;
mod connections;
pub(crate) mod convert;
pub(crate) mod errors;
mod groups;
mod invites;
mod jobs;
mod licenses;
mod orgs;
mod outbox;
mod password_resets;
mod roles;
mod schedule;
mod sessions;
mod users;
mod webhooks;

use roster_domain::ids::{OrgId, UserId};
use roster_domain::ports::{AuthorityFacts, Session, StoreError};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, ExecResult, QueryResult, SqliteTransactionMode,
    Statement, TransactionOptions, TransactionTrait, Value,
};

use crate::{Db, Engine};

/// Opens units of work on a [`Db`]. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: Db,
}

impl SeaOrmStore {
    /// A store on an open, migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Opens a read-write transaction: `BEGIN IMMEDIATE` on SQLite, `BEGIN` at the
    /// connection's `READ COMMITTED` on PostgreSQL (see the module docs).
    ///
    /// # Errors
    /// `Unavailable` when no connection can be had, or SQLite's write lock is not free within
    /// the busy timeout.
    pub async fn begin_tx(&self) -> Result<SeaOrmTx, StoreError> {
        let sqlite_transaction_mode = match self.db.engine() {
            Engine::Sqlite => Some(SqliteTransactionMode::Immediate),
            Engine::Postgres => None,
        };
        self.open(TransactionOptions { sqlite_transaction_mode, ..TransactionOptions::default() }, false).await
    }

    /// Opens a transaction for a use case that only reads: a deferred `BEGIN` on SQLite, which
    /// takes no write lock, and the same `BEGIN` as [`SeaOrmStore::begin_tx`] on PostgreSQL.
    /// Writes through it fail (see the module docs).
    ///
    /// # Errors
    /// `Unavailable` when no connection can be had.
    pub async fn begin_read(&self) -> Result<SeaOrmTx, StoreError> {
        self.open(TransactionOptions::default(), true).await
    }

    async fn open(&self, options: TransactionOptions, read_only: bool) -> Result<SeaOrmTx, StoreError> {
        let tx = self.db.connection().begin_with_options(options).await.map_err(errors::unavailable)?;
        Ok(SeaOrmTx { tx: Conn::Transaction(tx), engine: self.db.engine(), read_only })
    }

    /// Reads outside any transaction: each statement runs alone on a pooled connection and is
    /// its own snapshot. Only for reads of one statement (the port's `Store::single_read` and
    /// `Store::authority`); writes are refused as in a read transaction.
    fn statements(&self) -> SeaOrmTx {
        SeaOrmTx { tx: Conn::Pool(self.db.connection().clone()), engine: self.db.engine(), read_only: true }
    }

    /// Writes outside any transaction: each statement autocommits on a pooled connection. Only
    /// for writes of one statement that belong to no unit of work (`Store::touch_session`).
    fn autocommit(&self) -> SeaOrmTx {
        SeaOrmTx { tx: Conn::Pool(self.db.connection().clone()), engine: self.db.engine(), read_only: false }
    }
}

/// Where a [`SeaOrmTx`] sends its statements.
#[derive(Debug)]
enum Conn {
    Transaction(DatabaseTransaction),
    /// No transaction: read-only, each statement on its own ([`SeaOrmStore::statements`]).
    Pool(DatabaseConnection),
}

impl Conn {
    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Transaction(tx) => tx.query_all_raw(statement).await,
            Self::Pool(pool) => pool.query_all_raw(statement).await,
        }
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Transaction(tx) => tx.query_one_raw(statement).await,
            Self::Pool(pool) => pool.query_one_raw(statement).await,
        }
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Transaction(tx) => tx.execute_raw(statement).await,
            Self::Pool(pool) => pool.execute_raw(statement).await,
        }
    }

    /// A savepoint in the transaction (sea-orm's nested transaction).
    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Self::Transaction(tx) => tx.begin().await,
            // Never reached: writes, the only users of savepoints, are refused before.
            Self::Pool(_) => Err(DbErr::Custom("a savepoint needs a transaction".to_owned())),
        }
    }
}

/// One transaction. Dropping it without [`SeaOrmTx::commit`] rolls back.
#[derive(Debug)]
pub struct SeaOrmTx {
    tx: Conn,
    engine: Engine,
    /// Opened by [`SeaOrmStore::begin_read`].
    read_only: bool,
}

/// A write statement in a transaction opened by [`SeaOrmStore::begin_read`].
#[derive(Debug, thiserror::Error)]
#[error("a read transaction cannot write (statement: {0})")]
pub struct WriteInReadTransaction(String);

impl SeaOrmTx {
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether the transaction was opened by [`SeaOrmStore::begin_read`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Refuses `sql` in a read transaction unless it only reads (starts with `SELECT` or
    /// `WITH`); every statement goes through here before it is sent.
    fn refuse_write(&self, sql: &str) -> Result<(), WriteInReadTransaction> {
        let first = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
        if self.read_only && !first.eq_ignore_ascii_case("select") && !first.eq_ignore_ascii_case("with") {
            let start: String = sql.trim_start().chars().take(40).collect();
            return Err(WriteInReadTransaction(start));
        }
        Ok(())
    }

    /// Makes every write of the transaction durable and visible at once.
    ///
    /// # Errors
    /// `Unavailable` (then nothing was written).
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.tx {
            Conn::Transaction(tx) => tx.commit().await.map_err(errors::unavailable),
            Conn::Pool(_) => Ok(()),
        }
    }

    /// Undoes every write of the transaction (what dropping it does, but awaited).
    ///
    /// # Errors
    /// `Unavailable` if the database does not answer (it rolls back on its own then).
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.tx {
            Conn::Transaction(tx) => tx.rollback().await.map_err(errors::unavailable),
            Conn::Pool(_) => Ok(()),
        }
    }

    /// A statement written with `?` parameter markers, for this engine.
    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.engine.backend(), convert::number_parameters(self.engine, sql), values)
    }

    async fn query_all(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, StoreError> {
        self.refuse_write(sql).map_err(StoreError::unavailable)?;
        self.tx.query_all_raw(self.statement(sql, values)).await.map_err(errors::unavailable)
    }

    async fn query_one(&self, sql: &str, values: Vec<Value>) -> Result<Option<QueryResult>, StoreError> {
        self.refuse_write(sql).map_err(StoreError::unavailable)?;
        self.tx.query_one_raw(self.statement(sql, values)).await.map_err(errors::unavailable)
    }

    async fn exec(&self, sql: &str, values: Vec<Value>) -> Result<ExecResult, StoreError> {
        self.refuse_write(sql).map_err(StoreError::unavailable)?;
        self.tx.execute_raw(self.statement(sql, values)).await.map_err(errors::unavailable)
    }

    /// Runs a write that may fail with an expected error so that, if it does, it changed
    /// nothing and the transaction stays usable: inside a savepoint on PostgreSQL (see the
    /// module docs). The caller maps the `DbErr` ([`errors::write_error`] and friends).
    async fn exec_guarded(&self, sql: &str, values: Vec<Value>) -> Result<ExecResult, DbErr> {
        self.refuse_write(sql).map_err(|e| DbErr::Custom(e.to_string()))?;
        let statement = self.statement(sql, values);
        match self.engine {
            Engine::Sqlite => self.tx.execute_raw(statement).await,
            Engine::Postgres => {
                // sea-orm's nested transaction is a SAVEPOINT on the same connection.
                let savepoint = self.tx.begin().await?;
                match savepoint.execute_raw(statement).await {
                    Ok(done) => {
                        savepoint.commit().await?;
                        Ok(done)
                    }
                    Err(e) => {
                        savepoint.rollback().await?;
                        Err(e)
                    }
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl roster_domain::ports::Store for SeaOrmStore {
    async fn begin(&self) -> Result<Box<dyn roster_domain::ports::Tx>, StoreError> {
        Ok(Box::new(self.begin_tx().await?))
    }

    async fn begin_read(&self) -> Result<Box<dyn roster_domain::ports::Tx>, StoreError> {
        Ok(Box::new(SeaOrmStore::begin_read(self).await?))
    }

    async fn single_read(&self) -> Result<Box<dyn roster_domain::ports::Tx>, StoreError> {
        Ok(Box::new(self.statements()))
    }

    async fn authority(&self, org: OrgId, user: UserId) -> Result<Option<AuthorityFacts>, StoreError> {
        self.statements().authority(org, user).await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        self.statements().session_by_hash(token_hash).await
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        last_seen_at: time::OffsetDateTime,
        expires_at: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.autocommit().slide_session(token_hash, last_seen_at, expires_at).await
    }
}

#[async_trait::async_trait]
impl roster_domain::ports::Tx for SeaOrmTx {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        SeaOrmTx::commit(*self).await
    }

    async fn org_and_groups_version(
        &mut self,
        id: OrgId,
    ) -> Result<Option<(roster_domain::org::Organization, u64)>, StoreError> {
        SeaOrmTx::org_and_groups_version(self, id).await
    }
}
