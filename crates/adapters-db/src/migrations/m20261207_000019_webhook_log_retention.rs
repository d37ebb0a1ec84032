//! The delivery log's retention (§9.1, ADR 0039): settled deliveries older than the retention
//! are removed by the hourly purge, oldest first, in bounded chunks. The index holds the
//! settled rows only, by creation time, so each chunk is an index range however large the log
//! grows; pending deliveries (at most one per endpoint) are never purged.

use sea_orm_migration::prelude::*;

use super::ddl;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] =
    &["CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (created_at, id) WHERE state <> 'pending'"];

const DOWN: &[&str] = &["DROP INDEX webhook_deliveries_settled"];

ddl::migration!(up: UP, down: DOWN);
