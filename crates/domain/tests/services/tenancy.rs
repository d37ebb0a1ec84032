//! Tenancy (§2): a member of one organization neither sees nor changes another's data. Every
//! call with another organization's id answers `not_found` (or, for lists of ids, an unknown id),
//! never revealing that the row exists.

use std::collections::BTreeSet;

use roster_domain::audit::AuditQuery;
use roster_domain::connections::GroupChoice;
use roster_domain::scheduling::ScheduledAction;
use roster_domain::services::{
    GroupPatch, MoveUser, NewApiKey, OnboardingFacts, ProfilePatch, RoleAssignment, RolePatch,
};
use roster_domain::users_query::UserQuery;
use roster_domain::{ErrorCode, ServiceError};

use crate::support::{T0, World, failure, group_name, key, keys, label};

/// Two organizations, each with a group, a member in it, a connection, a pending invite, an API
/// key, a custom role and a scheduled change.
struct Two {
    a: World,
    b: World,
    b_user: roster_domain::ids::UserId,
    b_group: roster_domain::ids::GroupId,
    b_connection: roster_domain::ids::ConnectionId,
    b_invite: roster_domain::ids::InviteId,
    b_key: roster_domain::ids::ApiKeyId,
    b_role: roster_domain::ids::RoleId,
    b_scheduled: roster_domain::ids::ScheduledChangeId,
}

async fn two() -> Two {
    let a = World::inviting().await;
    let b = a.other_org("globex").await;
    let b_admin = b.admin_actor().await;
    let b_group = b.group("Sales", None).await;
    let b_user = b.member("bea", &["standard"], &[b_group]).await;
    b.assign(b_user, &["core"]).await;
    let b_connection = b.connection(&b.actor(b_user).await, "carl", None).await.id;
    let (b_invite, _) = b.invite("newbie", &["core"]).await;
    let b_key = b
        .services
        .create_api_key(
            &b_admin,
            NewApiKey { name: label("Form"), group_id: Some(b_group), permissions: BTreeSet::new() },
        )
        .await
        .expect("creates")
        .key
        .id;
    let role = roster_domain::services::NewRole {
        key: key("closer"),
        name: label("Closer"),
        permissions: BTreeSet::new(),
        visibility: roster_domain::roles::Visibility::Groups,
    };
    let b_role = b.services.create_role(&b_admin, role).await.expect("creates").id;
    let b_scheduled = b
        .services
        .schedule_change(&b_admin, b_user, ScheduledAction::Deactivate, T0 + time::Duration::days(9))
        .await
        .expect("schedules")
        .id;
    Two { a, b, b_user, b_group, b_connection, b_invite, b_key, b_role, b_scheduled }
}

#[tokio::test]
async fn a_member_of_one_organization_gets_not_found_for_another_organizations_users() {
    let t = two().await;
    let admin = t.a.admin_actor().await;
    let before = t.a.store.snapshot().await;
    let s = &t.a.services;
    let codes = [
        failure(s.get_user(&admin, t.b_user).await).code(),
        failure(s.update_user(&admin, t.b_user, ProfilePatch::default(), None).await).code(),
        failure(s.deactivate_user(&admin, t.b_user, None).await).code(),
        failure(s.reactivate_user(&admin, t.b_user, BTreeSet::new(), None).await).code(),
        failure(s.delete_user(&admin, t.b_user, true).await).code(),
        failure(s.restore_user(&admin, t.b_user).await).code(),
        failure(s.set_licenses(&admin, t.b_user, BTreeSet::new()).await).code(),
        failure(s.set_roles(&admin, t.b_user, vec![RoleAssignment::org_wide(key("analyst"))], None).await).code(),
        failure(s.set_grants(&admin, t.b_user, BTreeSet::new(), BTreeSet::new()).await).code(),
        failure(s.set_onboarding(&admin, t.b_user, OnboardingFacts::default()).await).code(),
        failure(
            s.set_inactive_reason(&admin, t.b_user, roster_domain::user::InactiveReason::AccountFailure, true).await,
        )
        .code(),
        failure(s.schedule_change(&admin, t.b_user, ScheduledAction::Deactivate, T0 + time::Duration::days(1)).await)
            .code(),
        failure(s.start_impersonation(&admin, t.b_user, crate::support::reason("look")).await).code(),
        failure(s.explain_access(&admin, t.b_connection, t.b_user).await).code(),
    ];
    assert!(codes.iter().all(|c| *c == ErrorCode::NotFound), "{codes:?}");
    assert_eq!(t.a.store.snapshot().await, before, "nothing of either organization changed");
}

#[tokio::test]
async fn a_member_of_one_organization_gets_not_found_for_another_organizations_groups() {
    let t = two().await;
    let admin = t.a.admin_actor().await;
    let a_user = t.a.member("ann", &["standard"], &[]).await;
    let before = t.a.store.snapshot().await;
    let s = &t.a.services;
    let codes = [
        failure(s.create_group(&admin, t.b_group, group_name("Inside")).await).code(),
        failure(
            s.update_group(
                &admin,
                t.b_group,
                GroupPatch { name: Some(group_name("Mine")), ..GroupPatch::default() },
                None,
            )
            .await,
        )
        .code(),
        failure(s.delete_group(&admin, t.b_group, true).await).code(),
        failure(s.add_members(&admin, t.b_group, &[a_user]).await).code(),
        failure(s.remove_member(&admin, t.b_group, t.b_user).await).code(),
        failure(
            s.move_user(
                &admin,
                t.b_user,
                MoveUser { from_group_id: t.b_group, to_group_id: t.b_group, transfer_records: true },
            )
            .await,
        )
        .code(),
        failure(s.set_group_flows(&admin, t.b_group, BTreeSet::new()).await).code(),
        failure(s.create_connection(&admin, t.a.new_connection("carl", Some(GroupChoice::Group(t.b_group)))).await)
            .code(),
        failure(
            s.create_api_key(
                &admin,
                NewApiKey { name: label("Theirs"), group_id: Some(t.b_group), permissions: BTreeSet::new() },
            )
            .await,
        )
        .code(),
    ];
    assert!(codes.iter().all(|c| *c == ErrorCode::NotFound), "{codes:?}");
    // A group named in a body is refused as an unknown one is, naming where it was given.
    let err = failure(s.create_user(&admin, t.a.new_user("bob", &["standard"], &[t.b_group])).await);
    let ServiceError::Validation(fields) = err else { panic!("{err:?}") };
    assert_eq!(
        fields.iter().map(|f| (f.field.as_str(), f.code)).collect::<Vec<_>>(),
        [("group_ids[0]", "unknown_group")]
    );
    assert_eq!(t.a.store.snapshot().await, before);
}

#[tokio::test]
async fn a_member_of_one_organization_gets_not_found_for_another_organizations_connections_invites_keys_roles_and_schedules()
 {
    let t = two().await;
    let admin = t.a.admin_actor().await;
    let before = t.a.store.snapshot().await;
    let s = &t.a.services;
    let codes = [
        failure(s.get_connection(&admin, t.b_connection).await).code(),
        failure(s.connection_viewers(&admin, t.b_connection).await).code(),
        failure(s.resend_invite(&admin, t.b_invite).await).code(),
        failure(s.revoke_invite(&admin, t.b_invite).await).code(),
        failure(s.revoke_api_key(&admin, t.b_key).await).code(),
        failure(
            s.update_role(&admin, t.b_role, RolePatch { name: Some(label("Ours")), ..RolePatch::default() }, None)
                .await,
        )
        .code(),
        failure(s.delete_role(&admin, t.b_role).await).code(),
        failure(s.cancel_scheduled(&admin, t.b_scheduled).await).code(),
    ];
    assert!(codes.iter().all(|c| *c == ErrorCode::NotFound), "{codes:?}");
    assert_eq!(t.a.store.snapshot().await, before);
}

#[tokio::test]
async fn lists_of_ids_refuse_another_organizations_ids_as_unknown() {
    let t = two().await;
    let admin = t.a.admin_actor().await;
    let sales = t.a.group("Sales", None).await;
    let err = failure(t.a.services.add_members(&admin, sales, &[t.b_user]).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let mut new = t.a.new_connection("carl", None);
    new.cc = vec![t.b_user];
    let err = failure(t.a.services.create_connection(&admin, new).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let bulk = roster_domain::services::BulkLicenses {
        user_ids: vec![t.b_user],
        products: keys(&["core"]),
        op: roster_domain::services::BulkOp::Unassign,
        atomic: false,
        dry_run: false,
    };
    let result = t.a.services.bulk_licenses(&admin, bulk).await.expect("runs");
    assert_eq!(result.outcomes[0].status, "not_found");
    assert_eq!(t.b.products(t.b_user).await, keys(&["core"]));
}

#[tokio::test]
async fn a_member_of_one_organization_never_sees_another_organizations_rows() {
    let t = two().await;
    let admin = t.a.admin_actor().await;
    let s = &t.a.services;
    let users = s.list_users(&admin, UserQuery::new(t.b.org.id)).await.expect("lists").items;
    assert!(users.iter().all(|u| u.user.org_id == t.a.org.id), "the organization comes from the actor, not the query");
    assert_eq!(users.len(), 1);
    assert!(s.list_groups(&admin).await.expect("lists").iter().all(|g| g.org_id == t.a.org.id));
    assert!(s.list_connections(&admin, None, None, 200).await.expect("lists").is_empty());
    assert!(s.list_connections(&admin, Some(t.b_group), None, 200).await.expect("lists").is_empty());
    assert!(s.list_api_keys(&admin).await.expect("lists").is_empty());
    assert!(s.list_invites(&admin).await.expect("lists").is_empty());
    assert!(s.list_flows(&admin).await.expect("lists").is_empty());
    assert!(s.list_roles(&admin).await.expect("lists").iter().all(|r| r.org_id == t.a.org.id));
    assert!(s.audit_log(&admin, &AuditQuery::default()).await.expect("reads").iter().all(|e| e.org_id == t.a.org.id));
    let billing = s.billing(&admin).await.expect("reads");
    assert_eq!(billing.billable_users, 1);
    assert!(billing.seats.iter().all(|c| c.seats_used == 0), "the other organization's seats are its own");
    let viewers = s.connection_viewers(&t.b.admin_actor().await, t.b_connection).await.expect("lists");
    assert!(viewers.iter().all(|(u, _)| *u != t.a.admin));
}

#[tokio::test]
async fn an_api_key_acts_only_in_its_own_organization() {
    let t = two().await;
    let created =
        t.a.services
            .create_api_key(
                &t.a.admin_actor().await,
                NewApiKey {
                    name: label("Form"),
                    group_id: None,
                    permissions: [roster_domain::roles::Permission::InviteConnections].into(),
                },
            )
            .await
            .expect("creates");
    let actor = t.a.services.authenticate_api_key(&created.secret).await.expect("authenticates");
    assert_eq!(actor.org_id(), t.a.org.id);
    let err = failure(t.a.services.get_connection(&actor, t.b_connection).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
}
