//! `organizations.groups_version`: a counter the database moves on every write to an
//! organization's groups, so that a process may keep the group tree between requests and check
//! with one single-row read that it is still current (`GroupRepository::groups_version`).
//!
//! Triggers keep it rather than the store's code, so that no write can forget it — another
//! process, a future code path, an operator's hand-written `UPDATE`. Group writes are rare
//! (an admin editing the tree), so the extra row update costs nothing that matters; it also
//! takes the organization row's lock on PostgreSQL until the transaction ends, which serializes
//! group edits of one organization, which the name-uniqueness checks nearly do already.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

use super::ddl::per_engine;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const ADD_COLUMN: &str = "ALTER TABLE organizations ADD COLUMN groups_version bigint NOT NULL DEFAULT 0";

/// SQLite: a trigger per kind of write (SQLite has no `INSERT OR UPDATE OR DELETE` trigger).
const SQLITE_UP: &[&str] = &[
    "CREATE TRIGGER groups_version_on_insert AFTER INSERT ON groups BEGIN \
         UPDATE organizations SET groups_version = groups_version + 1 WHERE id = NEW.org_id; END",
    "CREATE TRIGGER groups_version_on_update AFTER UPDATE ON groups BEGIN \
         UPDATE organizations SET groups_version = groups_version + 1 WHERE id = NEW.org_id; \
         UPDATE organizations SET groups_version = groups_version + 1 \
             WHERE id = OLD.org_id AND OLD.org_id <> NEW.org_id; END",
    "CREATE TRIGGER groups_version_on_delete AFTER DELETE ON groups BEGIN \
         UPDATE organizations SET groups_version = groups_version + 1 WHERE id = OLD.org_id; END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS groups_version_on_delete",
    "DROP TRIGGER IF EXISTS groups_version_on_update",
    "DROP TRIGGER IF EXISTS groups_version_on_insert",
    "ALTER TABLE organizations DROP COLUMN groups_version",
];

/// PostgreSQL: one row trigger for the three kinds of write. The function is found through the
/// schema search path, as the tables are.
const POSTGRES_UP: &[&str] = &[
    "CREATE FUNCTION roster_groups_version() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         IF TG_OP <> 'DELETE' THEN
             UPDATE organizations SET groups_version = groups_version + 1 WHERE id = NEW.org_id;
         END IF;
         IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.org_id <> NEW.org_id) THEN
             UPDATE organizations SET groups_version = groups_version + 1 WHERE id = OLD.org_id;
         END IF;
         RETURN NULL;
     END
     $$",
    "CREATE TRIGGER groups_version AFTER INSERT OR UPDATE OR DELETE ON groups \
         FOR EACH ROW EXECUTE FUNCTION roster_groups_version()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS groups_version ON groups",
    "DROP FUNCTION IF EXISTS roster_groups_version()",
    "ALTER TABLE organizations DROP COLUMN groups_version",
];

// The trait spells the argument `&SchemaManager`; `async_trait` needs the impl to spell it the
// same way (see `ddl::migration!`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        connection.execute_unprepared(ADD_COLUMN).await?;
        for statement in per_engine(manager.get_database_backend(), SQLITE_UP, POSTGRES_UP)? {
            connection.execute_unprepared(statement).await?;
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
