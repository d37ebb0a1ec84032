//! The Users-table query (§10): filters, sorts and pages, as a specification that storage
//! adapters translate to SQL. [`UserQuery::matches`], [`UserQuery::sort_key`],
//! [`UserQuery::compare_keys`] and [`UserQuery::paginate`] are the reference semantics: the
//! in-memory store is built from them and the persistence contract suite
//! (`roster_testkit::contract`) compares every store against them.
//!
//! # Notes for SQL adapters
//! - Text sorts and the `q` search compare Unicode lower-case forms (`str::to_lowercase`, not
//!   ASCII-only folding) in code-point order; SQLite's `lower()`/`LIKE` fold ASCII only, so
//!   store the lower-cased forms in columns of their own (with `COLLATE "C"` on PostgreSQL).
//! - `q` is a literal substring: `%`, `_` and `\` in it must be escaped in a `LIKE` pattern.
//!   It also matches the display name `"{first} {last}"`, across the two columns.
//! - Absent agent and CRM ids sort first ascending and last descending ([`SortValue::Null`]
//!   sorts below every text); PostgreSQL's default is the opposite (`NULLS LAST` ascending).
//! - Every column of the table sorts (§10): each [`UserSortField`] states its order, and
//!   [`UserQuery::sort_key`] computes it from the user and the [`SortFacts`] of other tables
//!   (licenses, roles, memberships, scheduled changes). The status sorts by [`status_rank`] of
//!   the derived status, never by a stored one. A list column (products, roles, teams) compares
//!   as [`list_sort_text`] does, which SQL can build with an ordered string aggregate.
//! - A cursor's values may be anything a client sends back (it is opaque, not signed): a store
//!   compares rows against values of another type than the column's by [`SortValue`]'s order.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::catalog::Catalog;
use crate::error::FieldError;
use crate::groups::{Group, Membership};
use crate::ids::{GroupId, OrgId, RoleId, UserId};
use crate::roles::Role;
use crate::user::{CallRecording, Homepage, MailboxProvider, StatusFacts, StatusKind, User, derive_status};
use crate::user_filter::UserFilter;
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

/// Columns the table sorts by (§10: "sort by any column"), each with its order. Text compares
/// its Unicode lower-case form in code-point order; an absent value sorts first ascending and
/// last descending; `false` sorts before `true`; `id` always breaks ties. The names are the
/// wire's ([`UserSortField::parse`], [`UserSortField::name`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserSortField {
    /// Given name, case-insensitively.
    FirstName,
    /// Family name, case-insensitively (with the first name, the default sort).
    LastName,
    /// Email address, case-insensitively.
    Email,
    /// When the user was created.
    CreatedAt,
    /// When the user last changed.
    UpdatedAt,
    /// Agent id, case-insensitively; users without one sort first ascending.
    AgentId,
    /// CRM id, case-insensitively; users without one sort first ascending.
    CrmId,
    /// Phone number as stored (`+` and digits), character by character; absent first.
    Phone,
    /// The dialer's ring number for the agent, as [`UserSortField::Phone`].
    AgentRingNumber,
    /// The user's provisioned dialer number, as [`UserSortField::Phone`].
    DialerNumber,
    /// The derived status (§3.1, never a stored one) by [`status_rank`]: the precedence of the
    /// spec's table — deactivated, invited, inactive, revoked, pending, active.
    Status,
    /// The products the user holds, as the cell lists them: their keys in order, compared key
    /// by key ([`list_sort_text`]) — no product first, then `core`, `core, dialer`,
    /// `core, dialer, sms`, `core, flow`, …
    Products,
    /// Whether the user holds this product (the "licenses yes/no per product" columns of §12):
    /// users without it first.
    Product(Key),
    /// The keys of the roles the user holds (any scope, each role once), compared as
    /// [`UserSortField::Products`]; a role the organization no longer has counts for nothing.
    Roles,
    /// The lower-case names ([`GroupName::key`](crate::values::GroupName::key)) of the groups
    /// of the user's open memberships (each name once), compared as [`UserSortField::Products`].
    Teams,
    /// When the user's soonest pending scheduled change takes effect (§3.1); users with none
    /// first.
    Scheduled,
    /// The mailbox provider by the name the API writes: `google`, `microsoft`, `none`.
    MailboxProvider,
    /// The daily email throttle, as a number.
    EmailThrottleMaxPerDay,
    /// Whether Flow is enabled.
    FlowEnabled,
    /// Whether email sync is on.
    EmailSync,
    /// Whether calendar sync is on.
    CalendarSync,
    /// Call recording by the name the API writes: `disabled`, `enforced`, `optional`.
    CallRecording,
    /// The homepage by the name the API writes: `default`, `leads`.
    Homepage,
    /// Whether the user takes part in round robin.
    RoundRobin,
    /// Whether the user's calls are scored.
    ScoringEnabled,
    /// Whether the user is a roaming agent.
    RoamingAgent,
    /// Where VoIP calls are forwarded, as [`UserSortField::Phone`].
    VoipForwardTo,
}

/// The prefix of a per-product sort name: `product:dialer` sorts by whether `dialer` is held.
pub const PRODUCT_SORT_PREFIX: &str = "product:";

impl UserSortField {
    /// Every field with a fixed name, in the order the documentation lists them (the
    /// per-product sorts, [`UserSortField::Product`], are named by [`PRODUCT_SORT_PREFIX`] and a
    /// product key).
    pub const FIXED: [Self; 26] = [
        Self::FirstName,
        Self::LastName,
        Self::Email,
        Self::CreatedAt,
        Self::UpdatedAt,
        Self::AgentId,
        Self::CrmId,
        Self::Phone,
        Self::AgentRingNumber,
        Self::DialerNumber,
        Self::Status,
        Self::Products,
        Self::Roles,
        Self::Teams,
        Self::Scheduled,
        Self::MailboxProvider,
        Self::EmailThrottleMaxPerDay,
        Self::FlowEnabled,
        Self::EmailSync,
        Self::CalendarSync,
        Self::CallRecording,
        Self::Homepage,
        Self::RoundRobin,
        Self::ScoringEnabled,
        Self::RoamingAgent,
        Self::VoipForwardTo,
    ];

    /// The field's name on the wire (`last_name`, `status`, `product:dialer`, …), which
    /// [`UserSortField::parse`] reads back.
    pub fn name(&self) -> String {
        let fixed = match self {
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Email => "email",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::AgentId => "agent_id",
            Self::CrmId => "crm_id",
            Self::Phone => "phone",
            Self::AgentRingNumber => "agent_ring_number",
            Self::DialerNumber => "dialer_number",
            Self::Status => "status",
            Self::Products => "products",
            Self::Product(key) => return format!("{PRODUCT_SORT_PREFIX}{key}"),
            Self::Roles => "roles",
            Self::Teams => "teams",
            Self::Scheduled => "scheduled",
            Self::MailboxProvider => "mailbox_provider",
            Self::EmailThrottleMaxPerDay => "email_throttle_max_per_day",
            Self::FlowEnabled => "flow_enabled",
            Self::EmailSync => "email_sync",
            Self::CalendarSync => "calendar_sync",
            Self::CallRecording => "call_recording",
            Self::Homepage => "homepage",
            Self::RoundRobin => "round_robin",
            Self::ScoringEnabled => "scoring_enabled",
            Self::RoamingAgent => "roaming_agent",
            Self::VoipForwardTo => "voip_forward_to",
        };
        fixed.to_owned()
    }

    /// The field a wire name names; `None` for a name that is no column's.
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(product) = name.strip_prefix(PRODUCT_SORT_PREFIX) {
            return Key::parse(product).ok().map(Self::Product);
        }
        Self::FIXED.into_iter().find(|f| f.name() == name)
    }

    /// Whether the field's value comes from facts outside the user's row ([`SortFacts`], and
    /// the trial for the status).
    pub fn reads_facts(&self) -> bool {
        matches!(self, Self::Status | Self::Products | Self::Product(_) | Self::Roles | Self::Teams | Self::Scheduled)
    }
}

impl fmt::Display for UserSortField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The rank by which the status column sorts: the precedence of §3.1's table — `deactivated`
/// 1, `invited` 2, `inactive` 3, `revoked` 4, `pending` 5, `active` 6 — so that ascending puts
/// the members who need an admin's attention first. A deleted user (never listed) ranks 0.
pub const fn status_rank(kind: StatusKind) -> i64 {
    match kind {
        StatusKind::Deleted => 0,
        StatusKind::Deactivated => 1,
        StatusKind::Invited => 2,
        StatusKind::Inactive => 3,
        StatusKind::Revoked => 4,
        StatusKind::Pending => 5,
        StatusKind::Active => 6,
    }
}

/// What ends each item in [`list_sort_text`]: below every character a listed name can hold.
pub const LIST_ITEM_END: char = '\u{1}';

/// A list sort value as one text that compares, code point by code point, exactly as the list
/// compares item by item (a list before its longer extensions, so the empty list first): each
/// item followed by [`LIST_ITEM_END`]. A store's SQL builds a row's text the same way (an
/// ordered string aggregate of `item || U+0001`), and compares a cursor's list as this text.
///
/// The items of a row (product and role keys, group names) never hold U+0000 or U+0001. A
/// cursor comes from a client and may hold anything: an item with such a character is cut
/// before it and closed with U+0002 instead, which keeps the text's order against every row's
/// (a row's item equal to the cut part sorts before it, one extending it after it), and the
/// rest of the list is dropped, since no row's text can tell it apart.
pub fn list_sort_text(items: &[String]) -> String {
    let mut out = String::new();
    for item in items {
        match item.find(|c: char| c <= LIST_ITEM_END) {
            None => {
                out.push_str(item);
                out.push(LIST_ITEM_END);
            }
            Some(cut) => {
                out.push_str(&item[..cut]);
                out.push('\u{2}');
                break;
            }
        }
    }
    out
}

/// The facts a row sorts by beside the user's own fields: what other tables hold about them
/// ([`UserSortField::reads_facts`]). A store that sorts by none of them may leave them empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortFacts {
    /// The products the user holds.
    pub products: BTreeSet<Key>,
    /// The keys of the roles the user holds, with any scope.
    pub roles: BTreeSet<Key>,
    /// The lower-case names of the groups of the user's open memberships.
    pub teams: BTreeSet<String>,
    /// When the user's soonest pending scheduled change takes effect.
    pub next_scheduled: Option<OffsetDateTime>,
}

/// One key of a sort (`sort=last_name,-created_at` gives two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSort {
    /// The column sorted by.
    pub field: UserSortField,
    /// Whether it sorts descending (`-field` on the wire).
    pub descending: bool,
}

/// A sortable value of one column. Values of different variants order by variant, in the
/// order declared (a column's rows all have one variant, or `Null` and one other).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SortValue {
    /// Absent values sort first.
    Null,
    /// A text column's lower-cased value.
    Text(String),
    /// A time column's value.
    Time(OffsetDateTime),
    /// A yes/no column's value: `false` first.
    Bool(bool),
    /// A number, or a rank ([`status_rank`]).
    Int(i64),
    /// A list column's items, in order, compared item by item ([`list_sort_text`]).
    List(Vec<String>),
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
    /// Walking back (the console's previous and last pages): the last `limit` rows that sort
    /// strictly before `before`, or the last `limit` rows of all when `None`, in the query's
    /// order.
    Before {
        /// The position of the first row of the following page; from the end when `None`.
        before: Option<UserCursor>,
        /// At most this many rows.
        limit: u32,
    },
    /// Page number from 1 with a total (`GET /users?page=`); a deep page costs its offset.
    Page {
        /// The page number, from 1 (0 counts as 1).
        page: u32,
        /// Rows per page.
        per_page: u32,
    },
    /// SCIM's `startIndex` and `count` (RFC 7644 §3.4.2.4): `offset` rows skipped, at most
    /// `limit` answered, with a total.
    Offset {
        /// Rows skipped (`startIndex - 1`).
        offset: u64,
        /// At most this many rows.
        limit: u32,
    },
}

impl UserPaging {
    /// The rows skipped and the most answered, for the paging that cuts by position and counts
    /// the total (`Page`, `Offset`); `None` for a cursor.
    pub fn window(&self) -> Option<(u64, u32)> {
        match self {
            Self::Cursor { .. } | Self::Before { .. } => None,
            Self::Page { page, per_page } => {
                Some((u64::from(page.saturating_sub(1)) * u64::from(*per_page), *per_page))
            }
            Self::Offset { offset, limit } => Some((*offset, *limit)),
        }
    }
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
    /// A condition over the user's own fields (what a SCIM filter becomes,
    /// `scim::users::user_filter`); `None` adds none.
    pub filter: Option<UserFilter>,
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
    /// Walking back: the cursor of the last item when the walk started before a row (rows
    /// followed it then). Always `None` for the other pagings.
    pub next_cursor: Option<UserCursor>,
    /// Walking back: the cursor of the first item, present exactly when more rows precede it.
    /// Cursor paging: the cursor of the first item when the page started after a row (rows
    /// preceded it then). Always `None` for the other pagings.
    pub previous_cursor: Option<UserCursor>,
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
            filter: None,
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
    /// - `Before { before, limit }`: the last `limit` rows that sort strictly before `before`
    ///   (all rows when `None`), in order, and the cursor of the first of them when more rows
    ///   precede;
    /// - `Page { page, per_page }`: rows `(page - 1) * per_page ..` (page 0 counts as 1), at
    ///   most `per_page`, and the total number of matching rows; `Offset` likewise from
    ///   `offset`.
    ///
    /// `facts` gives a user's [`SortFacts`]; it is asked only when the sort reads facts
    /// ([`UserSortField::reads_facts`]).
    pub fn paginate(&self, matching: Vec<User>, facts: impl Fn(&User) -> SortFacts) -> UserPage {
        let reads_facts = self.effective_sort().iter().any(|s| s.field.reads_facts());
        let mut keyed: Vec<(Vec<SortValue>, User)> = matching
            .into_iter()
            .map(|u| {
                let f = if reads_facts { facts(&u) } else { SortFacts::default() };
                (self.sort_key(&u, &f), u)
            })
            .collect();
        keyed.sort_by(|(a, x), (b, y)| self.compare_keys(a, x.id, b, y.id));
        let cursor = |(values, u): &(Vec<SortValue>, User)| UserCursor { values: values.clone(), id: u.id };
        let items = |rows: Vec<(Vec<SortValue>, User)>| rows.into_iter().map(|(_, u)| u).collect();
        match &self.paging {
            None => UserPage { items: items(keyed), next_cursor: None, previous_cursor: None, total: None },
            Some(UserPaging::Cursor { after, limit }) => {
                let size = usize::try_from(*limit).unwrap_or(usize::MAX);
                let mut rest: Vec<(Vec<SortValue>, User)> = match after {
                    None => keyed,
                    Some(c) => keyed
                        .into_iter()
                        .filter(|(key, u)| self.compare_keys(key, u.id, &c.values, c.id) == Ordering::Greater)
                        .collect(),
                };
                let more = rest.len() > size;
                rest.truncate(size);
                let next_cursor = if more { rest.last().map(cursor) } else { None };
                let previous_cursor = if after.is_some() { rest.first().map(cursor) } else { None };
                UserPage { items: items(rest), next_cursor, previous_cursor, total: None }
            }
            Some(UserPaging::Before { before, limit }) => {
                let size = usize::try_from(*limit).unwrap_or(usize::MAX);
                let mut rest: Vec<(Vec<SortValue>, User)> = match before {
                    None => keyed,
                    Some(c) => keyed
                        .into_iter()
                        .filter(|(key, u)| self.compare_keys(key, u.id, &c.values, c.id) == Ordering::Less)
                        .collect(),
                };
                let more = rest.len() > size;
                let rest = rest.split_off(rest.len().saturating_sub(size));
                let previous_cursor = if more { rest.first().map(cursor) } else { None };
                let next_cursor = if before.is_some() { rest.last().map(cursor) } else { None };
                UserPage { items: items(rest), next_cursor, previous_cursor, total: None }
            }
            Some(paging @ (UserPaging::Page { .. } | UserPaging::Offset { .. })) => {
                let (offset, per_page) = paging.window().unwrap_or((0, 0));
                let per_page = usize::try_from(per_page).unwrap_or(usize::MAX);
                let offset = usize::try_from(offset).unwrap_or(usize::MAX);
                let total = u64::try_from(keyed.len()).unwrap_or(u64::MAX);
                let items = keyed.into_iter().skip(offset).take(per_page).map(|(_, u)| u).collect();
                UserPage { items, next_cursor: None, previous_cursor: None, total: Some(total) }
            }
        }
    }

    /// The reference evaluation of the filters on the user row alone: organization, not
    /// deleted, role by id (held with any scope; a [`RoleFilter::Key`] matches nobody), created range (`from` inclusive, `to` exclusive)
    /// the `q` text search and the [`UserFilter`].
    pub fn matches_fields(&self, u: &User) -> bool {
        u.org_id == self.org_id
            && !u.is_deleted()
            && self.role.as_ref().is_none_or(|r| r.id().is_some_and(|r| u.roles.iter().any(|g| g.role_id == r)))
            && self.created_from.is_none_or(|f| u.created_at >= f)
            && self.created_to.is_none_or(|t| u.created_at < t)
            && self.q.as_deref().is_none_or(|q| text_matches(u, q))
            && self.filter.as_ref().is_none_or(|f| f.matches(u))
    }

    /// The sort values of a user for this query's sort (without the id tie-breaker), each by
    /// its [`UserSortField`]'s rule: text columns lower-cased, absent values as
    /// [`SortValue::Null`], the status derived with this query's trial flag and the Core
    /// license from `facts`.
    pub fn sort_key(&self, u: &User, facts: &SortFacts) -> Vec<SortValue> {
        self.effective_sort().iter().map(|s| sort_value(u, &s.field, facts, self.in_trial)).collect()
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

fn sort_value(u: &User, field: &UserSortField, facts: &SortFacts, in_trial: bool) -> SortValue {
    let text = |s: &str| SortValue::Text(s.to_lowercase());
    let opt = |v: Option<&str>| v.map_or(SortValue::Null, text);
    let names = |items: &mut dyn Iterator<Item = &str>| SortValue::List(items.map(str::to_owned).collect());
    let s = &u.settings;
    match field {
        UserSortField::FirstName => text(u.first_name.as_str()),
        UserSortField::LastName => text(u.last_name.as_str()),
        UserSortField::Email => text(u.email.as_str()),
        UserSortField::CreatedAt => SortValue::Time(u.created_at),
        UserSortField::UpdatedAt => SortValue::Time(u.updated_at),
        UserSortField::AgentId => opt(u.agent_id.as_ref().map(|a| a.as_str())),
        UserSortField::CrmId => opt(u.crm_id.as_ref().map(|c| c.as_str())),
        UserSortField::Phone => opt(u.phone.as_ref().map(|p| p.as_str())),
        UserSortField::AgentRingNumber => opt(u.agent_ring_number.as_ref().map(|p| p.as_str())),
        UserSortField::DialerNumber => opt(u.dialer_number.as_ref().map(|p| p.as_str())),
        UserSortField::VoipForwardTo => opt(s.voip_forward_to.as_ref().map(|p| p.as_str())),
        UserSortField::Status => {
            let status = derive_status(&StatusFacts::of(u, facts.products.contains(&Catalog::core_key()), in_trial));
            SortValue::Int(status_rank(status.kind()))
        }
        UserSortField::Products => names(&mut facts.products.iter().map(Key::as_str)),
        UserSortField::Product(key) => SortValue::Bool(facts.products.contains(key)),
        UserSortField::Roles => names(&mut facts.roles.iter().map(Key::as_str)),
        UserSortField::Teams => names(&mut facts.teams.iter().map(String::as_str)),
        UserSortField::Scheduled => facts.next_scheduled.map_or(SortValue::Null, SortValue::Time),
        UserSortField::MailboxProvider => text(mailbox_name(s.mailbox_provider)),
        UserSortField::EmailThrottleMaxPerDay => SortValue::Int(i64::from(s.email_throttle_max_per_day)),
        UserSortField::FlowEnabled => SortValue::Bool(s.flow_enabled),
        UserSortField::EmailSync => SortValue::Bool(s.email_sync),
        UserSortField::CalendarSync => SortValue::Bool(s.calendar_sync),
        UserSortField::CallRecording => text(call_recording_name(s.call_recording)),
        UserSortField::Homepage => text(homepage_name(s.homepage)),
        UserSortField::RoundRobin => SortValue::Bool(s.round_robin),
        UserSortField::ScoringEnabled => SortValue::Bool(s.scoring_enabled),
        UserSortField::RoamingAgent => SortValue::Bool(s.roaming_agent),
    }
}

/// The name the API writes for a mailbox provider (its `serde` name; a test keeps them equal).
fn mailbox_name(p: MailboxProvider) -> &'static str {
    match p {
        MailboxProvider::None => "none",
        MailboxProvider::Google => "google",
        MailboxProvider::Microsoft => "microsoft",
    }
}

/// The name the API writes for a call-recording setting.
fn call_recording_name(c: CallRecording) -> &'static str {
    match c {
        CallRecording::Optional => "optional",
        CallRecording::Enforced => "enforced",
        CallRecording::Disabled => "disabled",
    }
}

/// The name the API writes for a homepage.
fn homepage_name(h: Homepage) -> &'static str {
    match h {
        Homepage::Default => "default",
        Homepage::Leads => "leads",
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use time::Duration;

    use super::*;
    use crate::values::{Email, PersonName};

    #[test]
    fn every_sort_name_reads_back_as_its_field_and_no_other_name_is_a_column() {
        let mut names = BTreeSet::new();
        for field in UserSortField::FIXED {
            assert_eq!(UserSortField::parse(&field.name()), Some(field.clone()));
            assert!(names.insert(field.name()), "{field} named twice");
        }
        let dialer = UserSortField::Product(Key::parse("dialer").expect("a key"));
        assert_eq!(dialer.name(), "product:dialer");
        assert_eq!(UserSortField::parse("product:dialer"), Some(dialer));
        for name in
            ["", "id", "password", "Status", "product:", "product:Dialer", "products:core", "-status", "status "]
        {
            assert_eq!(UserSortField::parse(name), None, "{name:?}");
        }
    }

    #[test]
    fn the_settings_sort_by_the_names_the_api_writes() {
        let json = |v: serde_json::Value| v.as_str().map(str::to_owned);
        for p in [MailboxProvider::None, MailboxProvider::Google, MailboxProvider::Microsoft] {
            assert_eq!(json(serde_json::to_value(p).expect("serializes")).as_deref(), Some(mailbox_name(p)));
        }
        for c in [CallRecording::Optional, CallRecording::Enforced, CallRecording::Disabled] {
            assert_eq!(json(serde_json::to_value(c).expect("serializes")).as_deref(), Some(call_recording_name(c)));
        }
        for h in [Homepage::Default, Homepage::Leads] {
            assert_eq!(json(serde_json::to_value(h).expect("serializes")).as_deref(), Some(homepage_name(h)));
        }
    }

    #[test]
    fn the_status_ranks_follow_the_precedence_of_the_spec() {
        let order = [
            StatusKind::Deleted,
            StatusKind::Deactivated,
            StatusKind::Invited,
            StatusKind::Inactive,
            StatusKind::Revoked,
            StatusKind::Pending,
            StatusKind::Active,
        ];
        assert!(order.windows(2).all(|w| status_rank(w[0]) < status_rank(w[1])));
    }

    /// Items as a row holds them (no U+0000 or U+0001), from a small alphabet so that lists
    /// share prefixes often.
    fn row_item() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop::sample::select(vec!["a", "b", "é", " ", "_", "\u{2}", "z"]), 0..4)
            .prop_map(|parts| parts.concat())
    }

    /// Items a forged cursor may hold: anything, the separators included.
    fn any_item() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop::sample::select(vec!["a", "b", "\u{0}", "\u{1}", "\u{2}", "é", ""]), 0..4)
            .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn a_lists_sort_text_orders_as_the_list_against_any_cursor(
            row in proptest::collection::vec(row_item(), 0..4),
            other in proptest::collection::vec(row_item(), 0..4),
            cursor in proptest::collection::vec(any_item(), 0..4),
        ) {
            prop_assert_eq!(row.cmp(&other), list_sort_text(&row).cmp(&list_sort_text(&other)));
            prop_assert_eq!(row.cmp(&cursor), list_sort_text(&row).cmp(&list_sort_text(&cursor)));
        }
    }

    fn user(n: u8, bits: u32) -> (User, SortFacts) {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut u = User::new(
            UserId::from_uuid(uuid::Uuid::from_bytes([n; 16])),
            OrgId::from_uuid(uuid::Uuid::nil()),
            Email::parse(&format!("u{n}@example.com")).expect("valid"),
            PersonName::parse(["Ada", "Bob", "ada"][usize::from(n % 3)]).expect("valid"),
            PersonName::parse(["Lovelace", "Zed"][usize::from(n % 2)]).expect("valid"),
            BTreeSet::new(),
            t0 + Duration::hours(i64::from(bits % 3)),
        );
        let bit = |k: u32| bits & (1 << k) != 0;
        u.settings.flow_enabled = bit(0);
        u.settings.email_throttle_max_per_day = [300, 1, 1_800][usize::try_from(bits % 3).unwrap_or(0)];
        u.settings.call_recording = if bit(1) { CallRecording::Enforced } else { CallRecording::Disabled };
        u.lifecycle.invited = bit(2);
        u.lifecycle.deactivated_at = bit(3).then_some(t0);
        u.lifecycle.crm_connected = bit(4);
        u.lifecycle.mailbox_connected = bit(5);
        u.lifecycle.ever_held_core = bit(6);
        let key = |k: &str| Key::parse(k).expect("a key");
        let mut facts = SortFacts::default();
        for (k, product) in ["core", "dialer", "flow"].into_iter().enumerate() {
            if bit(7 + u32::try_from(k).unwrap_or(0)) {
                facts.products.insert(key(product));
            }
        }
        if bit(10) {
            facts.roles.insert(key("admin"));
        }
        if bit(11) {
            facts.teams.insert("east".to_owned());
        }
        facts.next_scheduled = bit(12).then_some(t0 + Duration::days(i64::from(bits % 5)));
        (u, facts)
    }

    fn sort_field() -> impl Strategy<Value = UserSortField> {
        let mut fields = UserSortField::FIXED.to_vec();
        fields.push(UserSortField::Product(Key::parse("dialer").expect("a key")));
        prop::sample::select(fields)
    }

    proptest! {
        /// For any sort, following `next_cursor` from the first page visits every user once,
        /// in the order of `compare_keys`, whatever the page size.
        #[test]
        fn a_cursor_walk_visits_every_user_once_in_order_for_any_sort(
            people in proptest::collection::vec(any::<u32>(), 1..25),
            fields in proptest::collection::vec((sort_field(), any::<bool>()), 0..3),
            limit in 1_u32..6,
            in_trial in any::<bool>(),
        ) {
            let rows: BTreeMap<UserId, (User, SortFacts)> = people
                .iter()
                .enumerate()
                .map(|(n, bits)| user(u8::try_from(n).unwrap_or(0), *bits))
                .map(|(u, f)| (u.id, (u, f)))
                .collect();
            let mut query = UserQuery::new(OrgId::from_uuid(uuid::Uuid::nil()));
            query.in_trial = in_trial;
            for (field, descending) in fields {
                if query.sort.iter().all(|s| s.field != field) {
                    query.sort.push(UserSort { field, descending });
                }
            }
            let facts = |u: &User| rows[&u.id].1.clone();
            let users: Vec<User> = rows.values().map(|(u, _)| u.clone()).collect();
            let everyone = query.paginate(users.clone(), facts).items;
            prop_assert_eq!(everyone.len(), users.len());
            let key = |u: &User| query.sort_key(u, &facts(u));
            prop_assert!(everyone.windows(2).all(|p| query.compare_keys(&key(&p[0]), p[0].id, &key(&p[1]), p[1].id).is_lt()));
            let mut walked = Vec::new();
            let mut after = None;
            loop {
                query.paging = Some(UserPaging::Cursor { after: after.take(), limit });
                let page = query.paginate(users.clone(), facts);
                walked.extend(page.items);
                match page.next_cursor {
                    Some(c) => after = Some(c),
                    None => break,
                }
                prop_assert!(walked.len() <= users.len());
            }
            prop_assert_eq!(walked, everyone);
        }
    }

    #[test]
    fn the_status_sorts_by_its_rank_and_the_settings_by_their_rules() {
        let (mut a, mut fa) = user(1, 0);
        let (mut b, fb) = user(2, 0);
        let query = |field: UserSortField| UserQuery {
            sort: vec![UserSort { field, descending: false }],
            ..UserQuery::new(OrgId::from_uuid(uuid::Uuid::nil()))
        };
        // `a` holds Core with onboarding done (active), `b` never held it (inactive: no license).
        fa.products.insert(Key::parse("core").expect("a key"));
        a.lifecycle.crm_connected = true;
        a.lifecycle.mailbox_connected = true;
        let status = query(UserSortField::Status);
        assert_eq!(status.sort_key(&a, &fa), [SortValue::Int(status_rank(StatusKind::Active))]);
        assert_eq!(status.sort_key(&b, &fb), [SortValue::Int(status_rank(StatusKind::Inactive))]);
        // In the trial everyone is entitled: `b` becomes pending.
        let trial = UserQuery { in_trial: true, ..status };
        assert_eq!(trial.sort_key(&b, &fb), [SortValue::Int(status_rank(StatusKind::Pending))]);
        a.settings.mailbox_provider = MailboxProvider::Google;
        b.settings.voip_forward_to = None;
        assert_eq!(query(UserSortField::MailboxProvider).sort_key(&a, &fa), [SortValue::Text("google".into())]);
        assert_eq!(query(UserSortField::VoipForwardTo).sort_key(&b, &fb), [SortValue::Null]);
        assert_eq!(query(UserSortField::Products).sort_key(&a, &fa), [SortValue::List(vec!["core".into()])]);
        assert_eq!(query(UserSortField::Products).sort_key(&b, &fb), [SortValue::List(vec![])]);
        assert!(SortValue::Bool(false) < SortValue::Bool(true));
        assert!(SortValue::List(vec![]) < SortValue::List(vec!["core".into()]));
        assert!(SortValue::List(vec!["core".into(), "flow".into()]) < SortValue::List(vec!["dialer".into()]));
    }
}
