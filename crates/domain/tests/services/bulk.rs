//! Bulk actions on a selection of users (§10 `POST /users/bulk`): one outcome per user,
//! `atomic`, `dry_run`, and a selection by ids or by the Users-table filter.

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::ids::UserId;
use roster_domain::services::{BulkAction, BulkRequest, BulkSelection, RoleAssignment, SettingsPatch};
use roster_domain::user::{CallRecording, StatusKind};
use roster_domain::users_query::UserQuery;

use crate::support::{World, crm_id, failure, key, phone};

fn on(ids: &[UserId], action: BulkAction) -> BulkRequest {
    BulkRequest { selection: BulkSelection::Ids(ids.to_vec()), action, atomic: false, dry_run: false }
}

#[tokio::test]
async fn setting_teams_in_bulk_joins_and_leaves_with_the_restamping_of_rule_one() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[support]).await;
    let anns = w.connection(&w.actor(ann).await, "carl", None).await;
    let result = w
        .services
        .bulk_update(&w.admin_actor().await, on(&[ann, bob], BulkAction::SetTeams([sales].into())))
        .await
        .expect("runs");
    assert!(result.outcomes.iter().all(|o| o.is_ok()));
    assert_eq!(w.details(ann).await.groups, BTreeSet::from([sales]));
    assert_eq!(w.details(bob).await.groups, BTreeSet::from([sales]));
    assert_eq!(w.store.snapshot().await.connections[&anns.id].groups, BTreeSet::from([sales]));
}

#[tokio::test]
async fn adding_and_removing_teams_in_bulk() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let admin = w.admin_actor().await;
    w.services.bulk_update(&admin, on(&[ann], BulkAction::AddTeams([support].into()))).await.expect("runs");
    assert_eq!(w.details(ann).await.groups, BTreeSet::from([sales, support]));
    w.services.bulk_update(&admin, on(&[ann], BulkAction::RemoveTeams([sales].into()))).await.expect("runs");
    assert_eq!(w.details(ann).await.groups, BTreeSet::from([support]));
    let result =
        w.services.bulk_update(&admin, on(&[ann], BulkAction::AddTeams([w.root()].into()))).await.expect("runs");
    assert_eq!(result.outcomes[0].status, "validation_failed", "the root group has no members");
}

#[tokio::test]
async fn setting_roles_in_bulk_keeps_the_last_admin() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let analyst = vec![RoleAssignment::org_wide(key("analyst"))];
    let result =
        w.services.bulk_update(&w.system(), on(&[ann, w.admin], BulkAction::SetRoles(analyst))).await.expect("runs");
    let statuses: Vec<&str> = result.outcomes.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(statuses, ["ok", "last_admin"]);
    assert!(result.applied, "not atomic: the others are kept");
    assert!(w.actor(ann).await.has(roster_domain::roles::Permission::ViewReporting));
}

#[tokio::test]
async fn changing_settings_in_bulk_validates_each_user_and_audits_the_change() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let patch = SettingsPatch {
        call_recording: Some(CallRecording::Disabled),
        flow_enabled: Some(false),
        ..SettingsPatch::default()
    };
    w.services.bulk_update(&w.admin_actor().await, on(&[ann, bob], BulkAction::Settings(patch))).await.expect("runs");
    let settings = w.details(bob).await.user.settings;
    assert_eq!((settings.call_recording, settings.flow_enabled), (CallRecording::Disabled, false));
    assert_eq!(w.events_named("user.updated").await.len(), 2);
    let too_many = SettingsPatch { email_throttle_max_per_day: Some(20_000), ..SettingsPatch::default() };
    let result =
        w.services.bulk_update(&w.admin_actor().await, on(&[ann], BulkAction::Settings(too_many))).await.expect("runs");
    assert_eq!(result.outcomes[0].status, "validation_failed");
}

#[tokio::test]
async fn deprovisioning_dialer_numbers_clears_them() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let patch = roster_domain::services::ProfilePatch {
        dialer_number: Some(Some(phone("+15551234567"))),
        ..Default::default()
    };
    w.services.update_user(&w.admin_actor().await, ann, patch, None).await.expect("updates");
    w.services
        .bulk_update(&w.admin_actor().await, on(&[ann], BulkAction::DeprovisionDialerNumbers))
        .await
        .expect("runs");
    assert_eq!(w.details(ann).await.user.dialer_number, None);
    assert_eq!(w.events_named("user.dialer_number_deprovisioned").await.len(), 1);
}

#[tokio::test]
async fn checking_connection_status_asks_the_crm_and_changes_nothing() {
    let w = World::new().await;
    w.crm_has([w.crm_user("005A", "ann")]);
    w.crm.set_active(&crm_id("005A"), false, crate::support::T0);
    let mut linked = w.new_user("ann", &["standard"], &[]);
    linked.crm_id = Some(crm_id("005A"));
    let ann = w.create(linked).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let before = w.store.snapshot().await;
    let result = w
        .services
        .bulk_update(&w.admin_actor().await, on(&[ann, bob], BulkAction::CheckConnectionStatus))
        .await
        .expect("runs");
    assert_eq!(result.outcomes[0].crm_active, Some(false));
    assert_eq!(result.outcomes[1].crm_active, None, "not linked to the CRM");
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn checking_connection_status_without_a_crm_directory_is_a_validation_failure() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let without_crm = roster_domain::Services::new(
        std::sync::Arc::new(w.store.clone()),
        std::sync::Arc::new(w.clock.clone()),
        std::sync::Arc::new(w.ids.clone()),
        std::sync::Arc::new(roster_testkit::FakeHasher),
    );
    let before = w.store.snapshot().await;
    let e = without_crm
        .bulk_update(&w.admin_actor().await, on(&[ann], BulkAction::CheckConnectionStatus))
        .await
        .expect_err("no directory to ask");
    assert_eq!(e.code(), ErrorCode::ValidationFailed);
    let roster_domain::ServiceError::Validation(fields) = e else { panic!("not a validation failure") };
    assert_eq!((fields[0].field.as_str(), fields[0].code), ("action", "crm_not_configured"));
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn a_selection_by_filter_applies_to_every_matching_user() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    let mut query = UserQuery::new(w.org.id);
    query.statuses = [StatusKind::Pending].into();
    let request = BulkRequest {
        selection: BulkSelection::Filter(Box::new(query)),
        action: BulkAction::AssignLicenses(crate::support::keys(&["dialer"])),
        atomic: true,
        dry_run: false,
    };
    let result = w.services.bulk_update(&w.admin_actor().await, request).await.expect("runs");
    assert_eq!(result.outcomes.iter().map(|o| o.user_id).collect::<Vec<_>>(), [ann]);
    assert!(w.products(bob).await.is_empty());
}

#[tokio::test]
async fn an_empty_selection_fails_validation() {
    let w = World::new().await;
    let err =
        failure(w.services.bulk_update(&w.admin_actor().await, on(&[], BulkAction::DeprovisionDialerNumbers)).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn a_bulk_action_on_users_outside_the_actors_reach_is_refused_per_user() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[sales]).await;
    let boss = w.member("boss", &["standard"], &[sales]).await;
    w.scope_admin(boss, sales).await;
    let scoped = w.actor(boss).await;
    let result =
        w.services.bulk_update(&scoped, on(&[ann, bob], BulkAction::DeprovisionDialerNumbers)).await.expect("runs");
    let statuses: Vec<&str> = result.outcomes.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(statuses, ["forbidden", "ok"], "ann is ungrouped: outside the Sales admin's reach");
}

#[tokio::test]
async fn a_bulk_action_by_someone_without_its_permission_is_refused_as_a_whole() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let before = w.store.snapshot().await;
    for action in [
        BulkAction::DeprovisionDialerNumbers,
        BulkAction::AssignLicenses(crate::support::keys(&["core"])),
        BulkAction::AddTeams(BTreeSet::new()),
    ] {
        let err = failure(w.services.bulk_update(&lead, on(&[ann], action)).await);
        assert_eq!(err.code(), ErrorCode::Forbidden);
    }
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn joining_leaving_or_licensing_nothing_is_refused_and_setting_no_team_is_not() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let before = w.store.snapshot().await;
    for (action, field) in [
        (BulkAction::AddTeams(BTreeSet::new()), "group_ids"),
        (BulkAction::RemoveTeams(BTreeSet::new()), "group_ids"),
        (BulkAction::AssignLicenses(BTreeSet::new()), "products"),
        (BulkAction::UnassignLicenses(BTreeSet::new()), "products"),
        (BulkAction::SetRoles(Vec::new()), "roles"),
    ] {
        let err = failure(w.services.bulk_update(&admin, on(&[ann], action.clone())).await);
        assert_eq!(err.code(), ErrorCode::ValidationFailed, "{action:?}");
        let roster_domain::ServiceError::Validation(errors) = &err else { panic!("{err:?}") };
        assert_eq!((errors[0].field.as_str(), errors[0].code), (field, "empty"), "{action:?}");
        let err = failure(w.services.submit_bulk(&admin, on(&[ann], action.clone())).await);
        assert_eq!(err.code(), ErrorCode::ValidationFailed, "{action:?} as a submission");
    }
    assert_eq!(w.store.snapshot().await, before, "nothing changed");
    let result = w.services.bulk_update(&admin, on(&[ann], BulkAction::SetTeams(BTreeSet::new()))).await;
    assert!(
        result.is_ok_and(|r| r.outcomes.iter().all(|o| o.is_ok())),
        "set_teams to none takes the user out of every team"
    );
}
