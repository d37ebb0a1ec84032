//! Scheduled changes (§3.1): a future deactivation or license removal, applied by the worker
//! through the same rules as an admin's change.

use roster_domain::ErrorCode;
use roster_domain::audit::Source;
use roster_domain::scheduling::{ScheduleState, ScheduledAction};
use roster_domain::user::StatusKind;
use time::Duration;

use crate::support::{T0, World, failure, key, keys};

#[tokio::test]
async fn a_scheduled_deactivation_is_applied_when_due_and_not_before() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    let change = w
        .services
        .schedule_change(&w.admin_actor().await, ann, ScheduledAction::Deactivate, T0 + Duration::days(30))
        .await
        .expect("schedules");
    assert_eq!(
        w.details(ann).await.scheduled,
        std::slice::from_ref(&change),
        "the Users table shows what is scheduled"
    );

    w.clock.advance(Duration::days(29));
    assert!(w.services.apply_due_changes(10).await.expect("ticks").is_empty());
    assert_eq!(w.status(ann).await, StatusKind::Pending);

    w.clock.advance(Duration::days(1));
    let applied = w.services.apply_due_changes(10).await.expect("ticks");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].state, ScheduleState::Applied { at: T0 + Duration::days(30) });
    assert_eq!(w.status(ann).await, StatusKind::Deactivated);
    assert_eq!(w.seats_used("core").await, 0, "through the same rules: licenses released");
    assert!(w.details(ann).await.scheduled.is_empty());
    let event = w.events_named("user.deactivated").await.pop().expect("audited");
    assert_eq!((event.source, event.actor_id), (Source::Scheduler, None));
    assert!(w.services.apply_due_changes(10).await.expect("ticks").is_empty(), "applied once");
}

#[tokio::test]
async fn a_scheduled_license_removal_is_applied_when_due_with_its_cascade() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core", "dialer", "sms"]).await;
    w.services
        .schedule_change(
            &w.admin_actor().await,
            ann,
            ScheduledAction::RemoveLicense(key("dialer")),
            T0 + Duration::days(1),
        )
        .await
        .expect("schedules");
    w.clock.advance(Duration::days(2));
    w.services.apply_due_changes(10).await.expect("ticks");
    assert_eq!(w.products(ann).await, keys(&["core"]));
    assert_eq!((w.seats_used("dialer").await, w.seats_used("sms").await), (0, 0));
}

#[tokio::test]
async fn a_scheduled_change_must_lie_in_the_future() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let err = failure(w.services.schedule_change(&w.admin_actor().await, ann, ScheduledAction::Deactivate, T0).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn removing_a_product_the_user_does_not_hold_cannot_be_scheduled() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let later = T0 + Duration::days(1);
    let err =
        failure(w.services.schedule_change(&admin, ann, ScheduledAction::RemoveLicense(key("core")), later).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let err = failure(w.services.schedule_change(&admin, ann, ScheduledAction::RemoveLicense(key("fax")), later).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn a_scheduled_change_the_rules_refuse_is_marked_failed_with_the_code() {
    let w = World::new().await;
    w.services
        .schedule_change(&w.system(), w.admin, ScheduledAction::Deactivate, T0 + Duration::days(1))
        .await
        .expect("schedules");
    w.clock.advance(Duration::days(1));
    let done = w.services.apply_due_changes(10).await.expect("ticks");
    assert_eq!(done[0].state, ScheduleState::Failed { at: T0 + Duration::days(1), code: "last_admin".into() });
    assert!(w.details(w.admin).await.user.lifecycle.deactivated_at.is_none());
    assert!(w.services.apply_due_changes(10).await.expect("ticks").is_empty(), "not retried forever");
}

#[tokio::test]
async fn a_cancelled_change_is_never_applied() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let change = w
        .services
        .schedule_change(&admin, ann, ScheduledAction::Deactivate, T0 + Duration::days(1))
        .await
        .expect("schedules");
    w.services.cancel_scheduled(&admin, change.id).await.expect("cancels");
    let err = failure(w.services.cancel_scheduled(&admin, change.id).await);
    assert_eq!(err.code(), ErrorCode::NotFound, "only pending changes can be cancelled");
    w.clock.advance(Duration::days(2));
    assert!(w.services.apply_due_changes(10).await.expect("ticks").is_empty());
    assert_eq!(w.status(ann).await, StatusKind::Inactive);
    let actions: Vec<String> =
        w.events().await.into_iter().filter(|e| e.action.starts_with("schedule.")).map(|e| e.action).collect();
    assert_eq!(actions, ["schedule.created", "schedule.cancelled"]);
}

#[tokio::test]
async fn scheduling_requires_manage_users_over_the_user() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let err =
        failure(w.services.schedule_change(&lead, ann, ScheduledAction::Deactivate, T0 + Duration::days(1)).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn due_changes_are_applied_oldest_first_up_to_the_limit() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services
        .schedule_change(&admin, bob, ScheduledAction::Deactivate, T0 + Duration::days(2))
        .await
        .expect("schedules");
    w.services
        .schedule_change(&admin, ann, ScheduledAction::Deactivate, T0 + Duration::days(1))
        .await
        .expect("schedules");
    w.clock.advance(Duration::days(3));
    let first = w.services.apply_due_changes(1).await.expect("ticks");
    assert_eq!(first[0].user_id, ann);
    assert_eq!(w.status(bob).await, StatusKind::Inactive);
    let second = w.services.apply_due_changes(1).await.expect("ticks");
    assert_eq!(second[0].user_id, bob);
}

#[tokio::test]
async fn an_admin_cannot_schedule_their_own_deactivation() {
    let w = World::new().await;
    let err = failure(
        w.services
            .schedule_change(&w.admin_actor().await, w.admin, ScheduledAction::Deactivate, T0 + Duration::days(1))
            .await,
    );
    assert_eq!(err.code(), ErrorCode::SelfDeactivation);
}

#[tokio::test]
async fn a_scheduled_time_is_kept_to_the_microsecond_as_every_stored_time() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let asked = T0 + Duration::days(2) + Duration::nanoseconds(123_456_789);
    let change = w
        .services
        .schedule_change(&w.admin_actor().await, ann, ScheduledAction::Deactivate, asked)
        .await
        .expect("schedules");
    assert_eq!(change.effective_at, T0 + Duration::days(2) + Duration::microseconds(123_456));
    assert_eq!(w.details(ann).await.scheduled, [change], "the answer is what is stored");
}

#[tokio::test]
async fn a_due_change_seen_by_two_schedulers_at_once_is_applied_once() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services
        .schedule_change(&w.admin_actor().await, ann, ScheduledAction::Deactivate, T0 + Duration::minutes(1))
        .await
        .expect("schedules");
    w.clock.advance(Duration::minutes(1));
    let (a, b) = tokio::join!(w.services.apply_due_changes(10), w.services.apply_due_changes(10));
    let settled = a.expect("ticks").len() + b.expect("ticks").len();
    assert_eq!(settled, 1, "one scheduler applies it, the other finds it settled");
    assert_eq!(w.events_named("user.deactivated").await.len(), 1);
}
