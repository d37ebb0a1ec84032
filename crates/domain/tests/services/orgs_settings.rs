//! Organizations, seat limits, settings, billing and reconciliation (§2, §4.2, §4.4, §4.5).

use roster_domain::ErrorCode;
use roster_domain::audit::Source;
use roster_domain::catalog::Product;
use roster_domain::org::{OrgSettings, SettingsChange};
use roster_domain::ports::Store as _;
use roster_domain::roles::Visibility;
use roster_domain::services::NewOrganization;
use roster_domain::user::{InactiveReason, StatusKind};
use time::Duration;

use crate::support::{T0, World, domain, failure, key, keys, label, slug};

#[tokio::test]
async fn a_new_organization_has_one_root_group_the_builtin_roles_the_default_catalog_and_default_seats() {
    let w = World::new().await;
    let groups = w.services.list_groups(&w.system()).await.expect("lists");
    assert_eq!(groups.len(), 1);
    let root = &groups[0];
    assert_eq!((root.id, root.depth, root.parent_id), (w.org.root_group_id, 1, None));
    let roles = w.services.list_roles(&w.system()).await.expect("lists");
    let role_keys: Vec<&str> = roles.iter().map(|r| r.key.as_str()).collect();
    for builtin in [
        "admin",
        "full_member",
        "team_lead",
        "analyst",
        "standard",
        "operations",
        "operations_limited",
        "read_only",
        "identified_only",
        "scorer",
    ] {
        assert!(role_keys.contains(&builtin), "{builtin} is created with the organization");
    }
    assert!(roles.iter().all(|r| r.builtin));
    let counts = w.services.license_counts(&w.admin_actor().await).await.expect("counts");
    let products: Vec<&str> = counts.iter().map(|c| c.product.as_str()).collect();
    assert_eq!(products, ["core", "dialer", "flow", "sms"]);
    assert!(counts.iter().all(|c| c.seats_total == 3 && c.seats_used == 0 && c.seats_available == 3));
}

#[tokio::test]
async fn a_new_organization_gets_its_default_seat_limit_per_product() {
    let w = World::build(OrgSettings { default_seat_limit: 7, ..OrgSettings::default() }, None).await;
    assert_eq!(w.pool("sms").await.seats_total(), 7);
}

#[tokio::test]
async fn a_taken_slug_is_refused_with_conflict() {
    let w = World::new().await;
    let again = NewOrganization {
        name: label("Acme again"),
        slug: slug("acme"),
        trial_ends_at: None,
        settings: OrgSettings::default(),
    };
    let err = failure(w.services.create_organization(Source::Cli, again).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert_eq!(w.services.list_organizations().await.expect("lists").len(), 1);
}

#[tokio::test]
async fn org_admins_cannot_raise_their_own_seat_limits() {
    let w = World::new().await;
    let err = failure(w.services.set_seats(&w.admin_actor().await, &key("core"), 100).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert_eq!(w.pool("core").await.seats_total(), 3);
}

#[tokio::test]
async fn the_operator_sets_seat_limits_and_the_change_is_audited() {
    let w = World::new().await;
    let pool = w.services.set_seats(&w.system(), &key("dialer"), 10).await.expect("sets");
    assert_eq!(pool.seats_total(), 10);
    let event = w.events_named("seats.set").await.pop().expect("audited");
    assert_eq!(event.source, Source::Cli);
    assert_eq!(event.details["seats_total"]["before"], 3);
    assert_eq!(event.details["seats_total"]["after"], 10);
}

#[tokio::test]
async fn lowering_seats_below_those_in_use_is_refused_naming_the_figures() {
    let w = World::new().await;
    for name in ["ann", "bob"] {
        let u = w.member(name, &["standard"], &[]).await;
        w.assign(u, &["core"]).await;
    }
    let err = failure(w.services.set_seats(&w.system(), &key("core"), 1).await);
    assert_eq!(err.code(), ErrorCode::SeatLimitReached);
    assert!(err.to_string().contains("2 of 3"), "{err}");
    assert_eq!(w.pool("core").await.seats_total(), 3);
}

#[tokio::test]
async fn setting_seats_of_an_unknown_product_fails_validation() {
    let w = World::new().await;
    let err = failure(w.services.set_seats(&w.system(), &key("fax"), 1).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn the_operator_adds_a_product_with_its_prerequisites_and_a_seat_pool() {
    let w = World::new().await;
    let product = Product { key: key("voicemail"), name: label("Voicemail"), requires: keys(&["dialer"]) };
    let catalog = w.services.add_product(&w.system(), product, None).await.expect("adds").catalog;
    assert!(catalog.prerequisites_of(&key("voicemail")).contains(&key("core")));
    assert_eq!(w.pool("voicemail").await.seats_total(), 3);
}

#[tokio::test]
async fn a_product_with_an_unknown_prerequisite_is_refused_and_org_admins_cannot_add_products() {
    let w = World::new().await;
    let product = Product { key: key("voicemail"), name: label("Voicemail"), requires: keys(&["telex"]) };
    let err = failure(w.services.add_product(&w.system(), product.clone(), None).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let err = failure(w.services.add_product(&w.admin_actor().await, product, None).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn turning_auto_signup_off_requires_confirmation() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let unconfirmed = SettingsChange { auto_signup: Some(false), ..SettingsChange::default() };
    let err = failure(w.services.update_settings(&admin, unconfirmed).await);
    assert_eq!(err.code(), ErrorCode::ConfirmationRequired);
    assert!(w.services.settings(&admin).await.expect("reads").auto_signup);

    let confirmed = SettingsChange { auto_signup: Some(false), confirm: true, ..SettingsChange::default() };
    let settings = w.services.update_settings(&admin, confirmed).await.expect("changes");
    assert!(!settings.auto_signup);
    let event = w.events_named("settings.updated").await.pop().expect("audited");
    assert_eq!(event.details["auto_signup"]["before"], true);
    assert_eq!(event.details["auto_signup"]["after"], false);
}

#[tokio::test]
async fn turning_auto_signup_on_needs_no_confirmation() {
    let w = World::inviting().await;
    let change = SettingsChange { auto_signup: Some(true), ..SettingsChange::default() };
    assert!(w.services.update_settings(&w.admin_actor().await, change).await.expect("changes").auto_signup);
}

#[tokio::test]
async fn changing_settings_requires_manage_settings_over_the_whole_organization() {
    let w = World::new().await;
    let analyst = w.member("ann", &["analyst"], &[]).await;
    let change =
        SettingsChange { allowed_signup_domains: Some(vec![domain("acme.test")]), ..SettingsChange::default() };
    let err = failure(w.services.update_settings(&w.actor(analyst).await, change).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn billing_counts_users_who_are_not_deactivated_deleted_or_invited() {
    let w = World::inviting().await;
    let admin = w.admin_actor().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    w.member("cid", &["standard"], &[]).await;
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    w.services.delete_user(&admin, bob, true).await.expect("deletes");
    w.invite("dee", &["core"]).await;
    let billing = w.services.billing(&admin).await.expect("reads");
    assert_eq!(billing.billable_users, 2, "the admin and cid");
    assert!(!billing.in_trial);
    let core = billing.seats.iter().find(|s| s.product.as_str() == "core").expect("core");
    assert_eq!((core.seats_total, core.seats_used, core.seats_available), (3, 1, 2), "the invite reserves a seat");
}

#[tokio::test]
async fn billing_needs_manage_licenses_or_view_reporting() {
    let w = World::new().await;
    let standard = w.member("ann", &["standard"], &[]).await;
    let err = failure(w.services.billing(&w.actor(standard).await).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let analyst = w.member("bob", &["analyst"], &[]).await;
    assert!(w.services.billing(&w.actor(analyst).await).await.is_ok());
}

#[tokio::test]
async fn during_the_trial_every_user_is_entitled_without_a_seat_and_after_it_users_without_core_are_inactive() {
    let w = World::in_trial_until(T0 + Duration::days(14)).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    assert_eq!(w.status(ann).await, StatusKind::Pending, "entitled to core by the trial");
    assert_eq!(w.seats_used("core").await, 0);
    assert!(w.services.billing(&w.admin_actor().await).await.expect("reads").in_trial);
    w.clock.advance(Duration::days(14));
    let details = w.details(ann).await;
    assert_eq!(details.status.kind(), StatusKind::Inactive);
    assert_eq!(details.status, roster_domain::user::Status::Inactive([InactiveReason::NoLicense].into()));
}

#[tokio::test]
async fn assignments_made_during_the_trial_are_kept_after_it_ends() {
    let w = World::in_trial_until(T0 + Duration::days(14)).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    w.clock.advance(Duration::days(30));
    assert_eq!(w.products(ann).await, keys(&["core"]));
    assert_eq!(w.status(ann).await, StatusKind::Pending);
    assert_eq!(w.seats_used("core").await, 1);
}

#[tokio::test]
async fn reconcile_reports_and_repairs_licenses_held_by_inactive_users() {
    let w = World::build(OrgSettings { release_seats_when_inactive: false, ..OrgSettings::default() }, None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core", "dialer"]).await;
    w.services.set_inactive_reason(&w.system(), ann, InactiveReason::AccountFailure, true).await.expect("marks");
    assert_eq!(w.products(ann).await.len(), 2, "kept while the setting is off");
    let change = SettingsChange { release_seats_when_inactive: Some(true), ..SettingsChange::default() };
    w.services.update_settings(&w.system(), change).await.expect("changes");

    let report = w.services.reconcile(&w.system(), false).await.expect("reports");
    assert_eq!(report.licenses.len(), 2);
    assert!(report.seats.is_empty(), "the counters agree with the rows");
    assert!(report.licenses.iter().all(|f| f.user_id == ann && f.reason == "inactive" && !f.repaired));
    assert_eq!(w.seats_used("core").await, 1, "a report changes nothing");

    let repaired = w.services.reconcile(&w.system(), true).await.expect("repairs");
    assert!(repaired.licenses.iter().all(|f| f.repaired));
    assert!(w.products(ann).await.is_empty());
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (0, 0));
    assert_eq!(w.events_named("license.released").await.len(), 2);
    assert!(w.services.reconcile(&w.system(), false).await.expect("reports").is_clean());
}

/// Moves a pool's counter behind the use cases' back, as a bug or a hand-edited row would.
async fn skew_counter(w: &World, product: &str, take: Option<u32>, give_back: Option<u32>) {
    let mut tx = w.store.begin().await.expect("begins");
    if let Some(n) = take {
        tx.take_seats(w.org.id, &key(product), n).await.expect("takes");
    }
    if let Some(n) = give_back {
        tx.return_seats(w.org.id, &key(product), n).await.expect("returns");
    }
    tx.commit().await.expect("commits");
}

#[tokio::test]
async fn reconcile_sets_a_seat_counter_that_disagrees_with_the_assignments_and_reservations_to_their_count() {
    let w = World::inviting().await;
    w.set_seats("core", 10).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core", "dialer"]).await;
    w.invite("bob", &["core"]).await;
    assert_eq!(w.seats_used("core").await, 2, "one assignment and one reservation");
    skew_counter(&w, "core", Some(3), None).await;
    skew_counter(&w, "dialer", None, Some(1)).await;

    let report = w.services.reconcile(&w.system(), false).await.expect("reports");
    let drift: Vec<(String, u32, u32, bool)> = report
        .seats
        .iter()
        .map(|s| (s.drift.product.to_string(), s.drift.seats_used, s.drift.counted, s.repaired))
        .collect();
    assert_eq!(drift, [("core".to_owned(), 5, 2, false), ("dialer".to_owned(), 0, 1, false)]);
    assert_eq!(w.seats_used("core").await, 5, "a dry run changes nothing");

    let repaired = w.services.reconcile(&w.system(), true).await.expect("repairs");
    assert!(repaired.seats.iter().all(|s| s.repaired));
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (2, 1));
    assert_eq!(w.events_named("seats.recounted").await.len(), 2);
    assert!(w.services.reconcile(&w.system(), false).await.expect("reports").is_clean());
}

#[tokio::test]
async fn reconcile_reports_but_cannot_repair_rows_holding_more_seats_than_the_pool_has() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    w.assign(bob, &["core"]).await;
    skew_counter(&w, "core", None, Some(2)).await;
    w.set_seats("core", 1).await;
    let report = w.services.reconcile(&w.system(), true).await.expect("reports");
    assert_eq!(report.seats.len(), 1);
    let finding = &report.seats[0];
    assert!(!finding.repaired && !finding.drift.repairable());
    assert_eq!((finding.drift.seats_total, finding.drift.seats_used, finding.drift.counted), (1, 0, 2));
    assert_eq!(w.seats_used("core").await, 0, "no counter can hold two assignments in one seat");
}

#[tokio::test]
async fn reconcile_is_an_operator_command() {
    let w = World::new().await;
    let err = failure(w.services.reconcile(&w.admin_actor().await, true).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn organizations_are_found_by_slug() {
    let w = World::new().await;
    assert_eq!(w.services.organization_by_slug(&slug("acme")).await.expect("found").id, w.org.id);
    let err = failure(w.services.organization_by_slug(&slug("nowhere")).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn builtin_role_visibilities_follow_the_spec() {
    let w = World::new().await;
    let roles = w.services.list_roles(&w.system()).await.expect("lists");
    let visibility = |k: &str| roles.iter().find(|r| r.key.as_str() == k).expect("exists").visibility;
    assert_eq!(visibility("admin"), Visibility::All);
    assert_eq!(visibility("standard"), Visibility::Groups);
    assert_eq!(visibility("operations_limited"), Visibility::OwnInvites);
    assert!(!roles.iter().find(|r| r.key.as_str() == "scorer").expect("exists").assignable);
}

#[tokio::test]
async fn the_operator_sets_and_ends_the_trial_and_an_end_not_in_the_future_is_refused() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    assert_eq!(w.status(ann).await, StatusKind::Inactive, "no trial, no license");
    let end = T0 + Duration::days(14);
    let org = w.services.set_trial(&w.system(), Some(end)).await.expect("sets");
    assert_eq!(org.trial_ends_at, Some(end));
    assert_eq!(w.status(ann).await, StatusKind::Pending, "entitled in the trial");
    let event = w.events_named("organization.trial_set").await.pop().expect("audited");
    assert_eq!((event.source, event.details["trial_ends_at"]["before"].is_null()), (Source::Cli, true));

    let before = w.store.snapshot().await;
    for at in [T0, T0 - Duration::days(1)] {
        let err = failure(w.services.set_trial(&w.system(), Some(at)).await);
        let roster_domain::ServiceError::Validation(fields) = err else { panic!("validation") };
        assert_eq!((fields[0].field.as_str(), fields[0].code), ("trial_ends_at", "not_in_future"));
    }
    let err = failure(w.services.set_trial(&w.admin_actor().await, Some(end + Duration::days(1))).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "org admins cannot extend their own trial");
    assert_eq!(w.store.snapshot().await, before);

    // Setting the same end again writes nothing; `None` ends the trial.
    w.services.set_trial(&w.system(), Some(end)).await.expect("no change");
    assert_eq!(w.store.snapshot().await, before);
    let org = w.services.set_trial(&w.system(), None).await.expect("ends");
    assert_eq!(org.trial_ends_at, None);
    assert_eq!(w.status(ann).await, StatusKind::Inactive);
}

#[tokio::test]
async fn a_product_gets_the_seats_asked_and_a_taken_key_or_a_cycle_is_refused() {
    let w = World::new().await;
    let fax = Product { key: key("fax"), name: label("Fax"), requires: keys(&["core"]) };
    let added = w.services.add_product(&w.system(), fax.clone(), Some(9)).await.expect("adds");
    assert_eq!((added.pool.product().as_str(), added.pool.seats_total(), added.pool.seats_used()), ("fax", 9, 0));
    assert_eq!(w.pool("fax").await.seats_total(), 9);

    let before = w.store.snapshot().await;
    let err = failure(w.services.add_product(&w.system(), fax, None).await);
    assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    let looped = Product { key: key("loop"), name: label("Loop"), requires: keys(&["core", "loop"]) };
    let err = failure(w.services.add_product(&w.system(), looped, None).await);
    let roster_domain::ServiceError::Validation(fields) = err else { panic!("validation") };
    assert_eq!((fields[0].field.as_str(), fields[0].code), ("requires", "cycle"));
    let unknown = Product { key: key("telex"), name: label("Telex"), requires: keys(&["wire"]) };
    let err = failure(w.services.add_product(&w.system(), unknown, None).await);
    let roster_domain::ServiceError::Validation(fields) = err else { panic!("validation") };
    assert_eq!((fields[0].field.as_str(), fields[0].code), ("requires", "unknown_product"));
    assert_eq!(w.store.snapshot().await, before);
}
