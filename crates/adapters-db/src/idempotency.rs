//! The domain's `IdempotencyRepository` on SQL: the `idempotency_keys` table of migration 7.
//! Each call is one autocommitted statement on the pool, outside any unit of work, so a claim
//! is visible to a concurrent retry (in any process) at once.
//!
//! A claim is `INSERT … ON CONFLICT DO NOTHING` (one row inserted: claimed), which both engines
//! decide atomically on the primary key `(org_id, principal_id, key)`; a take-over is an
//! `UPDATE` conditioned on the `created_at` the caller read, so of two callers taking over one
//! stale record exactly one wins.

use async_trait::async_trait;
use roster_domain::ports::{IdempotencyRecord, IdempotencyRepository, IdempotencyScope, StoreError, StoredResponse};
use sea_orm::{ConnectionTrait, Statement, Value};
use time::OffsetDateTime;

use crate::Db;
use crate::store::convert::{self, get, get_time};
use crate::store::errors;

/// Idempotency keys in the database, shared by every `roster` process on it.
#[derive(Debug, Clone)]
pub struct SeaOrmIdempotency {
    db: Db,
}

impl SeaOrmIdempotency {
    /// Idempotency keys on an open, migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        let engine = self.db.engine();
        Statement::from_sql_and_values(engine.backend(), convert::number_parameters(engine, sql), values)
    }

    async fn execute(&self, sql: &str, values: Vec<Value>) -> Result<u64, StoreError> {
        let result = self.db.connection().execute_raw(self.statement(sql, values)).await;
        result.map(|r| r.rows_affected()).map_err(errors::unavailable)
    }

    fn time(&self, at: OffsetDateTime) -> Result<Value, StoreError> {
        convert::time(self.db.engine(), at)
    }

    /// The primary key's values, in `org_id, principal_id, key` order.
    fn key(scope: &IdempotencyScope) -> [Value; 3] {
        [convert::id(scope.org_id.as_uuid()), convert::id(scope.principal_id), scope.key.clone().into()]
    }

    async fn record(&self, scope: &IdempotencyScope) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = self
            .db
            .connection()
            .query_one_raw(self.statement(
                "SELECT request_fingerprint, response_status, response_body, created_at FROM idempotency_keys \
                 WHERE org_id = ? AND principal_id = ? AND key = ?",
                Self::key(scope).to_vec(),
            ))
            .await
            .map_err(errors::unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let status: Option<i32> = get(&row, "response_status")?;
        let body: Option<String> = get(&row, "response_body")?;
        let response = match status {
            Some(status) => Some(StoredResponse {
                status: u16::try_from(status).map_err(|e| convert::corrupt("response_status", e))?,
                body: body.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(Some(IdempotencyRecord {
            fingerprint: get(&row, "request_fingerprint")?,
            response,
            created_at: get_time(self.db.engine(), &row, "created_at")?,
        }))
    }
}

#[async_trait]
impl IdempotencyRepository for SeaOrmIdempotency {
    async fn claim(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        // A record purged between a refused insert and the read is claimed on the next round.
        for _ in 0..3 {
            let [org, principal, key] = Self::key(scope);
            let inserted = self
                .execute(
                    "INSERT INTO idempotency_keys (org_id, principal_id, key, request_fingerprint, created_at) \
                     VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, principal_id, key) DO NOTHING",
                    vec![org, principal, key, fingerprint.to_owned().into(), self.time(now)?],
                )
                .await?;
            if inserted == 1 {
                return Ok(None);
            }
            if let Some(record) = self.record(scope).await? {
                return Ok(Some(record));
            }
        }
        Err(StoreError::Unavailable("an idempotency key kept vanishing while being claimed".into()))
    }

    async fn take_over(
        &self,
        scope: &IdempotencyScope,
        previous_created_at: OffsetDateTime,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut values = vec![fingerprint.to_owned().into(), self.time(now)?];
        values.extend(Self::key(scope));
        values.push(self.time(previous_created_at)?);
        let updated = self
            .execute(
                "UPDATE idempotency_keys SET request_fingerprint = ?, response_status = NULL, response_body = NULL, \
                 created_at = ? WHERE org_id = ? AND principal_id = ? AND key = ? AND created_at = ?",
                values,
            )
            .await?;
        Ok(updated == 1)
    }

    async fn complete(&self, scope: &IdempotencyScope, response: &StoredResponse) -> Result<(), StoreError> {
        let mut values = vec![Value::Int(Some(i32::from(response.status))), response.body.clone().into()];
        values.extend(Self::key(scope));
        self.execute(
            "UPDATE idempotency_keys SET response_status = ?, response_body = ? \
             WHERE org_id = ? AND principal_id = ? AND key = ?",
            values,
        )
        .await
        .map(drop)
    }

    async fn release(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM idempotency_keys WHERE org_id = ? AND principal_id = ? AND key = ?",
            Self::key(scope).to_vec(),
        )
        .await
        .map(drop)
    }

    async fn purge_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.execute("DELETE FROM idempotency_keys WHERE created_at < ?", vec![self.time(before)?]).await
    }
}
