//! The `scim` permission (§13): the built-in `admin` role holds every permission, so the admin
//! role of each existing organization gains `scim`, as a new organization's gets it when it is
//! created. An admin may then create the API key an identity provider provisions with.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const UP_SQLITE: &str = "UPDATE roles SET permissions = json_insert(permissions, '$[#]', 'scim') \
    WHERE builtin AND key = 'admin' AND NOT EXISTS (SELECT 1 FROM json_each(roles.permissions) WHERE value = 'scim')";
const UP_POSTGRES: &str = "UPDATE roles SET permissions = permissions || '[\"scim\"]'::jsonb \
    WHERE builtin AND key = 'admin' AND NOT permissions ? 'scim'";
const DOWN_SQLITE: &str = "UPDATE roles SET permissions = (SELECT json_group_array(value) FROM json_each(roles.permissions) \
    WHERE value <> 'scim') WHERE EXISTS (SELECT 1 FROM json_each(roles.permissions) WHERE value = 'scim')";
const DOWN_POSTGRES: &str = "UPDATE roles SET permissions = permissions - 'scim' WHERE permissions ? 'scim'";

// The trait spells the argument `&SchemaManager`; `async_trait` needs the impl to spell it the
// same way (see `ddl::migration!`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => UP_POSTGRES,
            _ => UP_SQLITE,
        };
        manager.get_connection().execute_unprepared(sql).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => DOWN_POSTGRES,
            _ => DOWN_SQLITE,
        };
        manager.get_connection().execute_unprepared(sql).await.map(|_| ())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
