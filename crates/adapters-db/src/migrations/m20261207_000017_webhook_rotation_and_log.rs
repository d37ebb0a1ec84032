//! What Standard Webhooks delivery needs beyond the first schema (§9.1, ADR 0039):
//! - `webhooks.previous_secret` and `previous_secret_until`: the secret a rotation replaced,
//!   which keeps signing beside the new one for 24 hours (both set or both null);
//! - `webhooks.disabled_reason`: why a disabled endpoint receives nothing (`paused`, `deleted`,
//!   `gone`, `failing`); existing disabled endpoints were deleted by an admin or answered 410,
//!   which the old schema did not tell apart: they become `deleted`, the safe reading (a
//!   deleted endpoint is never resumed by accident);
//! - `webhooks.failing_since`: when its deliveries started failing, for the 5-day limit;
//! - `webhook_deliveries.duration_ms` and `response_excerpt`: how long the last attempt took and
//!   the first bytes of its answer, for the delivery log.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE webhooks ADD COLUMN previous_secret text",
    "ALTER TABLE webhooks ADD COLUMN previous_secret_until {time}",
    "ALTER TABLE webhooks ADD COLUMN disabled_reason text",
    "ALTER TABLE webhooks ADD COLUMN failing_since {time}",
    "UPDATE webhooks SET disabled_reason = 'deleted' WHERE disabled_at IS NOT NULL",
    "ALTER TABLE webhook_deliveries ADD COLUMN duration_ms bigint",
    "ALTER TABLE webhook_deliveries ADD COLUMN response_excerpt text",
];

const DOWN: &[&str] = &[
    "ALTER TABLE webhook_deliveries DROP COLUMN response_excerpt",
    "ALTER TABLE webhook_deliveries DROP COLUMN duration_ms",
    "ALTER TABLE webhooks DROP COLUMN failing_since",
    "ALTER TABLE webhooks DROP COLUMN disabled_reason",
    "ALTER TABLE webhooks DROP COLUMN previous_secret_until",
    "ALTER TABLE webhooks DROP COLUMN previous_secret",
];

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
