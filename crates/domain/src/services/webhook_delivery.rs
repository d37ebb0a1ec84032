//! Delivering webhooks (§9.1): at least once, in order per endpoint, retried with the outbox's
//! backoff ([`RetryPolicy`]), every attempt in the delivery log.
//!
//! One tick, like the mail outbox's (ADR 0007), claims work in one transaction and commits,
//! sends outside any transaction, then records each outcome in its own transaction:
//! 1. **Claim.** Pending deliveries that fell due (retries, and claims whose worker died) are
//!    leased again. Then, for each endpoint that is behind its organization's feed and has
//!    nothing pending, the worker walks the events after its cursor, moves the cursor over
//!    those it does not subscribe to, and creates a delivery — already leased — for the first
//!    one it does. Every claim is an optimistic write, so two workers never both claim one
//!    endpoint's next event; the loser skips it.
//! 2. **Send.** The event's JSON body is POSTed through the [`WebhookSender`] with its
//!    `Roster-Signature` and `Roster-Event-Id` headers.
//! 3. **Record.** The delivery's new state; on delivery or giving up the endpoint's cursor moves
//!    to the event, which lets its next event go; on `410 Gone` the endpoint is disabled. A
//!    record whose claim was superseded meanwhile (a replay, a delete, or another worker after
//!    the lease ran out) changes nothing.
//!
//! An endpoint has at most one pending delivery, so it never gets event N+1 before N is
//! delivered or given up. A worker that dies after claiming leaves the delivery due again when
//! the lease ends: the event is sent again (at least once; consumers de-duplicate by
//! `Roster-Event-Id`). Each endpoint advances by one event per tick; the app's worker runs ticks
//! back to back while they find work.

use serde::Serialize;
use time::OffsetDateTime;

use crate::actor::Actor;
use crate::audit::{AuditEvent, AuditTarget, Changes, Source, TargetKind};
use crate::error::ServiceResult;
use crate::events::FeedEvent;
use crate::ids::{OrgId, WebhookDeliveryId, WebhookId};
use crate::mail::RetryPolicy;
use crate::ports::{StoreError, Tx, WebhookError, WebhookSender};
use crate::webhooks::{AttemptOutcome, EVENT_ID_HEADER, SIGNATURE_HEADER, WebhookDelivery, WebhookEndpoint, sign};

use super::Services;

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
    /// Endpoints disabled because they answered `410 Gone`.
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
        policy: &RetryPolicy,
        limit: u32,
    ) -> ServiceResult<WebhookReport> {
        let claims = self.claim_webhook_deliveries(policy, limit).await?;
        let mut report = WebhookReport::default();
        for claim in claims {
            self.attempt_webhook(sender, policy, claim, &mut report).await?;
        }
        Ok(report)
    }

    async fn claim_webhook_deliveries(&self, policy: &RetryPolicy, limit: u32) -> ServiceResult<Vec<Claim>> {
        let now = self.now();
        let lease_until = now + policy.lease;
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
            if endpoint.wants(&event.action) {
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
        policy: &RetryPolicy,
        claim: Claim,
        report: &mut WebhookReport,
    ) -> ServiceResult<()> {
        let Claim { endpoint, delivery, event } = claim;
        let result = match event.to_json() {
            Ok(body) => {
                let signature = sign(endpoint.secret.expose(), self.now().unix_timestamp(), &body);
                let headers = [
                    ("Content-Type".to_owned(), "application/json".to_owned()),
                    (SIGNATURE_HEADER.to_owned(), signature),
                    (EVENT_ID_HEADER.to_owned(), event.id.to_string()),
                ];
                sender.post(&endpoint.url, &headers, &body).await
            }
            Err(e) => Err(WebhookError::Permanent(format!("the event cannot be encoded: {e}"))),
        };
        let at = self.now();
        let (delivery, outcome) = delivery.attempted(&result, at, policy);
        let mut tx = self.begin().await?;
        if !claimed(tx.update_webhook_delivery(&delivery).await)? {
            report.superseded.push(delivery.id);
            return Ok(());
        }
        match outcome {
            AttemptOutcome::Retrying => report.retrying.push(delivery.id),
            AttemptOutcome::Delivered | AttemptOutcome::GaveUp => {
                if outcome == AttemptOutcome::Delivered {
                    report.sent.push(delivery.id);
                } else {
                    report.failed.push(delivery.id);
                }
                if let Some(mut current) = tx.webhook(endpoint.org_id, endpoint.id).await? {
                    current.position = delivery.event_position;
                    current.version += 1;
                    tx.update_webhook(&current).await?;
                }
            }
            AttemptOutcome::Gone => {
                report.failed.push(delivery.id);
                if let Some(mut current) = tx.webhook(endpoint.org_id, endpoint.id).await?.filter(|e| e.is_active()) {
                    current.disabled_at = Some(at);
                    current.version += 1;
                    tx.update_webhook(&current).await?;
                    let worker = Actor::system(current.org_id, Source::Scheduler);
                    let target = AuditTarget::new(TargetKind::Webhook, current.id, current.url.as_str());
                    let why = Changes::new().note("reason", &"the endpoint answered 410 Gone");
                    self.audit(&mut *tx, &worker, "webhook.disabled", target, why).await?;
                    report.disabled.push(current.id);
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
