//! The Users-table query (§10): filters, sorts and pages, as a specification that storage
//! adapters translate to SQL. [`UserQuery::matches`], [`UserQuery::compare`] and
//! [`UserQuery::paginate`] are the reference semantics: the in-memory store is built from them
//! and the persistence contract suite (`roster_testkit::contract`) compares every store against them.
//!
//! # Notes for SQL adapters
//! - Text sorts and the `q` search compare Unicode lower-case forms (`str::to_lowercase`, not
//!   ASCII-only folding) in code-point order; SQLite's `lower()`/`LIKE` fold ASCII only, so
//!   store the lower-cased forms in columns of their own (with `COLLATE "C"` on PostgreSQL).
//! - `q` is a literal substring: `%`, `_` and `\` in it must be escaped in a `LIKE` pattern.
//!   It also matches the display name `"{first} {last}"`, across the two columns.
//! - Absent agent and CRM ids sort first ascending and last descending ([`SortValue::Null`]
//!   sorts below every text); PostgreSQL's default is the opposite (`NULLS LAST` ascending).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::groups::{Group, Membership};
use crate::ids::{GroupId, OrgId, RoleId, UserId};
use crate::roles::Role;
use crate::user::{StatusFacts, StatusKind, User, derive_status};
use crate::values::Key;

/// The longest `q` search, in characters: longer is `validation_failed` on `q`. A search is a
/// name, an address or an id someone types, never a page of text, and SQLite refuses a `LIKE`
/// pattern past 50,000 bytes.
pub const MAX_SEARCH_CHARS: usize = 256;

/// The role of a role filter: by id, or by key as a person or a script names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleFilter {
    /// A role of the organization by id; a store matches it directly.
    Id(RoleId),
    /// Resolved to [`RoleFilter::Id`] by the services, in the transaction of the use case,
    /// before the query reaches a store (an unknown key is `unknown_role` on `role`); a store
    /// that meets one anyway matches no user, as for an unknown id.
    Key(Key),
}

impl RoleFilter {
    /// This filter by id: an id stays, a key is looked up among the organization's `roles`.
    ///
    /// # Errors
    /// `unknown_role` on `role` for a key no role has.
    pub fn resolve(&self, roles: &[Role]) -> Result<Self, FieldError> {
        match self {
            Self::Id(id) => Ok(Self::Id(*id)),
            Self::Key(key) => {
                roles.iter().find(|r| r.key == *key).map(|r| Self::Id(r.id)).ok_or_else(|| unknown_role(key.as_str()))
            }
        }
    }

    /// The role id, once resolved.
    pub fn id(&self) -> Option<RoleId> {
        match self {
            Self::Id(id) => Some(*id),
            Self::Key(_) => None,
        }
    }
}

impl From<crate::roles::RoleRef> for RoleFilter {
    fn from(role: crate::roles::RoleRef) -> Self {
        match role {
            crate::roles::RoleRef::Id(id) => Self::Id(id),
            crate::roles::RoleRef::Key(key) => Self::Key(key),
        }
    }
}

/// The answer to a role filter naming no role of the organization.
pub fn unknown_role(named: &str) -> FieldError {
    FieldError::new("role", "unknown_role", format!("no role `{named}`"))
}

/// Columns the table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSortField {
    /// Given name, case-insensitively.
    FirstName,
    /// Family name, case-insensitively (with the first name, the default sort).
    LastName,
    /// Email address, case-insensitively.
    Email,
    /// When the user was created.
    CreatedAt,
    /// Agent id, case-insensitively; users without one sort first ascending.
    AgentId,
    /// CRM id, case-insensitively; users without one sort first ascending.
    CrmId,
}

/// One key of a sort (`sort=last_name,-created_at` gives two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSort {
    /// The column sorted by.
    pub field: UserSortField,
    /// Whether it sorts descending (`-field` on the wire).
    pub descending: bool,
}

/// A sortable value of one column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SortValue {
    /// Absent values sort first.
    Null,
    /// A text column's lower-cased value.
    Text(String),
    /// A time column's value.
    Time(OffsetDateTime),
}

/// Keyset position: the sort values and id of the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCursor {
    /// The values of the row's sort keys, in the query's sort order.
    pub values: Vec<SortValue>,
    /// The row's id, the final tie-breaker.
    pub id: UserId,
}

/// How a page is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserPaging {
    /// API clients: keyset, `limit` ≤ 200.
    Cursor {
        /// The position of the last row of the previous page; from the first row when `None`.
        after: Option<UserCursor>,
        /// At most this many rows.
        limit: u32,
    },
    /// The console: page number from 1 and a page size of 10, 25 or 50, with a total.
    Page {
        /// The page number, from 1 (0 counts as 1).
        page: u32,
        /// Rows per page.
        per_page: u32,
    },
}

/// A Users-table request: filters, sort and paging for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    /// The organization listed; no user of another is ever returned.
    pub org_id: OrgId,
    /// Users whose derived status is one of these (§3.1); empty means any status.
    pub statuses: BTreeSet<StatusKind>,
    /// Users holding the role, with any scope.
    pub role: Option<RoleFilter>,
    /// Users with a current membership in this group; for a deleted group, the users who were
    /// its members when it was deleted (see [`in_group_filter`]).
    pub group: Option<GroupId>,
    /// `(product, held)`: users who hold (or do not hold) the product.
    pub product: Option<(Key, bool)>,
    /// Case-insensitive substring over names, email, nicknames, agent id, CRM id and phone; at
    /// most [`MAX_SEARCH_CHARS`] characters ([`UserQuery::check`]).
    pub q: Option<String>,
    /// Users created at or after this time.
    pub created_from: Option<OffsetDateTime>,
    /// Users created before this time (exclusive).
    pub created_to: Option<OffsetDateTime>,
    /// The sort keys, first one first; empty means last name then first name. `id` always breaks
    /// ties.
    pub sort: Vec<UserSort>,
    /// How to cut a page; `None` answers every matching row (exports).
    pub paging: Option<UserPaging>,
    /// Whether the organization's trial runs now (status derivation needs it).
    pub in_trial: bool,
    /// The reader's coverage: `Some(groups)` keeps only the users a scoped administrator
    /// covers — those with at least one open membership, all of them in `groups`
    /// ([`Coverage::covers_user`](crate::actor::Coverage::covers_user); an ungrouped user is
    /// organization-level, covered by no scope). `None` (an org-wide reader) adds no condition
    /// at all. Set by the services from the actor, never from a client's input.
    pub within: Option<BTreeSet<GroupId>>,
}

/// What the Users table shows of a user beside their own row (`UserRepository::page_facts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPageFacts {
    /// The user the facts are about.
    pub user_id: UserId,
    /// The products the user holds.
    pub products: BTreeSet<Key>,
    /// The groups of the user's open memberships, deleted groups included (the caller keeps the
    /// live ones with the tree).
    pub open_groups: BTreeSet<GroupId>,
    /// Whether a scheduled change of the user is pending.
    pub pending_scheduled: bool,
}

/// One page of users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// The users of the page, in the query's order.
    pub items: Vec<User>,
    /// Cursor paging: the cursor of the last item, present exactly when more rows follow it.
    /// Always `None` for the other pagings.
    pub next_cursor: Option<UserCursor>,
    /// Page-number paging: the number of rows matching the filters, on every page (also past
    /// the last one). `None` for the other pagings.
    pub total: Option<u64>,
}

/// Whether `membership` puts its user in the result of a group filter on `group`: a current
/// membership of a live group, or, for a deleted group, a membership that ended when the group
/// was deleted (deleting a group ends its memberships at that instant, so those are the members
/// it had). In SQL: `m.group_id = g.id AND m.left_at IS NOT DISTINCT FROM g.deleted_at`.
pub fn in_group_filter(group: &Group, membership: &Membership) -> bool {
    membership.org_id == group.org_id && membership.group_id == group.id && membership.left_at == group.deleted_at
}

impl UserQuery {
    /// Every live user of `org_id`, default sort, no paging.
    pub fn new(org_id: OrgId) -> Self {
        Self {
            org_id,
            statuses: BTreeSet::new(),
            role: None,
            group: None,
            product: None,
            q: None,
            created_from: None,
            created_to: None,
            sort: Vec::new(),
            paging: None,
            in_trial: false,
            within: None,
        }
    }

    /// Checks what a face cannot: the `q` search is at most [`MAX_SEARCH_CHARS`] characters.
    /// The services check every query they are given.
    ///
    /// # Errors
    /// `too_long` on `q`.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        match &self.q {
            Some(q) if q.chars().count() > MAX_SEARCH_CHARS => Err(vec![FieldError::new(
                "q",
                "too_long",
                format!("the search is at most {MAX_SEARCH_CHARS} characters"),
            )]),
            _ => Ok(()),
        }
    }

    /// The reference evaluation of every filter. The facts kept outside the user row come as
    /// functions: `holds(product)` whether the user holds an assignment of the product,
    /// `in_group()` whether one of their memberships passes [`in_group_filter`] for
    /// `self.group` (only asked when there is a group filter), and `open_groups()` the groups
    /// of the user's open memberships (only asked when `within` is set).
    ///
    /// A status filter keeps users whose [`derive_status`] kind (with Core held from `holds`
    /// and the trial from `in_trial`) is one of `statuses`; deleted users never match.
    pub fn matches(
        &self,
        u: &User,
        holds: impl Fn(&Key) -> bool,
        in_group: impl FnOnce() -> bool,
        open_groups: impl FnOnce() -> BTreeSet<GroupId>,
    ) -> bool {
        self.matches_fields(u)
            && self.within.as_ref().is_none_or(|scope| within_scope(scope, &open_groups()))
            && (self.statuses.is_empty() || {
                let facts = StatusFacts::of(u, holds(&crate::catalog::Catalog::core_key()), self.in_trial);
                self.statuses.contains(&derive_status(&facts).kind())
            })
            && self.product.as_ref().is_none_or(|(key, held)| holds(key) == *held)
            && (self.group.is_none() || in_group())
    }

    /// Sorts the users that match every filter into this query's order and cuts the page that
    /// `paging` asks for:
    /// - none: every row, no cursor, no total;
    /// - `Cursor { after, limit }`: the first `limit` rows that sort strictly after `after`
    ///   (by [`UserQuery::compare_keys`]; the cursor need not be a row's), and the cursor of
    ///   the last of them when more rows follow;
    /// - `Page { page, per_page }`: rows `(page - 1) * per_page ..` (page 0 counts as 1), at
    ///   most `per_page`, and the total number of matching rows.
    pub fn paginate(&self, mut matching: Vec<User>) -> UserPage {
        matching.sort_by(|a, b| self.compare(a, b));
        match &self.paging {
            None => UserPage { items: matching, next_cursor: None, total: None },
            Some(UserPaging::Cursor { after, limit }) => {
                let size = usize::try_from(*limit).unwrap_or(usize::MAX);
                let mut rest: Vec<User> = match after {
                    None => matching,
                    Some(c) => matching
                        .into_iter()
                        .filter(|u| self.compare_keys(&self.sort_key(u), u.id, &c.values, c.id) == Ordering::Greater)
                        .collect(),
                };
                let more = rest.len() > size;
                rest.truncate(size);
                let next_cursor =
                    if more { rest.last().map(|u| UserCursor { values: self.sort_key(u), id: u.id }) } else { None };
                UserPage { items: rest, next_cursor, total: None }
            }
            Some(UserPaging::Page { page, per_page }) => {
                let per_page = usize::try_from(*per_page).unwrap_or(usize::MAX);
                let offset = usize::try_from(page.saturating_sub(1)).unwrap_or(usize::MAX).saturating_mul(per_page);
                let total = u64::try_from(matching.len()).unwrap_or(u64::MAX);
                let items = matching.into_iter().skip(offset).take(per_page).collect();
                UserPage { items, next_cursor: None, total: Some(total) }
            }
        }
    }

    /// The reference evaluation of the filters on the user row alone: organization, not
    /// deleted, role by id (held with any scope; a [`RoleFilter::Key`] matches nobody), created range (`from` inclusive, `to` exclusive)
    /// and the `q` text search.
    pub fn matches_fields(&self, u: &User) -> bool {
        u.org_id == self.org_id
            && !u.is_deleted()
            && self.role.as_ref().is_none_or(|r| r.id().is_some_and(|r| u.roles.iter().any(|g| g.role_id == r)))
            && self.created_from.is_none_or(|f| u.created_at >= f)
            && self.created_to.is_none_or(|t| u.created_at < t)
            && self.q.as_deref().is_none_or(|q| text_matches(u, q))
    }

    /// The sort values of a user for this query's sort (without the id tie-breaker): text
    /// columns lower-cased, absent ids as [`SortValue::Null`].
    pub fn sort_key(&self, u: &User) -> Vec<SortValue> {
        self.effective_sort().iter().map(|s| sort_value(u, s.field)).collect()
    }

    /// The sort, defaulting to last name then first name.
    pub fn effective_sort(&self) -> Vec<UserSort> {
        if self.sort.is_empty() {
            vec![
                UserSort { field: UserSortField::LastName, descending: false },
                UserSort { field: UserSortField::FirstName, descending: false },
            ]
        } else {
            self.sort.clone()
        }
    }

    /// Compares two users in this query's order, `id` ascending breaking ties.
    pub fn compare(&self, a: &User, b: &User) -> Ordering {
        self.compare_keys(&self.sort_key(a), a.id, &self.sort_key(b), b.id)
    }

    /// Compares sort keys in this query's order.
    pub fn compare_keys(&self, a: &[SortValue], a_id: UserId, b: &[SortValue], b_id: UserId) -> Ordering {
        for ((s, x), y) in self.effective_sort().iter().zip(a).zip(b) {
            let o = x.cmp(y);
            let o = if s.descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a_id.cmp(&b_id)
    }
}

/// Whether a user whose open memberships are in `groups` lies within a reader's `scope`: the
/// rule of [`Coverage::covers_user`](crate::actor::Coverage::covers_user) (open memberships are
/// always of live groups: deleting a group ends them).
pub fn within_scope(scope: &BTreeSet<GroupId>, groups: &BTreeSet<GroupId>) -> bool {
    !groups.is_empty() && groups.is_subset(scope)
}

fn sort_value(u: &User, field: UserSortField) -> SortValue {
    let text = |s: &str| SortValue::Text(s.to_lowercase());
    match field {
        UserSortField::FirstName => text(u.first_name.as_str()),
        UserSortField::LastName => text(u.last_name.as_str()),
        UserSortField::Email => text(u.email.as_str()),
        UserSortField::CreatedAt => SortValue::Time(u.created_at),
        UserSortField::AgentId => u.agent_id.as_ref().map_or(SortValue::Null, |a| text(a.as_str())),
        UserSortField::CrmId => u.crm_id.as_ref().map_or(SortValue::Null, |c| text(c.as_str())),
    }
}

/// The `q` search: the trimmed, lower-cased query is a substring of the lower-cased first name,
/// last name, display name, email, a nickname, the agent id, the CRM id or the phone. A blank
/// query matches everyone.
fn text_matches(u: &User, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    let hit = |s: &str| s.to_lowercase().contains(&q);
    hit(u.first_name.as_str())
        || hit(u.last_name.as_str())
        || hit(&u.display_name())
        || hit(u.email.as_str())
        || u.nicknames.iter().any(|n| hit(n.as_str()))
        || u.agent_id.as_ref().is_some_and(|a| hit(a.as_str()))
        || u.crm_id.as_ref().is_some_and(|c| hit(c.as_str()))
        || u.phone.as_ref().is_some_and(|p| hit(p.as_str()))
}
