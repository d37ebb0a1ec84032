//! The invariants of SPEC §14, checked on the raw rows of a store snapshot.
//!
//! The checker reads the committed state directly rather than asking the services, so a service
//! that reports one thing and stores another is caught. Each violation names the invariant it
//! breaks; the corruption tests in `state_machine.rs` prove each one can fire on its own.

use std::collections::BTreeSet;
use std::fmt;

use crate::MemoryState;
use roster_domain::actor::{Actor, Authority};
use roster_domain::audit::Source;
use roster_domain::connections::Connection;
use roster_domain::groups::{GroupTree, Membership, current_groups};
use roster_domain::ids::{ConnectionId, OrgId, UserId};
use roster_domain::roles::{ADMIN_ROLE_KEY, Role};
use roster_domain::user::User;
use roster_domain::visibility::Viewer;

use super::reference;

/// The invariants the state machine checks after every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    /// §4.2: seats_used ≤ seats_total for every pool.
    SeatsWithinTotal,
    /// §4.2: seats_used = current assignments + seats reserved by pending invites.
    SeatBookkeeping,
    /// §3.1, §4.3: a deactivated or deleted user holds no license.
    NoLicenseWithoutAccess,
    /// §3.1: the organization keeps at least one active admin.
    ActiveAdmin,
    /// §6: live groups sit at depth 1 (the root) to 3, one below a live parent.
    GroupDepth,
    /// §7.2: the domain's `can_see` agrees with the reference model.
    CanSee,
    /// §7.2: the connections a member lists are exactly those the reference model shows them.
    Listing,
    /// §7.2: the members `GET /connections/{id}/viewers` names are exactly those the reference
    /// model lets see the connection.
    Viewers,
    /// §5 dominance: no operation gives a member (the actor included) authority that the
    /// acting member did not hold.
    Dominance,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.invariant, self.detail)
    }
}

fn violation(invariant: Invariant, detail: String) -> Violation {
    Violation { invariant, detail }
}

/// The invariants broken by `violations`, without repeats.
pub fn broken(violations: &[Violation]) -> BTreeSet<Invariant> {
    violations.iter().map(|v| v.invariant).collect()
}

/// Checks every invariant but `Listing` (which needs the services, see [`check_listing`]).
/// `can_see` is the visibility rule under test: `roster_domain::visibility::can_see` in the
/// property test, a deliberately broken one in the test that proves the check can fail.
pub fn check(state: &MemoryState, org: OrgId, can_see: impl Fn(&Viewer, &Connection) -> bool) -> Vec<Violation> {
    let mut out = Vec::new();
    check_seats(state, org, &mut out);
    check_licenses(state, org, &mut out);
    check_admins(state, org, &mut out);
    check_groups(state, org, &mut out);
    check_visibility(state, org, &can_see, &mut out);
    out
}

fn check_seats(state: &MemoryState, org: OrgId, out: &mut Vec<Violation>) {
    for pool in state.seat_pools.values().filter(|p| p.org_id() == org) {
        if pool.seats_used() > pool.seats_total() {
            out.push(violation(
                Invariant::SeatsWithinTotal,
                format!("{}: {} seats used of {}", pool.product(), pool.seats_used(), pool.seats_total()),
            ));
        }
        let assigned = state.licenses.values().filter(|l| l.org_id == org && l.product == *pool.product()).count();
        let reserved = state.reservations.values().filter(|r| r.org_id == org && r.product == *pool.product()).count();
        if usize::try_from(pool.seats_used()).ok() != Some(assigned + reserved) {
            out.push(violation(
                Invariant::SeatBookkeeping,
                format!(
                    "{}: seats_used is {} but {assigned} assignments + {reserved} reservations exist",
                    pool.product(),
                    pool.seats_used()
                ),
            ));
        }
    }
}

fn check_licenses(state: &MemoryState, org: OrgId, out: &mut Vec<Violation>) {
    for license in state.licenses.values().filter(|l| l.org_id == org) {
        match state.users.get(&license.user_id) {
            Some(u) if u.lifecycle.deactivated_at.is_some() || u.lifecycle.deleted_at.is_some() => out.push(violation(
                Invariant::NoLicenseWithoutAccess,
                format!("{} holds {} while deactivated or deleted", u.email, license.product),
            )),
            Some(_) => {}
            None => out.push(violation(
                Invariant::NoLicenseWithoutAccess,
                format!("{} is held by a user who does not exist", license.product),
            )),
        }
    }
}

fn check_admins(state: &MemoryState, org: OrgId, out: &mut Vec<Violation>) {
    let admin_roles: BTreeSet<_> = state
        .roles
        .values()
        .filter(|r| r.org_id == org && r.builtin && r.key.as_str() == ADMIN_ROLE_KEY)
        .map(|r| r.id)
        .collect();
    let active_admin = |u: &User| {
        let l = &u.lifecycle;
        l.deactivated_at.is_none()
            && l.deleted_at.is_none()
            && !l.invited
            && u.roles.iter().any(|g| g.scope.is_none() && admin_roles.contains(&g.role_id))
    };
    if !state.users.values().any(|u| u.org_id == org && active_admin(u)) {
        out.push(violation(Invariant::ActiveAdmin, "no user holds the admin role org-wide and can act".into()));
    }
}

fn check_groups(state: &MemoryState, org: OrgId, out: &mut Vec<Violation>) {
    for g in state.groups.values().filter(|g| g.org_id == org && g.deleted_at.is_none()) {
        let expected = match g.parent_id {
            None => Some(1),
            Some(p) => state.groups.get(&p).filter(|p| p.deleted_at.is_none()).map(|p| p.depth + 1),
        };
        if g.depth > 3 || expected != Some(g.depth) {
            out.push(violation(
                Invariant::GroupDepth,
                format!("group {} is at depth {}, expected {expected:?} from its parent (at most 3)", g.name, g.depth),
            ));
        }
    }
}

/// The members whose view is checked: not deleted and not deactivated.
pub fn viewers(state: &MemoryState, org: OrgId) -> impl Iterator<Item = &User> {
    state
        .users
        .values()
        .filter(move |u| u.org_id == org && u.lifecycle.deleted_at.is_none() && u.lifecycle.deactivated_at.is_none())
}

/// The viewer as the services build it (`Actor::for_user` from the user's roles, current
/// groups and the group tree), from the snapshot's rows.
pub fn domain_viewer(state: &MemoryState, org: OrgId, user: &User) -> Viewer {
    let roles: Vec<Role> = state.roles.values().filter(|r| r.org_id == org).cloned().collect();
    let tree = GroupTree::new(state.groups.values().filter(|g| g.org_id == org).cloned());
    let memberships: Vec<Membership> = state.memberships.iter().filter(|m| m.user_id == user.id).cloned().collect();
    let actor = Actor::for_user(user, &roles, current_groups(&memberships, &tree), &tree, Source::Console, None);
    Viewer::of(&actor).expect("a member's actor has a viewer")
}

fn check_visibility(
    state: &MemoryState,
    org: OrgId,
    can_see: &impl Fn(&Viewer, &Connection) -> bool,
    out: &mut Vec<Violation>,
) {
    for user in viewers(state, org) {
        let viewer = domain_viewer(state, org, user);
        for c in state.connections.values().filter(|c| c.org_id == org) {
            let domain = can_see(&viewer, c);
            let spec = reference::sees(state, user.id, c);
            if domain != spec {
                out.push(violation(
                    Invariant::CanSee,
                    format!(
                        "{} {} (visibility {:?}, groups {:?}) on connection {} stamped {:?} by {} cc {:?}: domain says {domain}, spec says {spec}",
                        user.email, user.id, viewer.visibility, viewer.groups, c.id, c.groups, c.inviter_id, c.cc
                    ),
                ));
            }
        }
    }
}

/// The connections of `org` the reference model shows `viewer`.
pub fn expected_listing(state: &MemoryState, org: OrgId, viewer: UserId) -> BTreeSet<ConnectionId> {
    state.connections.values().filter(|c| c.org_id == org && reference::sees(state, viewer, c)).map(|c| c.id).collect()
}

/// Compares what `viewer` listed through the services with the reference model.
pub fn check_listing(
    state: &MemoryState,
    org: OrgId,
    viewer: UserId,
    listed: &BTreeSet<ConnectionId>,
) -> Option<Violation> {
    let expected = expected_listing(state, org, viewer);
    if &expected == listed {
        return None;
    }
    let missing: Vec<_> = expected.difference(listed).collect();
    let extra: Vec<_> = listed.difference(&expected).collect();
    Some(violation(
        Invariant::Listing,
        format!("user {viewer} lists {} connections; missing {missing:?}, unexpected {extra:?}", listed.len()),
    ))
}

/// Compares the viewers the services name for `connection` with the reference model. The list
/// names members who can sign in: an invitee has not joined yet.
pub fn check_viewers(
    state: &MemoryState,
    org: OrgId,
    connection: &Connection,
    named: &BTreeSet<UserId>,
) -> Option<Violation> {
    let expected: BTreeSet<UserId> = viewers(state, org)
        .filter(|u| !u.lifecycle.invited && reference::sees(state, u.id, connection))
        .map(|u| u.id)
        .collect();
    if &expected == named {
        return None;
    }
    let missing: Vec<_> = expected.difference(named).collect();
    let extra: Vec<_> = named.difference(&expected).collect();
    Some(violation(
        Invariant::Viewers,
        format!(
            "connection {} names {} viewers; missing {missing:?}, unexpected {extra:?}",
            connection.id,
            named.len()
        ),
    ))
}

/// The authority a user's grants give them in `state`'s tree and roles; a deleted or
/// deactivated user has none (an invitee's grants already count: they were given at the
/// invite).
fn authority_in(state: &MemoryState, org: OrgId, user: &User) -> Authority {
    if user.lifecycle.deleted_at.is_some() || user.lifecycle.deactivated_at.is_some() {
        return Authority::none();
    }
    let roles: Vec<Role> = state.roles.values().filter(|r| r.org_id == org).cloned().collect();
    let tree = GroupTree::new(state.groups.values().filter(|g| g.org_id == org).cloned());
    Authority::of_user(user, &roles, &tree)
}

/// Checks one operation of `actor` against the rule of dominance: every member whose
/// authority grew from `before` to `after` may now hold only what `actor` held. Both sides are
/// measured with `after`'s roles and tree, so that a group move (which changes what a scoped
/// grant covers, not who holds it) is not mistaken for a grant.
pub fn check_dominance(before: &MemoryState, after: &MemoryState, org: OrgId, actor: &Authority) -> Vec<Violation> {
    let mut out = Vec::new();
    for user in after.users.values().filter(|u| u.org_id == org) {
        let now = authority_in(after, org, user);
        let then = before.users.get(&user.id).map_or_else(Authority::none, |u| authority_in(after, org, u));
        if then.dominates(&now) {
            continue;
        }
        if let Some(shortfall) = actor.shortfall(&now) {
            out.push(violation(
                Invariant::Dominance,
                format!("user {} gained authority the actor lacks ({shortfall:?})", user.id),
            ));
        }
    }
    out
}
