//! Delivering webhooks (§9.1): at least once, in order per endpoint, retried on the
//! [`DeliverySchedule`] of §9.1 with jitter, every attempt in the delivery log.
//!
//! Work goes by **lanes**: a lane is one endpoint's claimed delivery, sent, recorded, and
//! followed by the endpoint's next event, one at a time, so an endpoint never has two requests
//! in flight and order holds, while its backlog drains without waiting for a new claim.
//! 1. **Claim** ([`Services::claim_webhook_lanes`], one transaction). Pending deliveries that
//!    fell due (retries, and claims whose worker died) are leased again. Then, for each endpoint
//!    that is behind its organization's feed and has nothing pending, the worker walks the
//!    events after its cursor, moves the cursor over those it does not subscribe to, and creates
//!    a delivery — already leased — for the first one it does. Every claim is an optimistic
//!    write, so two workers never both claim one endpoint's next event; the loser skips it.
//! 2. **Send** ([`Services::step_webhook_lane`]). The event's JSON body is POSTed through the
//!    [`WebhookSender`] with the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
//!    `webhook-signature` by every secret that signs at that time).
//! 3. **Record**, in one transaction: the delivery's new state; on delivery or giving up the
//!    endpoint's cursor moves to the event and — when the caller lets the lane go on — the
//!    endpoint's next event is claimed in the same transaction (leased from now), from events
//!    the lane read ahead; on `410 Gone` the endpoint is disabled, and so it is when it gives up
//!    a delivery after failing for [`FAILING_LIMIT`] (its admins are mailed). A record whose
//!    claim was superseded meanwhile (a replay, a delete, or another worker after the lease ran
//!    out) changes nothing and ends the lane.
//!
//! An endpoint has at most one pending delivery, so it never gets event N+1 before N is
//! delivered or given up, and a lane's next claim is made in the transaction that settles the
//! previous one, so no other worker can slip in between. Each claim is leased when it is made,
//! just before its request: the lease must outlast one request, not a batch. A worker that dies
//! after claiming leaves the delivery due again when the lease ends: the event is sent again (at
//! least once; consumers de-duplicate by `webhook-id`). How long a lane runs before it makes
//! room for other endpoints is the caller's choice ([`Services::deliver_webhooks`] goes one
//! event per endpoint; the app's worker runs lanes side by side with a budget each).

use std::collections::VecDeque;

use serde::Serialize;
use time::OffsetDateTime;

use crate::actor::Actor;
use crate::audit::{AuditEvent, AuditTarget, Changes, Source, TargetKind};
use crate::error::ServiceResult;
use crate::events::FeedEvent;
use crate::ids::{OrgId, WebhookDeliveryId, WebhookId};
use crate::mail::{MailKind, OutgoingMail};
use crate::ports::{StoreError, Tx, WebhookError, WebhookSender};
use crate::webhooks::{
    AttemptOutcome, DELIVERY_LOG_RETENTION, DeliverySchedule, DisabledReason, FAILING_LIMIT, ID_HEADER,
    SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookDelivery, WebhookEndpoint, signature_header,
};

use super::Services;
use super::support::admin_role;

/// How many events past its cursor the worker reads for one endpoint at a time. Events the
/// endpoint does not subscribe to are skipped by moving the cursor; a lane keeps what it read
/// for its next claims, so a backlog costs one read per page, not one per event.
const SCAN_PAGE: u32 = 200;

/// What one webhook delivery tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WebhookReport {
    /// Delivered this time (a 2xx answer).
    pub sent: Vec<WebhookDeliveryId>,
    /// Failed this time, to be retried after the backoff.
    pub retrying: Vec<WebhookDeliveryId>,
    /// Given up (the endpoint's next event goes next).
    pub failed: Vec<WebhookDeliveryId>,
    /// Endpoints disabled because they answered `410 Gone` or failed for too long.
    pub disabled: Vec<WebhookId>,
    /// Attempts whose claim was taken over before they were recorded (nothing recorded).
    pub superseded: Vec<WebhookDeliveryId>,
}

/// One endpoint's delivery in progress: the delivery claimed (leased) for it, the event it
/// sends, and the endpoint's later events read ahead, for its next claims. Made by
/// [`Services::claim_webhook_lanes`], driven by [`Services::step_webhook_lane`].
#[derive(Debug)]
pub struct WebhookLane {
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    event: FeedEvent,
    ahead: VecDeque<(u64, AuditEvent)>,
}

impl WebhookLane {
    /// The endpoint the lane delivers to.
    pub fn endpoint_id(&self) -> WebhookId {
        self.endpoint.id
    }

    /// The delivery claimed for its next request.
    pub fn delivery_id(&self) -> WebhookDeliveryId {
        self.delivery.id
    }
}

/// The event at `position` of the organization's feed.
async fn event_at(tx: &mut dyn Tx, org: OrgId, position: u64) -> ServiceResult<Option<AuditEvent>> {
    let found = tx.events_after(org, Some(position.saturating_sub(1)), 1).await?;
    Ok(found.into_iter().find(|(p, _)| *p == position).map(|(_, e)| e))
}

/// Where in the jitter (-1..=1) a delivery's next retry falls: a hash of its id and attempt
/// count (splitmix64), so that deliveries failing together spread out, and a retry's time is
/// reproducible.
fn jitter_draw(id: u128, attempts: u32) -> f64 {
    let mut x = (id as u64) ^ ((id >> 64) as u64) ^ u64::from(attempts).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    // 53 bits make an exact f64 in 0..1.
    let unit = (x >> 11) as f64 / (1_u64 << 53) as f64;
    unit.mul_add(2.0, -1.0)
}

/// Moves `endpoint`'s cursor over the events it does not receive and answers the first one it
/// does, taking events from `ahead` (read ahead earlier; positions have no gaps and events never
/// change, so what was read stays true) and reading a page when `ahead` does not go on from the
/// cursor. `None` when no such event is within what it read: the cursor may have moved.
async fn next_event(
    tx: &mut dyn Tx,
    endpoint: &mut WebhookEndpoint,
    ahead: &mut VecDeque<(u64, AuditEvent)>,
) -> ServiceResult<Option<(u64, AuditEvent)>> {
    // Twice at most: what was read ahead, then one fresh page after it.
    for _ in 0..2 {
        while ahead.front().is_some_and(|(position, _)| *position <= endpoint.position) {
            ahead.pop_front();
        }
        if ahead.front().is_none_or(|(position, _)| *position != endpoint.position + 1) {
            *ahead = tx.events_after(endpoint.org_id, Some(endpoint.position), SCAN_PAGE).await?.into();
        }
        if ahead.is_empty() {
            return Ok(None);
        }
        while let Some((position, event)) = ahead.pop_front() {
            if endpoint.receives(&event.action, &event.target_id) {
                return Ok(Some((position, event)));
            }
            endpoint.position = position;
        }
    }
    Ok(None)
}

/// How many delivery log rows one purge transaction removes at most.
const PURGE_CHUNK: u32 = 10_000;

/// Runs an optimistic claim write; `false` when someone else got there first.
fn claimed(result: Result<(), StoreError>) -> ServiceResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::StaleVersion { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl Services {
    /// One worker tick: claims up to `limit` lanes ([`Services::claim_webhook_lanes`]) and
    /// makes one attempt in each, one after the other: one event per endpoint.
    ///
    /// # Errors
    /// Storage failures only; HTTP failures are recorded per delivery. After a storage failure
    /// the claimed deliveries not yet recorded are due again when their lease ends.
    #[tracing::instrument(skip_all)]
    pub async fn deliver_webhooks(
        &self,
        sender: &dyn WebhookSender,
        schedule: &DeliverySchedule,
        limit: u32,
    ) -> ServiceResult<WebhookReport> {
        let lanes = self.claim_webhook_lanes(schedule, limit).await?;
        let mut report = WebhookReport::default();
        for lane in lanes {
            self.step_webhook_lane(sender, schedule, lane, false, &mut report).await?;
        }
        Ok(report)
    }

    /// Claims up to `limit` lanes, in one transaction: pending deliveries that fell due first
    /// (each holds back its endpoint's later events), then the next event of endpoints that are
    /// behind and have nothing pending. Each claim is leased for `schedule.lease` from now.
    ///
    /// # Errors
    /// Storage failures only (nothing is claimed then).
    #[tracing::instrument(skip_all)]
    pub async fn claim_webhook_lanes(
        &self,
        schedule: &DeliverySchedule,
        limit: u32,
    ) -> ServiceResult<Vec<WebhookLane>> {
        let now = self.now();
        let lease_until = now + schedule.lease;
        let mut tx = self.begin().await?;
        let mut lanes = Vec::new();
        for due in tx.due_webhook_deliveries(now, limit).await? {
            let endpoint = tx.webhook(due.org_id, due.endpoint_id).await?.filter(WebhookEndpoint::is_active);
            let event = event_at(&mut *tx, due.org_id, due.event_position).await?;
            let (Some(endpoint), Some(event)) = (endpoint, event) else {
                // Deleting an endpoint closes its delivery, and events are never deleted, so
                // this is a row left by an older version or a manual repair: close it.
                claimed(tx.update_webhook_delivery(&due.abandoned("the endpoint or the event is gone")).await)?;
                continue;
            };
            let leased = due.leased(lease_until);
            if claimed(tx.update_webhook_delivery(&leased).await)? {
                let event = FeedEvent::new(due.event_position, &event);
                lanes.push(WebhookLane { endpoint, delivery: leased, event, ahead: VecDeque::new() });
            }
        }
        let room = limit.saturating_sub(u32::try_from(lanes.len()).unwrap_or(u32::MAX));
        if room > 0 {
            for endpoint in tx.webhooks_behind(room).await? {
                let mut ahead = VecDeque::new();
                if let Some(lane) = self.claim_next(&mut *tx, endpoint, &mut ahead, now, lease_until).await? {
                    lanes.push(WebhookLane { ahead, ..lane });
                }
            }
        }
        tx.commit().await?;
        Ok(lanes)
    }

    /// Moves the endpoint's cursor over the events it does not want and claims the first one it
    /// does, if any within what [`next_event`] reads. Bumping the version even when the cursor
    /// stays is the claim on the endpoint: a second worker that read the same version fails
    /// here and skips it.
    async fn claim_next(
        &self,
        tx: &mut dyn Tx,
        mut endpoint: WebhookEndpoint,
        ahead: &mut VecDeque<(u64, AuditEvent)>,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> ServiceResult<Option<WebhookLane>> {
        let next = next_event(tx, &mut endpoint, ahead).await?;
        endpoint.version += 1;
        if !claimed(tx.update_webhook(&endpoint).await)? {
            return Ok(None);
        }
        let Some((position, event)) = next else { return Ok(None) };
        let delivery = WebhookDelivery::claimed(self.new_id(), &endpoint, position, event.id, now, lease_until);
        if !claimed(tx.insert_webhook_delivery(&delivery).await)? {
            return Ok(None);
        }
        let event = FeedEvent::new(position, &event);
        Ok(Some(WebhookLane { endpoint, delivery, event, ahead: VecDeque::new() }))
    }

    /// Sends the lane's delivery and records the outcome. When the event is handed off
    /// (delivered or given up) and `go_on`, the endpoint's next event is claimed in the
    /// recording transaction and answered as the lane's next step; `None` when the lane ends
    /// (nothing more to send now, a retry to wait for, the endpoint disabled, the claim
    /// superseded, or `go_on` false).
    ///
    /// # Errors
    /// Storage failures only; the delivery is then due again when its lease ends.
    pub async fn step_webhook_lane(
        &self,
        sender: &dyn WebhookSender,
        schedule: &DeliverySchedule,
        lane: WebhookLane,
        go_on: bool,
        report: &mut WebhookReport,
    ) -> ServiceResult<Option<WebhookLane>> {
        let WebhookLane { endpoint, delivery, event, mut ahead } = lane;
        let started = self.now();
        let result = match event.to_json() {
            Ok(body) => {
                let id = event.id.to_string();
                let timestamp = started.unix_timestamp();
                let signature = signature_header(endpoint.signing_secrets(started), &id, timestamp, &body);
                let headers = [
                    ("content-type".to_owned(), "application/json".to_owned()),
                    (ID_HEADER.to_owned(), id),
                    (TIMESTAMP_HEADER.to_owned(), timestamp.to_string()),
                    (SIGNATURE_HEADER.to_owned(), signature),
                ];
                sender.post(&endpoint.url, &headers, &body).await
            }
            Err(e) => Err(WebhookError::Permanent(format!("the event cannot be encoded: {e}"))),
        };
        let at = self.now();
        let draw = jitter_draw(delivery.id.as_uuid().as_u128(), delivery.attempts);
        let (delivery, outcome) = delivery.attempted(&result, at, at - started, schedule, draw);
        let mut tx = self.begin().await?;
        if !claimed(tx.update_webhook_delivery(&delivery).await)? {
            report.superseded.push(delivery.id);
            return Ok(None);
        }
        let current = tx.webhook(endpoint.org_id, endpoint.id).await?;
        let lease_until = at + schedule.lease;
        let mut next = None;
        match (outcome, current) {
            (AttemptOutcome::Retrying, _) => report.retrying.push(delivery.id),
            (AttemptOutcome::Delivered, current) => {
                report.sent.push(delivery.id);
                if let Some(mut current) = current {
                    current.position = delivery.event_position;
                    current.failing_since = None;
                    next = self.hand_on(&mut *tx, current, &mut ahead, go_on, at, lease_until).await?;
                }
            }
            (AttemptOutcome::GaveUp, current) => {
                report.failed.push(delivery.id);
                if let Some(mut current) = current {
                    current.position = delivery.event_position;
                    current.failing_since = Some(current.failing_since.unwrap_or(delivery.created_at));
                    if current.is_active() && current.failed_too_long(at) {
                        let days = FAILING_LIMIT.whole_days();
                        let reason = format!("every delivery failed for {days} days");
                        let current = current.disabled(at, DisabledReason::Failing);
                        self.disable_endpoint(&mut *tx, current, &reason, report).await?;
                    } else {
                        next = self.hand_on(&mut *tx, current, &mut ahead, go_on, at, lease_until).await?;
                    }
                }
            }
            (AttemptOutcome::Gone, current) => {
                report.failed.push(delivery.id);
                if let Some(current) = current.filter(WebhookEndpoint::is_active) {
                    let current = current.disabled(at, DisabledReason::Gone);
                    self.disable_endpoint(&mut *tx, current, "the endpoint answered 410 Gone", report).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(next.map(|lane| WebhookLane { ahead, ..lane }))
    }

    /// Stores an endpoint whose delivery was just handed off and, when `go_on` and it is still
    /// active, claims its next event in the same transaction.
    async fn hand_on(
        &self,
        tx: &mut dyn Tx,
        endpoint: WebhookEndpoint,
        ahead: &mut VecDeque<(u64, AuditEvent)>,
        go_on: bool,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> ServiceResult<Option<WebhookLane>> {
        if go_on && endpoint.is_active() {
            return self.claim_next(tx, endpoint, ahead, now, lease_until).await;
        }
        let endpoint = WebhookEndpoint { version: endpoint.version + 1, ..endpoint };
        tx.update_webhook(&endpoint).await?;
        Ok(None)
    }

    /// Removes the delivery log's settled rows older than [`DELIVERY_LOG_RETENTION`], in
    /// transactions of at most [`PURGE_CHUNK`] rows (the oldest first) until none is left;
    /// answers how many. The hourly purge of `roster serve` runs it.
    ///
    /// # Errors
    /// Storage failures; the chunks already removed stay removed.
    #[tracing::instrument(skip_all)]
    pub async fn purge_webhook_deliveries(&self) -> ServiceResult<u64> {
        let before = self.now() - DELIVERY_LOG_RETENTION;
        let mut removed = 0;
        loop {
            let mut tx = self.begin().await?;
            let chunk = tx.purge_webhook_deliveries(before, PURGE_CHUNK).await?;
            tx.commit().await?;
            removed += chunk;
            if chunk < u64::from(PURGE_CHUNK) {
                return Ok(removed);
            }
        }
    }

    /// Stores an endpoint the worker disabled, audited as `webhook.disabled` (source
    /// `scheduler`) with the reason, and mails the organization's admins.
    async fn disable_endpoint(
        &self,
        tx: &mut dyn Tx,
        endpoint: WebhookEndpoint,
        reason: &str,
        report: &mut WebhookReport,
    ) -> ServiceResult<()> {
        let at = endpoint.disabled_at.unwrap_or_else(|| self.now());
        tx.update_webhook(&endpoint).await?;
        let worker = Actor::system(endpoint.org_id, Source::Scheduler);
        let target = AuditTarget::new(TargetKind::Webhook, endpoint.id, endpoint.url.as_str());
        self.audit(tx, &worker, "webhook.disabled", target, Changes::new().note("reason", &reason)).await?;
        self.mail_webhook_admins(tx, &endpoint, reason, at).await?;
        report.disabled.push(endpoint.id);
        Ok(())
    }

    /// Queues, in the caller's transaction, a [`MailKind::WebhookDisabled`] to each active admin
    /// of the endpoint's organization.
    async fn mail_webhook_admins(
        &self,
        tx: &mut dyn Tx,
        endpoint: &WebhookEndpoint,
        reason: &str,
        at: OffsetDateTime,
    ) -> ServiceResult<()> {
        let Some(org) = tx.org(endpoint.org_id).await? else { return Ok(()) };
        let roles = tx.roles(endpoint.org_id).await?;
        let admin = admin_role(&roles)?;
        let admins = tx.active_admins(endpoint.org_id, admin.id).await?;
        let mails: Vec<OutgoingMail> = tx
            .users_by_ids(endpoint.org_id, &admins)
            .await?
            .into_iter()
            .map(|user| OutgoingMail {
                id: self.new_id(),
                org_id: endpoint.org_id,
                to: user.email,
                kind: MailKind::WebhookDisabled {
                    org_name: org.name.to_string(),
                    url: endpoint.url.to_string(),
                    reason: reason.to_owned(),
                },
                created_at: at,
            })
            .collect();
        tx.enqueue_mails(&mails).await?;
        Ok(())
    }
}
