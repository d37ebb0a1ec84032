//! Users with their settings and lifecycle facts, password hashes, roles and role grants, and
//! per-user group access (SPEC §3, §5).

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// In creation order; `down` drops them in reverse.
const TABLES: &[&str] = &["users", "password_hashes", "roles", "user_roles", "user_group_access"];

const UP: &[&str] = &[
    // Members of an organization: every field of the domain's `User`.
    //
    // The status (§3.1) is not stored: it is derived from the lifecycle facts, so the Users table
    // filters on an expression over these columns (docs/decisions/0009-schema.md):
    // `deactivated_at`, `invited`, `inactive_reasons`, `ever_held_core`, `crm_connected`,
    // `mailbox_connected`, plus whether a `core` license exists and whether the trial runs.
    // `inactive_reasons` is a bit set of the system reasons, fixed here for good:
    // 1 inactive_in_crm, 2 inactive_in_mailbox, 4 account_failure, 8 package_expired,
    // 16 no_license.
    //
    // `email` is stored lower-case (the domain normalizes it; the CHECK makes sure), so the
    // unique index below is case-insensitive and, being in code-point order, also serves prefix
    // search and sorting by email.
    //
    // The `*_sort` columns and `search_text` are written by the adapter from the other columns:
    // Unicode lower-case forms (`str::to_lowercase`; SQLite's and PostgreSQL-"C"'s `lower()` only
    // fold ASCII), so sorting and `q` search in SQL agree with the domain's reference semantics
    // (`UserQuery`). An absent agent or CRM id sorts as '' (before every id, as `SortValue::Null`
    // does), which keeps the keyset comparison `(agent_id_sort, id) > (?, ?)` free of NULLs.
    // `search_text` holds the lower-cased display name ("first last"), email, nicknames, agent id,
    // CRM id and phone, joined by U+001F, which none of them can contain.
    //
    // `nicknames` and `extra_permissions` are JSON arrays of strings.
    r#"CREATE TABLE users (
        org_id                     {uuid} NOT NULL,
        id                         {uuid} NOT NULL,
        email                      {ctext} NOT NULL,
        first_name                 text NOT NULL,
        last_name                  text NOT NULL,
        phone                      text,
        nicknames                  {json} NOT NULL DEFAULT '[]',
        crm_id                     text,
        agent_id                   text,
        agent_ring_number          text,
        dialer_number              text,
        extra_permissions          {json} NOT NULL DEFAULT '[]',
        mailbox_provider           text NOT NULL DEFAULT 'none',
        email_throttle_max_per_day bigint NOT NULL DEFAULT 300,
        flow_enabled               boolean NOT NULL DEFAULT true,
        email_sync                 boolean NOT NULL DEFAULT false,
        calendar_sync              boolean NOT NULL DEFAULT false,
        call_recording             text NOT NULL DEFAULT 'optional',
        homepage                   text NOT NULL DEFAULT 'default',
        round_robin                boolean NOT NULL DEFAULT false,
        scoring_enabled            boolean NOT NULL DEFAULT false,
        roaming_agent              boolean NOT NULL DEFAULT false,
        voip_forward_to            text,
        deactivated_at             {time},
        deleted_at                 {time},
        invited                    boolean NOT NULL DEFAULT false,
        inactive_reasons           bigint NOT NULL DEFAULT 0,
        ever_held_core             boolean NOT NULL DEFAULT false,
        crm_connected              boolean NOT NULL DEFAULT false,
        mailbox_connected          boolean NOT NULL DEFAULT false,
        has_password               boolean NOT NULL DEFAULT false,
        first_name_sort            {ctext} NOT NULL,
        last_name_sort             {ctext} NOT NULL,
        agent_id_sort              {ctext} NOT NULL DEFAULT '',
        crm_id_sort                {ctext} NOT NULL DEFAULT '',
        search_text                text NOT NULL,
        created_at                 {time} NOT NULL,
        updated_at                 {time} NOT NULL,
        version                    bigint NOT NULL DEFAULT 1,
        PRIMARY KEY (org_id, id),
        CONSTRAINT users_email_lower_case CHECK (email = lower(email)),
        CONSTRAINT users_mailbox_provider_known CHECK (mailbox_provider IN ('none', 'google', 'microsoft')),
        CONSTRAINT users_email_throttle_positive CHECK (email_throttle_max_per_day >= 1),
        CONSTRAINT users_call_recording_known CHECK (call_recording IN ('optional', 'enforced', 'disabled')),
        CONSTRAINT users_homepage_known CHECK (homepage IN ('default', 'leads')),
        CONSTRAINT users_inactive_reasons_known CHECK (inactive_reasons BETWEEN 0 AND 31),
        CONSTRAINT users_version_positive CHECK (version >= 1)
    )"#,
    // Unique among the organization's live users (§3). A deleted user holds none of these, so
    // an email (or phone, agent id, CRM id) is free again once its user is deleted. The email
    // index is also the prefix search (`email >= 'ada' AND email < 'adb'`, or `LIKE 'ada%'`) and
    // the sort by email, both in code-point order (PERFORMANCE-NOTES consequence 5).
    "CREATE UNIQUE INDEX users_email_uq ON users (org_id, email) WHERE deleted_at IS NULL",
    "CREATE UNIQUE INDEX users_phone_uq ON users (org_id, phone) WHERE deleted_at IS NULL AND phone IS NOT NULL",
    "CREATE UNIQUE INDEX users_agent_id_uq ON users (org_id, agent_id) \
     WHERE deleted_at IS NULL AND agent_id IS NOT NULL",
    "CREATE UNIQUE INDEX users_crm_id_uq ON users (org_id, crm_id) WHERE deleted_at IS NULL AND crm_id IS NOT NULL",
    // The Users table's sorts (§10): each page is one index range in the sort order, id breaking
    // ties, and the next page starts with the row value `(sort…, id) > (?, ?)` (never an
    // OR-chain: PERFORMANCE-NOTES consequence 1). The table never lists deleted users, hence
    // partial indexes. The default sort is last name, then first name.
    "CREATE INDEX users_by_name ON users (org_id, last_name_sort, first_name_sort, id) WHERE deleted_at IS NULL",
    "CREATE INDEX users_by_last_name ON users (org_id, last_name_sort, id) WHERE deleted_at IS NULL",
    "CREATE INDEX users_by_first_name ON users (org_id, first_name_sort, id) WHERE deleted_at IS NULL",
    "CREATE INDEX users_by_created_at ON users (org_id, created_at, id) WHERE deleted_at IS NULL",
    "CREATE INDEX users_by_agent_id ON users (org_id, agent_id_sort, id) WHERE deleted_at IS NULL",
    "CREATE INDEX users_by_crm_id ON users (org_id, crm_id_sort, id) WHERE deleted_at IS NULL",
    // Argon2id hashes (PHC strings), kept out of `users` so that no query of users ever reads one.
    r#"CREATE TABLE password_hashes (
        org_id  {uuid} NOT NULL,
        user_id {uuid} NOT NULL,
        phc     text NOT NULL,
        PRIMARY KEY (org_id, user_id),
        CONSTRAINT password_hashes_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE
    )"#,
    // An organization's roles, built-in and custom (§5). `permissions` is a JSON array of
    // permission names: it is read with the role when an actor is resolved, never filtered on.
    r#"CREATE TABLE roles (
        org_id      {uuid} NOT NULL,
        id          {uuid} NOT NULL,
        key         {ctext} NOT NULL,
        name        text NOT NULL,
        permissions {json} NOT NULL DEFAULT '[]',
        visibility  text NOT NULL,
        assignable  boolean NOT NULL DEFAULT true,
        builtin     boolean NOT NULL DEFAULT false,
        PRIMARY KEY (org_id, id),
        CONSTRAINT roles_visibility_known CHECK (visibility IN ('own_invites', 'groups', 'all'))
    )"#,
    // Role keys are unique per organization (`conflict` on `key`).
    "CREATE UNIQUE INDEX roles_key_uq ON roles (org_id, key)",
    // The roles a user holds, each org-wide (`scope_group_id` NULL) or limited to a group's
    // subtree (§5 scoped administration). Rewritten with the user. The role and the scope are
    // not foreign keys: the services check them, and "a role in use cannot be deleted" is a rule
    // with its own error (`role_in_use`).
    r#"CREATE TABLE user_roles (
        id             {serial} PRIMARY KEY,
        org_id         {uuid} NOT NULL,
        user_id        {uuid} NOT NULL,
        role_id        {uuid} NOT NULL,
        scope_group_id {uuid},
        CONSTRAINT user_roles_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE
    )"#,
    // A grant appears once: org-wide, or once per scope (NULLs are distinct in a unique index,
    // hence two partial ones).
    "CREATE UNIQUE INDEX user_roles_org_wide_uq ON user_roles (user_id, role_id) WHERE scope_group_id IS NULL",
    "CREATE UNIQUE INDEX user_roles_scoped_uq ON user_roles (user_id, role_id, scope_group_id) \
     WHERE scope_group_id IS NOT NULL",
    // The grants of a page of users; the Users table's role filter as an EXISTS probe per row.
    "CREATE INDEX user_roles_by_user ON user_roles (org_id, user_id, role_id)",
    // The holders of a role: `role_in_use`, `active_admins`, and the role filter when the role is
    // rare enough to start from.
    "CREATE INDEX user_roles_by_role ON user_roles (org_id, role_id, user_id)",
    // Groups whose connections a user may see besides their memberships (§5, roaming agents).
    // Read with the user when the viewer's groups are resolved; the group is checked by the
    // services and may since have been deleted (visibility then ignores it).
    r#"CREATE TABLE user_group_access (
        org_id   {uuid} NOT NULL,
        user_id  {uuid} NOT NULL,
        group_id {uuid} NOT NULL,
        PRIMARY KEY (org_id, user_id, group_id),
        CONSTRAINT user_group_access_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE
    )"#,
];

ddl::migration!(UP, TABLES);
