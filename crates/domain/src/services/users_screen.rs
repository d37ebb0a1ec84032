//! The console's Users page in one read (SPEC §12): a page of users with the facts of its rows,
//! how many users the filter matches, and the organization's catalog, roles and group tree for
//! the names and choices the page shows.
//!
//! A page is walked by cursor ([`UserPaging::Cursor`] forward, [`UserPaging::Before`] back and
//! to the last page), never by offset: a deep offset costs every row it skips, seconds at a
//! million users. Counting the matches costs every matching row too (tens of milliseconds at a
//! million), so each process keeps the totals it counted per organization under the
//! organization's last event position ([`crate::ports::AuditRepository::last_event_position`]):
//! every change to a user commits an event and moves the position, so a kept total is not
//! used once a change is committed, by this process or another. A kept total is also dropped
//! after [`TOTAL_KEPT_FOR`], which bounds how long a change that records no event (none is
//! known) could leave a total behind.

use std::collections::HashMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::actor::Actor;
use crate::catalog::Catalog;
use crate::error::ServiceResult;
use crate::groups::GroupTree;
use crate::ids::OrgId;
use crate::ports::Tx;
use crate::roles::Role;
use crate::users_query::{UserPaging, UserQuery};

use super::Services;
use super::trees::VersionCache;
use super::users::UserDetailsPage;

/// The longest a counted total is used, even when the organization's event position has not
/// moved.
pub const TOTAL_KEPT_FOR: Duration = Duration::seconds(60);

/// The most filters whose totals a process keeps per organization; past it the organization's
/// kept totals start afresh.
const TOTALS_PER_ORG: usize = 64;

/// What the Users page shows.
#[derive(Debug, Clone)]
pub struct UsersScreen {
    /// The page the query asked for, with each row's details and the cursors around it.
    pub page: UserDetailsPage,
    /// How many users the query's filters match (its paging aside).
    pub total: u64,
    /// The organization's products.
    pub catalog: Catalog,
    /// The organization's roles, built-in roles first, then by name.
    pub roles: Vec<Role>,
    /// The organization's groups.
    pub tree: Arc<GroupTree>,
}

/// Totals counted in one organization at one event position.
#[derive(Debug, Clone)]
pub(crate) struct Totals {
    counted_at: OffsetDateTime,
    /// By the query's filters, as [`filters_key`] writes them.
    counts: HashMap<String, u64>,
}

/// The kept totals, per organization under its last event position.
pub(crate) type TotalsCache = VersionCache<Totals>;

/// The filters of a query as a key: everything but the sort and the paging, which change the
/// page but not the count.
fn filters_key(query: &UserQuery) -> String {
    format!("{:?}", UserQuery { sort: Vec::new(), paging: None, ..query.clone() })
}

impl Services {
    /// The console's Users page: the page `query` asks for (by cursor: [`UserPaging::Cursor`]
    /// or [`UserPaging::Before`]; another paging is replaced by the first page of 50), the
    /// number of users its filters match, and the catalog, roles and groups, all read in one
    /// transaction. The reader's scope, organization and trial are set as by
    /// [`Services::list_users`].
    ///
    /// `Before` from the end (`before: None`) is the last page of the grid of `limit`-row
    /// pages from the first row: its `total % limit` rows (`limit` when that is 0), so that
    /// walking back from it meets the pages walked forward from the first.
    ///
    /// # Errors
    /// As [`Services::list_users`].
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn users_screen(&self, actor: &Actor, mut query: UserQuery) -> ServiceResult<UsersScreen> {
        if !matches!(query.paging, Some(UserPaging::Cursor { .. } | UserPaging::Before { .. })) {
            query.paging = Some(UserPaging::Cursor { after: None, limit: 50 });
        }
        let mut tx = self.begin_read().await?;
        let (org, tree) = self.read_org_and_tree(&mut *tx, actor.org_id()).await?;
        self.prepare_user_query(&mut *tx, actor, &org, &mut query).await?;
        let total = self.total_of(&mut *tx, org.id, &query).await?;
        if let Some(UserPaging::Before { before: None, limit }) = &mut query.paging
            && total > 0
            && *limit > 0
        {
            // The last page of the grid of `limit`-row pages: what follows the last whole one.
            *limit = u32::try_from((total - 1) % u64::from(*limit) + 1).unwrap_or(*limit);
        }
        let page = self.user_details_page(&mut *tx, &org, &tree, &query).await?;
        let catalog = tx.catalog(org.id).await?;
        let mut roles = self.read_roles(&mut *tx, org.id).await?.as_ref().clone();
        roles.sort_by(|a, b| b.builtin.cmp(&a.builtin).then_with(|| a.name.cmp(&b.name)));
        Ok(UsersScreen { page, total, catalog, roles, tree })
    }

    /// How many users `query`'s filters match: kept, or counted and kept (module docs).
    async fn total_of(&self, tx: &mut dyn Tx, org: OrgId, query: &UserQuery) -> ServiceResult<u64> {
        let position = tx.last_event_position(org).await?;
        let key = filters_key(query);
        let now = self.now();
        let kept = self.totals.get(org, position).filter(|t| now - t.counted_at < TOTAL_KEPT_FOR);
        if let Some(n) = kept.as_ref().and_then(|t| t.counts.get(&key)) {
            return Ok(*n);
        }
        let n = tx.count_users(query).await?;
        let mut totals = match kept {
            Some(t) if t.counts.len() < TOTALS_PER_ORG => t.as_ref().clone(),
            _ => Totals { counted_at: now, counts: HashMap::new() },
        };
        totals.counts.insert(key, n);
        self.totals.put(org, position, Arc::new(totals));
        Ok(n)
    }
}
