//! Built-in roles and visibility (§5), and the actor: permissions resolved once, with scoped
//! administration over a group subtree.

use std::collections::BTreeSet;

use roster_domain::actor::{Actor, Coverage, Principal};
use roster_domain::audit::Source;
use roster_domain::connections::ApiKey;
use roster_domain::error::ErrorCode;
use roster_domain::ids::ApiKeyId;
use roster_domain::roles::{ADMIN_ROLE_KEY, BUILTIN_ROLES, Permission, Visibility, widest_visibility};
use roster_domain::values::Label;
use uuid::Uuid;

use crate::support::{
    EAST, OLD, ORG, ROOT, SALES, SUPPORT, T0, WEST, actor_of, builtin_roles, grant, role, role_id, sample_tree, user,
    user_id,
};

use Permission as P;

fn set<T: Ord + Copy>(items: &[T]) -> BTreeSet<T> {
    items.iter().copied().collect()
}

// ---------------------------------------------------------------------------------------------
// Built-in roles
// ---------------------------------------------------------------------------------------------

#[test]
fn the_built_in_roles_have_the_permissions_and_visibility_of_the_spec() {
    use Visibility::{All, Groups, OwnInvites};
    let expected: [(&str, &[Permission], Visibility); 10] = [
        ("admin", &Permission::ALL, All),
        ("full_member", &[P::InviteConnections, P::ExportData, P::ViewReporting], All),
        ("team_lead", &[P::ViewReporting, P::AudioScoring, P::ExportData], All),
        ("analyst", &[P::ViewReporting, P::ExportData], All),
        ("standard", &[P::InviteConnections], Groups),
        ("operations", &[P::InviteConnections], Groups),
        ("operations_limited", &[P::InviteConnections], OwnInvites),
        ("read_only", &[], Groups),
        ("identified_only", &[], OwnInvites),
        ("scorer", &[P::AudioScoring], All),
    ];
    assert_eq!(BUILTIN_ROLES.len(), expected.len());
    for (key, permissions, visibility) in expected {
        let r = role(key);
        assert_eq!(r.permissions, set(permissions), "permissions of {key}");
        assert_eq!(r.visibility, visibility, "visibility of {key}");
        assert!(r.builtin, "{key} is built in");
        assert_eq!(r.org_id, ORG);
    }
}

#[test]
fn admin_holds_every_permission() {
    assert_eq!(role(ADMIN_ROLE_KEY).permissions.len(), Permission::ALL.len());
}

#[test]
fn scorer_is_the_only_built_in_role_that_cannot_be_assigned() {
    let unassignable: Vec<&str> = BUILTIN_ROLES.iter().filter(|r| !r.assignable).map(|r| r.key).collect();
    assert_eq!(unassignable, vec!["scorer"]);
}

#[test]
fn only_view_reporting_and_audio_scoring_are_granted_per_user() {
    assert_eq!(Permission::GRANTABLE, [P::ViewReporting, P::AudioScoring]);
}

#[test]
fn permissions_are_named_in_snake_case_on_the_wire() {
    for p in Permission::ALL {
        assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(p.as_str()));
    }
}

#[test]
fn effective_visibility_is_the_widest_of_the_roles() {
    let (all, groups, own) = (role("analyst"), role("standard"), role("identified_only"));
    assert_eq!(widest_visibility([&own, &groups, &all]), Visibility::All);
    assert_eq!(widest_visibility([&own, &groups]), Visibility::Groups);
    assert_eq!(widest_visibility([&own]), Visibility::OwnInvites);
}

#[test]
fn a_user_with_no_role_sees_only_their_own_invites() {
    assert_eq!(widest_visibility([]), Visibility::OwnInvites);
    assert_eq!(actor_of(&user(user_id(1)), &[]).visibility(), Visibility::OwnInvites);
}

// ---------------------------------------------------------------------------------------------
// The actor of a member
// ---------------------------------------------------------------------------------------------

fn member_with(grants: &[(&str, Option<roster_domain::ids::GroupId>)]) -> roster_domain::user::User {
    let mut u = user(user_id(1));
    u.roles = grants.iter().map(|(key, scope)| grant(key, *scope)).collect();
    u
}

#[test]
fn an_actors_permissions_are_the_union_of_its_roles() {
    let actor = actor_of(&member_with(&[("standard", None), ("analyst", None)]), &[]);
    assert!(actor.has(P::InviteConnections) && actor.has(P::ViewReporting) && actor.has(P::ExportData));
    assert!(!actor.has(P::ManageUsers));
    assert_eq!(actor.visibility(), Visibility::All);
}

#[test]
fn a_grant_of_a_role_the_organization_does_not_have_gives_nothing() {
    let mut u = user(user_id(1));
    u.roles.insert(roster_domain::roles::RoleGrant::org_wide(role_id(99)));
    let actor = actor_of(&u, &[]);
    assert!(Permission::ALL.iter().all(|p| !actor.has(*p)));
}

#[test]
fn a_missing_permission_is_refused_with_forbidden() {
    let actor = actor_of(&member_with(&[("standard", None)]), &[]);
    assert!(actor.require(P::InviteConnections).is_ok());
    assert_eq!(actor.require(P::ManageUsers).unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(actor.require_over_user(P::ManageUsers, &set(&[EAST])).unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(actor.require_over_group(P::ManageGroups, EAST).unwrap_err().code(), ErrorCode::Forbidden);
}

#[test]
fn an_unscoped_admin_covers_the_whole_organization() {
    let actor = actor_of(&member_with(&[("admin", None)]), &[]);
    assert_eq!(actor.coverage(P::ManageUsers), Some(&Coverage::Org));
    assert!(actor.require_org_wide(P::ManageSettings).is_ok());
    assert!(actor.require_over_user(P::ManageUsers, &set(&[])).is_ok());
    assert!(actor.require_over_user(P::ManageUsers, &set(&[EAST, SUPPORT])).is_ok());
    assert!(actor.require_over_group(P::ManageGroups, ROOT).is_ok());
}

#[test]
fn a_scoped_admin_covers_the_groups_of_its_subtree_only() {
    let actor = actor_of(&member_with(&[("admin", Some(SALES))]), &[]);
    assert_eq!(actor.coverage(P::ManageGroups), Some(&Coverage::Groups(set(&[SALES, EAST, WEST]))));
    assert!(actor.require_over_group(P::ManageGroups, EAST).is_ok());
    assert_eq!(actor.require_over_group(P::ManageGroups, SUPPORT).unwrap_err().code(), ErrorCode::Forbidden);
    assert_eq!(actor.require_over_group(P::ManageGroups, ROOT).unwrap_err().code(), ErrorCode::Forbidden);
}

#[test]
fn a_scoped_admin_covers_a_user_whose_groups_all_lie_in_the_subtree() {
    let actor = actor_of(&member_with(&[("admin", Some(SALES))]), &[]);
    assert!(actor.require_over_user(P::ManageUsers, &set(&[EAST, WEST])).is_ok());
    assert!(actor.require_over_user(P::ManageUsers, &set(&[SALES])).is_ok());
}

#[test]
fn a_scoped_admin_does_not_cover_a_user_with_one_group_outside_the_subtree() {
    let actor = actor_of(&member_with(&[("admin", Some(SALES))]), &[]);
    let result = actor.require_over_user(P::ManageUsers, &set(&[EAST, SUPPORT]));
    assert_eq!(result.unwrap_err().code(), ErrorCode::Forbidden);
}

#[test]
fn a_scoped_admin_does_not_cover_an_ungrouped_user() {
    let actor = actor_of(&member_with(&[("admin", Some(SALES))]), &[]);
    assert_eq!(actor.require_over_user(P::ManageUsers, &set(&[])).unwrap_err().code(), ErrorCode::Forbidden);
}

#[test]
fn a_scoped_admin_cannot_act_org_wide() {
    let actor = actor_of(&member_with(&[("admin", Some(SALES))]), &[]);
    assert!(actor.require(P::ManageSettings).is_ok());
    assert_eq!(actor.require_org_wide(P::ManageSettings).unwrap_err().code(), ErrorCode::Forbidden);
}

#[test]
fn two_scoped_grants_cover_both_subtrees() {
    let actor = actor_of(&member_with(&[("admin", Some(EAST)), ("admin", Some(SUPPORT))]), &[]);
    assert_eq!(actor.coverage(P::ManageUsers), Some(&Coverage::Groups(set(&[EAST, SUPPORT]))));
    assert!(actor.require_over_user(P::ManageUsers, &set(&[EAST, SUPPORT])).is_ok());
}

#[test]
fn an_unscoped_grant_widens_a_scoped_one_to_the_organization() {
    let actor = actor_of(&member_with(&[("admin", Some(EAST)), ("analyst", None)]), &[]);
    assert_eq!(actor.coverage(P::ViewReporting), Some(&Coverage::Org));
    assert_eq!(actor.coverage(P::ManageUsers), Some(&Coverage::Groups(set(&[EAST]))));
}

#[test]
fn a_per_user_grant_applies_to_the_whole_organization() {
    let mut u = member_with(&[("team_lead", Some(SALES))]);
    u.extra_permissions.insert(P::ViewReporting);
    let actor = actor_of(&u, &[]);
    assert_eq!(actor.coverage(P::ViewReporting), Some(&Coverage::Org));
    assert_eq!(actor.coverage(P::AudioScoring), Some(&Coverage::Groups(set(&[SALES, EAST, WEST]))));
}

#[test]
fn extra_group_access_widens_what_a_member_sees_but_not_what_they_stamp() {
    let mut u = member_with(&[("standard", None)]);
    u.group_access = set(&[SUPPORT, OLD]);
    let actor = actor_of(&u, &[EAST]);
    // Access to a deleted group is dropped.
    assert_eq!(actor.view_groups(), &set(&[EAST, SUPPORT]));
    assert_eq!(actor.member_groups(), &set(&[EAST]));
}

#[test]
fn an_impersonating_session_cannot_change_passwords_roles_or_api_keys() {
    let u = member_with(&[("admin", None)]);
    let actor =
        Actor::for_user(&u, &builtin_roles(), BTreeSet::new(), &sample_tree(), Source::Console, Some(user_id(9)));
    assert_eq!(actor.impersonator_id(), Some(user_id(9)));
    assert_eq!(actor.require_not_impersonating("roles").unwrap_err().code(), ErrorCode::Forbidden);
    assert!(actor_of(&u, &[]).require_not_impersonating("roles").is_ok());
}

#[test]
fn a_members_actor_names_the_member_in_the_audit_trail() {
    let actor = actor_of(&user(user_id(1)), &[]);
    assert_eq!(actor.principal(), &Principal::User(user_id(1)));
    assert_eq!((actor.user_id(), actor.audit_actor_id()), (Some(user_id(1)), Some(user_id(1))));
    assert_eq!((actor.org_id(), actor.source()), (ORG, Source::Console));
}

// ---------------------------------------------------------------------------------------------
// API keys and the system
// ---------------------------------------------------------------------------------------------

fn api_key(group: Option<roster_domain::ids::GroupId>) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(Uuid::from_u128(0x5000)),
        org_id: ORG,
        name: Label::parse("Website form").unwrap(),
        group_id: group,
        permissions: set(&[P::InviteConnections]),
        created_by: user_id(7),
        secret_hash: "00".repeat(32),
        created_at: T0,
        last_used_at: None,
        revoked_at: None,
    }
}

/// The key's creator: an org-wide admin.
fn key_creator() -> Actor {
    creator_with(grant(ADMIN_ROLE_KEY, None))
}

fn creator_with(g: roster_domain::roles::RoleGrant) -> Actor {
    let mut u = user(user_id(7));
    u.roles = [g].into_iter().collect();
    actor_of(&u, &[EAST])
}

#[test]
fn an_api_key_acts_for_its_creator_with_its_own_permissions_org_wide() {
    let actor = Actor::for_api_key(&api_key(Some(EAST)), &key_creator());
    assert_eq!(actor.user_id(), Some(user_id(7)));
    assert_eq!(actor.coverage(P::InviteConnections), Some(&Coverage::Org));
    assert!(!actor.has(P::ManageUsers));
    assert_eq!(actor.visibility(), Visibility::All);
    assert_eq!(actor.source(), Source::Api);
    assert!(matches!(actor.principal(), Principal::ApiKey { group_id: Some(g), .. } if *g == EAST));
}

#[test]
fn an_api_key_acts_with_no_more_than_its_creator_holds_now() {
    let mut key = api_key(None);
    key.permissions = set(&[P::InviteConnections, P::ManageUsers, P::ViewAudit]);
    // The creator was demoted to `standard` after creating the key.
    let creator = creator_with(grant("standard", None));
    let actor = Actor::for_api_key(&key, &creator);
    assert!(actor.has(P::InviteConnections));
    assert!(!actor.has(P::ManageUsers));
    assert!(!actor.has(P::ViewAudit));
    assert_eq!(actor.visibility(), Visibility::Groups, "it reads records as its creator would");
    // A creator who administers one subtree lends the key that subtree only.
    let scoped = creator_with(grant(ADMIN_ROLE_KEY, Some(SALES)));
    let actor = Actor::for_api_key(&key, &scoped);
    assert_eq!(actor.coverage(P::ManageUsers), Some(&Coverage::Groups(set(&[SALES, EAST, WEST]))));
}

#[test]
fn a_scim_key_at_the_scim_face_provisions_with_no_more_than_its_creator_holds() {
    let mut key = api_key(None);
    key.permissions = set(&[P::Scim]);
    let actor = Actor::for_api_key(&key, &key_creator()).provisioning();
    assert_eq!(actor.source(), Source::Scim);
    for p in [P::Scim, P::ManageUsers, P::ManageLicenses, P::ManageGroups] {
        assert_eq!(actor.coverage(p), Some(&Coverage::Org), "{p:?}");
    }
    assert!(!actor.has(P::ManageRoles) && !actor.has(P::ManageApiKeys), "nothing beyond provisioning");
    // A creator holding neither `scim` nor `manage_users` (a standard member) lends nothing.
    let scim_only = creator_with(grant("standard", None));
    let actor = Actor::for_api_key(&key, &scim_only).provisioning();
    assert!(!actor.has(P::Scim) && !actor.has(P::ManageUsers));
    // A key without `scim` gains nothing at the SCIM face.
    let actor = Actor::for_api_key(&api_key(None), &key_creator()).provisioning();
    assert!(!actor.has(P::ManageUsers));
    assert_eq!(actor.source(), Source::Scim);
}

#[test]
fn a_revoked_api_key_is_not_active() {
    let mut key = api_key(None);
    assert!(key.is_active());
    key.revoked_at = Some(T0);
    assert!(!key.is_active());
}

#[test]
fn the_system_holds_every_permission_org_wide_and_is_no_member() {
    let actor = Actor::system(ORG, Source::Cli);
    assert!(actor.is_system());
    assert!(Permission::ALL.iter().all(|p| actor.require_org_wide(*p).is_ok()));
    assert_eq!(actor.user_id(), None);
    assert_eq!(actor.audit_actor_id(), None);
}

#[test]
fn the_system_acting_for_a_person_names_them_in_the_audit_trail() {
    let actor = Actor::system(ORG, Source::Api).with_source(Source::Import).acting_as(user_id(3));
    assert_eq!(actor.audit_actor_id(), Some(user_id(3)));
    assert_eq!(actor.user_id(), None);
    assert_eq!(actor.source(), Source::Import);
}
