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
use time::{Duration, OffsetDateTime};

use crate::ids::{AuditEventId, OrgId, UserId, WebhookDeliveryId, WebhookId};
use crate::ports::{WebhookAnswer, WebhookError};
use crate::values::ValueError;

pub use signature::{
    DEFAULT_TOLERANCE, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, new_secret, secret_key, sign, signature_header,
    verify_signature,
};
pub use url::{WebhookUrl, refused_address};

/// How long the secret a rotation replaced keeps signing beside the new one.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);
/// How long an endpoint may keep failing (every delivery given up, none delivered) before it is
/// disabled and the organization's admins are told.
pub const FAILING_LIMIT: Duration = Duration::days(5);
/// How long the delivery log keeps a settled delivery (sent or given up) after it was created;
/// the hourly purge removes older ones. Pending deliveries are kept until they settle.
pub const DELIVERY_LOG_RETENTION: Duration = Duration::days(30);
/// The action of the event `POST /webhooks/{id}/test` appends; only its endpoint receives it.
pub const TEST_EVENT: &str = "webhook.test";

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
    /// The key its deliveries are signed with; shown once, at creation or rotation.
    pub secret: WebhookSecret,
    /// The secret a rotation replaced, which keeps signing beside the new one until its `until`.
    pub previous_secret: Option<RetiredSecret>,
    /// When the endpoint was registered.
    pub created_at: OffsetDateTime,
    /// Set when the endpoint stops receiving: an admin pauses or deletes it, it answers
    /// `410 Gone`, or it failed for [`FAILING_LIMIT`]. It then receives nothing.
    pub disabled_at: Option<OffsetDateTime>,
    /// Why it is disabled, while it is.
    pub disabled_reason: Option<DisabledReason>,
    /// The position of the last event handed off (delivered, given up or not subscribed to).
    pub position: u64,
    /// The member who registered it.
    pub created_by: UserId,
    /// When its deliveries started failing: the first given-up delivery since the last one that
    /// was delivered. `None` while deliveries succeed.
    pub failing_since: Option<OffsetDateTime>,
    /// Optimistic concurrency: the worker, a replay and a delete each bump it.
    pub version: u64,
}

/// Why an endpoint receives nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// An admin set `enabled: false`; setting it back resumes from the endpoint's cursor.
    Paused,
    /// An admin deleted it: the API no longer shows it; its row and delivery log stay.
    Deleted,
    /// It answered `410 Gone`.
    Gone,
    /// Every delivery failed for [`FAILING_LIMIT`].
    Failing,
}

/// A secret replaced by a rotation, still signing until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredSecret {
    /// The replaced secret.
    pub secret: WebhookSecret,
    /// When it stops signing: [`ROTATION_OVERLAP`] after the rotation.
    pub until: OffsetDateTime,
}

impl WebhookEndpoint {
    /// The secrets that sign a request sent at `now`: the current one, and the one a rotation
    /// replaced during the [`ROTATION_OVERLAP`] after it.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> Vec<&str> {
        let mut secrets = vec![self.secret.expose()];
        if let Some(previous) = self.previous_secret.as_ref().filter(|p| p.until > now) {
            secrets.push(previous.secret.expose());
        }
        secrets
    }

    /// The endpoint with `secret` signing from `now` on and its current secret kept for the
    /// [`ROTATION_OVERLAP`]. A secret already retired is dropped: at most two sign at once.
    #[must_use]
    pub fn rotated(&self, secret: WebhookSecret, now: OffsetDateTime) -> Self {
        Self {
            previous_secret: Some(RetiredSecret { secret: self.secret.clone(), until: now + ROTATION_OVERLAP }),
            secret,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// Whether a delivery given up at `now` ends the endpoint: it has been failing for
    /// [`FAILING_LIMIT`] or more.
    pub fn failed_too_long(&self, now: OffsetDateTime) -> bool {
        self.failing_since.is_some_and(|since| now - since >= FAILING_LIMIT)
    }

    /// Whether the endpoint still receives events (not paused, deleted or disabled by the
    /// worker).
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// Whether an admin deleted it (the API shows it no more).
    pub fn is_deleted(&self) -> bool {
        self.disabled_reason == Some(DisabledReason::Deleted)
    }

    /// The endpoint disabled at `at` for `reason` (the version bumped).
    #[must_use]
    pub fn disabled(&self, at: OffsetDateTime, reason: DisabledReason) -> Self {
        Self { disabled_at: Some(at), disabled_reason: Some(reason), version: self.version + 1, ..self.clone() }
    }

    /// Whether the endpoint subscribes to events with this action.
    pub fn wants(&self, action: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|p| p.matches(action))
    }

    /// Whether the endpoint receives the event with this action about `target_id`: a
    /// [`TEST_EVENT`] goes to the endpoint it tests only, whatever it subscribes to; any other
    /// event as [`WebhookEndpoint::wants`] says.
    pub fn receives(&self, action: &str, target_id: &str) -> bool {
        if action == TEST_EVENT {
            return target_id == self.id.to_string();
        }
        self.wants(action)
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
    /// The first bytes of the last answer's body (at most 256).
    pub response_excerpt: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub duration_ms: Option<u64>,
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
            response_excerpt: None,
            duration_ms: None,
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

    /// Records one attempt answered with `result` at `at` after `took`: 2xx delivers; `410 Gone`
    /// gives up and disables the endpoint; `408`, `429`, 5xx and transport failures marked
    /// transient are retried on the `schedule` (a `Retry-After` of a 429 or 503 answer replaces
    /// the scheduled wait) until it runs out; everything else (other 4xx, 3xx — redirects are not
    /// followed —, permanent transport failures) gives up at once. `draw`, in -1..=1, places the
    /// retry within the schedule's jitter.
    #[must_use]
    pub fn attempted(
        &self,
        result: &Result<WebhookAnswer, WebhookError>,
        at: OffsetDateTime,
        took: Duration,
        schedule: &DeliverySchedule,
        draw: f64,
    ) -> (Self, AttemptOutcome) {
        let attempts = self.attempts + 1;
        let (response_status, last_error, response_excerpt) = match result {
            Ok(answer) if (200..300).contains(&answer.status) => (Some(answer.status), None, Some(&answer.excerpt)),
            Ok(answer) => (Some(answer.status), Some(format!("HTTP {}", answer.status)), Some(&answer.excerpt)),
            Err(e) => (None, Some(e.to_string()), None),
        };
        let next = Self {
            attempts,
            response_status,
            last_error,
            response_excerpt: response_excerpt.filter(|e| !e.is_empty()).cloned(),
            duration_ms: Some(u64::try_from(took.whole_milliseconds()).unwrap_or(0)),
            next_attempt_at: None,
            last_attempt_at: Some(at),
            version: self.version + 1,
            ..self.clone()
        };
        let (transient, retry_after) = match result {
            Ok(answer) if (200..300).contains(&answer.status) => {
                return (Self { state: WebhookDeliveryState::Sent, ..next }, AttemptOutcome::Delivered);
            }
            Ok(answer) if answer.status == 410 => {
                return (Self { state: WebhookDeliveryState::Failed, ..next }, AttemptOutcome::Gone);
            }
            Ok(answer) => (
                matches!(answer.status, 408 | 429 | 500..=599),
                answer.retry_after.filter(|_| matches!(answer.status, 429 | 503)),
            ),
            Err(WebhookError::Transient(_)) => (true, None),
            Err(WebhookError::Permanent(_)) => (false, None),
        };
        match schedule.next_attempt(attempts, at, retry_after, draw).filter(|_| transient) {
            Some(due) => (
                Self { state: WebhookDeliveryState::Pending, next_attempt_at: Some(due), ..next },
                AttemptOutcome::Retrying,
            ),
            None => (Self { state: WebhookDeliveryState::Failed, ..next }, AttemptOutcome::GaveUp),
        }
    }
}

/// When failed deliveries are tried again (§9.1), and how long a worker's claim lasts.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySchedule {
    /// The wait before each retry: the first after the first failed attempt, and so on; when
    /// they run out the delivery is given up. §9.1: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub delays: Vec<Duration>,
    /// How far each wait may move, as a fraction of it (0.1: ±10 %), so that the retries of
    /// many deliveries failing at once spread out.
    pub jitter: f64,
    /// How long a claimed delivery is hidden from other workers while it is sent; a worker that
    /// dies leaves it due again after it. Must outlast the worker's batch of sends.
    pub lease: Duration,
}

impl Default for DeliverySchedule {
    fn default() -> Self {
        Self {
            delays: vec![
                Duration::seconds(5),
                Duration::minutes(5),
                Duration::minutes(30),
                Duration::hours(2),
                Duration::hours(5),
                Duration::hours(10),
                Duration::hours(10),
            ],
            jitter: 0.1,
            lease: Duration::minutes(5),
        }
    }
}

impl DeliverySchedule {
    /// When to try again after `attempts` failed attempts, or `None` to give up: the scheduled
    /// wait moved by `draw` (in -1..=1) times the jitter, or `retry_after` when the endpoint asked
    /// for a wait (never more than the schedule's longest wait, never negative).
    pub fn next_attempt(
        &self,
        attempts: u32,
        at: OffsetDateTime,
        retry_after: Option<Duration>,
        draw: f64,
    ) -> Option<OffsetDateTime> {
        let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
        let scheduled = *self.delays.get(index)?;
        let longest = self.delays.iter().copied().max().unwrap_or(Duration::ZERO);
        let wait = match retry_after {
            Some(asked) => asked.clamp(Duration::ZERO, longest),
            None => scheduled * (1.0 + self.jitter.clamp(0.0, 1.0) * draw.clamp(-1.0, 1.0)),
        };
        Some(at + wait)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
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
            previous_secret: None,
            created_at: T0,
            disabled_at: None,
            disabled_reason: None,
            position: 0,
            created_by: UserId::from_uuid(Uuid::from_u128(3)),
            failing_since: None,
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
    fn a_test_event_goes_to_its_endpoint_only_whatever_it_subscribes_to() {
        let picky = endpoint(&["user.*"]);
        assert!(picky.receives(TEST_EVENT, &picky.id.to_string()));
        assert!(!picky.receives(TEST_EVENT, &Uuid::from_u128(99).to_string()));
        assert!(!endpoint(&["*"]).receives(TEST_EVENT, "another"));
        assert!(picky.receives("user.created", "anything") && !picky.receives("group.created", "anything"));
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

    fn attempt(result: Result<WebhookAnswer, WebhookError>) -> (WebhookDelivery, AttemptOutcome) {
        fresh().attempted(&result, T0, Duration::milliseconds(12), &DeliverySchedule::default(), 0.0)
    }

    #[test]
    fn http_answers_map_to_outcomes() {
        let outcome = |r: Result<WebhookAnswer, WebhookError>| attempt(r).1;
        for ok in [200, 202, 204, 299] {
            assert_eq!(outcome(Ok(WebhookAnswer::status(ok))), AttemptOutcome::Delivered, "{ok}");
        }
        assert_eq!(outcome(Ok(WebhookAnswer::status(410))), AttemptOutcome::Gone);
        for retry in [408, 429, 500, 502, 503, 599] {
            assert_eq!(outcome(Ok(WebhookAnswer::status(retry))), AttemptOutcome::Retrying, "{retry}");
        }
        for give_up in [100, 301, 302, 400, 401, 403, 404, 422, 600] {
            assert_eq!(outcome(Ok(WebhookAnswer::status(give_up))), AttemptOutcome::GaveUp, "{give_up}");
        }
        assert_eq!(outcome(Err(WebhookError::Transient("timeout".into()))), AttemptOutcome::Retrying);
        assert_eq!(outcome(Err(WebhookError::Permanent("bad certificate".into()))), AttemptOutcome::GaveUp);
    }

    #[test]
    fn an_attempt_records_its_answer_its_duration_and_the_next_due_time() {
        let answer = WebhookAnswer { status: 204, retry_after: None, excerpt: "thanks".to_owned() };
        let (sent, _) = attempt(Ok(answer));
        assert_eq!(
            (sent.state, sent.attempts, sent.response_status, sent.next_attempt_at, sent.version),
            (WebhookDeliveryState::Sent, 1, Some(204), None, 2)
        );
        assert_eq!((sent.response_excerpt.as_deref(), sent.duration_ms), (Some("thanks"), Some(12)));
        let (retry, _) = attempt(Ok(WebhookAnswer::status(503)));
        assert_eq!(retry.state, WebhookDeliveryState::Pending);
        assert_eq!(retry.next_attempt_at, Some(T0 + Duration::seconds(5)));
        assert_eq!((retry.last_error.as_deref(), retry.response_excerpt), (Some("HTTP 503"), None));
    }

    #[test]
    fn retries_follow_the_schedule_and_give_up_after_its_last_wait() {
        let schedule = DeliverySchedule::default();
        let mut delivery = fresh();
        let mut waits = Vec::new();
        let mut outcome = AttemptOutcome::Retrying;
        while outcome == AttemptOutcome::Retrying {
            let result = Err(WebhookError::Transient("refused".into()));
            (delivery, outcome) = delivery.attempted(&result, T0, Duration::ZERO, &schedule, 0.0);
            waits.extend(delivery.next_attempt_at.map(|due| due - T0));
        }
        assert_eq!(waits, schedule.delays);
        assert_eq!(
            (outcome, delivery.attempts, delivery.state),
            (AttemptOutcome::GaveUp, 8, WebhookDeliveryState::Failed)
        );
    }

    #[test]
    fn retry_after_replaces_the_wait_on_429_and_503_only() {
        let asked = |status| WebhookAnswer { status, retry_after: Some(Duration::seconds(90)), excerpt: String::new() };
        assert_eq!(attempt(Ok(asked(429))).0.next_attempt_at, Some(T0 + Duration::seconds(90)));
        assert_eq!(attempt(Ok(asked(503))).0.next_attempt_at, Some(T0 + Duration::seconds(90)));
        assert_eq!(attempt(Ok(asked(500))).0.next_attempt_at, Some(T0 + Duration::seconds(5)));
        let forever = WebhookAnswer { status: 429, retry_after: Some(Duration::days(30)), excerpt: String::new() };
        assert_eq!(attempt(Ok(forever)).0.next_attempt_at, Some(T0 + Duration::hours(10)), "capped");
    }

    #[test]
    fn a_rotation_keeps_the_old_secret_signing_for_a_day() {
        let e = endpoint(&[]);
        let rotated = e.rotated(WebhookSecret::new("whsec_new".to_owned()), T0);
        assert_eq!(rotated.signing_secrets(T0), vec!["whsec_new", "whsec_s3cr3t"]);
        assert_eq!(rotated.signing_secrets(T0 + ROTATION_OVERLAP), vec!["whsec_new"]);
        let twice = rotated.rotated(WebhookSecret::new("whsec_newer".to_owned()), T0 + Duration::HOUR);
        assert_eq!(twice.signing_secrets(T0 + Duration::HOUR), vec!["whsec_newer", "whsec_new"]);
        assert_eq!(twice.version, e.version + 2);
    }

    #[test]
    fn an_endpoint_fails_too_long_after_five_days() {
        let mut e = endpoint(&[]);
        assert!(!e.failed_too_long(T0));
        e.failing_since = Some(T0);
        assert!(!e.failed_too_long(T0 + FAILING_LIMIT - Duration::SECOND));
        assert!(e.failed_too_long(T0 + FAILING_LIMIT));
    }

    proptest! {
        #[test]
        fn a_jittered_wait_stays_within_its_share_of_the_scheduled_one(attempts in 1u32..=7, draw in -1.0f64..=1.0) {
            let schedule = DeliverySchedule::default();
            let due = schedule.next_attempt(attempts, T0, None, draw).unwrap();
            let scheduled = schedule.delays[attempts as usize - 1];
            prop_assert!(due - T0 >= scheduled * 0.9 - Duration::MILLISECOND);
            prop_assert!(due - T0 <= scheduled * 1.1 + Duration::MILLISECOND);
            prop_assert!(schedule.next_attempt(8, T0, None, draw).is_none());
        }
    }
}
