//! What Standard Webhooks delivery needs beyond the first schema (§9.1, ADR 0039):
//! - `webhooks.previous_secret` and `previous_secret_until`: the secret a rotation replaced,
//!   which keeps signing beside the new one for 24 hours (both set or both null);
//! - `webhooks.disabled_reason`: why a disabled endpoint receives nothing (`paused`, `deleted`,
//!   `gone`, `failing`); existing disabled endpoints were deleted by an admin or answered 410,
//!   which the old schema did not tell apart: they become `deleted`, the safe reading (a
//!   deleted endpoint is never resumed by accident);
//! - `webhooks.failing_since`: when its deliveries started failing, for the 5-day limit;
//! - `webhook_deliveries.duration_ms` and `response_excerpt`: how long the last attempt took and
//!   the first bytes of its answer, for the delivery log;
//! - `audit_events.api_key_id`: the API key that made a change through the API, so that an
//!   integration skips the echoes of its own writes (null for every other door, and for the
//!   events before this column: adding a nullable column rewrites no row on either engine).

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
    "ALTER TABLE audit_events ADD COLUMN api_key_id {uuid}",
];

const DOWN: &[&str] = &[
    "ALTER TABLE audit_events DROP COLUMN api_key_id",
    "ALTER TABLE webhook_deliveries DROP COLUMN response_excerpt",
    "ALTER TABLE webhook_deliveries DROP COLUMN duration_ms",
    "ALTER TABLE webhooks DROP COLUMN failing_since",
    "ALTER TABLE webhooks DROP COLUMN disabled_reason",
    "ALTER TABLE webhooks DROP COLUMN previous_secret_until",
    "ALTER TABLE webhooks DROP COLUMN previous_secret",
];

ddl::migration!(up: UP, down: DOWN);
