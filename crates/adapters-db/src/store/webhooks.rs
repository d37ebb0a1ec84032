//! [`WebhookRepository`]: webhook endpoints and their delivery log (SPEC §9.1, ADR 0008).
//!
//! Both updates are optimistic (`UPDATE … WHERE org_id = ? AND id = ? AND version = ?`; zero
//! rows is `Missing` when the row does not exist, else `StaleVersion`). The schema's partial
//! unique index `webhook_deliveries_one_pending_uq` keeps one pending delivery per endpoint; its
//! violation, on insert or update, is `StaleVersion { kind: "webhook" }`. The worker's queries
//! (`webhooks_behind`, `due_webhook_deliveries`) lock what they return with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL.

use std::collections::BTreeSet;

use async_trait::async_trait;
use roster_domain::ids::{AuditEventId, OrgId, UserId, WebhookDeliveryId, WebhookId};
use roster_domain::ports::{StoreError, WebhookRepository};
use roster_domain::webhooks::{EventPattern, RetiredSecret, WebhookDelivery, WebhookEndpoint, WebhookSecret};
use sea_orm::{DbErr, QueryResult, Value};
use time::OffsetDateTime;

use super::SeaOrmTx;
use super::audit::{enum_name, get_enum};
use super::convert::{
    corrupt, count, get, get_id, get_json, get_opt_time, get_parsed, get_time, get_unsigned, id, json, opt_time, text,
    time,
};
use super::errors;
use crate::Engine;

type R<T> = Result<T, StoreError>;

const ENDPOINT_COLUMNS: &str = "org_id, id, url, event_types, secret, created_at, disabled_at, position, created_by, \
                                version, previous_secret, previous_secret_until, disabled_reason, failing_since";

const DELIVERY_COLUMNS: &str = "org_id, id, endpoint_id, event_position, event_id, attempts, state, response_status, \
                                last_error, next_attempt_at, created_at, last_attempt_at, version, duration_ms, \
                                response_excerpt";

/// The partial unique index that keeps one pending delivery per endpoint, as each engine names
/// it in a violation.
const ONE_PENDING: [&str; 2] = ["webhook_deliveries_one_pending_uq", "webhook_deliveries.endpoint_id"];

const MISSING_WEBHOOK: StoreError = StoreError::Missing { kind: "webhook" };

/// A failed delivery write: a second pending delivery is `StaleVersion { kind: "webhook" }`, a
/// missing endpoint `Missing { kind: "webhook" }`.
fn delivery_error(error: DbErr) -> StoreError {
    if errors::unique_constraint(&error).is_some_and(|c| ONE_PENDING.contains(&c.as_str())) {
        StoreError::StaleVersion { kind: "webhook" }
    } else {
        errors::write_error(error, "webhook")
    }
}

/// The version an optimistic update expects to find: `version - 1`, or `None` when there is
/// none (a version of 0 can never follow a stored one).
fn previous(version: u64) -> Option<u64> {
    version.checked_sub(1)
}

/// `FOR UPDATE SKIP LOCKED` where several workers share the rows (PostgreSQL).
fn skip_locked(engine: Engine, of: &str) -> String {
    match engine {
        Engine::Postgres => format!(" FOR UPDATE{of} SKIP LOCKED"),
        Engine::Sqlite => String::new(),
    }
}

impl SeaOrmTx {
    fn endpoint_from_row(&self, row: &QueryResult) -> R<WebhookEndpoint> {
        let previous_secret = match (
            get::<Option<String>>(row, "previous_secret")?,
            get_opt_time(self.engine, row, "previous_secret_until")?,
        ) {
            (Some(secret), Some(until)) => Some(RetiredSecret { secret: WebhookSecret::new(secret), until }),
            _ => None,
        };
        Ok(WebhookEndpoint {
            id: get_id(row, "id", WebhookId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            url: get_parsed(row, "url")?,
            event_types: get_json::<BTreeSet<EventPattern>>(self.engine, row, "event_types")?,
            secret: WebhookSecret::new(get(row, "secret")?),
            previous_secret,
            created_at: get_time(self.engine, row, "created_at")?,
            disabled_at: get_opt_time(self.engine, row, "disabled_at")?,
            disabled_reason: get::<Option<String>>(row, "disabled_reason")?
                .map(|name| serde_json::from_value(serde_json::Value::String(name)))
                .transpose()
                .map_err(|e| corrupt("disabled_reason", e))?,
            position: get_unsigned(row, "position")?,
            created_by: get_id(row, "created_by", UserId::from_uuid)?,
            failing_since: get_opt_time(self.engine, row, "failing_since")?,
            version: get_unsigned(row, "version")?,
        })
    }

    fn delivery_from_row(&self, row: &QueryResult) -> R<WebhookDelivery> {
        let response_status = get::<Option<i32>>(row, "response_status")?
            .map(|s| u16::try_from(s).map_err(|e| corrupt("response_status", e)))
            .transpose()?;
        Ok(WebhookDelivery {
            id: get_id(row, "id", WebhookDeliveryId::from_uuid)?,
            endpoint_id: get_id(row, "endpoint_id", WebhookId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            event_position: get_unsigned(row, "event_position")?,
            event_id: get_id(row, "event_id", AuditEventId::from_uuid)?,
            attempts: get_unsigned(row, "attempts")?,
            state: get_enum(row, "state")?,
            response_status,
            last_error: get(row, "last_error")?,
            next_attempt_at: get_opt_time(self.engine, row, "next_attempt_at")?,
            created_at: get_time(self.engine, row, "created_at")?,
            last_attempt_at: get_opt_time(self.engine, row, "last_attempt_at")?,
            response_excerpt: get(row, "response_excerpt")?,
            duration_ms: get::<Option<i64>>(row, "duration_ms")?
                .map(|ms| u64::try_from(ms).map_err(|e| corrupt("duration_ms", e)))
                .transpose()?,
            version: get_unsigned(row, "version")?,
        })
    }

    /// The endpoint's columns after `org_id, id`, in [`ENDPOINT_COLUMNS`] order.
    fn endpoint_values(&self, endpoint: &WebhookEndpoint) -> R<Vec<Value>> {
        Ok(vec![
            text(&endpoint.url),
            json(self.engine, &endpoint.event_types)?,
            endpoint.secret.expose().to_owned().into(),
            time(self.engine, endpoint.created_at)?,
            opt_time(self.engine, endpoint.disabled_at)?,
            count(endpoint.position)?,
            id(endpoint.created_by.as_uuid()),
            count(endpoint.version)?,
            Value::String(endpoint.previous_secret.as_ref().map(|p| p.secret.expose().to_owned())),
            opt_time(self.engine, endpoint.previous_secret.as_ref().map(|p| p.until))?,
            Value::String(endpoint.disabled_reason.as_ref().map(enum_name).transpose()?),
            opt_time(self.engine, endpoint.failing_since)?,
        ])
    }

    /// The delivery's columns after `org_id, id`, in [`DELIVERY_COLUMNS`] order.
    fn delivery_values(&self, delivery: &WebhookDelivery) -> R<Vec<Value>> {
        Ok(vec![
            id(delivery.endpoint_id.as_uuid()),
            count(delivery.event_position)?,
            id(delivery.event_id.as_uuid()),
            count(delivery.attempts)?,
            enum_name(&delivery.state)?.into(),
            Value::Int(delivery.response_status.map(i32::from)),
            Value::String(delivery.last_error.clone()),
            opt_time(self.engine, delivery.next_attempt_at)?,
            time(self.engine, delivery.created_at)?,
            opt_time(self.engine, delivery.last_attempt_at)?,
            count(delivery.version)?,
            Value::BigInt(delivery.duration_ms.map(i64::try_from).transpose().map_err(|e| corrupt("duration_ms", e))?),
            Value::String(delivery.response_excerpt.clone()),
        ])
    }

    async fn exists(&self, table: &str, org: OrgId, row: uuid::Uuid) -> R<bool> {
        let sql = format!("SELECT 1 AS found FROM {table} WHERE org_id = ? AND id = ?");
        Ok(self.query_one(&sql, vec![id(org.as_uuid()), id(row)]).await?.is_some())
    }

    async fn select_deliveries(&self, filter: &str, values: Vec<Value>) -> R<Vec<WebhookDelivery>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries {filter}");
        self.query_all(&sql, values).await?.iter().map(|row| self.delivery_from_row(row)).collect()
    }
}

#[async_trait]
impl WebhookRepository for SeaOrmTx {
    async fn insert_webhook(&mut self, endpoint: &WebhookEndpoint) -> R<()> {
        let mut values = vec![id(endpoint.org_id.as_uuid()), id(endpoint.id.as_uuid())];
        values.extend(self.endpoint_values(endpoint)?);
        let sql =
            format!("INSERT INTO webhooks ({ENDPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        self.exec_guarded(&sql, values).await.map(|_| ()).map_err(|e| errors::write_error(e, "organization"))
    }

    async fn webhooks(&mut self, org: OrgId) -> R<Vec<WebhookEndpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE org_id = ? ORDER BY created_at, id");
        self.query_all(&sql, vec![id(org.as_uuid())]).await?.iter().map(|row| self.endpoint_from_row(row)).collect()
    }

    async fn webhook(&mut self, org: OrgId, webhook: WebhookId) -> R<Option<WebhookEndpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE org_id = ? AND id = ?");
        let row = self.query_one(&sql, vec![id(org.as_uuid()), id(webhook.as_uuid())]).await?;
        row.as_ref().map(|row| self.endpoint_from_row(row)).transpose()
    }

    async fn update_webhook(&mut self, endpoint: &WebhookEndpoint) -> R<()> {
        let updated = match previous(endpoint.version) {
            None => false,
            Some(stored) => {
                let mut values = self.endpoint_values(endpoint)?;
                values.extend([id(endpoint.org_id.as_uuid()), id(endpoint.id.as_uuid()), count(stored)?]);
                let sql = "UPDATE webhooks SET url = ?, event_types = ?, secret = ?, created_at = ?, disabled_at = ?, \
                           position = ?, created_by = ?, version = ?, previous_secret = ?, \
                           previous_secret_until = ?, disabled_reason = ?, failing_since = ? \
                           WHERE org_id = ? AND id = ? AND version = ?";
                let done = self.exec_guarded(sql, values).await.map_err(|e| errors::write_error(e, "webhook"))?;
                done.rows_affected() > 0
            }
        };
        if updated {
            Ok(())
        } else if self.exists("webhooks", endpoint.org_id, endpoint.id.as_uuid()).await? {
            Err(StoreError::StaleVersion { kind: "webhook" })
        } else {
            Err(MISSING_WEBHOOK)
        }
    }

    async fn webhooks_behind(&mut self, limit: u32) -> R<Vec<WebhookEndpoint>> {
        let columns = ENDPOINT_COLUMNS.split(", ").map(|c| format!("w.{c}")).collect::<Vec<_>>().join(", ");
        // Positions have no gaps, so the endpoint's next event is the one at `position + 1`,
        // and it exists exactly when the endpoint is behind its organization's last position.
        let sql = format!(
            "SELECT {columns} FROM webhooks w \
             JOIN audit_events e ON e.org_id = w.org_id AND e.position = w.position + 1 \
             WHERE w.disabled_at IS NULL AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
             WHERE d.org_id = w.org_id AND d.endpoint_id = w.id AND d.state = 'pending') \
             ORDER BY e.at, w.id LIMIT ?{}",
            skip_locked(self.engine, " OF w")
        );
        self.query_all(&sql, vec![count(limit)?]).await?.iter().map(|row| self.endpoint_from_row(row)).collect()
    }

    async fn insert_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> R<()> {
        let mut values = vec![id(delivery.org_id.as_uuid()), id(delivery.id.as_uuid())];
        values.extend(self.delivery_values(delivery)?);
        let sql = format!(
            "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        self.exec_guarded(&sql, values).await.map(|_| ()).map_err(delivery_error)
    }

    async fn update_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> R<()> {
        let updated = match previous(delivery.version) {
            None => false,
            Some(stored) => {
                let mut values = self.delivery_values(delivery)?;
                values.extend([id(delivery.org_id.as_uuid()), id(delivery.id.as_uuid()), count(stored)?]);
                let sql = "UPDATE webhook_deliveries SET endpoint_id = ?, event_position = ?, event_id = ?, \
                           attempts = ?, state = ?, response_status = ?, last_error = ?, next_attempt_at = ?, \
                           created_at = ?, last_attempt_at = ?, version = ?, duration_ms = ?, \
                           response_excerpt = ? WHERE org_id = ? AND id = ? AND version = ?";
                self.exec_guarded(sql, values).await.map_err(delivery_error)?.rows_affected() > 0
            }
        };
        if updated {
            Ok(())
        } else if self.exists("webhook_deliveries", delivery.org_id, delivery.id.as_uuid()).await? {
            Err(StoreError::StaleVersion { kind: "webhook delivery" })
        } else {
            Err(StoreError::Missing { kind: "webhook delivery" })
        }
    }

    async fn pending_webhook_delivery(&mut self, org: OrgId, endpoint: WebhookId) -> R<Option<WebhookDelivery>> {
        let filter = "WHERE org_id = ? AND endpoint_id = ? AND state = 'pending'";
        let mut rows = self.select_deliveries(filter, vec![id(org.as_uuid()), id(endpoint.as_uuid())]).await?;
        Ok(rows.pop())
    }

    async fn webhook_deliveries(&mut self, org: OrgId, endpoint: WebhookId, limit: u32) -> R<Vec<WebhookDelivery>> {
        let filter = "WHERE org_id = ? AND endpoint_id = ? ORDER BY created_at DESC, id DESC LIMIT ?";
        self.select_deliveries(filter, vec![id(org.as_uuid()), id(endpoint.as_uuid()), count(limit)?]).await
    }

    async fn due_webhook_deliveries(&mut self, now: OffsetDateTime, limit: u32) -> R<Vec<WebhookDelivery>> {
        let filter = format!(
            "WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?{}",
            skip_locked(self.engine, "")
        );
        self.select_deliveries(&filter, vec![time(self.engine, now)?, count(limit)?]).await
    }

    async fn purge_webhook_deliveries(&mut self, created_before: OffsetDateTime, limit: u32) -> R<u64> {
        // A range of the partial index `webhook_deliveries_settled`, bounded so that one chunk
        // stays a short transaction.
        let sql = "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
                   WHERE state <> 'pending' AND created_at < ? ORDER BY created_at, id LIMIT ?)";
        let done = self.exec(sql, vec![time(self.engine, created_before)?, count(limit)?]).await?;
        Ok(done.rows_affected())
    }
}
