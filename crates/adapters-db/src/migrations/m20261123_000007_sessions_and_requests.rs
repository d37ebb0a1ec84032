//! What the HTTP layer keeps between requests (SPEC §10, §12): sessions, saved views,
//! idempotency keys and login failures per source address.

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// In creation order; `down` drops them in reverse.
const TABLES: &[&str] = &["sessions", "saved_views", "idempotency_keys", "login_failures"];

const UP: &[&str] = &[
    // Console and API sessions (`POST /session`): a random 256-bit token, stored only as its
    // SHA-256 hash, with a sliding expiry (12 h; 1 h for an impersonation, whose row also names
    // the impersonator). Logging out or a deactivation deletes the rows; so does the user's
    // removal.
    r#"CREATE TABLE sessions (
        token_hash      text NOT NULL PRIMARY KEY,
        org_id          {uuid} NOT NULL,
        user_id         {uuid} NOT NULL,
        impersonator_id {uuid},
        created_at      {time} NOT NULL,
        last_seen_at    {time} NOT NULL,
        expires_at      {time} NOT NULL,
        CONSTRAINT sessions_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE
    )"#,
    // A user's sessions (ended all at once when the user is deactivated).
    "CREATE INDEX sessions_by_user ON sessions (org_id, user_id)",
    // Purging expired sessions.
    "CREATE INDEX sessions_expiry ON sessions (expires_at)",
    // An admin's named Users-table views (§10 saved views): filter, sort, columns and page size
    // as one JSON document. "Reset to default" is the absence of a view.
    r#"CREATE TABLE saved_views (
        org_id     {uuid} NOT NULL,
        id         {uuid} NOT NULL,
        user_id    {uuid} NOT NULL,
        name       text NOT NULL,
        definition {json} NOT NULL,
        created_at {time} NOT NULL,
        updated_at {time} NOT NULL,
        PRIMARY KEY (org_id, id),
        CONSTRAINT saved_views_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE
    )"#,
    // An admin's views by name; a name is used once per admin.
    "CREATE UNIQUE INDEX saved_views_name_uq ON saved_views (org_id, user_id, name)",
    // `Idempotency-Key` on POSTs (§10): the first request with a key records its fingerprint
    // (a hash of method, path and body) and, once answered, its response; a retry with the same
    // key gets the same response, a reuse with another request is refused. `principal_id` is the
    // member or API key that sent it. `response_status` is NULL while the first request runs.
    r#"CREATE TABLE idempotency_keys (
        org_id              {uuid} NOT NULL,
        principal_id        {uuid} NOT NULL,
        key                 text NOT NULL,
        request_fingerprint text NOT NULL,
        response_status     integer,
        response_body       text,
        created_at          {time} NOT NULL,
        PRIMARY KEY (org_id, principal_id, key)
    )"#,
    // Purging keys past their retention.
    "CREATE INDEX idempotency_keys_expiry ON idempotency_keys (created_at)",
    // Failed logins per source address, so that throttling by address (§10) holds across
    // processes. Failures per account are the `session.login_failed` audit events (ADR 0007).
    r#"CREATE TABLE login_failures (
        id             {serial} PRIMARY KEY,
        source_address text NOT NULL,
        at             {time} NOT NULL
    )"#,
    // An address's failures in the throttle's window; purging old rows.
    "CREATE INDEX login_failures_by_address ON login_failures (source_address, at)",
];

ddl::migration!(UP, TABLES);
