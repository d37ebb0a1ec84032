//! [`AuditLog`]: the append-only audit log, numbered per organization as the event feed.
//!
//! `append_audit` takes the event's position from the organization's `event_counters` row in
//! the appending transaction, with one statement that works on both engines:
//! `INSERT … VALUES (?, 1) ON CONFLICT (org_id) DO UPDATE SET last_position =
//! event_counters.last_position + 1 RETURNING last_position`. The row stays locked until the
//! transaction ends (PostgreSQL; SQLite serializes write transactions anyway), so positions
//! follow commit order with no gaps, and a rollback gives the position back. If the insert of
//! the event itself fails (a duplicate id), the counter is put back so the failed append
//! changes nothing.
//!
//! `append_audits` bumps each organization's counter once, by the number of its events in the
//! batch (`… VALUES (?, n) … SET last_position = event_counters.last_position + n`), numbers
//! that organization's events `last - n + 1 ..= last` in slice order, and inserts them with
//! multi-row statements; a refused batch puts the counters back the same way.

use async_trait::async_trait;
use roster_domain::audit::{AuditEvent, AuditQuery};
use roster_domain::ids::{ApiKeyId, AuditEventId, OrgId, UserId};
use roster_domain::ports::{AuditLog, StoreError};
use sea_orm::{QueryResult, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

use super::SeaOrmTx;
use super::batch::Batch;
use super::convert::{corrupt, count, get, get_id, get_json, get_time, get_unsigned, id, json, time};
use super::errors;

type R<T> = Result<T, StoreError>;

const EVENT_COLUMNS: &str = "org_id, id, position, at, actor_id, impersonator_id, source, action, target_kind, target_id, target_label, details, api_key_id";

/// A unit enum's snake_case name (`Source`, `TargetKind`), as stored.
pub(crate) fn enum_name(value: &impl Serialize) -> R<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        Ok(other) => Err(corrupt("(enum parameter)", format!("not a unit variant: {other}"))),
        Err(e) => Err(corrupt("(enum parameter)", e)),
    }
}

/// A text column holding a unit enum's snake_case name.
pub(crate) fn get_enum<T: DeserializeOwned>(row: &QueryResult, column: &str) -> R<T> {
    serde_json::from_value(serde_json::Value::String(get::<String>(row, column)?)).map_err(|e| corrupt(column, e))
}

fn opt_id(uuid: Option<Uuid>) -> Value {
    uuid.into()
}

impl SeaOrmTx {
    /// Moves the organization's counter forward by `n` and answers the new last position.
    async fn bump_counter(&self, org: Value, n: i64) -> R<i64> {
        let counter = "INSERT INTO event_counters (org_id, last_position) VALUES (?, ?) ON CONFLICT (org_id) \
                       DO UPDATE SET last_position = event_counters.last_position + ? RETURNING last_position";
        let n = Value::BigInt(Some(n));
        let row = self.query_one(counter, vec![org, n.clone(), n]).await?;
        get(&row.ok_or_else(|| corrupt("last_position", "no row returned"))?, "last_position")
    }

    /// Gives `n` positions back after a refused append.
    async fn unbump_counter(&self, org: Value, n: i64) -> R<()> {
        let undo = "UPDATE event_counters SET last_position = last_position - ? WHERE org_id = ?";
        self.exec(undo, vec![Value::BigInt(Some(n)), org]).await?;
        Ok(())
    }

    /// An event's row values, in [`EVENT_COLUMNS`] order.
    fn event_values(&self, event: &AuditEvent, position: i64) -> R<[Value; 13]> {
        Ok([
            id(event.org_id.as_uuid()),
            id(event.id.as_uuid()),
            Value::BigInt(Some(position)),
            time(self.engine, event.at)?,
            opt_id(event.actor_id.map(|u| u.as_uuid())),
            opt_id(event.impersonator_id.map(|u| u.as_uuid())),
            enum_name(&event.source)?.into(),
            event.action.clone().into(),
            enum_name(&event.target_kind)?.into(),
            event.target_id.clone().into(),
            event.target_label.clone().into(),
            json(self.engine, &event.details)?,
            opt_id(event.api_key_id.map(|k| k.as_uuid())),
        ])
    }

    fn event_from_row(&self, row: &QueryResult) -> R<AuditEvent> {
        Ok(AuditEvent {
            id: get_id(row, "id", AuditEventId::from_uuid)?,
            org_id: get_id(row, "org_id", OrgId::from_uuid)?,
            at: get_time(self.engine, row, "at")?,
            actor_id: get::<Option<Uuid>>(row, "actor_id")?.map(UserId::from_uuid),
            impersonator_id: get::<Option<Uuid>>(row, "impersonator_id")?.map(UserId::from_uuid),
            source: get_enum(row, "source")?,
            action: get(row, "action")?,
            target_kind: get_enum(row, "target_kind")?,
            target_id: get(row, "target_id")?,
            target_label: get(row, "target_label")?,
            details: get_json(self.engine, row, "details")?,
            api_key_id: get::<Option<Uuid>>(row, "api_key_id")?.map(ApiKeyId::from_uuid),
        })
    }
}

#[async_trait]
impl AuditLog for SeaOrmTx {
    async fn append_audit(&mut self, event: &AuditEvent) -> R<()> {
        self.append_audits(std::slice::from_ref(event)).await
    }

    async fn append_audits(&mut self, events: &[AuditEvent]) -> R<()> {
        // Each organization's events of the batch, in slice order (a batch rarely spans two).
        let mut per_org: Vec<(OrgId, i64)> = Vec::new();
        for event in events {
            match per_org.iter_mut().find(|(org, _)| *org == event.org_id) {
                Some((_, n)) => *n += 1,
                None => per_org.push((event.org_id, 1)),
            }
        }
        // Every row is built before the counters move, so only the insert can fail after.
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            rows.push(self.event_values(event, 0)?);
        }
        // The next position to hand out per organization: one counter bump per organization.
        let mut next: Vec<(OrgId, i64)> = Vec::with_capacity(per_org.len());
        for (org, n) in &per_org {
            let last = self.bump_counter(id(org.as_uuid()), *n).await?;
            next.push((*org, last - n + 1));
        }
        let mut values = Vec::with_capacity(events.len() * 13);
        for (event, mut row) in events.iter().zip(rows) {
            if let Some((_, position)) = next.iter_mut().find(|(org, _)| *org == event.org_id) {
                row[2] = Value::BigInt(Some(*position));
                *position += 1;
            }
            values.extend(row);
        }
        let mut batch = Batch::default();
        self.push_rows(&mut batch, "audit_events", EVENT_COLUMNS, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values);
        if let Err(e) = self.run_batch(batch).await {
            // Give the positions back: the failed append must change nothing.
            for (org, n) in per_org {
                self.unbump_counter(id(org.as_uuid()), n).await?;
            }
            return Err(errors::write_error(e, "organization"));
        }
        Ok(())
    }

    async fn audit(&mut self, org: OrgId, query: &AuditQuery) -> R<Vec<AuditEvent>> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE org_id = ?");
        let mut values = vec![id(org.as_uuid())];
        if let Some(actor) = query.actor_id {
            sql.push_str(" AND actor_id = ?");
            values.push(id(actor.as_uuid()));
        }
        if let Some(kind) = query.target_kind {
            sql.push_str(" AND target_kind = ?");
            values.push(enum_name(&kind)?.into());
        }
        if let Some(target) = &query.target_id {
            sql.push_str(" AND target_id = ?");
            values.push(target.clone().into());
        }
        if let Some(action) = &query.action {
            sql.push_str(" AND action = ?");
            values.push(action.clone().into());
        }
        if let Some(from) = query.from {
            sql.push_str(" AND at >= ?");
            values.push(time(self.engine, from)?);
        }
        if let Some(to) = query.to {
            sql.push_str(" AND at < ?");
            values.push(time(self.engine, to)?);
        }
        if let Some((at, before)) = query.before {
            sql.push_str(" AND (at < ? OR (at = ? AND id < ?))");
            let at = time(self.engine, at)?;
            values.extend([at.clone(), at, id(before.as_uuid())]);
        }
        sql.push_str(" ORDER BY at DESC, id DESC");
        // A limit of 0 means no limit (the service caps what clients ask for).
        if query.limit > 0 {
            sql.push_str(" LIMIT ?");
            values.push(count(query.limit)?);
        }
        self.query_all(&sql, values).await?.iter().map(|row| self.event_from_row(row)).collect()
    }

    async fn events_after(&mut self, org: OrgId, after: Option<u64>, limit: u32) -> R<Vec<(u64, AuditEvent)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE org_id = ? AND position > ? ORDER BY position LIMIT ?"
        );
        let values = vec![id(org.as_uuid()), count(after.unwrap_or(0))?, count(limit)?];
        self.query_all(&sql, values)
            .await?
            .iter()
            .map(|row| Ok((get_unsigned::<u64>(row, "position")?, self.event_from_row(row)?)))
            .collect()
    }

    async fn last_event_position(&mut self, org: OrgId) -> R<u64> {
        let sql = "SELECT last_position FROM event_counters WHERE org_id = ?";
        match self.query_one(sql, vec![id(org.as_uuid())]).await? {
            Some(row) => get_unsigned(&row, "last_position"),
            None => Ok(0),
        }
    }

    async fn first_event_position_after(&mut self, org: OrgId, at: OffsetDateTime) -> R<Option<u64>> {
        // A range of the `(org_id, at, id)` index.
        let sql = "SELECT MIN(position) AS first FROM audit_events WHERE org_id = ? AND at > ?";
        match self.query_one(sql, vec![id(org.as_uuid()), time(self.engine, at)?]).await? {
            Some(row) => get::<Option<i64>>(&row, "first")?
                .map(|p| u64::try_from(p).map_err(|e| corrupt("position", e)))
                .transpose(),
            None => Ok(None),
        }
    }
}
