//! Delivering webhooks (§9.1): at least once, in order per endpoint, retried on the
//! [`DeliverySchedule`] of §9.1 with jitter, every attempt in the delivery log.
//!
//! One tick, like the mail outbox's (ADR 0007), claims work in one transaction and commits,
//! sends outside any transaction, then records each outcome in its own transaction:
//! 1. **Claim.** Pending deliveries that fell due (retries, and claims whose worker died) are
//!    leased again. Then, for each endpoint that is behind its organization's feed and has
//!    nothing pending, the worker walks the events after its cursor, moves the cursor over
//!    those it does not subscribe to, and creates a delivery — already leased — for the first
//!    one it does. Every claim is an optimistic write, so two workers never both claim one
//!    endpoint's next event; the loser skips it.
//! 2. **Send.** The event's JSON body is POSTed through the [`WebhookSender`] with the Standard
//!    Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature` by every secret
//!    that signs at that time).
//! 3. **Record.** The delivery's new state; on delivery or giving up the endpoint's cursor moves
//!    to the event, which lets its next event go; on `410 Gone` the endpoint is disabled, and so
//!    it is when it gives up a delivery after failing for [`FAILING_LIMIT`] (its admins are
//!    mailed). A record whose claim was superseded meanwhile (a replay, a delete, or another
//!    worker after the lease ran out) changes nothing.
//!
//! An endpoint has at most one pending delivery, so it never gets event N+1 before N is
//! delivered or given up. A worker that dies after claiming leaves the delivery due again when
//! the lease ends: the event is sent again (at least once; consumers de-duplicate by
//! `webhook-id`). Each endpoint advances by one event per tick; the app's worker runs ticks
//! back to back while they find work.

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
    AttemptOutcome, DeliverySchedule, DisabledReason, FAILING_LIMIT, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    WebhookDelivery, WebhookEndpoint, signature_header,
};

use super::Services;
use super::support::admin_role;

/// How many events past its cursor the worker looks at for one endpoint in one tick. Events
/// the endpoint does not subscribe to are skipped by moving the cursor, so a long run of them
/// is crossed over several ticks.
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

/// A delivery claimed for this tick, with what sending it needs.
struct Claim {
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    event: FeedEvent,
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

/// Runs an optimistic claim write; `false` when someone else got there first.
fn claimed(result: Result<(), StoreError>) -> ServiceResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::StaleVersion { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl Services {
    /// One worker tick: attempts up to `limit` deliveries.
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
        let claims = self.claim_webhook_deliveries(schedule, limit).await?;
        let mut report = WebhookReport::default();
        for claim in claims {
            self.attempt_webhook(sender, schedule, claim, &mut report).await?;
        }
        Ok(report)
    }

    async fn claim_webhook_deliveries(&self, schedule: &DeliverySchedule, limit: u32) -> ServiceResult<Vec<Claim>> {
        let now = self.now();
        let lease_until = now + schedule.lease;
        let mut tx = self.begin().await?;
        let mut claims = Vec::new();
        // Deliveries already under way first: each holds back its endpoint's later events.
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
                claims.push(Claim { endpoint, delivery: leased, event: FeedEvent::new(due.event_position, &event) });
            }
        }
        let room = limit.saturating_sub(u32::try_from(claims.len()).unwrap_or(u32::MAX));
        if room > 0 {
            for endpoint in tx.webhooks_behind(room).await? {
                if let Some(claim) = self.claim_next_event(&mut *tx, endpoint, now, lease_until).await? {
                    claims.push(claim);
                }
            }
        }
        tx.commit().await?;
        Ok(claims)
    }

    /// Moves the endpoint's cursor over the events it does not want and claims the first one it
    /// does, if any within [`SCAN_PAGE`].
    async fn claim_next_event(
        &self,
        tx: &mut dyn Tx,
        mut endpoint: WebhookEndpoint,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> ServiceResult<Option<Claim>> {
        let mut next = None;
        for (position, event) in tx.events_after(endpoint.org_id, Some(endpoint.position), SCAN_PAGE).await? {
            if endpoint.receives(&event.action, &event.target_id) {
                next = Some((position, event));
                break;
            }
            endpoint.position = position;
        }
        // Bumping the version even when the cursor stays is the claim on the endpoint: a second
        // worker that read the same version fails here and skips it.
        endpoint.version += 1;
        if !claimed(tx.update_webhook(&endpoint).await)? {
            return Ok(None);
        }
        let Some((position, event)) = next else { return Ok(None) };
        let delivery = WebhookDelivery::claimed(self.new_id(), &endpoint, position, event.id, now, lease_until);
        if !claimed(tx.insert_webhook_delivery(&delivery).await)? {
            return Ok(None);
        }
        Ok(Some(Claim { endpoint, delivery, event: FeedEvent::new(position, &event) }))
    }

    async fn attempt_webhook(
        &self,
        sender: &dyn WebhookSender,
        schedule: &DeliverySchedule,
        claim: Claim,
        report: &mut WebhookReport,
    ) -> ServiceResult<()> {
        let Claim { endpoint, delivery, event } = claim;
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
            return Ok(());
        }
        let current = tx.webhook(endpoint.org_id, endpoint.id).await?;
        match (outcome, current) {
            (AttemptOutcome::Retrying, _) => report.retrying.push(delivery.id),
            (AttemptOutcome::Delivered, current) => {
                report.sent.push(delivery.id);
                if let Some(mut current) = current {
                    current.position = delivery.event_position;
                    current.failing_since = None;
                    current.version += 1;
                    tx.update_webhook(&current).await?;
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
                        current.version += 1;
                        tx.update_webhook(&current).await?;
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
        Ok(())
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
