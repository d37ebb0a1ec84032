//! Organizations with their settings, product catalogs and seat pools (SPEC §2, §4.1, §4.2).

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// In creation order; `down` drops them in reverse.
const TABLES: &[&str] = &["organizations", "products", "product_prerequisites", "seat_pools"];

const UP: &[&str] = &[
    // One row per tenant, its settings inline (they are read with it, always). Nothing else has
    // a foreign key to this table: rows owned by an organization are not checked against it, so
    // an organization and its root group (which refer to each other) can be inserted in any order.
    // `allowed_signup_domains` is a JSON array of domain names.
    r#"CREATE TABLE organizations (
        id                          {uuid} NOT NULL PRIMARY KEY,
        name                        text NOT NULL,
        slug                        {ctext} NOT NULL,
        created_at                  {time} NOT NULL,
        trial_ends_at               {time},
        root_group_id               {uuid} NOT NULL,
        auto_signup                 boolean NOT NULL DEFAULT true,
        allowed_signup_domains      {json} NOT NULL DEFAULT '[]',
        release_seats_when_inactive boolean NOT NULL DEFAULT true,
        default_seat_limit          bigint NOT NULL DEFAULT 3,
        version                     bigint NOT NULL DEFAULT 1,
        CONSTRAINT organizations_default_seat_limit_not_negative CHECK (default_seat_limit >= 0),
        CONSTRAINT organizations_version_positive CHECK (version >= 1)
    )"#,
    // Login (`{"org": "demo"}`) finds the organization by slug; unique across Roster.
    "CREATE UNIQUE INDEX organizations_slug_uq ON organizations (slug)",
    // An organization's catalog: one row per product, loaded whole in key order.
    r#"CREATE TABLE products (
        org_id {uuid} NOT NULL,
        key    {ctext} NOT NULL,
        name   text NOT NULL,
        PRIMARY KEY (org_id, key)
    )"#,
    // The catalog's prerequisite edges: holding `product` requires holding `requires`. The domain
    // keeps them a DAG (`Catalog::new`); the keys only have to exist in the same catalog.
    r#"CREATE TABLE product_prerequisites (
        org_id   {uuid} NOT NULL,
        product  {ctext} NOT NULL,
        requires {ctext} NOT NULL,
        PRIMARY KEY (org_id, product, requires),
        CONSTRAINT product_prerequisites_product_fk FOREIGN KEY (org_id, product)
            REFERENCES products (org_id, key) ON DELETE CASCADE,
        CONSTRAINT product_prerequisites_requires_fk FOREIGN KEY (org_id, requires)
            REFERENCES products (org_id, key) ON DELETE CASCADE,
        CONSTRAINT product_prerequisites_not_itself CHECK (product <> requires)
    )"#,
    // Seats per product (§4.2). `seats_used` counts assignments plus reservations of pending
    // invites. The invariant `seats_used <= seats_total` is kept by the store's conditional
    // `UPDATE … SET seats_used = seats_used + n WHERE … AND seats_used + n <= seats_total`
    // (ARCHITECTURE.md, "Transactions and seats"); the CHECKs make any write that would break it
    // fail in the database itself, whoever issues it.
    r#"CREATE TABLE seat_pools (
        org_id      {uuid} NOT NULL,
        product     {ctext} NOT NULL,
        seats_total bigint NOT NULL,
        seats_used  bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (org_id, product),
        CONSTRAINT seat_pools_total_not_negative CHECK (seats_total >= 0),
        CONSTRAINT seat_pools_used_not_negative CHECK (seats_used >= 0),
        CONSTRAINT seat_pools_used_within_total CHECK (seats_used <= seats_total)
    )"#,
];

ddl::migration!(UP, TABLES);
