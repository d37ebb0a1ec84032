//! Who sees a connection (§7.2): the rule, its explanation, and the query specification that
//! storage adapters translate into SQL so that listing never filters a table in memory.
//!
//! [`can_see`] is the rule; [`ConnectionScope::matches`], what SQL adapters implement, agrees
//! with it on every viewer and connection (a property in `crates/domain/tests/rules/visibility.rs`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::actor::Actor;
use crate::connections::Connection;
use crate::error::{ServiceError, ServiceResult};
use crate::ids::{ConnectionId, GroupId, OrgId, UserId};
use crate::roles::Visibility;

/// The facts about a viewer the rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The member viewing.
    pub id: UserId,
    /// The widest visibility of the viewer's roles.
    pub visibility: Visibility,
    /// Current memberships ∪ extra group access, live groups only.
    pub groups: BTreeSet<GroupId>,
}

impl Viewer {
    /// The viewer behind an actor, if the actor is a member.
    pub fn of(actor: &Actor) -> Option<Self> {
        actor.user_id().map(|id| Self { id, visibility: actor.visibility(), groups: actor.view_groups().clone() })
    }

    /// The storage-side form of what this viewer may see.
    pub fn scope(&self) -> ConnectionScope {
        match self.visibility {
            Visibility::All => ConnectionScope::All,
            Visibility::Groups if self.groups.is_empty() => ConnectionScope::All,
            Visibility::Groups => ConnectionScope::Groups { viewer: self.id, groups: self.groups.clone() },
            Visibility::OwnInvites => ConnectionScope::Own { viewer: self.id },
        }
    }
}

/// By which rule a viewer sees a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRule {
    /// The viewer's visibility is `All`.
    All,
    /// The connection's stamp shares a group with the viewer's groups (named in `group_id`).
    Group,
    /// The viewer invited the connection.
    Inviter,
    /// The viewer is copied on the connection.
    Cc,
    /// The viewer's visibility is `Groups` and they have no group: they see every connection.
    Ungrouped,
}

/// The answer of `GET /connections/{id}/access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// Whether the viewer sees the connection.
    pub visible: bool,
    /// The first rule that grants it; `None` when the connection is hidden.
    pub rule: Option<AccessRule>,
    /// The group shared with the stamp, for the `group` rule only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<GroupId>,
}

impl Access {
    fn by(rule: AccessRule) -> Self {
        Self { visible: true, rule: Some(rule), group_id: None }
    }
}

/// Explains whether `viewer` sees `connection`, naming the first rule that grants it
/// (role visibility, inviter, cc, shared group, ungrouped).
pub fn explain(viewer: &Viewer, connection: &Connection) -> Access {
    if viewer.visibility == Visibility::All {
        return Access::by(AccessRule::All);
    }
    if connection.inviter_id == viewer.id {
        return Access::by(AccessRule::Inviter);
    }
    if connection.cc.contains(&viewer.id) {
        return Access::by(AccessRule::Cc);
    }
    if viewer.visibility == Visibility::Groups {
        if let Some(g) = connection.groups.intersection(&viewer.groups).next() {
            return Access { visible: true, rule: Some(AccessRule::Group), group_id: Some(*g) };
        }
        if viewer.groups.is_empty() {
            return Access::by(AccessRule::Ungrouped);
        }
    }
    Access { visible: false, rule: None, group_id: None }
}

/// Whether `viewer` sees `connection` (§7.2); the rule every listing and lookup must agree with.
pub fn can_see(viewer: &Viewer, connection: &Connection) -> bool {
    explain(viewer, connection).visible
}

/// What a viewer may see, in the form a storage adapter turns into a WHERE clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionScope {
    /// Everything in the organization.
    All,
    /// Connections stamped with one of `groups`, invited by `viewer`, or cc'ing `viewer`.
    Groups {
        /// The member viewing.
        viewer: UserId,
        /// The viewer's groups, never empty (an ungrouped viewer's scope is `All`).
        groups: BTreeSet<GroupId>,
    },
    /// Connections invited by `viewer` or cc'ing `viewer`.
    Own {
        /// The member viewing.
        viewer: UserId,
    },
}

impl ConnectionScope {
    /// The reference evaluation; SQL adapters must agree with it (contract tests check).
    pub fn matches(&self, c: &Connection) -> bool {
        match self {
            Self::All => true,
            Self::Groups { viewer, groups } => {
                c.inviter_id == *viewer || c.cc.contains(viewer) || !c.groups.is_disjoint(groups)
            }
            Self::Own { viewer } => c.inviter_id == *viewer || c.cc.contains(viewer),
        }
    }
}

/// Keyset position in the newest-first order `(created_at DESC, id DESC)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionCursor {
    /// The last seen connection's creation time.
    pub created_at: OffsetDateTime,
    /// The last seen connection's id, breaking ties between equal times.
    pub id: ConnectionId,
}

/// A page request for connections: organization, visibility scope, optional group filter,
/// keyset position and size. Results are ordered newest first, `id` breaking ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionQuery {
    /// The organization to list; no row of another is ever returned.
    pub org_id: OrgId,
    /// What the viewer may see (§7.2).
    pub scope: ConnectionScope,
    /// Only connections whose stamp contains this group (deleted groups allowed).
    pub group: Option<GroupId>,
    /// Only connections after this position in the newest-first order; from the newest when `None`.
    pub after: Option<ConnectionCursor>,
    /// At most this many connections; 1 to [`MAX_PAGE_SIZE`].
    pub limit: u32,
}

impl ConnectionQuery {
    /// The reference evaluation of every condition but the order and limit.
    pub fn matches(&self, c: &Connection) -> bool {
        c.org_id == self.org_id
            && self.scope.matches(c)
            && self.group.is_none_or(|g| c.groups.contains(&g))
            && self.after.is_none_or(|a| (c.created_at, c.id) < (a.created_at, a.id))
    }
}

/// The largest page a list may ask for (§10).
pub const MAX_PAGE_SIZE: u32 = 200;

/// Builds the query for `actor`, enforcing the group-filter rule 5 of §7.2: `All` members may
/// filter by any group (deleted included), others only by their own groups.
///
/// # Errors
/// `forbidden` for a group filter outside the viewer's groups; `validation_failed` for a limit
/// outside 1..=200.
pub fn query_for(
    actor: &Actor,
    group: Option<GroupId>,
    after: Option<ConnectionCursor>,
    limit: u32,
) -> ServiceResult<ConnectionQuery> {
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
            "limit",
            "out_of_range",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        )]));
    }
    let scope = match Viewer::of(actor) {
        // A member reads as themself; an API key as its creator (its visibility is the
        // creator's, narrowed by nothing wider); the operator and the workers read everything.
        Some(v) if !actor.is_system() => {
            if let Some(g) = group
                && v.visibility != Visibility::All
                && !v.groups.contains(&g)
            {
                return Err(ServiceError::forbidden("you may only filter by your own groups"));
            }
            v.scope()
        }
        _ => ConnectionScope::All,
    };
    Ok(ConnectionQuery { org_id: actor.org_id(), scope, group, after, limit })
}
