//! Roles, permissions, scoped administration and per-user grants (§5).

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::roles::{Permission, Visibility};
use roster_domain::services::{NewRole, RoleAssignment, RolePatch};

use crate::support::{World, failure, key, label};

fn assignment(k: &str) -> RoleAssignment {
    RoleAssignment::org_wide(key(k))
}

fn new_role(k: &str, permissions: &[Permission], visibility: Visibility) -> NewRole {
    NewRole { key: key(k), name: label(k), permissions: permissions.iter().copied().collect(), visibility }
}

#[tokio::test]
async fn effective_permissions_are_the_union_of_a_users_roles() {
    let w = World::new().await;
    let ann = w.member("ann", &["analyst", "standard"], &[]).await;
    let actor = w.actor(ann).await;
    for p in [Permission::ViewReporting, Permission::ExportData, Permission::InviteConnections] {
        assert!(actor.has(p), "{p:?}");
    }
    assert!(!actor.has(Permission::ManageUsers));
}

#[tokio::test]
async fn effective_visibility_is_the_widest_of_a_users_roles() {
    let w = World::new().await;
    let narrow = w.member("narrow", &["identified_only"], &[]).await;
    let wider = w.member("wider", &["identified_only", "read_only"], &[]).await;
    let widest = w.member("widest", &["read_only", "analyst"], &[]).await;
    assert_eq!(w.actor(narrow).await.visibility(), Visibility::OwnInvites);
    assert_eq!(w.actor(wider).await.visibility(), Visibility::Groups);
    assert_eq!(w.actor(widest).await.visibility(), Visibility::All);
}

#[tokio::test]
async fn setting_roles_replaces_them_and_is_audited() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let details =
        w.services.set_roles(&w.admin_actor().await, ann, vec![assignment("team_lead")], None).await.expect("sets");
    assert_eq!(details.user.roles.len(), 1);
    assert!(w.actor(ann).await.has(Permission::AudioScoring));
    let event = w.events_named("user.roles_changed").await.pop().expect("audited");
    assert_eq!(event.details["roles"]["before"], serde_json::json!(["standard"]));
    assert_eq!(event.details["roles"]["after"], serde_json::json!(["team_lead"]));
}

#[tokio::test]
async fn a_user_needs_at_least_one_known_role() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let err = failure(w.services.set_roles(&admin, ann, Vec::new(), None).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let err = failure(w.services.set_roles(&admin, ann, vec![assignment("wizard")], None).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn the_scorer_role_is_granted_only_by_the_operator() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let err = failure(w.services.set_roles(&w.admin_actor().await, ann, vec![assignment("scorer")], None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    w.services.set_roles(&w.system(), ann, vec![assignment("scorer")], None).await.expect("the operator grants it");
}

#[tokio::test]
async fn nobody_grants_a_role_carrying_a_permission_they_lack() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let hr = w
        .services
        .create_role(&admin, new_role("hr", &[Permission::ManageUsers], Visibility::Groups))
        .await
        .expect("creates");
    let clerk = w.member("clerk", &["standard"], &[]).await;
    w.services.set_roles(&admin, clerk, vec![assignment(hr.key.as_str())], None).await.expect("grants");
    let ann = w.member("ann", &["identified_only"], &[]).await;
    let err = failure(w.services.set_roles(&w.actor(clerk).await, ann, vec![assignment("admin")], None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    w.services
        .set_roles(&w.actor(clerk).await, ann, vec![assignment("read_only")], None)
        .await
        .expect("carries nothing");
    // Nor does the clerk act on a member holding what the clerk lacks (dominance, §5).
    let bob = w.member("bob", &["standard"], &[]).await;
    let err = failure(w.services.set_roles(&w.actor(clerk).await, bob, vec![assignment("read_only")], None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_scoped_admin_manages_only_users_whose_current_groups_all_lie_in_the_subtree() {
    let w = World::new().await;
    let (sales, east, support) = w.sales_east_support().await;
    let boss = w.member("boss", &["standard"], &[sales]).await;
    w.scope_admin(boss, sales).await;
    let boss = w.actor(boss).await;
    let inside = w.member("inside", &["standard"], &[east]).await;
    let straddling = w.member("straddling", &["standard"], &[east, support]).await;
    let ungrouped = w.member("ungrouped", &["standard"], &[]).await;
    assert!(w.services.get_user(&boss, inside).await.is_ok());
    w.services.deactivate_user(&boss, inside, None).await.expect("inside the subtree");
    for outside in [straddling, ungrouped] {
        let err = failure(w.services.deactivate_user(&boss, outside, None).await);
        assert_eq!(err.code(), ErrorCode::Forbidden);
    }
    let err = failure(w.services.create_user(&boss, w.new_user("nobody", &["standard"], &[])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "an ungrouped user belongs to the organization level");
    let scoped_lead = vec![RoleAssignment { role: key("team_lead").into(), scope: Some(east) }];
    w.services.set_roles(&boss, inside, scoped_lead, None).await.expect("a grant scoped inside the subtree");
    let err = failure(w.services.set_roles(&boss, w.admin, vec![assignment("standard")], None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_scoped_admin_cannot_grant_an_organization_wide_role() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let boss = w.member("boss", &["standard"], &[sales]).await;
    w.services
        .set_roles(&w.system(), boss, vec![RoleAssignment { role: key("admin").into(), scope: Some(sales) }], None)
        .await
        .expect("grants");
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let boss = w.actor(boss).await;
    let err = failure(w.services.set_roles(&boss, ann, vec![assignment("admin")], None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let scoped = vec![RoleAssignment { role: key("admin").into(), scope: Some(sales) }];
    w.services.set_roles(&boss, ann, scoped, None).await.expect("within their scope");
}

#[tokio::test]
async fn a_team_admin_adds_people_to_their_team_with_ordinary_roles() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let boss = w.member("boss", &["standard"], &[sales]).await;
    w.services
        .set_roles(&w.system(), boss, vec![RoleAssignment { role: key("admin").into(), scope: Some(sales) }], None)
        .await
        .expect("grants");
    let boss = w.actor(boss).await;
    let created = w.services.create_user(&boss, w.new_user("ann", &["operations"], &[sales])).await.expect("creates");
    assert_eq!(created.groups, [sales].into());
    // Outside their team, or with an administrative role org-wide, they may not.
    let err = failure(w.services.create_user(&boss, w.new_user("bob", &["operations"], &[])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "an ungrouped user is outside the team");
    let err = failure(w.services.create_user(&boss, w.new_user("cy", &["admin"], &[sales])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "admin org-wide is beyond a team admin");
}

#[tokio::test]
async fn custom_roles_are_created_changed_and_deleted() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let role = w
        .services
        .create_role(&admin, new_role("auditor", &[Permission::ViewAudit], Visibility::OwnInvites))
        .await
        .expect("creates");
    assert!(!role.builtin && role.assignable);
    let patch = RolePatch { visibility: Some(Visibility::All), ..RolePatch::default() };
    let changed = w.services.update_role(&admin, role.id, patch, None).await.expect("changes");
    assert_eq!(changed.visibility, Visibility::All);
    w.services.delete_role(&admin, role.id).await.expect("deletes");
    assert!(w.services.list_roles(&admin).await.expect("lists").iter().all(|r| r.id != role.id));
    let actions: Vec<String> =
        w.events().await.into_iter().filter(|e| e.action.starts_with("role.")).map(|e| e.action).collect();
    assert_eq!(actions, ["role.created", "role.updated", "role.deleted"]);
}

#[tokio::test]
async fn a_duplicate_role_key_is_a_conflict() {
    let w = World::new().await;
    let err =
        failure(w.services.create_role(&w.admin_actor().await, new_role("standard", &[], Visibility::Groups)).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
}

#[tokio::test]
async fn nobody_creates_a_role_with_a_permission_they_lack() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let roles_only = w
        .services
        .create_role(&admin, new_role("role_keeper", &[Permission::ManageRoles], Visibility::Groups))
        .await
        .expect("creates");
    let keeper = w.member("keeper", &["standard"], &[]).await;
    w.services.set_roles(&admin, keeper, vec![assignment(roles_only.key.as_str())], None).await.expect("grants");
    let err = failure(
        w.services
            .create_role(&w.actor(keeper).await, new_role("sneaky", &[Permission::Impersonate], Visibility::All))
            .await,
    );
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn builtin_roles_cannot_be_changed_or_deleted() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let standard = w
        .services
        .list_roles(&admin)
        .await
        .expect("lists")
        .into_iter()
        .find(|r| r.key.as_str() == "standard")
        .expect("exists");
    let err = failure(w.services.delete_role(&admin, standard.id).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let patch = RolePatch { permissions: Some(BTreeSet::new()), ..RolePatch::default() };
    let err = failure(w.services.update_role(&admin, standard.id, patch, None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_role_in_use_cannot_be_deleted() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let role = w
        .services
        .create_role(&admin, new_role("closer", &[Permission::InviteConnections], Visibility::Groups))
        .await
        .expect("creates");
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services.set_roles(&admin, ann, vec![assignment("closer")], None).await.expect("grants");
    let err = failure(w.services.delete_role(&admin, role.id).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
    w.services.set_roles(&admin, ann, vec![assignment("standard")], None).await.expect("takes it back");
    w.services.delete_role(&admin, role.id).await.expect("no longer in use");
}

#[tokio::test]
async fn managing_roles_requires_manage_roles() {
    let w = World::new().await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let err = failure(w.services.create_role(&lead, new_role("mine", &[], Visibility::Groups)).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn per_user_grants_accept_only_view_reporting_and_audio_scoring() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let err =
        failure(w.services.set_grants(&admin, ann, BTreeSet::from([Permission::ManageUsers]), BTreeSet::new()).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let granted = BTreeSet::from([Permission::ViewReporting, Permission::AudioScoring]);
    w.services.set_grants(&admin, ann, granted, BTreeSet::new()).await.expect("grants");
    let actor = w.actor(ann).await;
    assert!(actor.has(Permission::ViewReporting) && actor.has(Permission::AudioScoring));
    w.services.set_grants(&admin, ann, BTreeSet::new(), BTreeSet::new()).await.expect("removes");
    assert!(!w.actor(ann).await.has(Permission::ViewReporting));
    assert_eq!(w.events_named("user.grants_changed").await.len(), 2);
}

#[tokio::test]
async fn extra_group_access_must_name_live_groups() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services.delete_group(&admin, sales, false).await.expect("deletes");
    let err = failure(w.services.set_grants(&admin, ann, BTreeSet::new(), BTreeSet::from([sales])).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn a_role_update_with_a_stale_revision_is_refused_and_changes_nothing() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let role = w
        .services
        .create_role(&admin, new_role("auditor", &[Permission::ViewAudit], Visibility::OwnInvites))
        .await
        .expect("creates");
    let first = role.revision();
    let patch = RolePatch { visibility: Some(Visibility::Groups), ..RolePatch::default() };
    let changed = w.services.update_role(&admin, role.id, patch, Some(first)).await.expect("a fresh revision applies");
    assert_ne!(changed.revision(), first, "a change makes a new revision");

    let before = w.store.snapshot().await;
    let patch = RolePatch { visibility: Some(Visibility::All), ..RolePatch::default() };
    let err = failure(w.services.update_role(&admin, role.id, patch, Some(first)).await);
    assert_eq!(err.code(), ErrorCode::PreconditionFailed);
    assert_eq!(w.store.snapshot().await, before, "a refused update writes nothing");
    let now = w.services.list_roles(&admin).await.expect("lists").into_iter().find(|r| r.id == role.id).expect("kept");
    assert_eq!(now.revision(), changed.revision(), "the revision is a function of what the role reads as");
}

#[tokio::test]
async fn only_the_operator_grants_a_role_that_is_not_assignable_and_an_admin_may_keep_it() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let ann_email = w.email("ann");
    let admin = w.admin_actor().await;

    let err = failure(w.services.grant_role(&admin, &ann_email, assignment("scorer")).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let granted = w.services.grant_role(&w.system(), &ann_email, assignment("scorer")).await.expect("grants");
    assert!(granted.newly_granted);
    assert_eq!(granted.details.user.roles.len(), 2, "standard kept");
    let again = w.services.grant_role(&w.system(), &ann_email, assignment("scorer")).await.expect("no change");
    assert!(!again.newly_granted);
    assert_eq!(again.details.user.version, granted.details.user.version);

    // An admin editing Ann's roles keeps the operator's grant; giving it to Bob stays refused.
    let kept = w
        .services
        .set_roles(&admin, ann, vec![assignment("analyst"), assignment("scorer")], None)
        .await
        .expect("keeps the scorer role");
    assert_eq!(kept.user.roles.len(), 2);
    let err = failure(w.services.set_roles(&admin, bob, vec![assignment("scorer")], None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.create_user(&admin, w.new_user("cy", &["scorer"], &[])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);

    let err = failure(w.services.grant_role(&w.system(), &w.email("nobody"), assignment("scorer")).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
    let err = failure(w.services.grant_role(&w.system(), &ann_email, assignment("juggler")).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}
