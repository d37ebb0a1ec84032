//! The integration event feed (§9.1): `GET /api/v1/events?after=<cursor>` for polling consumers
//! (billing, the vendor's product), in commit order.

use crate::actor::Actor;
use crate::error::ServiceResult;
use crate::events::FeedEvent;
use crate::roles::Permission;

use super::Services;
use super::support::check_page_size;

impl Services {
    /// Up to `limit` events of the actor's organization after position `after` (from the first
    /// when `None`), oldest first. A consumer passes the `position` of the last event it
    /// processed as the next `after`; an empty answer means it is up to date.
    ///
    /// # Errors
    /// `forbidden` without `view_audit` over the whole organization (a member's role or an API
    /// key's permissions); `validation_failed` for a limit outside 1..=200.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn events(&self, actor: &Actor, after: Option<u64>, limit: u32) -> ServiceResult<Vec<FeedEvent>> {
        actor.require_org_wide(Permission::ViewAudit)?;
        check_page_size(limit)?;
        let mut tx = self.begin_read().await?;
        let events = tx.events_after(actor.org_id(), after, limit).await?;
        Ok(events.iter().map(|(position, event)| FeedEvent::new(*position, event)).collect())
    }
}
