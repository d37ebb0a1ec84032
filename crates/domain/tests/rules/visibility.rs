//! Who sees a connection (§7.2): the rule, its explanation, and the query specification
//! storage adapters translate into SQL.

use std::collections::BTreeSet;

use proptest::prelude::*;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::error::ErrorCode;
use roster_domain::ids::{GroupId, UserId};
use roster_domain::roles::Visibility;
use roster_domain::visibility::{
    Access, AccessRule, ConnectionCursor, ConnectionQuery, ConnectionScope, MAX_PAGE_SIZE, Viewer, can_see, explain,
    query_for,
};

use crate::support::{
    EAST, OLD, ORG, OTHER_ORG, SALES, SUPPORT, T0, WEST, actor_of, code_of, connection, grant, group_id,
    invalid_fields, user, user_id,
};

fn viewer(visibility: Visibility, groups: &[GroupId]) -> Viewer {
    Viewer { id: user_id(1), visibility, groups: groups.iter().copied().collect() }
}

fn inviter() -> UserId {
    user_id(2)
}

fn access(rule: AccessRule) -> Access {
    Access { visible: true, rule: Some(rule), group_id: None }
}

const HIDDEN: Access = Access { visible: false, rule: None, group_id: None };

// ---------------------------------------------------------------------------------------------
// The rule and its explanation
// ---------------------------------------------------------------------------------------------

#[test]
fn an_all_member_sees_every_connection() {
    let v = viewer(Visibility::All, &[EAST]);
    assert_eq!(explain(&v, &connection(1, inviter(), &[SUPPORT], &[])), access(AccessRule::All));
    assert_eq!(explain(&v, &connection(2, inviter(), &[], &[])), access(AccessRule::All));
}

#[test]
fn a_groups_member_sees_a_connection_stamped_with_one_of_their_groups() {
    let v = viewer(Visibility::Groups, &[EAST, SUPPORT]);
    let a = explain(&v, &connection(1, inviter(), &[SUPPORT, WEST], &[]));
    assert_eq!(a, Access { visible: true, rule: Some(AccessRule::Group), group_id: Some(SUPPORT) });
}

#[test]
fn a_groups_member_does_not_see_a_connection_stamped_with_another_group() {
    let v = viewer(Visibility::Groups, &[EAST]);
    assert_eq!(explain(&v, &connection(1, inviter(), &[WEST], &[])), HIDDEN);
}

#[test]
fn a_grouped_groups_member_does_not_see_organization_stamped_connections_of_others() {
    let v = viewer(Visibility::Groups, &[EAST]);
    assert!(!can_see(&v, &connection(1, inviter(), &[], &[])));
}

#[test]
fn ungrouped_groups_member_sees_organization_stamped_connections() {
    let v = viewer(Visibility::Groups, &[]);
    assert_eq!(explain(&v, &connection(1, inviter(), &[], &[])), access(AccessRule::Ungrouped));
}

#[test]
fn an_ungrouped_groups_member_sees_group_stamped_connections_too() {
    let v = viewer(Visibility::Groups, &[]);
    assert_eq!(explain(&v, &connection(1, inviter(), &[WEST], &[])), access(AccessRule::Ungrouped));
}

#[test]
fn the_inviter_sees_their_connection_whatever_its_stamp() {
    for visibility in [Visibility::Groups, Visibility::OwnInvites] {
        let v = viewer(visibility, &[EAST]);
        assert_eq!(explain(&v, &connection(1, v.id, &[WEST], &[])), access(AccessRule::Inviter));
    }
}

#[test]
fn a_cc_sees_the_connection_whatever_its_stamp() {
    for visibility in [Visibility::Groups, Visibility::OwnInvites] {
        let v = viewer(visibility, &[EAST]);
        assert_eq!(explain(&v, &connection(1, inviter(), &[WEST], &[v.id])), access(AccessRule::Cc));
    }
}

#[test]
fn operations_limited_sees_only_own_invites_and_cc() {
    let v = viewer(crate::support::role("operations_limited").visibility, &[EAST]);
    assert_eq!(v.visibility, Visibility::OwnInvites);
    assert!(can_see(&v, &connection(1, v.id, &[], &[])));
    assert!(can_see(&v, &connection(2, inviter(), &[], &[v.id])));
    assert!(!can_see(&v, &connection(3, inviter(), &[EAST], &[])), "a shared group is not enough");
    assert!(!can_see(&v, &connection(4, inviter(), &[], &[])), "nor is the organization stamp");
}

#[test]
fn the_explanation_names_the_inviter_before_the_cc_and_a_shared_group() {
    let v = viewer(Visibility::Groups, &[EAST]);
    assert_eq!(explain(&v, &connection(1, v.id, &[EAST], &[v.id])).rule, Some(AccessRule::Inviter));
    assert_eq!(explain(&v, &connection(2, inviter(), &[EAST], &[v.id])).rule, Some(AccessRule::Cc));
}

#[test]
fn the_access_answer_has_the_wire_shape_of_the_api() {
    let v = viewer(Visibility::Groups, &[EAST]);
    let shared = serde_json::to_value(explain(&v, &connection(1, inviter(), &[EAST], &[]))).unwrap();
    assert_eq!(shared, serde_json::json!({"visible": true, "rule": "group", "group_id": EAST.to_string()}));
    let hidden = serde_json::to_value(explain(&v, &connection(2, inviter(), &[WEST], &[]))).unwrap();
    assert_eq!(hidden, serde_json::json!({"visible": false, "rule": null}));
}

// ---------------------------------------------------------------------------------------------
// The query specification
// ---------------------------------------------------------------------------------------------

#[test]
fn the_scope_of_a_viewer_follows_their_visibility() {
    assert_eq!(viewer(Visibility::All, &[EAST]).scope(), ConnectionScope::All);
    assert_eq!(viewer(Visibility::Groups, &[]).scope(), ConnectionScope::All);
    assert_eq!(
        viewer(Visibility::Groups, &[EAST]).scope(),
        ConnectionScope::Groups { viewer: user_id(1), groups: BTreeSet::from([EAST]) }
    );
    assert_eq!(viewer(Visibility::OwnInvites, &[EAST]).scope(), ConnectionScope::Own { viewer: user_id(1) });
}

#[test]
fn the_viewer_of_an_actor_carries_their_visibility_and_view_groups() {
    let mut u = user(user_id(1));
    u.roles.insert(grant("standard", None));
    u.group_access.insert(SUPPORT);
    let v = Viewer::of(&actor_of(&u, &[EAST])).unwrap();
    assert_eq!(v, Viewer { id: user_id(1), visibility: Visibility::Groups, groups: BTreeSet::from([EAST, SUPPORT]) });
    assert_eq!(Viewer::of(&Actor::system(ORG, Source::Cli)), None);
}

fn query(scope: ConnectionScope) -> ConnectionQuery {
    ConnectionQuery { org_id: ORG, scope, group: None, after: None, limit: 50 }
}

#[test]
fn a_query_never_matches_another_organizations_connection() {
    let mut c = connection(1, inviter(), &[], &[]);
    assert!(query(ConnectionScope::All).matches(&c));
    c.org_id = OTHER_ORG;
    assert!(!query(ConnectionScope::All).matches(&c));
}

#[test]
fn a_group_filter_matches_connections_whose_stamp_contains_the_group() {
    let q = ConnectionQuery { group: Some(EAST), ..query(ConnectionScope::All) };
    assert!(q.matches(&connection(1, inviter(), &[EAST, WEST], &[])));
    assert!(!q.matches(&connection(2, inviter(), &[WEST], &[])));
    assert!(!q.matches(&connection(3, inviter(), &[], &[])));
}

#[test]
fn a_cursor_matches_only_connections_older_than_it() {
    let newer = connection(2, inviter(), &[], &[]);
    let mut older = connection(1, inviter(), &[], &[]);
    older.created_at = T0 - time::Duration::seconds(1);
    let q = ConnectionQuery {
        after: Some(ConnectionCursor { created_at: newer.created_at, id: newer.id }),
        ..query(ConnectionScope::All)
    };
    assert!(q.matches(&older));
    assert!(!q.matches(&newer));
    // The id breaks ties between connections created at the same instant.
    let tie = connection(1, inviter(), &[], &[]);
    assert!(q.matches(&tie));
}

fn member(key: &str, groups: &[GroupId]) -> Actor {
    let mut u = user(user_id(1));
    u.roles.insert(grant(key, None));
    actor_of(&u, groups)
}

#[test]
fn groups_member_may_only_filter_by_own_groups() {
    let actor = member("standard", &[EAST]);
    assert_eq!(query_for(&actor, Some(EAST), None, 50).unwrap().group, Some(EAST));
    assert_eq!(code_of(query_for(&actor, Some(WEST), None, 50)), ErrorCode::Forbidden);
    assert_eq!(code_of(query_for(&actor, Some(OLD), None, 50)), ErrorCode::Forbidden);
}

#[test]
fn an_all_member_may_filter_by_any_group_deleted_ones_included() {
    let actor = member("analyst", &[EAST]);
    for g in [WEST, SALES, OLD] {
        let q = query_for(&actor, Some(g), None, 50).unwrap();
        assert_eq!((q.group, q.scope), (Some(g), ConnectionScope::All));
    }
}

#[test]
fn the_query_of_a_member_carries_their_scope_and_organization() {
    let q = query_for(&member("standard", &[EAST]), None, None, 10).unwrap();
    assert_eq!(q.org_id, ORG);
    assert_eq!(q.scope, ConnectionScope::Groups { viewer: user_id(1), groups: BTreeSet::from([EAST]) });
    assert_eq!(q.limit, 10);
}

#[test]
fn api_keys_and_the_system_list_every_connection() {
    let key = roster_domain::connections::ApiKey {
        id: roster_domain::ids::ApiKeyId::from_uuid(uuid::Uuid::from_u128(0x5001)),
        org_id: ORG,
        name: roster_domain::values::Label::parse("Sync").unwrap(),
        group_id: Some(EAST),
        permissions: BTreeSet::new(),
        created_by: user_id(3),
        secret_hash: String::new(),
        created_at: T0,
        last_used_at: None,
        revoked_at: None,
    };
    let mut admin = crate::support::user(user_id(3));
    admin.roles = [crate::support::grant("admin", None)].into_iter().collect();
    let creator = crate::support::actor_of(&admin, &[]);
    assert_eq!(
        query_for(&Actor::for_api_key(&key, &creator), Some(group_id(42)), None, 1).unwrap().scope,
        ConnectionScope::All
    );
    assert_eq!(query_for(&Actor::system(ORG, Source::Cli), None, None, 1).unwrap().scope, ConnectionScope::All);
}

#[test]
fn a_page_size_outside_one_to_two_hundred_is_refused_with_validation_failed() {
    let actor = member("analyst", &[]);
    assert_eq!(MAX_PAGE_SIZE, 200);
    assert!(query_for(&actor, None, None, 200).is_ok());
    assert_eq!(invalid_fields(query_for(&actor, None, None, 0)), vec![("limit".to_owned(), "out_of_range")]);
    assert_eq!(invalid_fields(query_for(&actor, None, None, 201)), vec![("limit".to_owned(), "out_of_range")]);
}

// ---------------------------------------------------------------------------------------------
// Properties: the query equals the rule, the rule equals the spec
// ---------------------------------------------------------------------------------------------

const USERS: u128 = 4;
const GROUPS: u128 = 4;

fn a_user() -> impl Strategy<Value = UserId> {
    (0..USERS).prop_map(user_id)
}

fn some_groups() -> impl Strategy<Value = BTreeSet<GroupId>> {
    prop::collection::btree_set((0..GROUPS).prop_map(group_id), 0..=3)
}

fn a_viewer() -> impl Strategy<Value = Viewer> {
    let visibility = prop::sample::select(vec![Visibility::All, Visibility::Groups, Visibility::OwnInvites]);
    (a_user(), visibility, some_groups()).prop_map(|(id, visibility, groups)| Viewer { id, visibility, groups })
}

fn a_connection() -> impl Strategy<Value = roster_domain::connections::Connection> {
    (a_user(), some_groups(), prop::collection::btree_set(a_user(), 0..=2)).prop_map(|(inviter, groups, cc)| {
        let mut c = connection(1, inviter, &[], &[]);
        c.groups = groups;
        c.cc = cc;
        c
    })
}

/// §7.2 as written in the spec, independent of the module's code.
fn spec_sees(v: &Viewer, c: &roster_domain::connections::Connection) -> bool {
    let own = c.inviter_id == v.id || c.cc.contains(&v.id);
    match v.visibility {
        Visibility::All => true,
        Visibility::Groups => v.groups.is_empty() || !c.groups.is_disjoint(&v.groups) || own,
        Visibility::OwnInvites => own,
    }
}

proptest! {
    #[test]
    fn the_query_scope_matches_exactly_what_the_rule_shows(v in a_viewer(), c in a_connection()) {
        prop_assert_eq!(can_see(&v, &c), v.scope().matches(&c));
    }

    #[test]
    fn the_explanation_agrees_with_the_rule_and_names_a_shared_group(v in a_viewer(), c in a_connection()) {
        let a = explain(&v, &c);
        prop_assert_eq!(a.visible, can_see(&v, &c));
        prop_assert_eq!(a.visible, a.rule.is_some());
        match a.rule {
            Some(AccessRule::Group) => {
                let g = a.group_id.expect("a group rule names its group");
                prop_assert!(v.groups.contains(&g) && c.groups.contains(&g));
            }
            _ => prop_assert_eq!(a.group_id, None),
        }
    }

    #[test]
    fn the_rule_is_the_one_the_spec_writes(v in a_viewer(), c in a_connection()) {
        prop_assert_eq!(can_see(&v, &c), spec_sees(&v, &c));
    }
}
