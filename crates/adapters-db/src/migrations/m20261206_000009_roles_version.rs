//! `organizations.roles_version`: a counter the database moves on every write to an
//! organization's roles, so that a process may keep the roles between requests and check them
//! with the same single statement that reads a member's authority (`Store::authority`). Kept by
//! triggers for the reasons `m20261206_000008_groups_version` gives; role writes are rarer still.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

use super::ddl::per_engine;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const ADD_COLUMN: &str = "ALTER TABLE organizations ADD COLUMN roles_version bigint NOT NULL DEFAULT 0";

const SQLITE_UP: &[&str] = &[
    "CREATE TRIGGER roles_version_on_insert AFTER INSERT ON roles BEGIN \
         UPDATE organizations SET roles_version = roles_version + 1 WHERE id = NEW.org_id; END",
    "CREATE TRIGGER roles_version_on_update AFTER UPDATE ON roles BEGIN \
         UPDATE organizations SET roles_version = roles_version + 1 WHERE id = NEW.org_id; \
         UPDATE organizations SET roles_version = roles_version + 1 \
             WHERE id = OLD.org_id AND OLD.org_id <> NEW.org_id; END",
    "CREATE TRIGGER roles_version_on_delete AFTER DELETE ON roles BEGIN \
         UPDATE organizations SET roles_version = roles_version + 1 WHERE id = OLD.org_id; END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS roles_version_on_delete",
    "DROP TRIGGER IF EXISTS roles_version_on_update",
    "DROP TRIGGER IF EXISTS roles_version_on_insert",
    "ALTER TABLE organizations DROP COLUMN roles_version",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE FUNCTION roster_roles_version() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         IF TG_OP <> 'DELETE' THEN
             UPDATE organizations SET roles_version = roles_version + 1 WHERE id = NEW.org_id;
         END IF;
         IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.org_id <> NEW.org_id) THEN
             UPDATE organizations SET roles_version = roles_version + 1 WHERE id = OLD.org_id;
         END IF;
         RETURN NULL;
     END
     $$",
    "CREATE TRIGGER roles_version AFTER INSERT OR UPDATE OR DELETE ON roles \
         FOR EACH ROW EXECUTE FUNCTION roster_roles_version()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS roles_version ON roles",
    "DROP FUNCTION IF EXISTS roster_roles_version()",
    "ALTER TABLE organizations DROP COLUMN roles_version",
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
