//! Integration events (§9.1): every audit event, numbered by its position in the organization's
//! commit order, in the one wire shape that the polling feed (`GET /api/v1/events`) and webhook
//! bodies share.
//!
//! Positions start at 1 and grow by one per event of the organization, without gaps, in the
//! order the events' transactions committed (the persistence port's `AuditLog::events_after`
//! documents how SQL adapters keep that promise). A consumer stores the last position it
//! processed and asks for the events after it; a position is never reused or reordered, so a
//! consumer that resumes from its cursor misses nothing and sees nothing twice.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, Source, TargetKind};
use crate::ids::{ApiKeyId, AuditEventId, UserId};

/// What an event is about, as consumers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventTarget {
    /// What kind of thing changed.
    pub kind: TargetKind,
    /// The target's id as text (a UUID for most kinds, a product key for a seat pool).
    pub id: String,
    /// A readable name of the target at the time of the event.
    pub label: String,
}

/// One event of the feed, and the JSON body of a webhook delivery:
/// `{ "id", "position", "action", "source", "at", "actor_id", "impersonator_id", "api_key_id",
/// "target": { "kind", "id", "label" }, "details" }`, with `at` in RFC 3339.
///
/// `source` is the door the change came through (§9), so that a consumer can skip the echoes of
/// its own writes (an integration writing through the API ignores events with `source: "api"`
/// made by its key's member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedEvent {
    /// The audit event's id; webhook deliveries also send it in the
    /// [`ID_HEADER`](crate::webhooks::ID_HEADER) header (`webhook-id`), the same on every retry.
    pub id: AuditEventId,
    /// The event's place in its organization's feed: from 1, without gaps, in commit order.
    pub position: u64,
    /// A dotted verb such as `user.deactivated`; webhook endpoints subscribe by it.
    pub action: String,
    /// The door the change came through (§9).
    pub source: Source,
    /// When the change happened (RFC 3339 on the wire); not necessarily in position order.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The member who acted; `None` for the operator and workers.
    pub actor_id: Option<UserId>,
    /// The member impersonating the actor, when the change was made in an impersonating session.
    pub impersonator_id: Option<UserId>,
    /// The API key that made the change through the API (`None` otherwise): an integration
    /// skips the events its own key made.
    pub api_key_id: Option<ApiKeyId>,
    /// What the event is about.
    pub target: EventTarget,
    /// The before/after of each changed field, plus any context of the action (as in the audit
    /// log).
    pub details: Value,
}

impl FeedEvent {
    /// The event at `position` of its organization's feed.
    pub fn new(position: u64, event: &AuditEvent) -> Self {
        Self {
            id: event.id,
            position,
            action: event.action.clone(),
            source: event.source,
            at: event.at,
            actor_id: event.actor_id,
            impersonator_id: event.impersonator_id,
            api_key_id: event.api_key_id,
            target: EventTarget {
                kind: event.target_kind,
                id: event.target_id.clone(),
                label: event.target_label.clone(),
            },
            details: event.details.clone(),
        }
    }

    /// The JSON body a webhook receives.
    ///
    /// # Errors
    /// Only for a time RFC 3339 cannot write (a year beyond 9999), which no clock produces.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::ids::OrgId;

    #[test]
    fn the_body_has_the_documented_fields_and_an_rfc3339_time() {
        let event = AuditEvent {
            id: AuditEventId::from_uuid(Uuid::from_u128(7)),
            org_id: OrgId::from_uuid(Uuid::from_u128(1)),
            at: datetime!(2025-01-06 9:00 UTC),
            actor_id: Some(UserId::from_uuid(Uuid::from_u128(2))),
            impersonator_id: None,
            api_key_id: None,
            source: Source::Api,
            action: "user.deactivated".to_owned(),
            target_kind: TargetKind::User,
            target_id: "u-1".to_owned(),
            target_label: "Ada Lovelace".to_owned(),
            details: json!({ "status": { "before": "active", "after": "deactivated" } }),
        };
        let body: Value = serde_json::from_slice(&FeedEvent::new(42, &event).to_json().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "id": "00000000-0000-0000-0000-000000000007",
                "position": 42,
                "action": "user.deactivated",
                "source": "api",
                "at": "2025-01-06T09:00:00Z",
                "actor_id": "00000000-0000-0000-0000-000000000002",
                "impersonator_id": null,
                "api_key_id": null,
                "target": { "kind": "user", "id": "u-1", "label": "Ada Lovelace" },
                "details": { "status": { "before": "active", "after": "deactivated" } },
            })
        );
    }
}
