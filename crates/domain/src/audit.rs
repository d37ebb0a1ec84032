//! The audit log (§9): one append-only event per change, written in the same transaction, with
//! the source of the change, a readable label of the target and the before/after of each field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::actor::Actor;
pub use crate::actor::Source;
use crate::ids::{AuditEventId, OrgId, UserId};

/// What kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Organization,
    User,
    License,
    Role,
    Group,
    Membership,
    Connection,
    Flow,
    ApiKey,
    Invite,
    Settings,
    Session,
    Webhook,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub org_id: OrgId,
    pub at: OffsetDateTime,
    /// The member who acted (an API key's creator); `None` for the operator and workers.
    pub actor_id: Option<UserId>,
    pub impersonator_id: Option<UserId>,
    pub source: Source,
    /// A dotted verb such as `user.deactivated`, `license.assigned`.
    pub action: String,
    pub target_kind: TargetKind,
    pub target_id: String,
    /// A readable name of the target at the time of the event.
    pub target_label: String,
    /// `{ "field": { "before": …, "after": … }, … }` plus any context of the action.
    pub details: Value,
}

/// Builds the before/after details of an event field by field.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    fields: Map<String, Value>,
}

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `field` if it changed.
    pub fn field<T: Serialize + PartialEq>(mut self, field: &str, before: &T, after: &T) -> Self {
        if before != after {
            self.fields
                .insert(field.to_owned(), serde_json::json!({ "before": to_value(before), "after": to_value(after) }));
        }
        self
    }

    /// Records context that is not a before/after pair (a reason, a cascade list).
    pub fn note<T: Serialize>(mut self, key: &str, value: &T) -> Self {
        self.fields.insert(key.to_owned(), to_value(value));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.fields)
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// What an event is about, before it gets an id and a time.
#[derive(Debug, Clone)]
pub struct AuditTarget {
    pub kind: TargetKind,
    pub id: String,
    pub label: String,
}

impl AuditTarget {
    pub fn new(kind: TargetKind, id: impl ToString, label: impl Into<String>) -> Self {
        Self { kind, id: id.to_string(), label: label.into() }
    }
}

impl AuditEvent {
    /// An event for a change `actor` made.
    pub fn record(
        id: AuditEventId,
        at: OffsetDateTime,
        actor: &Actor,
        action: &str,
        target: AuditTarget,
        details: Changes,
    ) -> Self {
        Self {
            id,
            org_id: actor.org_id(),
            at,
            actor_id: actor.audit_actor_id(),
            impersonator_id: actor.impersonator_id(),
            source: actor.source(),
            action: action.to_owned(),
            target_kind: target.kind,
            target_id: target.id,
            target_label: target.label,
            details: details.into_value(),
        }
    }
}

/// A filter over the audit log (`GET /audit`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor_id: Option<UserId>,
    pub target_kind: Option<TargetKind>,
    pub target_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Events strictly before this one in the newest-first order.
    pub before: Option<(OffsetDateTime, AuditEventId)>,
    pub limit: u32,
}

impl AuditQuery {
    /// The reference evaluation of the filter (not the order or limit).
    pub fn matches(&self, e: &AuditEvent) -> bool {
        self.actor_id.is_none_or(|a| e.actor_id == Some(a))
            && self.target_kind.is_none_or(|k| e.target_kind == k)
            && self.target_id.as_ref().is_none_or(|t| &e.target_id == t)
            && self.action.as_ref().is_none_or(|a| &e.action == a)
            && self.from.is_none_or(|f| e.at >= f)
            && self.to.is_none_or(|t| e.at < t)
            && self.before.is_none_or(|b| (e.at, e.id) < b)
    }
}
