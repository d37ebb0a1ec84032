//! The SCIM face's reads of members (§13): the `GET /Users` query (a SCIM filter already made
//! a [`UserFilter`], `startIndex`/`count`, a sort) and one member by id. Both need the `scim`
//! permission over the whole organization, which an identity provider's API key holds.

use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::ids::UserId;
use crate::roles::Permission;
use crate::user::User;
use crate::user_filter::UserFilter;
use crate::users_query::{UserPaging, UserQuery, UserSort, UserSortField};

use super::Services;

/// The members a SCIM list answers, and how many match in all (`totalResults`).
#[derive(Debug, Clone)]
pub struct ScimUserPage {
    /// The members from `startIndex`, at most `count`.
    pub items: Vec<User>,
    /// Every member the filter matches.
    pub total: u64,
}

/// `GET /Users`: what to list.
#[derive(Debug, Clone)]
pub struct ScimUserList {
    /// The filter, translated; `None` for every member.
    pub filter: Option<UserFilter>,
    /// Members skipped (`startIndex - 1`).
    pub offset: u64,
    /// At most this many answered (`count`).
    pub limit: u32,
    /// The sort (`sortBy`, `sortOrder`); `None` orders by creation, then id, so that pages
    /// stay stable while an identity provider walks them.
    pub sort: Option<UserSort>,
}

impl Services {
    /// The members a SCIM filter selects, a window of them by position, and their total.
    ///
    /// # Errors
    /// `forbidden` without `scim` over the whole organization.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_list_users(&self, actor: &Actor, list: ScimUserList) -> ServiceResult<ScimUserPage> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin_read().await?;
        let org = tx.org(actor.org_id()).await?.ok_or(ServiceError::not_found("organization"))?;
        let mut query = UserQuery::new(org.id);
        query.filter = list.filter;
        query.sort = vec![list.sort.unwrap_or(UserSort { field: UserSortField::CreatedAt, descending: false })];
        query.paging = Some(UserPaging::Offset { offset: list.offset, limit: list.limit });
        query.in_trial = org.in_trial(self.now());
        let page = tx.list_users(&query).await?;
        Ok(ScimUserPage { items: page.items, total: page.total.unwrap_or(0) })
    }

    /// One member of the organization, not deleted.
    ///
    /// # Errors
    /// `forbidden` without `scim` over the whole organization; `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn scim_user(&self, actor: &Actor, id: UserId) -> ServiceResult<User> {
        actor.require_org_wide(Permission::Scim)?;
        let mut tx = self.begin_read().await?;
        match tx.user(actor.org_id(), id).await? {
            Some(user) if !user.is_deleted() => Ok(user),
            _ => Err(ServiceError::not_found("user")),
        }
    }
}
