//! Webhooks (§9.1): endpoints that receive every integration event they subscribe to as a signed
//! POST, in order, at least once, and the delivery log that shows what happened to each.
//!
//! An endpoint follows its organization's event feed (`crate::events`) with a cursor, its
//! `position`: the last event handed off — delivered, given up, or skipped because the endpoint
//! does not subscribe to it. At most one delivery per endpoint is pending at a time, so an
//! endpoint never receives event N+1 before N is delivered or given up. How the worker drives
//! this is `Services::deliver_webhooks`; the decision record is `docs/decisions/0008`.
//!
//! This module holds the pure parts: the subscription patterns ([`EventPattern`]), the secret
//! ([`WebhookSecret`], never printed), the endpoint and delivery entities and the rule that turns
//! an HTTP answer into the next delivery state ([`WebhookDelivery::attempted`]).

mod signature;
mod url;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AuditEventId, OrgId, UserId, WebhookDeliveryId, WebhookId};
use crate::mail::RetryPolicy;
use crate::ports::WebhookError;
use crate::values::ValueError;

pub use signature::{DEFAULT_TOLERANCE, EVENT_ID_HEADER, SIGNATURE_HEADER, sign, verify_signature};
pub use url::WebhookUrl;

/// The prefix of every webhook secret, so secrets are recognizable in configuration and leaks.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
/// The most patterns one endpoint may subscribe to.
pub const MAX_EVENT_TYPES: usize = 50;

const PATTERN_MAX: usize = 100;
const PATTERN_EXPECTED: &str = "an action such as user.deactivated, a prefix such as user.*, or *";

/// One entry of an endpoint's subscription: an action (`user.deactivated`), every action under a
/// prefix (`user.*`, which also matches `user.role.granted`), or every action (`*`). Stored
/// lower-case; serializes as its string and deserializes through [`EventPattern::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventPattern(String);

impl EventPattern {
    /// Parses a pattern after trimming and lower-casing it.
    ///
    /// # Errors
    /// [`ValueError::Empty`], [`ValueError::TooLong`] beyond 100 characters, and
    /// [`ValueError::InvalidFormat`] for anything that is not dotted segments of `a-z0-9_` (at
    /// least two) with an optional final `*`, or `*` alone.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let value = input.trim().to_ascii_lowercase();
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        if value.chars().count() > PATTERN_MAX {
            return Err(ValueError::TooLong { max: PATTERN_MAX });
        }
        if value == "*" {
            return Ok(Self(value));
        }
        let segments: Vec<&str> = value.split('.').collect();
        let word =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let (last, init) = segments.split_last().ok_or(ValueError::Empty)?;
        let valid = segments.len() >= 2 && init.iter().all(|s| word(s)) && (word(last) || *last == "*");
        if !valid {
            return Err(ValueError::InvalidFormat { expected: PATTERN_EXPECTED });
        }
        Ok(Self(value))
    }

    /// Whether an event with this action matches.
    pub fn matches(&self, action: &str) -> bool {
        match self.0.strip_suffix('*') {
            // `*` alone leaves "", a prefix of everything; `user.*` leaves "user.".
            Some(prefix) => action.starts_with(prefix),
            None => action == self.0,
        }
    }

    /// The pattern as stored: trimmed, lower-case.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EventPattern {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl TryFrom<String> for EventPattern {
    type Error = ValueError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Self::parse(&input)
    }
}

impl From<EventPattern> for String {
    fn from(value: EventPattern) -> Self {
        value.0
    }
}

/// The key an endpoint's deliveries are signed with. Kept (signing needs it, a hash would not
/// do) but never printed: `Debug` shows `WebhookSecret(***)`, and it has no `Serialize`, so no
/// response body or log line can carry it by accident. The API shows it once, at creation.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret handed out by the `IdGenerator` or read back from storage.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself, for signing and for the storage adapter. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// A registered receiver of events (`/api/v1/webhooks`). Not `Serialize`: it holds the secret;
/// the HTTP adapter renders its own body without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Unique; the path id of `/webhooks/{id}`.
    pub id: WebhookId,
    /// The organization whose events it receives.
    pub org_id: OrgId,
    /// Where events are POSTed: `https`, or plain `http` towards the local machine only.
    pub url: WebhookUrl,
    /// The actions it receives; empty means every action.
    pub event_types: BTreeSet<EventPattern>,
    /// The key its deliveries are signed with; shown once, at creation.
    pub secret: WebhookSecret,
    /// When the endpoint was registered.
    pub created_at: OffsetDateTime,
    /// Set when an admin deletes the endpoint or it answers `410 Gone`; it then receives nothing.
    pub disabled_at: Option<OffsetDateTime>,
    /// The position of the last event handed off (delivered, given up or not subscribed to).
    pub position: u64,
    /// The member who registered it.
    pub created_by: UserId,
    /// Optimistic concurrency: the worker, a replay and a delete each bump it.
    pub version: u64,
}

impl WebhookEndpoint {
    /// Whether the endpoint still receives events (not deleted, not gone).
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// Whether the endpoint subscribes to events with this action.
    pub fn wants(&self, action: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|p| p.matches(action))
    }
}

/// Where a delivery stands, as mail's `DeliveryState` does for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookDeliveryState {
    /// Waiting for its next attempt, or claimed by a worker until `next_attempt_at`.
    Pending,
    /// The endpoint answered 2xx.
    Sent,
    /// Given up: a permanent refusal, too many attempts, `410 Gone`, or closed without sending
    /// (the endpoint was deleted, or a replay moved its cursor).
    Failed,
}

/// One event handed to one endpoint: a row of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Unique; a row of the delivery log.
    pub id: WebhookDeliveryId,
    /// The endpoint the event is handed to.
    pub endpoint_id: WebhookId,
    /// The organization of the endpoint and the event.
    pub org_id: OrgId,
    /// The event's position in the organization's feed; the endpoint's cursor moves past it when
    /// the delivery settles.
    pub event_position: u64,
    /// The event sent.
    pub event_id: AuditEventId,
    /// Attempts whose outcome was recorded (a worker that died mid-attempt is not counted).
    pub attempts: u32,
    /// Pending, sent or given up.
    pub state: WebhookDeliveryState,
    /// The HTTP status of the last answer, if the endpoint answered.
    pub response_status: Option<u16>,
    /// Why the last attempt did not deliver (`HTTP 503`, a transport error); `None` after a 2xx or
    /// before any attempt.
    pub last_error: Option<String>,
    /// While pending: when it is due, which is also the end of the lease of a worker that
    /// claimed it. `None` once settled.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the delivery was created (claimed for the first time).
    pub created_at: OffsetDateTime,
    /// When the last attempt was made; `None` before the first.
    pub last_attempt_at: Option<OffsetDateTime>,
    /// Optimistic concurrency: a record whose claim was superseded changes nothing.
    pub version: u64,
}

/// What one attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx: the event is handed off.
    Delivered,
    /// A temporary failure; due again at the delivery's `next_attempt_at`.
    Retrying,
    /// A permanent refusal or the last allowed attempt: the event is handed off undelivered.
    GaveUp,
    /// `410 Gone`: the endpoint is to be disabled.
    Gone,
}

impl WebhookDelivery {
    /// A new delivery of the event at `position`, already claimed by the worker creating it
    /// until `lease_until`.
    pub fn claimed(
        id: WebhookDeliveryId,
        endpoint: &WebhookEndpoint,
        position: u64,
        event_id: AuditEventId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            endpoint_id: endpoint.id,
            org_id: endpoint.org_id,
            event_position: position,
            event_id,
            attempts: 0,
            state: WebhookDeliveryState::Pending,
            response_status: None,
            last_error: None,
            next_attempt_at: Some(lease_until),
            created_at: now,
            last_attempt_at: None,
            version: 1,
        }
    }

    /// Whether the delivery waits for an attempt (due or leased).
    pub fn is_pending(&self) -> bool {
        self.state == WebhookDeliveryState::Pending
    }

    /// The same pending delivery claimed again (a retry that fell due, or an expired lease).
    #[must_use]
    pub fn leased(&self, until: OffsetDateTime) -> Self {
        Self { next_attempt_at: Some(until), version: self.version + 1, ..self.clone() }
    }

    /// Closed without sending, with the reason in the log.
    #[must_use]
    pub fn abandoned(&self, reason: &str) -> Self {
        Self {
            state: WebhookDeliveryState::Failed,
            next_attempt_at: None,
            last_error: Some(reason.to_owned()),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// Records one attempt answered with `result` at `at`: 2xx delivers; `410 Gone` gives up
    /// and disables the endpoint; `408`, `429`, 5xx and transport failures marked transient are
    /// retried with the policy's backoff until its attempts run out; everything else (other
    /// 4xx, 3xx — redirects are not followed —, permanent transport failures) gives up at once.
    #[must_use]
    pub fn attempted(
        &self,
        result: &Result<u16, WebhookError>,
        at: OffsetDateTime,
        policy: &RetryPolicy,
    ) -> (Self, AttemptOutcome) {
        let attempts = self.attempts + 1;
        let (response_status, last_error) = match result {
            Ok(status) if (200..300).contains(status) => (Some(*status), None),
            Ok(status) => (Some(*status), Some(format!("HTTP {status}"))),
            Err(e) => (None, Some(e.to_string())),
        };
        let transient = match result {
            Ok(status) if (200..300).contains(status) => {
                return self.settled(attempts, at, response_status, None, AttemptOutcome::Delivered);
            }
            Ok(410) => return self.settled(attempts, at, response_status, last_error, AttemptOutcome::Gone),
            Ok(status) => matches!(status, 408 | 429 | 500..=599),
            Err(WebhookError::Transient(_)) => true,
            Err(WebhookError::Permanent(_)) => false,
        };
        match policy.next_attempt(attempts, at).filter(|_| transient) {
            Some(next) => {
                let retry = Self {
                    attempts,
                    state: WebhookDeliveryState::Pending,
                    response_status,
                    last_error,
                    next_attempt_at: Some(next),
                    last_attempt_at: Some(at),
                    version: self.version + 1,
                    ..self.clone()
                };
                (retry, AttemptOutcome::Retrying)
            }
            None => self.settled(attempts, at, response_status, last_error, AttemptOutcome::GaveUp),
        }
    }

    fn settled(
        &self,
        attempts: u32,
        at: OffsetDateTime,
        response_status: Option<u16>,
        last_error: Option<String>,
        outcome: AttemptOutcome,
    ) -> (Self, AttemptOutcome) {
        let state = if outcome == AttemptOutcome::Delivered {
            WebhookDeliveryState::Sent
        } else {
            WebhookDeliveryState::Failed
        };
        let settled = Self {
            attempts,
            state,
            response_status,
            last_error,
            next_attempt_at: None,
            last_attempt_at: Some(at),
            version: self.version + 1,
            ..self.clone()
        };
        (settled, outcome)
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    const T0: OffsetDateTime = datetime!(2025-01-06 9:00 UTC);

    fn pattern(s: &str) -> EventPattern {
        EventPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn endpoint(patterns: &[&str]) -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookId::from_uuid(Uuid::from_u128(1)),
            org_id: OrgId::from_uuid(Uuid::from_u128(2)),
            url: WebhookUrl::parse("https://example.com/hook").unwrap(),
            event_types: patterns.iter().map(|p| pattern(p)).collect(),
            secret: WebhookSecret::new("whsec_s3cr3t".to_owned()),
            created_at: T0,
            disabled_at: None,
            position: 0,
            created_by: UserId::from_uuid(Uuid::from_u128(3)),
            version: 1,
        }
    }

    #[test]
    fn patterns_are_actions_prefixes_or_everything() {
        assert_eq!(pattern(" User.Deactivated ").as_str(), "user.deactivated");
        assert_eq!(pattern("user.*").as_str(), "user.*");
        assert_eq!(pattern("api_key.created").as_str(), "api_key.created");
        assert_eq!(pattern("*").as_str(), "*");
        assert_eq!(EventPattern::parse(" "), Err(ValueError::Empty));
        assert!(matches!(EventPattern::parse(&"a.".repeat(60)), Err(ValueError::TooLong { .. })));
        for bad in
            ["user", "user.", ".user", "user..x", "user.*.x", "*.created", "user.de-activated", "user.x*", "usér.x"]
        {
            assert!(matches!(EventPattern::parse(bad), Err(ValueError::InvalidFormat { .. })), "{bad}");
        }
    }

    #[test]
    fn an_action_pattern_matches_that_action_only() {
        let p = pattern("user.deactivated");
        assert!(p.matches("user.deactivated"));
        assert!(!p.matches("user.deactivated_soon"));
        assert!(!p.matches("user.reactivated"));
    }

    #[test]
    fn a_prefix_pattern_matches_whole_segments_under_it() {
        let p = pattern("user.*");
        assert!(p.matches("user.deactivated"));
        assert!(p.matches("user.role.granted"));
        assert!(!p.matches("users.deleted"), "a prefix ends at a dot");
        assert!(!p.matches("user"));
        assert!(pattern("*").matches("anything.at_all"));
    }

    #[test]
    fn an_endpoint_without_event_types_wants_every_action() {
        assert!(endpoint(&[]).wants("group.created"));
        let picky = endpoint(&["user.*", "license.assigned"]);
        assert!(picky.wants("user.created") && picky.wants("license.assigned"));
        assert!(!picky.wants("license.unassigned") && !picky.wants("group.created"));
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let e = endpoint(&[]);
        let printed = format!("{e:?} {:?}", e.secret);
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("WebhookSecret(***)"));
    }

    fn fresh() -> WebhookDelivery {
        let e = endpoint(&[]);
        WebhookDelivery::claimed(
            WebhookDeliveryId::from_uuid(Uuid::from_u128(9)),
            &e,
            5,
            AuditEventId::from_uuid(Uuid::from_u128(8)),
            T0,
            T0 + Duration::minutes(5),
        )
    }

    #[test]
    fn http_answers_map_to_outcomes() {
        let policy = RetryPolicy::default();
        let outcome = |r: Result<u16, WebhookError>| fresh().attempted(&r, T0, &policy).1;
        for ok in [200, 202, 204, 299] {
            assert_eq!(outcome(Ok(ok)), AttemptOutcome::Delivered, "{ok}");
        }
        assert_eq!(outcome(Ok(410)), AttemptOutcome::Gone);
        for retry in [408, 429, 500, 502, 503, 599] {
            assert_eq!(outcome(Ok(retry)), AttemptOutcome::Retrying, "{retry}");
        }
        for give_up in [100, 301, 302, 400, 401, 403, 404, 422, 600] {
            assert_eq!(outcome(Ok(give_up)), AttemptOutcome::GaveUp, "{give_up}");
        }
        assert_eq!(outcome(Err(WebhookError::Transient("timeout".into()))), AttemptOutcome::Retrying);
        assert_eq!(outcome(Err(WebhookError::Permanent("bad certificate".into()))), AttemptOutcome::GaveUp);
    }

    #[test]
    fn an_attempt_records_its_answer_and_the_next_due_time() {
        let policy = RetryPolicy::default();
        let (sent, _) = fresh().attempted(&Ok(204), T0, &policy);
        assert_eq!(
            (sent.state, sent.attempts, sent.response_status, sent.next_attempt_at, sent.version),
            (WebhookDeliveryState::Sent, 1, Some(204), None, 2)
        );
        let (retry, _) = fresh().attempted(&Ok(503), T0, &policy);
        assert_eq!(retry.state, WebhookDeliveryState::Pending);
        assert_eq!(retry.next_attempt_at, Some(T0 + policy.first_delay));
        assert_eq!(retry.last_error.as_deref(), Some("HTTP 503"));
    }

    #[test]
    fn a_transient_failure_on_the_last_allowed_attempt_gives_up() {
        let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
        let (first, o1) = fresh().attempted(&Ok(500), T0, &policy);
        let (second, o2) = first.attempted(&Ok(500), T0, &policy);
        assert_eq!((o1, o2), (AttemptOutcome::Retrying, AttemptOutcome::GaveUp));
        assert_eq!((second.state, second.attempts), (WebhookDeliveryState::Failed, 2));
    }
}
