//! The audit log (§9): one append-only event per change, written in the same transaction, with
//! the source of the change, a readable label of the target and the before/after of each field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

pub use crate::actor::Source;
use crate::actor::{Actor, Principal};
use crate::ids::{ApiKeyId, AuditEventId, OrgId, UserId};

/// What kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// The organization itself: its creation, a bulk load of rows into it.
    Organization,
    /// A member: profile, lifecycle, roles, grants, licenses held.
    User,
    /// The seat pool of one product: a product added, its seats set or recounted by the
    /// operator; the id is the product key.
    License,
    /// A custom role created, changed or deleted (§5).
    Role,
    /// A group created, renamed, moved, deleted or given flows (§6).
    Group,
    /// A member's place in a group (joining, leaving, moving); the id is the member's.
    Membership,
    /// A connection (a record a member invited) and its stamp.
    Connection,
    /// A flow created (§7.3).
    Flow,
    /// An API key created or revoked (§7.4).
    ApiKey,
    /// A member invite or a sign-up.
    Invite,
    /// The organization's settings (§2).
    Settings,
    /// A password login, succeeded or failed.
    Session,
    /// A webhook endpoint registered, deleted, disabled or replayed (§9.1).
    Webhook,
}

/// One entry of the audit log (§9): one change, appended in the transaction that made it and
/// never changed afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique; also the event's id in the feed and in webhook deliveries.
    pub id: AuditEventId,
    /// The organization the change happened in.
    pub org_id: OrgId,
    /// When the change was made, by the injected clock.
    pub at: OffsetDateTime,
    /// The member who acted (an API key's creator); `None` for the operator and workers.
    pub actor_id: Option<UserId>,
    /// The member impersonating `actor_id` when the change was made in an impersonating session.
    pub impersonator_id: Option<UserId>,
    /// The API key that made the change, for changes made through the API with a key (so that
    /// an integration recognizes its own writes).
    pub api_key_id: Option<ApiKeyId>,
    /// The door the change came through (§9).
    pub source: Source,
    /// A dotted verb such as `user.deactivated`, `license.assigned`.
    pub action: String,
    /// What kind of thing changed.
    pub target_kind: TargetKind,
    /// The target's id as text (a UUID, or a product key for a seat pool).
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
    /// No changes yet.
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

    /// Adds what `other` recorded (its entries win over ours of the same name).
    #[must_use]
    pub fn merge(mut self, other: Changes) -> Self {
        self.fields.extend(other.fields);
        self
    }

    /// Whether nothing was recorded (no field changed, no note).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The `details` JSON object of an event.
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
    /// What kind of thing changed.
    pub kind: TargetKind,
    /// The target's id as text.
    pub id: String,
    /// A readable name of the target now, kept in the event as it was.
    pub label: String,
}

impl AuditTarget {
    /// A target; `id` is written with its `Display` (a UUID, a product key).
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
            api_key_id: match actor.principal() {
                Principal::ApiKey { id, .. } => Some(*id),
                Principal::User(_) | Principal::System => None,
            },
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
    /// Only events made by this member.
    pub actor_id: Option<UserId>,
    /// Only events about this kind of thing.
    pub target_kind: Option<TargetKind>,
    /// Only events about the target with this id (as text).
    pub target_id: Option<String>,
    /// Only events with this exact action (`user.deactivated`).
    pub action: Option<String>,
    /// Only events at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Only events before this time (exclusive).
    pub to: Option<OffsetDateTime>,
    /// Events strictly before this one in the newest-first order.
    pub before: Option<(OffsetDateTime, AuditEventId)>,
    /// At most this many events; 0 means no limit (the service caps what clients ask for).
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
