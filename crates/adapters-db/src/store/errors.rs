//! Database errors turned into the port's [`StoreError`]s.
//!
//! Only constraint violations are *expected* errors; everything else — a lost connection, an
//! SQLite `SQLITE_BUSY` after the busy timeout, a PostgreSQL serialization failure (`40001`) or
//! deadlock (`40P01`), a corrupt row — is [`StoreError::Unavailable`] with the driver's error as
//! its source. The violations are recognized by the driver's error kind and named by the
//! constraint:
//!
//! - **unique** → [`StoreError::Conflict`] with the field [`unique_field`] finds for the index
//!   (PostgreSQL reports the index or constraint name, SQLite the `table.column` list it covers;
//!   both are listed in [`UNIQUE`]). A unique violation on a constraint not listed (a duplicate
//!   primary key the domain never produces, e.g. the same organization id twice) is
//!   `Unavailable`, as the in-memory store answers for a duplicate id.
//! - **foreign key** → [`StoreError::Missing`] naming the entity the write refers to. SQLite
//!   does not say which key failed, so the caller passes the kind (each write refers to at most
//!   one entity that can be missing, or checks the others first).
//! - **check** → [`check_constraint`] gives the constraint's name; the caller decides (the seat
//!   pool's `seat_pools_used_within_total` is `SeatsExhausted`, with figures only it knows).

use roster_domain::ports::{StoreError, UniqueField};
use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{DbErr, RuntimeErr};

/// Every unique index or constraint whose violation is a [`StoreError::Conflict`]: its
/// PostgreSQL name, SQLite's `UNIQUE constraint failed: …` column list, and the field.
pub(crate) const UNIQUE: &[(&str, &str, UniqueField)] = &[
    ("organizations_slug_uq", "organizations.slug", UniqueField::Slug),
    ("users_email_uq", "users.org_id, users.email", UniqueField::Email),
    ("users_phone_uq", "users.org_id, users.phone", UniqueField::Phone),
    ("users_agent_id_uq", "users.org_id, users.agent_id", UniqueField::AgentId),
    ("users_crm_id_uq", "users.org_id, users.crm_id", UniqueField::CrmId),
    ("groups_sibling_name_uq", "groups.org_id, groups.parent_id, groups.name_key", UniqueField::Name),
    ("roles_key_uq", "roles.org_id, roles.key", UniqueField::Key),
    ("seat_pools_pkey", "seat_pools.org_id, seat_pools.product", UniqueField::Key),
    ("licenses_pkey", "licenses.org_id, licenses.user_id, licenses.product", UniqueField::Key),
    (
        "seat_reservations_pkey",
        "seat_reservations.org_id, seat_reservations.invite_id, seat_reservations.product",
        UniqueField::Key,
    ),
];

/// The driver's report of a failed statement, if the database refused it.
fn database_error(error: &DbErr) -> Option<&dyn DatabaseError> {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sea_orm::sqlx::Error::Database(db) => Some(db.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

/// What the constraint that failed is called: PostgreSQL's constraint name, or the part of
/// SQLite's message after `… constraint failed: `.
fn constraint_of(db: &dyn DatabaseError) -> String {
    if let Some(name) = db.constraint() {
        return name.to_owned();
    }
    let message = db.message();
    message.split_once("constraint failed: ").map_or(message, |(_, rest)| rest).trim().to_owned()
}

/// The field of a unique violation on one of the [`UNIQUE`] indexes.
pub(crate) fn unique_field(error: &DbErr) -> Option<UniqueField> {
    let db = database_error(error).filter(|db| db.kind() == ErrorKind::UniqueViolation)?;
    let constraint = constraint_of(db);
    UNIQUE.iter().find(|(pg, sqlite, _)| constraint == *pg || constraint == *sqlite).map(|(_, _, field)| *field)
}

/// Whether the statement broke a foreign key.
pub(crate) fn is_foreign_key(error: &DbErr) -> bool {
    database_error(error).is_some_and(|db| db.kind() == ErrorKind::ForeignKeyViolation)
}

/// The name of the `CHECK` constraint the statement broke, if that is why it failed.
pub(crate) fn check_constraint(error: &DbErr) -> Option<String> {
    database_error(error).filter(|db| db.kind() == ErrorKind::CheckViolation).map(constraint_of)
}

/// Any database error, as the port reports an infrastructure failure.
pub(crate) fn unavailable(error: DbErr) -> StoreError {
    StoreError::unavailable(error)
}

/// The usual mapping of a failed write: a listed unique violation is `Conflict`, a foreign key
/// violation is `Missing { kind: missing }`, anything else `Unavailable`.
pub(crate) fn write_error(error: DbErr, missing: &'static str) -> StoreError {
    if let Some(field) = unique_field(&error) {
        StoreError::Conflict { field }
    } else if is_foreign_key(&error) {
        StoreError::Missing { kind: missing }
    } else {
        unavailable(error)
    }
}

/// The name of the unique index or constraint the statement broke, if that is why it failed
/// (PostgreSQL's name, or SQLite's `table.column` list).
pub(crate) fn unique_constraint(error: &DbErr) -> Option<String> {
    database_error(error).filter(|db| db.kind() == ErrorKind::UniqueViolation).map(constraint_of)
}
