//! The three-level group tree, memberships with their history, flows and the flows assigned to
//! groups (SPEC §6, §7.3).

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// In creation order; `down` drops them in reverse.
const TABLES: &[&str] = &["groups", "memberships", "flows", "group_flows"];

const UP: &[&str] = &[
    // The group tree of an organization, deleted groups included (they stay filterable).
    // `name_key` is `GroupName::key()`, the Unicode lower-case name, written by the adapter:
    // live siblings must differ in it, and SQLite's `lower()` only folds ASCII.
    r#"CREATE TABLE groups (
        org_id     {uuid} NOT NULL,
        id         {uuid} NOT NULL,
        parent_id  {uuid},
        name       text NOT NULL,
        name_key   {ctext} NOT NULL,
        depth      smallint NOT NULL,
        deleted_at {time},
        created_at {time} NOT NULL,
        version    bigint NOT NULL DEFAULT 1,
        PRIMARY KEY (org_id, id),
        CONSTRAINT groups_parent_fk FOREIGN KEY (org_id, parent_id) REFERENCES groups (org_id, id),
        CONSTRAINT groups_depth_range CHECK (depth BETWEEN 1 AND 3),
        CONSTRAINT groups_only_the_root_has_no_parent CHECK ((parent_id IS NULL) = (depth = 1)),
        CONSTRAINT groups_version_positive CHECK (version >= 1)
    )"#,
    // One root per organization. With it, the sibling-name index below needs no special case
    // for the root's NULL parent (NULLs are distinct in a unique index, so two roots named alike
    // would otherwise both pass): the root has no siblings at all.
    "CREATE UNIQUE INDEX groups_one_root_uq ON groups (org_id) WHERE parent_id IS NULL",
    // Live siblings have different names, case-insensitively (`conflict` on `name`); a deleted
    // group frees its name.
    "CREATE UNIQUE INDEX groups_sibling_name_uq ON groups (org_id, parent_id, name_key) WHERE deleted_at IS NULL",
    // Membership periods (§6). A current membership has no `left_at`; leaving sets it, joining
    // again adds a row, so the history is kept. Deleting a group ends its memberships at the
    // deletion time, which is how a filter on a deleted group finds its last members.
    r#"CREATE TABLE memberships (
        id        {serial} PRIMARY KEY,
        org_id    {uuid} NOT NULL,
        group_id  {uuid} NOT NULL,
        user_id   {uuid} NOT NULL,
        joined_at {time} NOT NULL,
        left_at   {time},
        CONSTRAINT memberships_group_fk FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id),
        CONSTRAINT memberships_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE
    )"#,
    // A user is in a group at most once at a time. Also the group's current members, and the
    // Users table's filter on a live group as an EXISTS probe per row.
    "CREATE UNIQUE INDEX memberships_current_uq ON memberships (group_id, user_id) WHERE left_at IS NULL",
    // A user's membership history and current groups (the viewer's groups for visibility, a
    // move, the restamp of timing rule 1); the filter on a deleted group (`left_at` equal to its
    // `deleted_at`).
    "CREATE INDEX memberships_by_user ON memberships (org_id, user_id, group_id, left_at)",
    // The organization's flows (§7.3).
    r#"CREATE TABLE flows (
        org_id     {uuid} NOT NULL,
        id         {uuid} NOT NULL,
        name       text NOT NULL,
        created_at {time} NOT NULL,
        PRIMARY KEY (org_id, id)
    )"#,
    // The flows assigned to a group; a group with none accepts any flow. Replaced as a set.
    r#"CREATE TABLE group_flows (
        org_id   {uuid} NOT NULL,
        group_id {uuid} NOT NULL,
        flow_id  {uuid} NOT NULL,
        PRIMARY KEY (org_id, group_id, flow_id),
        CONSTRAINT group_flows_group_fk FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id),
        CONSTRAINT group_flows_flow_fk FOREIGN KEY (org_id, flow_id) REFERENCES flows (org_id, id)
    )"#,
];

ddl::migration!(UP, TABLES);
