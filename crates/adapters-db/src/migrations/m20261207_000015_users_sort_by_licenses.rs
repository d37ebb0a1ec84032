//! The Users table's status and products columns as index ranges (ADR 0035): the two facts of a
//! user that live in `licenses` — whether they hold `core`, and the products they hold — kept on
//! the user's row by triggers on `licenses`, and two indexes in the columns' sort orders.
//!
//! Both sorts used to read `licenses` for every user of the organization on every page (the
//! status's Core probe, the products' aggregate), then sort them all: at 100,000 users
//! `cargo xtask bench http` served 2 such pages a second, with a median answer of 10 s, against
//! 795 a second for a page by name. With the facts on the row, a page is an index range.
//!
//! - `holds_core`: whether a `core` license exists. It is a fact about licenses, not a status:
//!   the status stays derived (§3.1) — [`USERS_STATUS_RANK`] derives it from this and the
//!   lifecycle columns, outside a trial; in a trial everyone is entitled to Core and the store
//!   derives it without this column (and without an index).
//! - `products_sort`: the products held as `roster_domain::users_query::list_sort_text` writes
//!   them — each key followed by U+0001, in code-point order; `''` for none.
//!
//! Triggers rather than the store's code keep them, as for `groups_version`, so that no write of
//! a license can forget them. Each license written also updates its user's row, which takes
//! that row's lock on PostgreSQL until the transaction ends.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

use super::ddl::{per_engine, render};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The status rank (`roster_domain::users_query::status_rank` of `derive_status`) of a user who
/// is not deleted, outside a trial, over the columns of `users`: the expression of the
/// `users_by_status` index. A query is served by the index only when it orders by this very
/// expression, so the store writes it word for word (a test in `store/users.rs` checks that the
/// store's expression is this one).
pub const USERS_STATUS_RANK: &str = "CASE WHEN deactivated_at IS NOT NULL THEN 1 WHEN invited THEN 2 \
    WHEN inactive_reasons <> 0 THEN 3 \
    WHEN holds_core THEN (CASE WHEN crm_connected AND mailbox_connected THEN 6 ELSE 5 END) \
    WHEN ever_held_core THEN 4 ELSE 3 END";

const ADD_COLUMNS: &[&str] = &[
    "ALTER TABLE users ADD COLUMN holds_core boolean NOT NULL DEFAULT false",
    "ALTER TABLE users ADD COLUMN products_sort {ctext} NOT NULL DEFAULT ''",
];

/// Sets both columns of the user `(org, user)` from their licenses (`org` and `user` are SQL
/// expressions: `NEW.org_id`, `users.org_id`, …).
///
/// On SQLite the products are concatenated in order by a window over the user's licenses rather
/// than by `group_concat(… ORDER BY …)`: that form needs SQLite 3.44, and a trigger is part of
/// the schema, which every program opening the file parses — an older `sqlite3` shell would
/// call the whole database malformed.
fn refresh(postgres: bool, org: &str, user: &str) -> String {
    let products = if postgres {
        format!(
            "(SELECT string_agg(l.product || chr(1), '' ORDER BY l.product) FROM licenses l \
             WHERE l.org_id = {org} AND l.user_id = {user})"
        )
    } else {
        format!(
            "(SELECT group_concat(l.product || char(1), '') OVER (ORDER BY l.product \
             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM licenses l \
             WHERE l.org_id = {org} AND l.user_id = {user} LIMIT 1)"
        )
    };
    format!(
        "UPDATE users SET \
         holds_core = EXISTS (SELECT 1 FROM licenses l WHERE l.org_id = {org} AND l.user_id = {user} \
             AND l.product = 'core'), \
         products_sort = COALESCE({products}, '') \
         WHERE org_id = {org} AND id = {user}"
    )
}

fn sqlite_up() -> Vec<String> {
    vec![
        refresh(false, "users.org_id", "users.id"),
        format!(
            "CREATE TRIGGER users_licenses_on_insert AFTER INSERT ON licenses BEGIN {}; END",
            refresh(false, "NEW.org_id", "NEW.user_id")
        ),
        format!(
            "CREATE TRIGGER users_licenses_on_update AFTER UPDATE ON licenses BEGIN {}; {}; END",
            refresh(false, "OLD.org_id", "OLD.user_id"),
            refresh(false, "NEW.org_id", "NEW.user_id")
        ),
        format!(
            "CREATE TRIGGER users_licenses_on_delete AFTER DELETE ON licenses BEGIN {}; END",
            refresh(false, "OLD.org_id", "OLD.user_id")
        ),
    ]
}

fn postgres_up() -> Vec<String> {
    vec![
        refresh(true, "users.org_id", "users.id"),
        format!(
            "CREATE FUNCTION roster_users_licenses() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF TG_OP <> 'INSERT' THEN
                     {};
                 END IF;
                 IF TG_OP <> 'DELETE' THEN
                     {};
                 END IF;
                 RETURN NULL;
             END
             $$",
            refresh(true, "OLD.org_id", "OLD.user_id"),
            refresh(true, "NEW.org_id", "NEW.user_id")
        ),
        "CREATE TRIGGER users_licenses AFTER INSERT OR UPDATE OR DELETE ON licenses \
         FOR EACH ROW EXECUTE FUNCTION roster_users_licenses()"
            .to_owned(),
    ]
}

/// The indexes of the two sorts, in the Users table's form (ADR 0009): partial, leading with
/// `org_id`, ending in `id`.
fn indexes() -> Vec<String> {
    vec![
        format!("CREATE INDEX users_by_status ON users (org_id, ({USERS_STATUS_RANK}), id) WHERE deleted_at IS NULL"),
        "CREATE INDEX users_by_products ON users (org_id, products_sort, id) WHERE deleted_at IS NULL".to_owned(),
    ]
}

const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS users_by_products",
    "DROP INDEX IF EXISTS users_by_status",
    "DROP TRIGGER IF EXISTS users_licenses_on_delete",
    "DROP TRIGGER IF EXISTS users_licenses_on_update",
    "DROP TRIGGER IF EXISTS users_licenses_on_insert",
    "ALTER TABLE users DROP COLUMN products_sort",
    "ALTER TABLE users DROP COLUMN holds_core",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS users_by_products",
    "DROP INDEX IF EXISTS users_by_status",
    "DROP TRIGGER IF EXISTS users_licenses ON licenses",
    "DROP FUNCTION IF EXISTS roster_users_licenses()",
    "ALTER TABLE users DROP COLUMN products_sort",
    "ALTER TABLE users DROP COLUMN holds_core",
];

// The trait spells the argument `&SchemaManager`; `async_trait` needs the impl to spell it the
// same way (see `ddl::migration!`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let connection = manager.get_connection();
        for statement in ADD_COLUMNS {
            connection.execute_unprepared(&render(backend, statement)?).await?;
        }
        let postgres = matches!(backend, sea_orm::DbBackend::Postgres);
        let mut statements = if postgres { postgres_up() } else { sqlite_up() };
        statements.extend(indexes());
        for statement in statements {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        for statement in per_engine(manager.get_database_backend(), SQLITE_DOWN, POSTGRES_DOWN)? {
            connection.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
