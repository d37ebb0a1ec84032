//! The integration event feed (§9.1): `GET /api/v1/events?after=<cursor>&types=` for polling
//! consumers (billing, the vendor's product), in commit order.

use std::collections::BTreeSet;

use crate::actor::Actor;
use crate::error::ServiceResult;
use crate::events::FeedEvent;
use crate::roles::Permission;
use crate::webhooks::{EventPattern, TEST_EVENT};

use super::Services;
use super::support::check_page_size;

/// How many pages of events one read may scan for a `types` filter before it answers what it
/// found with a cursor to go on from.
const FILTER_PAGES: u32 = 10;

/// A page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsPage {
    /// The events, oldest first.
    pub events: Vec<FeedEvent>,
    /// The position to pass as the next `after`: the last event read, matched by the filter or
    /// not (so a filtered read never reads the same events twice), or the `after` asked for when
    /// nothing was read.
    pub cursor: u64,
}

impl Services {
    /// Up to `limit` events of the actor's organization after position `after` (from the first
    /// when `None`), oldest first, those matching `types` only (every event when empty; the
    /// `webhook.test` events, meant for one endpoint, never). A consumer passes the answer's
    /// `cursor` as the next `after`; an empty page whose cursor did not move means it is up to
    /// date. A filter that matches little may answer fewer than `limit` events, even none, with
    /// a cursor further on.
    ///
    /// # Errors
    /// `forbidden` without `view_audit` over the whole organization (a member's role or an API
    /// key's permissions); `validation_failed` for a limit outside 1..=200.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn events(
        &self,
        actor: &Actor,
        after: Option<u64>,
        types: &BTreeSet<EventPattern>,
        limit: u32,
    ) -> ServiceResult<EventsPage> {
        actor.require_org_wide(Permission::ViewAudit)?;
        check_page_size(limit)?;
        let mut tx = self.begin_read().await?;
        let mut page = EventsPage { events: Vec::new(), cursor: after.unwrap_or(0) };
        for _ in 0..FILTER_PAGES {
            let read = tx.events_after(actor.org_id(), Some(page.cursor), limit).await?;
            let full = read.len() == limit as usize;
            for (position, event) in &read {
                page.cursor = *position;
                let wanted = event.action != TEST_EVENT
                    && (types.is_empty() || types.iter().any(|pattern| pattern.matches(&event.action)));
                if wanted {
                    page.events.push(FeedEvent::new(*position, event));
                    if page.events.len() == limit as usize {
                        return Ok(page);
                    }
                }
            }
            if !full || types.is_empty() {
                break;
            }
        }
        Ok(page)
    }
}
