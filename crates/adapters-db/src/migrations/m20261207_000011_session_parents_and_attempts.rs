//! Sessions in the unit of work (SPEC §10): `sessions.parent_hash` names the session that
//! started an impersonating one, which ends with it (`ON DELETE CASCADE`); `login_failures`
//! becomes the log of every throttled attempt — its `kind` (`login`: a failed login; `signup`:
//! a sign-up request) and, for a login, the `account` tried — so that failed logins are
//! throttled per account and source address as well as per address.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE sessions ADD COLUMN parent_hash text \
         REFERENCES sessions (token_hash) ON DELETE CASCADE",
    // The cascade's lookup.
    "CREATE INDEX sessions_by_parent ON sessions (parent_hash)",
    "ALTER TABLE login_failures ADD COLUMN kind text NOT NULL DEFAULT 'login'",
    "ALTER TABLE login_failures ADD COLUMN account text",
    // An address's attempts of one kind in a throttle's window, per account or not.
    "CREATE INDEX login_failures_by_kind ON login_failures (kind, source_address, account, at)",
    // Purging old attempts.
    "CREATE INDEX login_failures_by_time ON login_failures (at)",
];

const DOWN: &[&str] = &[
    "DROP INDEX login_failures_by_time",
    "DROP INDEX login_failures_by_kind",
    "ALTER TABLE login_failures DROP COLUMN account",
    "ALTER TABLE login_failures DROP COLUMN kind",
    "DROP INDEX sessions_by_parent",
    "ALTER TABLE sessions DROP COLUMN parent_hash",
];

// The trait spells the argument `&SchemaManager`; `async_trait` needs the impl to spell it the
// same way (see `ddl::migration!`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        for statement in UP {
            connection.execute_unprepared(statement).await?;
        }
        Ok(())
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
