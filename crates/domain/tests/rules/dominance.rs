//! The rule of dominance (§5), by property: authorities built from random role grants over the
//! sample tree. Whatever an actor may give piece by piece, the sum of it stays within what the
//! actor holds; an impersonating session holds no more than either member.

use std::collections::BTreeSet;

use proptest::prelude::*;
use roster_domain::actor::{Authority, Coverage};
use roster_domain::ids::GroupId;
use roster_domain::roles::{BUILTIN_ROLES, Permission, Role, RoleGrant};

use crate::support::{EAST, OLD, ROOT, SALES, SUPPORT, WEST, actor_of, builtin_roles, sample_tree, user, user_id};

const SCOPES: [Option<GroupId>; 6] = [None, Some(ROOT), Some(SALES), Some(EAST), Some(WEST), Some(SUPPORT)];

fn grants() -> impl Strategy<Value = BTreeSet<RoleGrant>> {
    let roles = builtin_roles();
    proptest::collection::btree_set((0..BUILTIN_ROLES.len(), 0..SCOPES.len()), 0..4).prop_map(move |picks| {
        picks.into_iter().map(|(r, s)| RoleGrant { role_id: roles[r].id, scope: SCOPES[s] }).collect()
    })
}

fn extra() -> impl Strategy<Value = BTreeSet<Permission>> {
    proptest::collection::btree_set(proptest::sample::select(Permission::GRANTABLE.to_vec()), 0..3)
}

fn authority(grants: &BTreeSet<RoleGrant>, extra: &BTreeSet<Permission>) -> Authority {
    Authority::of_grants(grants, extra, &builtin_roles(), &sample_tree())
}

fn coverage_of(scope: Option<GroupId>) -> Coverage {
    scope.map_or(Coverage::Org, |g| Coverage::Groups(sample_tree().subtree(g)))
}

fn role(i: usize) -> Role {
    builtin_roles().swap_remove(i)
}

proptest! {
    #[test]
    fn dominance_is_a_preorder(a in grants(), b in grants(), c in grants(), x in extra()) {
        let (a, b, c) = (authority(&a, &x), authority(&b, &BTreeSet::new()), authority(&c, &BTreeSet::new()));
        prop_assert!(a.dominates(&a));
        if a.dominates(&b) && b.dominates(&c) {
            prop_assert!(a.dominates(&c));
        }
        prop_assert_eq!(a.dominates(&b), a.shortfall(&b).is_none());
    }

    #[test]
    fn an_intersection_holds_no_more_than_either_side(a in grants(), b in grants(), x in extra(), y in extra()) {
        let (a, b) = (authority(&a, &x), authority(&b, &y));
        let both = a.intersect(&b);
        prop_assert!(a.dominates(&both));
        prop_assert!(b.dominates(&both));
        prop_assert_eq!(both.clone(), b.intersect(&a));
        // And it is the largest such: whatever both sides cover, the intersection covers.
        let none = Authority::none();
        prop_assert!(both.dominates(&none));
    }

    /// Giving roles one at a time, each within the actor's authority, never adds up to more
    /// than the actor holds — whatever the target held before, as long as the actor covered it.
    #[test]
    fn what_an_actor_may_give_piece_by_piece_stays_within_the_actor(
        actor_grants in grants(),
        actor_extra in extra(),
        keep in any::<u8>(),
        given in proptest::collection::vec((0..BUILTIN_ROLES.len(), 0..SCOPES.len()), 0..4),
        given_extra in extra(),
    ) {
        let actor = authority(&actor_grants, &actor_extra);
        // A target the actor covers: some of the actor's own grants.
        let target_grants: BTreeSet<RoleGrant> =
            actor_grants.iter().enumerate().filter(|(i, _)| keep & (1 << i) != 0).map(|(_, g)| g.clone()).collect();
        prop_assert!(actor.dominates(&authority(&target_grants, &BTreeSet::new())));
        let mut result = target_grants.clone();
        for (r, s) in given {
            let role = role(r);
            if actor.dominates(&Authority::of_role(&role, &coverage_of(SCOPES[s]))) {
                result.insert(RoleGrant { role_id: role.id, scope: SCOPES[s] });
            }
        }
        let extra_given = Authority::of_permissions(&given_extra, roster_domain::roles::Visibility::OwnInvites);
        let extra = if actor.dominates(&extra_given) { given_extra } else { BTreeSet::new() };
        prop_assert!(actor.dominates(&authority(&result, &extra)));
    }

    #[test]
    fn an_impersonating_session_holds_no_more_than_either_member(a in grants(), b in grants()) {
        let mut target = user(user_id(1));
        target.roles = a;
        let mut impersonator = user(user_id(2));
        impersonator.roles = b;
        let (target, impersonator) = (actor_of(&target, &[EAST]), actor_of(&impersonator, &[OLD]));
        let session = target.clone().held_to(&impersonator);
        prop_assert!(target.authority().dominates(session.authority()));
        prop_assert!(impersonator.authority().dominates(session.authority()));
    }
}

#[test]
fn a_scoped_grant_covers_its_subtree_and_not_the_organization() {
    let sales = coverage_of(Some(SALES));
    assert!(Coverage::Org.contains(&sales));
    assert!(!sales.contains(&Coverage::Org));
    assert!(sales.contains(&coverage_of(Some(EAST))));
    assert!(!coverage_of(Some(EAST)).contains(&sales));
    assert_eq!(coverage_of(Some(EAST)).intersect(&coverage_of(Some(SUPPORT))), None);
}
