//! Assigning and unassigning licenses, one user or many, and the seat invariant under
//! concurrency (§4.2, §4.3).

use std::collections::BTreeSet;

use roster_domain::services::{BulkLicenses, BulkOp};
use roster_domain::user::StatusKind;
use roster_domain::{ErrorCode, ServiceError};

use crate::support::{World, failure, key, keys};

#[tokio::test]
async fn assigning_a_product_takes_a_seat_and_is_audited() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let change = w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core"])).await.expect("assigns");
    assert_eq!(change.assigned, [key("core")]);
    assert_eq!(w.seats_used("core").await, 1);
    let event = w.events_named("user.licenses_changed").await.pop().expect("audited");
    assert_eq!(event.details["products"]["before"], serde_json::json!([]));
    assert_eq!(event.details["products"]["after"], serde_json::json!(["core"]));
}

#[tokio::test]
async fn assigning_without_a_free_seat_fails_with_seat_limit_reached_naming_the_figures() {
    let w = World::new().await;
    for name in ["ann", "bob", "cid"] {
        let u = w.member(name, &["standard"], &[]).await;
        w.assign(u, &["core"]).await;
    }
    let dee = w.member("dee", &["standard"], &[]).await;
    let err = failure(w.services.set_licenses(&w.admin_actor().await, dee, keys(&["core"])).await);
    assert_eq!(err.code(), ErrorCode::SeatLimitReached);
    match err {
        ServiceError::SeatLimitReached { product, seats_total, seats_used } => {
            assert_eq!((product.as_str(), seats_total, seats_used), ("core", 3, 3));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(w.products(dee).await.is_empty());
    assert_eq!(w.seats_used("core").await, 3);
}

#[tokio::test]
async fn a_refused_product_gives_back_the_seats_taken_for_the_others() {
    let w = World::new().await;
    w.set_seats("sms", 0).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let before = w.store.snapshot().await;
    let err = failure(w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core", "dialer", "sms"])).await);
    assert_eq!(err.code(), ErrorCode::SeatLimitReached);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn assigning_a_product_without_its_prerequisite_fails_with_missing_prerequisite() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    let err = failure(w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core", "sms"])).await);
    assert_eq!(err.code(), ErrorCode::MissingPrerequisite);
    match err {
        ServiceError::MissingPrerequisite { product, missing } => {
            assert_eq!(product.as_str(), "sms");
            assert_eq!(missing, [key("dialer")]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(w.seats_used("sms").await, 0);
}

#[tokio::test]
async fn prerequisites_assigned_in_the_same_operation_are_enough() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let change =
        w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core", "dialer", "sms"])).await.expect("assigns");
    assert_eq!(change.assigned, [key("core"), key("dialer"), key("sms")]);
}

#[tokio::test]
async fn assigning_a_license_already_held_is_a_no_op_success() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    let before = w.store.snapshot().await;
    let change = w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core"])).await.expect("succeeds");
    assert!(change.assigned.is_empty() && change.unassigned.is_empty() && change.cascaded.is_empty());
    assert_eq!(w.store.snapshot().await, before, "no seat taken, no event written");
}

#[tokio::test]
async fn a_deactivated_user_cannot_be_assigned_licenses() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services.deactivate_user(&w.system(), ann, None).await.expect("deactivates");
    let err = failure(w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core"])).await);
    assert_eq!(err.code(), ErrorCode::UserNotActive);
    assert_eq!(w.seats_used("core").await, 0);
}

#[tokio::test]
async fn a_deleted_user_cannot_be_assigned_licenses() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services.delete_user(&w.system(), ann, true).await.expect("deletes");
    let err = failure(w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core"])).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn unassigning_a_product_also_unassigns_every_product_that_requires_it() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core", "flow", "dialer", "sms"]).await;
    let change =
        w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core", "flow", "sms"])).await.expect("unassigns");
    assert_eq!(change.unassigned, [key("dialer")]);
    assert_eq!(change.cascaded, [key("sms")], "the result lists the cascade");
    assert_eq!(w.products(ann).await, keys(&["core", "flow"]));
    assert_eq!((w.seats_used("dialer").await, w.seats_used("sms").await), (0, 0));
    let event = w.events_named("user.licenses_changed").await.pop().expect("audited");
    assert_eq!(event.details["cascaded"], serde_json::json!(["sms"]));
}

#[tokio::test]
async fn removing_core_makes_the_user_revoked_and_cascades_to_everything() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core", "flow", "dialer", "sms"]).await;
    let change = w.services.set_licenses(&w.admin_actor().await, ann, BTreeSet::new()).await.expect("unassigns");
    assert_eq!(change.unassigned.len() + change.cascaded.len(), 4);
    assert_eq!(w.status(ann).await, StatusKind::Revoked);
    for product in ["core", "flow", "dialer", "sms"] {
        assert_eq!(w.seats_used(product).await, 0);
    }
}

#[tokio::test]
async fn an_unknown_product_fails_validation() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let err = failure(w.services.set_licenses(&w.admin_actor().await, ann, keys(&["core", "fax"])).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn assigning_licenses_requires_manage_licenses() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let lead = w.member("lead", &["team_lead"], &[]).await;
    let err = failure(w.services.set_licenses(&w.actor(lead).await, ann, keys(&["core"])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_scoped_admin_manages_licenses_of_users_inside_their_subtree_only() {
    let w = World::new().await;
    let (sales, east, support) = w.sales_east_support().await;
    let boss = w.member("boss", &["standard"], &[sales]).await;
    w.scope_admin(boss, sales).await;
    let inside = w.member("inside", &["standard"], &[east]).await;
    let straddling = w.member("straddling", &["standard"], &[east, support]).await;
    let ungrouped = w.member("ungrouped", &["standard"], &[]).await;
    let boss = w.actor(boss).await;
    w.services.set_licenses(&boss, inside, keys(&["core"])).await.expect("inside the subtree");
    for outside in [straddling, ungrouped] {
        let err = failure(w.services.set_licenses(&boss, outside, keys(&["core"])).await);
        assert_eq!(err.code(), ErrorCode::Forbidden);
    }
}

// ---- bulk ------------------------------------------------------------------------------------

fn bulk(
    users: &[roster_domain::ids::UserId],
    products: &[&str],
    op: BulkOp,
    atomic: bool,
    dry_run: bool,
) -> BulkLicenses {
    BulkLicenses { user_ids: users.to_vec(), products: keys(products), op, atomic, dry_run }
}

async fn four_members(w: &World) -> Vec<roster_domain::ids::UserId> {
    let mut out = Vec::new();
    for name in ["ann", "bob", "cid", "dee"] {
        out.push(w.member(name, &["standard"], &[]).await);
    }
    out
}

#[tokio::test]
async fn bulk_assign_reports_one_outcome_per_user_and_keeps_the_successes() {
    let w = World::new().await;
    let users = four_members(&w).await;
    let result = w
        .services
        .bulk_licenses(&w.admin_actor().await, bulk(&users, &["core"], BulkOp::Assign, false, false))
        .await
        .expect("runs");
    assert!(result.applied);
    let statuses: Vec<&str> = result.outcomes.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(statuses, ["ok", "ok", "ok", "seat_limit_reached"]);
    assert_eq!(w.seats_used("core").await, 3);
    assert_eq!(result.seats_before.iter().find(|s| s.product.as_str() == "core").expect("core").seats_used, 0);
    assert_eq!(result.seats_after.iter().find(|s| s.product.as_str() == "core").expect("core").seats_used, 3);
    assert!(w.products(users[3]).await.is_empty());
}

#[tokio::test]
async fn bulk_assign_atomic_changes_nothing_when_one_user_fails() {
    let w = World::new().await;
    let users = four_members(&w).await;
    let before = w.store.snapshot().await;
    let result = w
        .services
        .bulk_licenses(&w.admin_actor().await, bulk(&users, &["core"], BulkOp::Assign, true, false))
        .await
        .expect("runs");
    assert!(!result.applied);
    assert_eq!(result.outcomes.iter().filter(|o| o.is_ok()).count(), 3);
    assert_eq!(result.outcomes[3].status, "seat_limit_reached");
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn bulk_assign_atomic_applies_everything_when_every_user_succeeds() {
    let w = World::new().await;
    let users = four_members(&w).await;
    let result = w
        .services
        .bulk_licenses(&w.admin_actor().await, bulk(&users[..3], &["core", "dialer"], BulkOp::Assign, true, false))
        .await
        .expect("runs");
    assert!(result.applied);
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (3, 3));
}

#[tokio::test]
async fn dry_run_reports_outcomes_and_changes_nothing() {
    let w = World::new().await;
    let users = four_members(&w).await;
    let before = w.store.snapshot().await;
    let result = w
        .services
        .bulk_licenses(&w.admin_actor().await, bulk(&users, &["core"], BulkOp::Assign, false, true))
        .await
        .expect("runs");
    assert!(!result.applied);
    let statuses: Vec<&str> = result.outcomes.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(statuses, ["ok", "ok", "ok", "seat_limit_reached"]);
    let after = result.seats_after.iter().find(|s| s.product.as_str() == "core").expect("core");
    assert_eq!((after.seats_used, after.seats_available), (3, 0), "the seat changes it would make");
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn bulk_unassign_cascades_per_user_and_reports_missing_users() {
    let w = World::new().await;
    let users = four_members(&w).await;
    w.assign(users[0], &["core", "dialer", "sms"]).await;
    w.assign(users[1], &["core", "dialer"]).await;
    let stranger = w.other_org("globex").await.admin;
    let ids = [users[0], users[1], stranger];
    let result = w
        .services
        .bulk_licenses(&w.admin_actor().await, bulk(&ids, &["dialer"], BulkOp::Unassign, false, false))
        .await
        .expect("runs");
    assert_eq!(result.outcomes[0].licenses.as_ref().expect("ok").cascaded, [key("sms")]);
    assert!(result.outcomes[1].licenses.as_ref().expect("ok").cascaded.is_empty());
    assert_eq!(result.outcomes[2].status, "not_found");
    assert_eq!(w.products(users[0]).await, keys(&["core"]));
    assert_eq!((w.seats_used("dialer").await, w.seats_used("sms").await), (0, 0));
}

#[tokio::test]
async fn bulk_assign_reports_refusals_per_user_with_their_codes() {
    let w = World::new().await;
    let users = four_members(&w).await;
    w.services.deactivate_user(&w.system(), users[1], None).await.expect("deactivates");
    let result = w
        .services
        .bulk_licenses(&w.admin_actor().await, bulk(&users[..2], &["sms"], BulkOp::Assign, false, false))
        .await
        .expect("runs");
    assert_eq!(result.outcomes[0].status, "missing_prerequisite");
    let result = w
        .services
        .bulk_licenses(&w.admin_actor().await, bulk(&users[..2], &["core"], BulkOp::Assign, false, false))
        .await
        .expect("runs");
    assert_eq!(result.outcomes[1].status, "user_not_active");
}

// ---- concurrency -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_assignments_racing_for_three_seats_let_exactly_three_succeed() {
    let w = World::new().await;
    let mut users = Vec::new();
    for i in 0..64 {
        users.push(w.member(&format!("racer{i}"), &["standard"], &[]).await);
    }
    let admin = w.admin_actor().await;
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let (services, admin, user) = (w.services.clone(), admin.clone(), *user);
            tokio::spawn(async move { services.set_licenses(&admin, user, keys(&["core"])).await })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        match task.await.expect("the task finishes") {
            Ok(_) => succeeded += 1,
            Err(e) => assert_eq!(e.code(), ErrorCode::SeatLimitReached),
        }
    }
    assert_eq!(succeeded, 3);
    assert_eq!(w.seats_used("core").await, 3);
    let state = w.store.snapshot().await;
    assert_eq!(state.licenses.values().filter(|l| l.org_id == w.org.id && l.product.as_str() == "core").count(), 3);
}

#[tokio::test]
async fn licenses_cannot_be_assigned_to_an_invitee_before_they_accept() {
    let w = World::inviting().await;
    let (_, invitee) = w.invite("ann", &["core"]).await;
    let err = failure(w.services.set_licenses(&w.admin_actor().await, invitee, keys(&["core", "dialer"])).await);
    assert_eq!(err.code(), ErrorCode::UserNotActive, "the invite's reservation already holds their seat");
    assert_eq!(w.seats_used("core").await, 1, "one seat: the reservation");
}
