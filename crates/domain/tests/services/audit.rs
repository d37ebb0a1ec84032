//! The audit log (§9): every change writes one event with its source, a readable label and the
//! before/after of what changed, in the same transaction as the change.

use std::collections::BTreeSet;

use roster_domain::ErrorCode;
use roster_domain::audit::{AuditQuery, Source, TargetKind};
use roster_domain::services::{MoveUser, ProfilePatch, RoleAssignment};
use roster_domain::user::InactiveReason;

use crate::support::{World, failure, group_name, key, keys, person};

#[tokio::test]
async fn every_change_writes_an_event_with_source_label_and_before_after() {
    let w = World::new().await;
    let api_admin = w.services.resolve_actor(w.org.id, w.admin, Source::Api, None).await.expect("resolves");
    let sales = w.services.create_group(&api_admin, w.root(), group_name("Sales")).await.expect("creates").id;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let before = w.events().await.len();

    // One change of each kind, each expected to append exactly one event.
    let patch = ProfilePatch { last_name: Some(person("Lovelace")), ..ProfilePatch::default() };
    w.services.update_user(&api_admin, ann, patch, None).await.expect("updates");
    w.services.set_licenses(&api_admin, ann, keys(&["core"])).await.expect("assigns");
    w.services
        .set_roles(&api_admin, ann, vec![RoleAssignment::org_wide(key("analyst"))], None)
        .await
        .expect("sets roles");
    w.services.add_members(&api_admin, sales, &[ann]).await.expect("joins");
    w.services
        .move_user(&api_admin, ann, MoveUser { from_group_id: sales, to_group_id: support, transfer_records: false })
        .await
        .expect("moves");
    w.services.remove_member(&api_admin, support, ann).await.expect("leaves");
    w.services.deactivate_user(&api_admin, ann, None).await.expect("deactivates");

    let events = w.events().await.split_off(before);
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.updated",
            "user.licenses_changed",
            "user.roles_changed",
            "membership.joined",
            "membership.moved",
            "membership.left",
            "user.licenses_changed",
            "user.deactivated",
        ]
    );
    for e in &events {
        assert_eq!(e.source, Source::Api, "{}", e.action);
        assert_eq!(e.actor_id, Some(w.admin), "{}", e.action);
        assert_eq!(e.impersonator_id, None);
        assert_eq!(e.target_id, ann.to_string(), "{}", e.action);
        assert!(e.target_label.contains("Ann"), "a readable label, not an id: {} has {:?}", e.action, e.target_label);
        assert!(e.details.is_object());
    }
    assert_eq!(events[0].target_label, "Ann Tester <ann@acme.test>", "the name at the time of the change");
    assert_eq!(events[0].details["last_name"], serde_json::json!({ "before": "Tester", "after": "Lovelace" }));
    assert_eq!(events[1].details["products"], serde_json::json!({ "before": [], "after": ["core"] }));
    assert_eq!(events[2].details["roles"], serde_json::json!({ "before": ["standard"], "after": ["analyst"] }));
    assert_eq!(events[3].target_kind, TargetKind::Membership);
    assert_eq!(events[4].details["group_id"]["before"], serde_json::json!(sales));
    assert_eq!(events[7].details["deactivated"], serde_json::json!({ "before": false, "after": true }));
    assert_eq!(events[1].at, crate::support::T0);
}

#[tokio::test]
async fn group_connection_flow_and_settings_changes_are_audited() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let sales = w.services.create_group(&admin, w.root(), group_name("Sales")).await.expect("creates").id;
    let flow = w.services.create_flow(&admin, crate::support::label("Renewal")).await.expect("creates");
    w.services.set_group_flows(&admin, sales, BTreeSet::from([flow.id])).await.expect("assigns");
    w.connection(&admin, "carl", None).await;
    w.services.delete_group(&admin, sales, false).await.expect("deletes");
    let kinds: Vec<(String, TargetKind)> = w.events().await.into_iter().map(|e| (e.action, e.target_kind)).collect();
    for expected in [
        ("group.created", TargetKind::Group),
        ("flow.created", TargetKind::Flow),
        ("group.flows_changed", TargetKind::Group),
        ("connection.created", TargetKind::Connection),
        ("group.deleted", TargetKind::Group),
    ] {
        assert!(kinds.iter().any(|(a, k)| a == expected.0 && *k == expected.1), "{expected:?} in {kinds:?}");
    }
    let connection = w.events_named("connection.created").await.pop().expect("audited");
    assert_eq!(connection.target_label, "Carl <carl@customer.test>");
}

#[tokio::test]
async fn a_change_that_changes_nothing_writes_no_event() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let before = w.events().await.len();
    let admin = w.admin_actor().await;
    w.services.update_user(&admin, ann, ProfilePatch::default(), None).await.expect("updates");
    w.services.set_licenses(&admin, ann, BTreeSet::new()).await.expect("no-op");
    w.services.set_inactive_reason(&admin, ann, InactiveReason::AccountFailure, false).await.expect("no-op");
    assert_eq!(w.events().await.len(), before);
}

#[tokio::test]
async fn a_refused_use_case_leaves_no_event() {
    let w = World::new().await;
    w.set_seats("dialer", 0).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let before = w.events().await;
    let err = failure(w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core", "dialer"])).await);
    assert_eq!(err.code(), ErrorCode::SeatLimitReached);
    assert_eq!(w.events().await, before);
}

#[tokio::test]
async fn a_use_case_whose_commit_fails_leaves_no_event_and_no_change() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    let before = w.store.snapshot().await;
    w.store.fail_next_commit();
    let err = failure(w.services.deactivate_user(&w.admin_actor().await, ann, None).await);
    assert_eq!(err.code(), ErrorCode::Internal);
    assert_eq!(w.store.snapshot().await, before, "neither the deactivation nor its events");
}

#[tokio::test]
async fn the_audit_log_filters_by_actor_target_and_action_newest_first() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let second = w.member("second", &["admin"], &[]).await;
    let admin = w.admin_actor().await;
    w.clock.advance(time::Duration::minutes(1));
    w.services.set_licenses(&admin, ann, keys(&["core"])).await.expect("assigns");
    w.clock.advance(time::Duration::minutes(1));
    w.services.set_licenses(&w.actor(second).await, ann, keys(&["core", "dialer"])).await.expect("assigns");

    let by_admin = AuditQuery { actor_id: Some(w.admin), ..AuditQuery::default() };
    let events = w.services.audit_log(&admin, &by_admin).await.expect("reads");
    assert_eq!(events.len(), 1);
    let on_ann = AuditQuery {
        target_id: Some(ann.to_string()),
        action: Some("user.licenses_changed".into()),
        ..AuditQuery::default()
    };
    let events = w.services.audit_log(&admin, &on_ann).await.expect("reads");
    assert_eq!(events.iter().map(|e| e.actor_id).collect::<Vec<_>>(), [Some(second), Some(w.admin)], "newest first");
    let late = AuditQuery { from: Some(crate::support::T0 + time::Duration::minutes(2)), ..AuditQuery::default() };
    assert_eq!(w.services.audit_log(&admin, &late).await.expect("reads").len(), 1);
}

#[tokio::test]
async fn reading_the_audit_log_requires_view_audit() {
    let w = World::new().await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let err = failure(w.services.audit_log(&lead, &AuditQuery::default()).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn operator_actions_name_no_member_and_carry_the_cli_source() {
    let w = World::new().await;
    let creation = w.events_named("organization.created").await.pop().expect("audited");
    assert_eq!((creation.actor_id, creation.source), (None, Source::Cli));
    assert_eq!(creation.target_label, "Acme");
}
