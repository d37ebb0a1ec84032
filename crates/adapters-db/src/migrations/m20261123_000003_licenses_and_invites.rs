//! License assignments, member invites with their seat reservations, and scheduled changes
//! (SPEC §3.1, §4.3, §8.1).

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// In creation order; `down` drops them in reverse.
const TABLES: &[&str] = &["licenses", "invites", "seat_reservations", "scheduled_changes"];

const UP: &[&str] = &[
    // The products a user holds. Each row took a seat of its product's pool in the same
    // transaction. The product is not a foreign key to the catalog: pools and assignments are
    // checked against the catalog by the services.
    r#"CREATE TABLE licenses (
        org_id      {uuid} NOT NULL,
        user_id     {uuid} NOT NULL,
        product     {ctext} NOT NULL,
        assigned_at {time} NOT NULL,
        PRIMARY KEY (org_id, user_id, product),
        CONSTRAINT licenses_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE
    )"#,
    // The primary key answers "does this user hold `core`?" — the status filter's EXISTS probe —
    // and the product filter of the Users table. This index answers the other way round: the
    // holders of a product (billing, reconciliation, a filter on a rarely held product).
    "CREATE INDEX licenses_by_product ON licenses (org_id, product, user_id)",
    // Member invites and sign-up verifications (§8.1, §8.2). The invited user is a real row with
    // `invited = true`; revoking the invite deletes that user, and this row with it. Tokens are
    // stored only as SHA-256 hashes. `products` is the JSON array of the products reserved.
    r#"CREATE TABLE invites (
        org_id      {uuid} NOT NULL,
        id          {uuid} NOT NULL,
        user_id     {uuid} NOT NULL,
        purpose     text NOT NULL,
        products    {json} NOT NULL DEFAULT '[]',
        token_hash  text NOT NULL,
        expires_at  {time} NOT NULL,
        created_by  {uuid},
        created_at  {time} NOT NULL,
        accepted_at {time},
        PRIMARY KEY (org_id, id),
        CONSTRAINT invites_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE,
        CONSTRAINT invites_purpose_known CHECK (purpose IN ('member', 'signup_verification'))
    )"#,
    // Accepting an invite finds it by its token's hash, in any organization.
    "CREATE UNIQUE INDEX invites_token_hash_uq ON invites (token_hash)",
    // The invite of a user (deleting, deactivating or accepting goes through the user).
    "CREATE INDEX invites_by_user ON invites (org_id, user_id)",
    // The pending invites of an organization (the invite screen).
    "CREATE INDEX invites_pending ON invites (org_id, created_at) WHERE accepted_at IS NULL",
    // Seats held for a pending invite, one per product; they become licenses on acceptance and
    // vanish with the invite.
    r#"CREATE TABLE seat_reservations (
        org_id    {uuid} NOT NULL,
        invite_id {uuid} NOT NULL,
        product   {ctext} NOT NULL,
        PRIMARY KEY (org_id, invite_id, product),
        CONSTRAINT seat_reservations_invite_fk FOREIGN KEY (org_id, invite_id)
            REFERENCES invites (org_id, id) ON DELETE CASCADE
    )"#,
    // Deactivations and license removals with a future `effective_at` (§3.1). A change that
    // could not be applied when due keeps the error code (`failed`) so the Users table shows it.
    r#"CREATE TABLE scheduled_changes (
        org_id       {uuid} NOT NULL,
        id           {uuid} NOT NULL,
        user_id      {uuid} NOT NULL,
        action       text NOT NULL,
        product      {ctext},
        effective_at {time} NOT NULL,
        created_by   {uuid},
        created_at   {time} NOT NULL,
        state        text NOT NULL DEFAULT 'pending',
        state_at     {time},
        failure_code text,
        PRIMARY KEY (org_id, id),
        CONSTRAINT scheduled_changes_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE,
        CONSTRAINT scheduled_changes_action_known CHECK (action IN ('deactivate', 'remove_license')),
        CONSTRAINT scheduled_changes_product_iff_removal CHECK ((action = 'remove_license') = (product IS NOT NULL)),
        CONSTRAINT scheduled_changes_state_known CHECK (state IN ('pending', 'applied', 'cancelled', 'failed')),
        CONSTRAINT scheduled_changes_settled_at CHECK ((state = 'pending') = (state_at IS NULL)),
        CONSTRAINT scheduled_changes_failure_code CHECK ((state = 'failed') = (failure_code IS NOT NULL))
    )"#,
    // The scheduler's tick: pending changes of every organization that fell due, oldest first.
    "CREATE INDEX scheduled_changes_due ON scheduled_changes (effective_at, id) WHERE state = 'pending'",
    // What is scheduled for one user, in time order (the Users table and the edit drawer).
    "CREATE INDEX scheduled_changes_by_user ON scheduled_changes (org_id, user_id, effective_at, id)",
];

ddl::migration!(UP, TABLES);
