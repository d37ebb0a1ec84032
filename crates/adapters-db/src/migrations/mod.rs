//! Roster's schema as one ordered set of migrations that runs on SQLite and PostgreSQL alike.
//!
//! Each `mYYYYMMDD_HHMMSS_name.rs` creates the tables of one area, with comments saying what
//! each table is for and which query each index serves, and drops them again in `down`. They
//! are written in plain SQL over plain table and column names — never the store's entity types —
//! so an old migration keeps its meaning when the code moves on; the few types that differ
//! between the engines are type markers (`ddl`). A released migration is never edited: a change
//! is a new file appended to [`Migrator::migrations`].

mod ddl;
mod m20261123_000001_organizations;
mod m20261123_000002_users_and_roles;
mod m20261123_000003_licenses_and_invites;
mod m20261123_000004_groups;
mod m20261123_000005_connections;
mod m20261123_000006_audit_and_delivery;
mod m20261123_000007_sessions_and_requests;
mod m20261206_000008_groups_version;
mod m20261206_000009_roles_version;
mod m20261207_000010_secrets_at_rest;
mod m20261207_000011_session_parents_and_attempts;
mod m20261207_000012_password_resets;
mod m20261207_000013_jobs;
mod m20261207_000014_invite_groups;
mod m20261207_000015_users_sort_by_licenses;
mod m20261207_000016_scim_permission;
mod m20261207_000017_webhook_rotation_and_log;
mod m20261207_000018_scim_attributes;
mod m20261207_000019_webhook_log_retention;

pub use m20261207_000015_users_sort_by_licenses::USERS_STATUS_RANK;
use sea_orm::DynIden;
use sea_orm::sea_query::{Alias, IntoIden};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The table that records which migrations a database has applied (`version`, `applied_at`).
/// Named after Roster rather than sea-orm's default, so that another sea-orm application's
/// migrations in the same schema are never mistaken for Roster's.
pub const MIGRATIONS_TABLE: &str = "roster_migrations";

/// Every migration this build of Roster knows, oldest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_organizations::Migration),
            Box::new(m20261123_000002_users_and_roles::Migration),
            Box::new(m20261123_000003_licenses_and_invites::Migration),
            Box::new(m20261123_000004_groups::Migration),
            Box::new(m20261123_000005_connections::Migration),
            Box::new(m20261123_000006_audit_and_delivery::Migration),
            Box::new(m20261123_000007_sessions_and_requests::Migration),
            Box::new(m20261206_000008_groups_version::Migration),
            Box::new(m20261206_000009_roles_version::Migration),
            Box::new(m20261207_000010_secrets_at_rest::Migration),
            Box::new(m20261207_000011_session_parents_and_attempts::Migration),
            Box::new(m20261207_000012_password_resets::Migration),
            Box::new(m20261207_000013_jobs::Migration),
            Box::new(m20261207_000014_invite_groups::Migration),
            Box::new(m20261207_000015_users_sort_by_licenses::Migration),
            Box::new(m20261207_000016_scim_permission::Migration),
            Box::new(m20261207_000017_webhook_rotation_and_log::Migration),
            Box::new(m20261207_000018_scim_attributes::Migration),
            Box::new(m20261207_000019_webhook_log_retention::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new(MIGRATIONS_TABLE).into_iden()
    }
}

/// The names of every migration this build knows, oldest first.
pub fn known_migrations() -> Vec<String> {
    Migrator::migrations().iter().map(|m| m.name().to_owned()).collect()
}
