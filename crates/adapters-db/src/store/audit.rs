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

use async_trait::async_trait;
use roster_domain::audit::{AuditEvent, AuditQuery};
use roster_domain::ids::{AuditEventId, OrgId, UserId};
use roster_domain::ports::{AuditLog, StoreError};
use sea_orm::{QueryResult, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::SeaOrmTx;
use super::convert::{corrupt, count, get, get_id, get_json, get_time, get_unsigned, id, json, time};
use super::errors;

type R<T> = Result<T, StoreError>;

const EVENT_COLUMNS: &str = "org_id, id, position, at, actor_id, impersonator_id, source, action, target_kind, target_id, target_label, details";

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
        })
    }
}

#[async_trait]
impl AuditLog for SeaOrmTx {
    async fn append_audit(&mut self, event: &AuditEvent) -> R<()> {
        let org = id(event.org_id.as_uuid());
        let counter = "INSERT INTO event_counters (org_id, last_position) VALUES (?, 1) ON CONFLICT (org_id) \
                       DO UPDATE SET last_position = event_counters.last_position + 1 RETURNING last_position";
        let row = self.query_one(counter, vec![org.clone()]).await?;
        let position: i64 = get(&row.ok_or_else(|| corrupt("last_position", "no row returned"))?, "last_position")?;
        let values = vec![
            org.clone(),
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
        ];
        let sql = format!("INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        match self.exec_guarded(&sql, values).await {
            Ok(_) => Ok(()),
            Err(e) => {
                // Give the position back: the failed append must change nothing.
                let undo = "UPDATE event_counters SET last_position = last_position - 1 WHERE org_id = ?";
                self.exec(undo, vec![org]).await?;
                Err(errors::write_error(e, "organization"))
            }
        }
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
}
