//! What SCIM provisioning keeps beyond the first schema (§13, ADR 0041):
//! - on `users`, the attributes an identity provider sends that Roster does not otherwise hold:
//!   `external_id` (the provider's own id of the person, case-exact), `title`, and the
//!   enterprise extension's `employee_number`, `cost_center`, `organization`, `division`,
//!   `department` and `manager_id` (the manager's SCIM id, as sent). All nullable: adding them
//!   rewrites no row on either engine.
//! - `users_by_external_id`: `externalId eq "…"` (Entra ID's matching attribute) is an index
//!   probe, as `userName eq` is.
//! - `organizations.scim_products`: the products a provisioned member gets (a JSON array of
//!   product keys, empty by default).

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE users ADD COLUMN external_id {ctext}",
    "ALTER TABLE users ADD COLUMN title text",
    "ALTER TABLE users ADD COLUMN employee_number text",
    "ALTER TABLE users ADD COLUMN cost_center text",
    "ALTER TABLE users ADD COLUMN organization text",
    "ALTER TABLE users ADD COLUMN division text",
    "ALTER TABLE users ADD COLUMN department text",
    "ALTER TABLE users ADD COLUMN manager_id text",
    "CREATE INDEX users_by_external_id ON users (org_id, external_id) WHERE external_id IS NOT NULL",
    "ALTER TABLE organizations ADD COLUMN scim_products {json} NOT NULL DEFAULT '[]'",
];

const DOWN: &[&str] = &[
    "ALTER TABLE organizations DROP COLUMN scim_products",
    "DROP INDEX users_by_external_id",
    "ALTER TABLE users DROP COLUMN manager_id",
    "ALTER TABLE users DROP COLUMN department",
    "ALTER TABLE users DROP COLUMN division",
    "ALTER TABLE users DROP COLUMN organization",
    "ALTER TABLE users DROP COLUMN cost_center",
    "ALTER TABLE users DROP COLUMN employee_number",
    "ALTER TABLE users DROP COLUMN title",
    "ALTER TABLE users DROP COLUMN external_id",
];

ddl::migration!(up: UP, down: DOWN);
