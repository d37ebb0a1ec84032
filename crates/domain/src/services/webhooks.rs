//! Managing webhook endpoints (§9.1, `/api/v1/webhooks`): create (the secret is shown once),
//! list, delete, read the delivery log, replay. Administering integrations is the same trust as
//! API keys: `manage_api_keys` over the whole organization, never while impersonating.

use std::collections::BTreeSet;

use crate::actor::Actor;
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::ids::WebhookId;
use crate::ports::Tx;
use crate::roles::Permission;
use crate::values::ValueError;
use crate::webhooks::{
    EventPattern, MAX_EVENT_TYPES, WEBHOOK_SECRET_PREFIX, WebhookDelivery, WebhookEndpoint, WebhookSecret, WebhookUrl,
};

use super::Services;
use super::support::check_page_size;

/// A new endpoint and its signing secret, which the API never shows again. `Debug` leaves the
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

async fn load_webhook(tx: &mut dyn Tx, actor: &Actor, id: WebhookId) -> ServiceResult<WebhookEndpoint> {
    tx.webhook(actor.org_id(), id).await?.ok_or(ServiceError::not_found("webhook"))
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
        if event_types.len() > MAX_EVENT_TYPES {
            return Err(ServiceError::invalid_field("event_types", &ValueError::TooMany { max: MAX_EVENT_TYPES }));
        }
        let secret = format!("{WEBHOOK_SECRET_PREFIX}{}", self.ids.secret());
        let mut endpoint = WebhookEndpoint {
            id: self.new_id(),
            org_id: actor.org_id(),
            url,
            event_types,
            secret: WebhookSecret::new(secret.clone()),
            created_at: self.now(),
            disabled_at: None,
            position: 0,
            created_by,
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

    /// The organization's endpoints, disabled ones included, oldest first. The HTTP adapter
    /// renders them without their secret.
    ///
    /// # Errors
    /// `forbidden` without `manage_api_keys` org-wide.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_webhooks(&self, actor: &Actor) -> ServiceResult<Vec<WebhookEndpoint>> {
        actor.require_org_wide(Permission::ManageApiKeys)?;
        let mut tx = self.begin_read().await?;
        Ok(tx.webhooks(actor.org_id()).await?)
    }

    /// Disables an endpoint for good: it receives nothing more, and a delivery in progress is
    /// closed. Deleting a disabled endpoint changes nothing.
    ///
    /// # Errors
    /// `forbidden`, `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn delete_webhook(&self, actor: &Actor, id: WebhookId) -> ServiceResult<()> {
        require_admin(actor)?;
        let mut tx = self.begin().await?;
        let mut endpoint = load_webhook(&mut *tx, actor, id).await?;
        if !endpoint.is_active() {
            return Ok(());
        }
        endpoint.disabled_at = Some(self.now());
        endpoint.version += 1;
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

    /// Delivers the endpoint's events again from `from_position` on: its cursor moves to just
    /// before it (a delivery in progress is closed and will be sent again in order). Moving the
    /// cursor forward, past events not yet delivered, skips them.
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `conflict` (the endpoint is disabled), `validation_failed`
    /// (`from_position` outside 1..=the next position).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn replay_webhook(
        &self,
        actor: &Actor,
        id: WebhookId,
        from_position: u64,
    ) -> ServiceResult<WebhookEndpoint> {
        require_admin(actor)?;
        let mut tx = self.begin().await?;
        let mut endpoint = load_webhook(&mut *tx, actor, id).await?;
        if !endpoint.is_active() {
            return Err(ServiceError::Conflict { field: "webhook", message: "the endpoint is disabled".to_owned() });
        }
        let next = tx.last_event_position(actor.org_id()).await? + 1;
        if !(1..=next).contains(&from_position) {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "from_position",
                "out_of_range",
                format!("must be between 1 and {next}"),
            )]));
        }
        let before = endpoint.position;
        endpoint.position = from_position - 1;
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
