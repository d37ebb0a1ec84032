//! API keys, connections, and the group stamp and cc tables that make the visible-connections
//! page an index range (SPEC §7, PERFORMANCE-NOTES consequence 7).

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// In creation order; `down` drops them in reverse.
const TABLES: &[&str] = &["api_keys", "connections", "connection_groups", "connection_cc"];

const UP: &[&str] = &[
    // API keys (§7.4). Only the SHA-256 of the secret is stored. `permissions` is a JSON array of
    // permission names. A key acts for its creator, who must exist; its group is checked by the
    // services and the key is revoked (not deleted) when the group is.
    r#"CREATE TABLE api_keys (
        org_id       {uuid} NOT NULL,
        id           {uuid} NOT NULL,
        name         text NOT NULL,
        group_id     {uuid},
        permissions  {json} NOT NULL DEFAULT '[]',
        created_by   {uuid} NOT NULL,
        secret_hash  text NOT NULL,
        created_at   {time} NOT NULL,
        last_used_at {time},
        revoked_at   {time},
        PRIMARY KEY (org_id, id),
        CONSTRAINT api_keys_creator_fk FOREIGN KEY (org_id, created_by) REFERENCES users (org_id, id)
    )"#,
    // Authentication finds a key by the hash of the bearer secret, in any organization.
    "CREATE UNIQUE INDEX api_keys_secret_hash_uq ON api_keys (secret_hash)",
    // Deleting a group revokes the keys bound to it.
    "CREATE INDEX api_keys_by_group ON api_keys (org_id, group_id) WHERE group_id IS NOT NULL",
    // The records members invite (§7.1). The group stamp and the cc live in the two tables below.
    // The inviter must exist, and cannot be removed while their connections exist (records keep
    // their owner; users are only soft-deleted).
    r#"CREATE TABLE connections (
        org_id      {uuid} NOT NULL,
        id          {uuid} NOT NULL,
        email       {ctext} NOT NULL,
        name        text NOT NULL,
        flow_id     {uuid},
        inviter_id  {uuid} NOT NULL,
        via_api_key {uuid},
        user_token  text NOT NULL,
        created_at  {time} NOT NULL,
        PRIMARY KEY (org_id, id),
        CONSTRAINT connections_inviter_fk FOREIGN KEY (org_id, inviter_id) REFERENCES users (org_id, id)
    )"#,
    // Newest first, `(created_at, id)` descending with the keyset `(created_at, id) < (?, ?)`:
    // the whole page for a viewer who sees everything (visibility All, or Groups while ungrouped).
    "CREATE INDEX connections_newest ON connections (org_id, created_at, id)",
    // The same order among one inviter's connections: the "invited by the viewer" branch of the
    // visibility query, and the restamp and transfer of an inviter's connections (§6, §7.2 rule 1).
    "CREATE INDEX connections_by_inviter ON connections (org_id, inviter_id, created_at, id)",
    // The group stamp: one row per group a connection is stamped with; none means
    // "Organization". `created_at` is a copy of the connection's (which never changes), so that
    // the connections stamped with a group are one index range in page order.
    //
    // The visible page for a `Groups` viewer in groups G1..Gk is the union of k + 2 such ranges,
    // each read newest first from the cursor and cut at the page size: this index per group, the
    // inviter index above, and the cc index below; merged, deduplicated and cut again. Its cost
    // grows with the page size and the viewer's groups, not with the organization
    // (docs/decisions/0009-schema.md).
    r#"CREATE TABLE connection_groups (
        org_id        {uuid} NOT NULL,
        group_id      {uuid} NOT NULL,
        connection_id {uuid} NOT NULL,
        created_at    {time} NOT NULL,
        PRIMARY KEY (org_id, connection_id, group_id),
        CONSTRAINT connection_groups_connection_fk FOREIGN KEY (org_id, connection_id)
            REFERENCES connections (org_id, id) ON DELETE CASCADE
    )"#,
    // A group's connections newest first: the group branches of the visibility query and the
    // group filter (§7.2 rule 5), deleted groups included.
    "CREATE INDEX connection_groups_newest ON connection_groups (org_id, group_id, created_at, connection_id)",
    // The members cc'd on a connection, with the connection's `created_at` for the same reason.
    r#"CREATE TABLE connection_cc (
        org_id        {uuid} NOT NULL,
        user_id       {uuid} NOT NULL,
        connection_id {uuid} NOT NULL,
        created_at    {time} NOT NULL,
        PRIMARY KEY (org_id, connection_id, user_id),
        CONSTRAINT connection_cc_connection_fk FOREIGN KEY (org_id, connection_id)
            REFERENCES connections (org_id, id) ON DELETE CASCADE
    )"#,
    // A viewer's cc'd connections newest first: the cc branch of the visibility query.
    "CREATE INDEX connection_cc_newest ON connection_cc (org_id, user_id, created_at, connection_id)",
];

ddl::migration!(UP, TABLES);
