//! Managing webhook endpoints (§9.1, `/api/v1/webhooks`): create (the secret is shown once),
//! list, read, change (URL, event types, enabled), delete, rotate the secret, read the delivery
//! log, replay, test. Administering integrations is the same trust as API keys:
//! `manage_api_keys` over the whole organization, never while impersonating for changes.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::actor::Actor;
use crate::audit::{AuditEvent, AuditTarget, Changes, TargetKind};
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::events::FeedEvent;
use crate::ids::WebhookId;
use crate::ports::{Tx, WebhookError};
use crate::roles::Permission;
use crate::values::ValueError;
use crate::webhooks::{
    DisabledReason, EventPattern, MAX_EVENT_TYPES, TEST_EVENT, WebhookDelivery, WebhookEndpoint, WebhookSecret,
    WebhookUrl, new_secret, secret_key,
};

use super::Services;
use super::support::check_page_size;

/// A new endpoint (or one whose secret was just rotated) and its signing secret, which the API
/// never shows again. `Debug` leaves the
/// secret out, so logging the result of the call cannot leak it.
#[derive(Clone)]
pub struct CreatedWebhook {
    /// The endpoint as stored.
    pub endpoint: WebhookEndpoint,
    /// The `whsec_…` signing secret in clear, for the one answer that shows it.
    pub secret: String,
}

impl std::fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhook").field("endpoint", &self.endpoint).field("secret", &"***").finish()
    }
}

fn target(endpoint: &WebhookEndpoint) -> AuditTarget {
    AuditTarget::new(TargetKind::Webhook, endpoint.id, endpoint.url.as_str())
}

fn require_admin(actor: &Actor) -> ServiceResult<()> {
    actor.require_org_wide(Permission::ManageApiKeys)?;
    actor.require_not_impersonating("webhooks")
}

/// An endpoint of the actor's organization that was not deleted.
async fn load_webhook(tx: &mut dyn Tx, actor: &Actor, id: WebhookId) -> ServiceResult<WebhookEndpoint> {
    tx.webhook(actor.org_id(), id).await?.filter(|e| !e.is_deleted()).ok_or(ServiceError::not_found("webhook"))
}

fn check_event_types(event_types: &BTreeSet<EventPattern>) -> ServiceResult<()> {
    if event_types.len() > MAX_EVENT_TYPES {
        return Err(ServiceError::invalid_field("event_types", &ValueError::TooMany { max: MAX_EVENT_TYPES }));
    }
    Ok(())
}

fn disabled_conflict() -> ServiceError {
    ServiceError::Conflict { field: "webhook", message: "the endpoint is disabled".to_owned() }
}

/// What `PATCH /webhooks/{id}` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChanges {
    /// A new URL, checked as at creation.
    pub url: Option<WebhookUrl>,
    /// A new subscription (empty: every event).
    pub event_types: Option<BTreeSet<EventPattern>>,
    /// `false` pauses the endpoint; `true` resumes one paused or disabled by the worker, from
    /// its cursor (the events it missed are delivered, in order).
    pub enabled: Option<bool>,
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// The event at this position and every later one.
    Position(u64),
    /// The first event whose time is after this one, and every later one (by position).
    Since(OffsetDateTime),
}

/// Closes the endpoint's pending delivery, if any, so that a worker still holding its claim
/// records nothing (its optimistic write finds a newer version).
async fn close_pending(tx: &mut dyn Tx, endpoint: &WebhookEndpoint, reason: &str) -> ServiceResult<()> {
    if let Some(pending) = tx.pending_webhook_delivery(endpoint.org_id, endpoint.id).await? {
        tx.update_webhook_delivery(&pending.abandoned(reason)).await?;
    }
    Ok(())
}

impl Services {
    /// Registers an endpoint for the events matching `event_types` (all when empty). It receives
    /// only events committed after its creation; its creation's own event is not sent to it.
    ///
    /// # Errors
    /// `forbidden` (no `manage_api_keys` org-wide, impersonating, or not a member),
    /// `validation_failed` (more than 50 event types).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        url: WebhookUrl,
        event_types: BTreeSet<EventPattern>,
    ) -> ServiceResult<CreatedWebhook> {
        require_admin(actor)?;
        let created_by = actor.user_id().ok_or_else(|| ServiceError::forbidden("webhooks are created by a member"))?;
        check_event_types(&event_types)?;
        self.check_webhook_url(&url).await?;
        let secret = self.new_webhook_secret();
        let mut endpoint = WebhookEndpoint {
            id: self.new_id(),
            org_id: actor.org_id(),
            url,
            event_types,
            secret: WebhookSecret::new(secret.clone()),
            previous_secret: None,
            created_at: self.now(),
            disabled_at: None,
            disabled_reason: None,
            position: 0,
            created_by,
            failing_since: None,
            version: 1,
        };
        let mut tx = self.begin().await?;
        let patterns: Vec<&str> = endpoint.event_types.iter().map(EventPattern::as_str).collect();
        self.audit(
            &mut *tx,
            actor,
            "webhook.created",
            target(&endpoint),
            Changes::new().note("url", &endpoint.url).note("event_types", &patterns),
        )
        .await?;
        // Read after appending: the cursor starts past every event so far, this one included.
        endpoint.position = tx.last_event_position(actor.org_id()).await?;
        tx.insert_webhook(&endpoint).await?;
        tx.commit().await?;
        Ok(CreatedWebhook { endpoint, secret })
    }

    /// The organization's endpoints, disabled ones included, deleted ones not, oldest first.
    /// The HTTP adapter renders them without their secret.
    ///
    /// # Errors
    /// `forbidden` without `manage_api_keys` org-wide.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_webhooks(&self, actor: &Actor) -> ServiceResult<Vec<WebhookEndpoint>> {
        actor.require_org_wide(Permission::ManageApiKeys)?;
        let mut tx = self.begin_read().await?;
        Ok(tx.webhooks(actor.org_id()).await?.into_iter().filter(|e| !e.is_deleted()).collect())
    }

    /// One endpoint (not a deleted one).
    ///
    /// # Errors
    /// `forbidden` without `manage_api_keys` org-wide, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn webhook(&self, actor: &Actor, id: WebhookId) -> ServiceResult<WebhookEndpoint> {
        actor.require_org_wide(Permission::ManageApiKeys)?;
        let mut tx = self.begin_read().await?;
        load_webhook(&mut *tx, actor, id).await
    }

    /// Changes an endpoint's URL, event types or enabled state, audited as `webhook.updated`
    /// with the fields' before and after. Pausing closes a delivery in progress (it is sent
    /// again on resuming); resuming clears the worker's failure count.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `validation_failed` (a refused URL, more than 50 event types).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: WebhookId,
        changes: WebhookChanges,
    ) -> ServiceResult<WebhookEndpoint> {
        require_admin(actor)?;
        if let Some(event_types) = &changes.event_types {
            check_event_types(event_types)?;
        }
        if let Some(url) = &changes.url {
            self.check_webhook_url(url).await?;
        }
        on_a_fresh_row(|| self.update_webhook_once(actor, id, changes.clone())).await
    }

    async fn update_webhook_once(
        &self,
        actor: &Actor,
        id: WebhookId,
        changes: WebhookChanges,
    ) -> ServiceResult<WebhookEndpoint> {
        let mut tx = self.begin().await?;
        let before = load_webhook(&mut *tx, actor, id).await?;
        let mut after = before.clone();
        let mut audit = Changes::new();
        if let Some(url) = changes.url.filter(|u| *u != before.url) {
            audit = audit.field("url", &before.url, &url);
            after.url = url;
        }
        if let Some(types) = changes.event_types.filter(|t| *t != before.event_types) {
            let names = |set: &BTreeSet<EventPattern>| set.iter().map(ToString::to_string).collect::<Vec<_>>();
            audit = audit.field("event_types", &names(&before.event_types), &names(&types));
            after.event_types = types;
        }
        match changes.enabled {
            Some(false) if before.is_active() => {
                after.disabled_at = Some(self.now());
                after.disabled_reason = Some(DisabledReason::Paused);
                close_pending(&mut *tx, &after, "the endpoint was paused").await?;
                audit = audit.field("enabled", &true, &false);
            }
            Some(true) if !before.is_active() => {
                after.disabled_at = None;
                after.disabled_reason = None;
                after.failing_since = None;
                audit = audit.field("enabled", &false, &true);
            }
            _ => {}
        }
        if after == before {
            return Ok(before);
        }
        after.version += 1;
        tx.update_webhook(&after).await?;
        self.audit(&mut *tx, actor, "webhook.updated", target(&after), audit).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Gives the endpoint a new secret, answered once; the old one keeps signing beside it for
    /// 24 hours (`ROTATION_OVERLAP`), so receivers can switch without losing a delivery.
    ///
    /// # Errors
    /// `forbidden`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn rotate_webhook_secret(&self, actor: &Actor, id: WebhookId) -> ServiceResult<CreatedWebhook> {
        require_admin(actor)?;
        on_a_fresh_row(|| self.rotate_webhook_secret_once(actor, id)).await
    }

    async fn rotate_webhook_secret_once(&self, actor: &Actor, id: WebhookId) -> ServiceResult<CreatedWebhook> {
        let secret = self.new_webhook_secret();
        let mut tx = self.begin().await?;
        let endpoint = load_webhook(&mut *tx, actor, id).await?.rotated(WebhookSecret::new(secret.clone()), self.now());
        tx.update_webhook(&endpoint).await?;
        let until = endpoint.previous_secret.as_ref().map(|p| p.until);
        let changes = Changes::new().note("previous_secret_until", &until);
        self.audit(&mut *tx, actor, "webhook.secret_rotated", target(&endpoint), changes).await?;
        tx.commit().await?;
        Ok(CreatedWebhook { endpoint, secret })
    }

    /// Sends the endpoint a `webhook.test` event: an event of the feed like any other (audited,
    /// numbered, delivered in order, in the delivery log), which only this endpoint receives,
    /// whatever it subscribes to.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `conflict` (the endpoint is disabled).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn test_webhook(&self, actor: &Actor, id: WebhookId) -> ServiceResult<FeedEvent> {
        require_admin(actor)?;
        let mut tx = self.begin().await?;
        let endpoint = load_webhook(&mut *tx, actor, id).await?;
        if !endpoint.is_active() {
            return Err(disabled_conflict());
        }
        let event = AuditEvent::record(self.new_id(), self.now(), actor, TEST_EVENT, target(&endpoint), Changes::new());
        tx.append_audit(&event).await?;
        let position = tx.last_event_position(actor.org_id()).await?;
        tx.commit().await?;
        Ok(FeedEvent::new(position, &event))
    }

    /// A new `whsec_…` secret: the prefix and the standard base64 of 32 random bytes.
    fn new_webhook_secret(&self) -> String {
        new_secret(&secret_key(&self.ids.secret()))
    }

    /// Asks the webhook sender, when there is one, whether the URL may receive events: a
    /// refusal is a validation error; a check that could not be made (the name does not resolve
    /// now) is not.
    async fn check_webhook_url(&self, url: &WebhookUrl) -> ServiceResult<()> {
        let Some(sender) = &self.webhook_sender else { return Ok(()) };
        match sender.check(url).await {
            Ok(()) => Ok(()),
            Err(WebhookError::Permanent(why)) => {
                Err(ServiceError::Validation(vec![FieldError::new("url", "refused_address", why)]))
            }
            // A name that does not resolve now is no private address: it is accepted, and each
            // connection checks again (a failed delivery is retried and logged).
            Err(WebhookError::Transient(why)) => {
                tracing::info!(url = %url, %why, "a webhook URL was registered whose name does not resolve now");
                Ok(())
            }
        }
    }

    /// Deletes an endpoint: it receives nothing more, a delivery in progress is closed, and the
    /// API shows it no more (its row and delivery log stay, as the audit log refers to it).
    ///
    /// # Errors
    /// `forbidden`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn delete_webhook(&self, actor: &Actor, id: WebhookId) -> ServiceResult<()> {
        require_admin(actor)?;
        on_a_fresh_row(|| self.delete_webhook_once(actor, id)).await
    }

    async fn delete_webhook_once(&self, actor: &Actor, id: WebhookId) -> ServiceResult<()> {
        let mut tx = self.begin().await?;
        let endpoint = load_webhook(&mut *tx, actor, id).await?.disabled(self.now(), DisabledReason::Deleted);
        close_pending(&mut *tx, &endpoint, "the endpoint was deleted").await?;
        tx.update_webhook(&endpoint).await?;
        self.audit(&mut *tx, actor, "webhook.deleted", target(&endpoint), Changes::new()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The endpoint's delivery log, newest first.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `validation_failed` for a limit outside 1..=200.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        id: WebhookId,
        limit: u32,
    ) -> ServiceResult<Vec<WebhookDelivery>> {
        actor.require_org_wide(Permission::ManageApiKeys)?;
        check_page_size(limit)?;
        let mut tx = self.begin_read().await?;
        let endpoint = load_webhook(&mut *tx, actor, id).await?;
        Ok(tx.webhook_deliveries(endpoint.org_id, endpoint.id, limit).await?)
    }

    /// Delivers the endpoint's events again from a point on: its cursor moves to just before
    /// it (a delivery in progress is closed and will be sent again in order). Moving the cursor
    /// forward, past events not yet delivered, skips them. From a time, the replay starts at the
    /// first event (by position) made after it; events are numbered in commit order, so a few
    /// events made just before the time but committed after that one are sent again too — at
    /// least once, never fewer.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `conflict` (the endpoint is disabled), `validation_failed`
    /// (a position outside 1..=the next position).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn replay_webhook(
        &self,
        actor: &Actor,
        id: WebhookId,
        from: ReplayFrom,
    ) -> ServiceResult<WebhookEndpoint> {
        require_admin(actor)?;
        on_a_fresh_row(|| self.replay_webhook_once(actor, id, from)).await
    }

    async fn replay_webhook_once(
        &self,
        actor: &Actor,
        id: WebhookId,
        from: ReplayFrom,
    ) -> ServiceResult<WebhookEndpoint> {
        let mut tx = self.begin().await?;
        let mut endpoint = load_webhook(&mut *tx, actor, id).await?;
        if !endpoint.is_active() {
            return Err(disabled_conflict());
        }
        let next = tx.last_event_position(actor.org_id()).await? + 1;
        let from_position = match from {
            ReplayFrom::Position(position) => position,
            ReplayFrom::Since(at) => tx.first_event_position_after(actor.org_id(), at).await?.unwrap_or(next),
        };
        if !(1..=next).contains(&from_position) {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "from_position",
                "out_of_range",
                format!("must be between 1 and {next}"),
            )]));
        }
        let before = endpoint.position;
        endpoint.position = from_position - 1;
        endpoint.failing_since = None;
        endpoint.version += 1;
        close_pending(&mut *tx, &endpoint, "superseded by a replay").await?;
        tx.update_webhook(&endpoint).await?;
        self.audit(
            &mut *tx,
            actor,
            "webhook.replayed",
            target(&endpoint),
            Changes::new().field("position", &before, &endpoint.position).note("from_position", &from_position),
        )
        .await?;
        tx.commit().await?;
        Ok(endpoint)
    }
}

/// Runs an admin's change of an endpoint again when its row moved between the read and the
/// write: the delivery worker records each delivery on the endpoint and its log, so a change
/// that read them just before loses that race, which is no precondition the admin set (none of
/// these use cases takes one). At most three tries; a third lost race answers as it is.
async fn on_a_fresh_row<T, F, Fut>(mut attempt: F) -> ServiceResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ServiceResult<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(ServiceError::PreconditionFailed { .. }) if tries < 3 => tries += 1,
            other => return other,
        }
    }
}
