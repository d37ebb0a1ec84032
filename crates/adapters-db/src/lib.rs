//! Roster's persistence on SQLite (the embedded default) and PostgreSQL (production), through
//! sea-orm.
//!
//! What this crate owns:
//! - **Connection setup** ([`connect`], [`connect_with`]): checks the URL, configures SQLite for
//!   a server (WAL, busy timeout, foreign keys, `synchronous = NORMAL`) and PostgreSQL's pool, and
//!   fails with a message that names the database (never its password).
//! - **The schema** ([`migrations`]): one ordered set of sea-orm migrations, in plain SQL over
//!   plain table and column names, that runs on both engines; each table and index is commented
//!   with its purpose and the query it serves (`docs/decisions/0009-schema.md`).
//! - **The schema version guard** ([`migrate`], [`check_schema`]): applies pending migrations in
//!   one transaction, and refuses a database migrated by a newer Roster, naming the migrations
//!   this build does not know.
//! - **The unit of work** ([`SeaOrmStore::begin_tx`], or [`SeaOrmStore::begin_read`] for a use
//!   case that only reads → [`SeaOrmTx`], committed or rolled back, rolled back on drop):
//!   `BEGIN IMMEDIATE` (read-write) or a deferred `BEGIN` (read) on SQLite, `BEGIN` at the
//!   connection's `READ COMMITTED` on PostgreSQL; database
//!   errors mapped to the port's `StoreError` (unique index → `Conflict` naming the field, foreign
//!   key → `Missing`, the seat pools' `CHECK` → `SeatsExhausted`, anything else `Unavailable`).
//! - **Every repository** of the port on [`SeaOrmTx`], complete per the port's contract and
//!   tested on both engines: organizations (`lock_org`, catalogs), users (with the Users-table
//!   query: derived status in SQL, row-value keyset), licenses (seat pools with the race-free
//!   conditional `take_seats`, licenses, reservations), roles, groups (memberships with history,
//!   group flows), connections (the visible-connections page as a union of index ranges, flows,
//!   API keys), invites, scheduled changes, the audit log (gap-free per-organization event
//!   positions), the outbox and webhooks.
//!
//! - **Sessions** (`store/sessions.rs`): the domain's `SessionRepository` on [`SeaOrmTx`]
//!   (sessions by token hash, impersonations ending with their parent, throttled attempts), in
//!   the unit of work; the per-request lookup and slide are single statements outside it.
//! - **Idempotency keys** ([`SeaOrmIdempotency`]): the domain's `IdempotencyRepository`, one
//!   autocommitted statement per call (an atomic `INSERT … ON CONFLICT DO NOTHING` claim).
//! - **Saved views** ([`SeaOrmSavedViews`]): the domain's `SavedViewRepository`, outside the
//!   unit of work; a name an admin already uses is refused by its unique index.
//! - **The domain's `Store`/`Tx`** on top of them ([`SeaOrmStore`], [`SeaOrmTx`]); the persistence
//!   contract suite passes on both engines (`tests/contract_sqlite.rs`, `tests/contract_postgres.rs`).
//!
//! Tested beyond the contract suite by a two-process seat race (`tests/seat_race_processes.rs`),
//! injected faults and dropped connections (`tests/data_safety.rs`) and the domain's state machine
//! on SQL (`tests/state_machine_sqlite.rs`); measured by `cargo xtask bench db`. This crate depends
//! on `roster-domain`; only `roster-app` and the benchmark depend on it; no sea-orm type is part of
//! any port.

mod connect;
mod idempotency;
pub mod migrations;
mod saved_views;
mod schema;
mod store;

pub use connect::{
    Cause, Db, DbSetupError, Engine, PoolSettings, PoolStats, SQLITE_BUSY_TIMEOUT, connect, connect_with, redact,
};
pub use idempotency::SeaOrmIdempotency;
pub use migrations::{MIGRATIONS_TABLE, Migrator};
pub use saved_views::SeaOrmSavedViews;
pub use schema::{SchemaError, check_schema, migrate};
pub use store::convert::number_parameters;
pub use store::{SeaOrmStore, SeaOrmTx, WriteInReadTransaction};
