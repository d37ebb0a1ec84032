//! The reference model of §7.2 "Who sees a connection", written from the spec text alone.
//!
//! It reads nothing but the raw rows of a store snapshot and uses none of the domain's rules
//! (no `GroupTree`, no `Actor`, no `visibility` module), so a mistake in the domain's rule, in
//! the way services resolve a viewer, or in the query specification the SQL adapters translate
//! shows up as a disagreement with it. It is deliberately naive: plain loops, no indexes.
//!
//! The spec sentences it encodes (SPEC §5, §6, §7.2):
//!
//! > A user has one or more roles; [...] effective visibility is the widest of their roles
//! > (All > Groups > OwnInvites).
//!
//! > The current groups of a user are their memberships with no `left_at` in live groups.
//!
//! > Per-user grants: [...] extra **group access** (groups whose records the user may see besides
//! > their memberships — the "roaming agent" case).
//!
//! > For viewer V and connection C (V's *groups* = current memberships ∪ extra group access):
//! > - V's visibility `All` → visible.
//! > - `Groups` → visible if V has no groups (ungrouped), or C.groups ∩ V.groups ≠ ∅, or V is C's
//! >   inviter, or V ∈ C.cc.
//! > - `OwnInvites` → visible if V is C's inviter or V ∈ C.cc.
//!
//! Two readings the spec leaves implicit, chosen as an admin would expect: extra group access
//! counts only for live groups (a deleted group shares nothing, as for memberships), and a role
//! grant limited to a group subtree still gives its role's visibility (scoping limits what the
//! holder *manages*, §5, not what they see).

use std::collections::BTreeSet;

use crate::MemoryState;
use roster_domain::connections::Connection;
use roster_domain::ids::{GroupId, UserId};
use roster_domain::roles::Visibility;

/// How wide a visibility is: OwnInvites < Groups < All ("the widest wins").
fn width(v: Visibility) -> u8 {
    match v {
        Visibility::OwnInvites => 0,
        Visibility::Groups => 1,
        Visibility::All => 2,
    }
}

/// The widest visibility among the roles the user holds; a user without roles sees only their
/// own invites (the narrowest).
pub fn visibility_of(state: &MemoryState, viewer: UserId) -> Visibility {
    let mut widest = Visibility::OwnInvites;
    let Some(user) = state.users.get(&viewer) else { return widest };
    for grant in &user.roles {
        if let Some(role) = state.roles.get(&grant.role_id)
            && width(role.visibility) > width(widest)
        {
            widest = role.visibility;
        }
    }
    widest
}

fn is_live_group(state: &MemoryState, group: GroupId) -> bool {
    state.groups.get(&group).is_some_and(|g| g.deleted_at.is_none())
}

/// V's groups: current memberships (no `left_at`, live group) ∪ extra group access (live group).
pub fn groups_of(state: &MemoryState, viewer: UserId) -> BTreeSet<GroupId> {
    let mut groups = BTreeSet::new();
    for m in &state.memberships {
        if m.user_id == viewer && m.left_at.is_none() && is_live_group(state, m.group_id) {
            groups.insert(m.group_id);
        }
    }
    if let Some(user) = state.users.get(&viewer) {
        for g in &user.group_access {
            if is_live_group(state, *g) {
                groups.insert(*g);
            }
        }
    }
    groups
}

/// Whether `viewer` sees `connection` under §7.2.
pub fn sees(state: &MemoryState, viewer: UserId, connection: &Connection) -> bool {
    let own = connection.inviter_id == viewer || connection.cc.contains(&viewer);
    match visibility_of(state, viewer) {
        Visibility::All => true,
        Visibility::Groups => {
            let groups = groups_of(state, viewer);
            let ungrouped = groups.is_empty();
            let shares_a_group = connection.groups.iter().any(|g| groups.contains(g));
            ungrouped || shares_a_group || own
        }
        Visibility::OwnInvites => own,
    }
}
