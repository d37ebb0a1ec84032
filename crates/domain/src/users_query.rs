//! The Users-table query (§10): filters, sorts and pages, as a specification that storage
//! adapters translate to SQL. [`UserQuery::matches`] and [`UserQuery::sort_key`] are the
//! reference semantics the in-memory store follows and the contract tests compare against.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{GroupId, OrgId, RoleId, UserId};
use crate::user::{StatusKind, User};
use crate::values::Key;

/// Columns the table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSortField {
    FirstName,
    LastName,
    Email,
    CreatedAt,
    AgentId,
    CrmId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSort {
    pub field: UserSortField,
    pub descending: bool,
}

/// A sortable value of one column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SortValue {
    /// Absent values sort first.
    Null,
    Text(String),
    Time(OffsetDateTime),
}

/// Keyset position: the sort values and id of the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCursor {
    pub values: Vec<SortValue>,
    pub id: UserId,
}

/// How a page is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserPaging {
    /// API clients: keyset, `limit` ≤ 200.
    Cursor { after: Option<UserCursor>, limit: u32 },
    /// The console: page number from 1 and a page size of 10, 25 or 50, with a total.
    Page { page: u32, per_page: u32 },
}

/// A Users-table request: filters, sort and paging for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    pub org_id: OrgId,
    pub statuses: BTreeSet<StatusKind>,
    pub role: Option<RoleId>,
    /// Users with a current membership in this group (deleted groups allowed).
    pub group: Option<GroupId>,
    /// `(product, held)`: users who hold (or do not hold) the product.
    pub product: Option<(Key, bool)>,
    /// Case-insensitive substring over names, email, nicknames, agent id, CRM id and phone.
    pub q: Option<String>,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub sort: Vec<UserSort>,
    pub paging: Option<UserPaging>,
    /// Whether the organization's trial runs now (status derivation needs it).
    pub in_trial: bool,
}

/// One page of users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub items: Vec<User>,
    pub next_cursor: Option<UserCursor>,
    /// Present for page-number paging.
    pub total: Option<u64>,
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
        }
    }

    /// The reference evaluation of the non-status text and date filters.
    pub fn matches_fields(&self, u: &User) -> bool {
        u.org_id == self.org_id
            && !u.is_deleted()
            && self.role.is_none_or(|r| u.roles.iter().any(|g| g.role_id == r))
            && self.created_from.is_none_or(|f| u.created_at >= f)
            && self.created_to.is_none_or(|t| u.created_at < t)
            && self.q.as_deref().is_none_or(|q| text_matches(u, q))
    }

    /// The sort values of a user for this query's sort (without the id tie-breaker).
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
