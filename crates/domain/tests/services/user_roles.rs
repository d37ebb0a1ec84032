//! A user's roles named by key or id (`PUT /users/{id}/roles`, the bulk action `set_roles`):
//! one rule resolves both, in the use case's transaction, and every role or scope that names
//! nothing of the organization is reported at once, changing nothing (§5, §10).

use roster_domain::ids::{GroupId, RoleId};
use roster_domain::roles::{Role, RoleGrant, RoleRef};
use roster_domain::services::{BulkAction, BulkRequest, BulkSelection, RoleAssignment};
use roster_domain::{ErrorCode, ServiceError};

use crate::support::{World, failure, key};

async fn role(w: &World, k: &str) -> Role {
    let roles = w.store.snapshot().await.roles;
    roles.into_values().find(|r| r.org_id == w.org.id && r.key == key(k)).expect("the role exists")
}

#[tokio::test]
async fn a_role_named_by_id_gives_the_same_grant_as_by_key() {
    let w = World::new().await;
    let (sales, _, _) = w.sales_east_support().await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let lead = role(&w, "team_lead").await;
    let admin = w.admin_actor().await;

    let by_id = vec![RoleAssignment { role: RoleRef::Id(lead.id), scope: Some(sales) }];
    let details = w.services.set_roles(&admin, ann, by_id, None).await.expect("sets by id");
    assert_eq!(details.user.roles, [RoleGrant { role_id: lead.id, scope: Some(sales) }].into());

    let by_key = vec![RoleAssignment { role: RoleRef::Key(key("team_lead")), scope: Some(sales) }];
    let again = w.services.set_roles(&admin, ann, by_key, None).await.expect("sets by key");
    assert_eq!(again.user.roles, details.user.roles, "the same grant");
    assert_eq!(again.user.version, details.user.version, "no change, no new version");
    assert_eq!(w.events_named("user.roles_changed").await.len(), 1);
}

#[tokio::test]
async fn every_unknown_role_and_scope_is_named_at_once_and_nothing_changes() {
    let w = World::new().await;
    let other = w.other_org("other").await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let gone = w.group("Gone", None).await;
    w.services.delete_group(&w.system(), gone, false).await.expect("deletes the group");
    let before = w.details(ann).await.user;
    let foreign = role(&other, "team_lead").await;

    let roles = vec![
        RoleAssignment { role: RoleRef::Key(key("emperor")), scope: None },
        RoleAssignment { role: RoleRef::Id(RoleId::from_uuid(uuid::Uuid::from_u128(u128::MAX - 7))), scope: None },
        RoleAssignment { role: RoleRef::Id(foreign.id), scope: None },
        RoleAssignment {
            role: RoleRef::Key(key("standard")),
            scope: Some(GroupId::from_uuid(uuid::Uuid::from_u128(u128::MAX - 8))),
        },
        RoleAssignment { role: RoleRef::Key(key("standard")), scope: Some(gone) },
    ];
    let err = failure(w.services.set_roles(&w.admin_actor().await, ann, roles, None).await);
    let ServiceError::Validation(fields) = err else { panic!("validation_failed, got {err:?}") };
    let named: Vec<(&str, &str)> = fields.iter().map(|f| (f.field.as_str(), f.code)).collect();
    assert_eq!(
        named,
        [
            ("roles[0].role", "unknown_role"),
            ("roles[1].role", "unknown_role"),
            ("roles[2].role", "unknown_role"),
            ("roles[3].scope", "unknown_group"),
            ("roles[4].scope", "unknown_group"),
        ],
        "a role of another organization is no role here"
    );
    assert_eq!(w.details(ann).await.user, before, "nothing changed");
    assert!(w.events_named("user.roles_changed").await.is_empty());
}

#[tokio::test]
async fn the_bulk_action_takes_a_role_by_id_with_the_same_rules() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let analyst = role(&w, "analyst").await;
    let scorer = role(&w, "scorer").await;
    let admin = w.admin_actor().await;
    let request = |role: RoleRef| BulkRequest {
        selection: BulkSelection::Ids(vec![ann, bob]),
        action: BulkAction::SetRoles(vec![RoleAssignment { role, scope: None }]),
        atomic: false,
        dry_run: false,
    };

    let result = w.services.bulk_update(&admin, request(RoleRef::Id(analyst.id))).await.expect("runs");
    assert!(result.outcomes.iter().all(|o| o.status == "ok"), "{:?}", result.outcomes);
    assert_eq!(w.details(bob).await.user.roles, [RoleGrant::org_wide(analyst.id)].into());

    let result = w.services.bulk_update(&admin, request(RoleRef::Id(scorer.id))).await.expect("runs");
    assert!(result.outcomes.iter().all(|o| o.status == "forbidden"), "only the operator grants scorer");
    let unknown = RoleRef::Id(RoleId::from_uuid(uuid::Uuid::from_u128(u128::MAX - 9)));
    let result = w.services.bulk_update(&admin, request(unknown)).await.expect("runs");
    assert!(result.outcomes.iter().all(|o| o.status == "validation_failed"), "{:?}", result.outcomes);
    assert_eq!(w.details(ann).await.user.roles, [RoleGrant::org_wide(analyst.id)].into(), "unchanged");
}

#[tokio::test]
async fn an_impersonating_session_changes_no_roles_by_id_either() {
    let w = World::new().await;
    let ann = w.member("ann", &["admin"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let analyst = role(&w, "analyst").await;
    let as_ann = w.impersonating(w.admin, ann).await;
    let roles = vec![RoleAssignment { role: RoleRef::Id(analyst.id), scope: None }];
    assert_eq!(failure(w.services.set_roles(&as_ann, bob, roles, None).await).code(), ErrorCode::Forbidden);
}
