//! Password reset links (SPEC §3): `password_resets` keeps the SHA-256 of each link's token,
//! whose member it resets and until when (one hour). Using a link deletes its row (one use);
//! a newer link and any change of the member's password delete the member's rows; the member's
//! removal takes them along (`ON DELETE CASCADE`). And `login_failures` gets the index of a
//! throttle per account across source addresses, which reset requests are counted by.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // One row per link that still works (or expired and waits for the purge). The token itself
    // is only in the member's mail (and in the outbox until delivery is settled).
    r#"CREATE TABLE password_resets (
        token_hash text NOT NULL PRIMARY KEY,
        org_id     {uuid} NOT NULL,
        user_id    {uuid} NOT NULL,
        created_at {time} NOT NULL,
        expires_at {time} NOT NULL,
        CONSTRAINT password_resets_user_fk FOREIGN KEY (org_id, user_id)
            REFERENCES users (org_id, id) ON DELETE CASCADE
    )"#,
    // A member's links (superseded by a new one, ended by a password change).
    "CREATE INDEX password_resets_by_user ON password_resets (org_id, user_id)",
    // Purging expired links.
    "CREATE INDEX password_resets_expiry ON password_resets (expires_at)",
    // An account's attempts of one kind in a throttle's window, from any address.
    "CREATE INDEX login_failures_by_account ON login_failures (kind, account, at)",
];

const DOWN: &[&str] = &["DROP INDEX login_failures_by_account", "DROP TABLE password_resets"];

// The trait spells the argument `&SchemaManager`; `async_trait` needs the impl to spell it the
// same way (see `ddl::migration!`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::execute(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        for statement in DOWN {
            connection.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
