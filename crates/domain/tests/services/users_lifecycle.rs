//! Users and their lifecycle (§3, §3.1, §4.5): creation, profile changes, deactivation,
//! reactivation, deletion and restore, derived status and system inactivity.

use std::collections::BTreeSet;

use roster_domain::connections::GroupChoice;
use roster_domain::org::OrgSettings;
use roster_domain::ports::Clock as _;
use roster_domain::roles::Permission;
use roster_domain::services::{OnboardingFacts, ProfilePatch, RoleAssignment, SettingsPatch};
use roster_domain::user::{InactiveReason, MailboxProvider, Status, StatusKind};
use roster_domain::users_query::{MAX_SEARCH_CHARS, RoleFilter, UserQuery};
use roster_domain::values::AgentId;
use roster_domain::{ErrorCode, ServiceError};
use time::Duration;

use crate::support::{World, failure, key, keys, password, person, phone};

// ---- creation and profile -------------------------------------------------------------------

#[tokio::test]
async fn a_member_created_without_roles_gets_the_standard_role() {
    let w = World::new().await;
    let ann = w.member("ann", &[], &[]).await;
    let actor = w.actor(ann).await;
    assert!(actor.has(Permission::InviteConnections));
    assert!(!actor.has(Permission::ManageUsers));
    let event = w.events_named("user.created").await.pop().expect("audited");
    assert_eq!(event.details["roles"], serde_json::json!(["standard"]));
}

#[tokio::test]
async fn a_member_is_created_with_groups_and_licenses_in_one_operation() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let mut new = w.new_user("ann", &["standard"], &[sales]);
    new.products = keys(&["core", "dialer"]);
    let details = w.services.create_user(&w.admin_actor().await, new).await.expect("creates");
    assert_eq!(details.groups, BTreeSet::from([sales]));
    assert_eq!(details.products, keys(&["core", "dialer"]));
    assert_eq!(details.status.kind(), StatusKind::Pending);
    assert_eq!(w.seats_used("dialer").await, 1);
}

#[tokio::test]
async fn creating_a_member_without_a_free_seat_creates_nothing() {
    let w = World::new().await;
    w.set_seats("dialer", 0).await;
    let mut new = w.new_user("ann", &["standard"], &[]);
    new.products = keys(&["core", "dialer"]);
    let before = w.store.snapshot().await;
    let err = failure(w.services.create_user(&w.admin_actor().await, new).await);
    assert_eq!(err.code(), ErrorCode::SeatLimitReached);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn a_second_member_with_the_same_email_is_refused_naming_the_field() {
    let w = World::new().await;
    w.member("ann", &["standard"], &[]).await;
    let mut again = w.new_user("ann", &["standard"], &[]);
    again.email = roster_domain::values::Email::parse("  ANN@acme.test ").expect("valid");
    let err = failure(w.services.create_user(&w.admin_actor().await, again).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(matches!(err, roster_domain::ServiceError::Conflict { field: "email", .. }), "{err:?}");
}

#[tokio::test]
async fn phone_agent_id_and_crm_id_are_unique_per_organization() {
    let w = World::new().await;
    let mut ann = w.new_user("ann", &["standard"], &[]);
    ann.phone = Some(phone("+33 1 23 45 67 89"));
    ann.agent_id = Some(AgentId::parse("agent-7").expect("valid"));
    ann.crm_id = Some(crate::support::crm_id("005A"));
    w.create(ann.clone()).await;
    let admin = w.admin_actor().await;
    for (field, mut bob) in [
        ("phone", w.new_user("bob", &["standard"], &[])),
        ("agent_id", w.new_user("bob", &["standard"], &[])),
        ("crm_id", w.new_user("bob", &["standard"], &[])),
    ] {
        match field {
            "phone" => bob.phone = ann.phone.clone(),
            "agent_id" => bob.agent_id = ann.agent_id.clone(),
            _ => bob.crm_id = ann.crm_id.clone(),
        }
        let err = failure(w.services.create_user(&admin, bob).await);
        assert_eq!(err.code(), ErrorCode::Conflict);
        assert!(err.to_string().contains(field), "{err}");
    }
    // Another organization may use the same values.
    let other = w.other_org("globex").await;
    let mut twin = other.new_user("ann", &["standard"], &[]);
    (twin.phone, twin.agent_id, twin.crm_id) = (ann.phone, ann.agent_id, ann.crm_id);
    other.create(twin).await;
}

#[tokio::test]
async fn a_member_cannot_be_placed_in_the_root_group() {
    let w = World::new().await;
    let new = w.new_user("ann", &["standard"], &[w.root()]);
    let err = failure(w.services.create_user(&w.admin_actor().await, new).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn creating_members_requires_manage_users() {
    let w = World::new().await;
    let lead = w.member("lead", &["team_lead"], &[]).await;
    let err = failure(w.services.create_user(&w.actor(lead).await, w.new_user("ann", &[], &[])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn updating_a_profile_writes_the_changed_fields_and_bumps_the_version() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let version = w.details(ann).await.user.version;
    let patch = ProfilePatch {
        first_name: Some(person("Annabel")),
        settings: SettingsPatch {
            call_recording: Some(roster_domain::user::CallRecording::Enforced),
            ..SettingsPatch::default()
        },
        ..ProfilePatch::default()
    };
    let details = w.services.update_user(&w.admin_actor().await, ann, patch, Some(version)).await.expect("updates");
    assert_eq!(details.user.first_name.as_str(), "Annabel");
    assert_eq!(details.user.version, version + 1);
    let event = w.events_named("user.updated").await.pop().expect("audited");
    assert_eq!(event.details["first_name"]["before"], "Ann");
    assert_eq!(event.details["first_name"]["after"], "Annabel");
    assert!(event.details.get("last_name").is_none(), "unchanged fields are left out");
}

#[tokio::test]
async fn updating_with_a_stale_version_fails_with_precondition_failed() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let stale = w.details(ann).await.user.version;
    let admin = w.admin_actor().await;
    let rename = |n: &str| ProfilePatch { last_name: Some(person(n)), ..ProfilePatch::default() };
    w.services.update_user(&admin, ann, rename("First"), Some(stale)).await.expect("the first writer wins");
    let err = failure(w.services.update_user(&admin, ann, rename("Second"), Some(stale)).await);
    assert_eq!(err.code(), ErrorCode::PreconditionFailed);
    assert_eq!(w.details(ann).await.user.last_name.as_str(), "First");
}

#[tokio::test]
async fn the_email_throttle_must_stay_within_the_mailbox_providers_daily_cap() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let throttle = |provider, max| ProfilePatch {
        settings: SettingsPatch {
            mailbox_provider: Some(provider),
            email_throttle_max_per_day: Some(max),
            ..SettingsPatch::default()
        },
        ..ProfilePatch::default()
    };
    let err = failure(w.services.update_user(&admin, ann, throttle(MailboxProvider::Google, 1_801), None).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let err = failure(w.services.update_user(&admin, ann, throttle(MailboxProvider::Microsoft, 0), None).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    w.services
        .update_user(&admin, ann, throttle(MailboxProvider::Microsoft, 4_500), None)
        .await
        .expect("within the cap");
}

#[tokio::test]
async fn changing_an_email_to_one_another_member_has_is_a_conflict() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.member("bob", &["standard"], &[]).await;
    let patch = ProfilePatch { email: Some(w.email("bob")), ..ProfilePatch::default() };
    let err = failure(w.services.update_user(&w.admin_actor().await, ann, patch, None).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
}

#[tokio::test]
async fn a_member_reads_themself_but_reading_others_needs_manage_users() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let actor = w.actor(ann).await;
    assert_eq!(w.services.get_user(&actor, ann).await.expect("reads self").user.id, ann);
    let err = failure(w.services.get_user(&actor, bob).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.list_users(&actor, UserQuery::new(w.org.id)).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn the_users_table_filters_by_status() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    w.services.deactivate_user(&w.system(), bob, None).await.expect("deactivates");
    let mut query = UserQuery::new(w.org.id);
    query.statuses = [StatusKind::Deactivated].into();
    let page = w.services.list_users(&w.admin_actor().await, query).await.expect("lists");
    assert_eq!(page.items.iter().map(|u| u.user.id).collect::<Vec<_>>(), [bob]);
    assert_eq!(page.items[0].status.kind(), StatusKind::Deactivated, "the row carries the derived status");
}

#[tokio::test]
async fn a_role_named_by_key_is_resolved_by_the_users_table_itself() {
    let w = World::new().await;
    let ann = w.member("ann", &["analyst"], &[]).await;
    w.member("bob", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let mut query = UserQuery::new(w.org.id);
    query.role = Some(RoleFilter::Key(key("analyst")));
    let page = w.services.list_users(&admin, query.clone()).await.expect("lists");
    assert_eq!(page.items.iter().map(|u| u.user.id).collect::<Vec<_>>(), [ann]);

    query.role = Some(RoleFilter::Key(key("emperor")));
    let ServiceError::Validation(errors) = failure(w.services.list_users(&admin, query).await) else {
        panic!("an unknown role is a validation error")
    };
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("role", "unknown_role"));
    assert_eq!(errors[0].message, "no role `emperor`");
}

#[tokio::test]
async fn a_search_longer_than_256_characters_is_refused() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let mut query = UserQuery::new(w.org.id);
    query.q = Some("é".repeat(MAX_SEARCH_CHARS));
    w.services.list_users(&admin, query.clone()).await.expect("256 characters are a search");
    query.q = Some("a".repeat(MAX_SEARCH_CHARS + 1));
    let ServiceError::Validation(errors) = failure(w.services.list_users(&admin, query).await) else {
        panic!("a long search is a validation error")
    };
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("q", "too_long"));
}

// ---- status ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_status_is_derived_from_facts_through_the_whole_lifecycle() {
    let w = World::inviting().await;
    let (invite, ann) = w.invite("ann", &["core"]).await;
    assert_eq!(w.status(ann).await, StatusKind::Invited);
    let token = w.token_of(invite).await;
    w.services.accept_invite(&token, &password("correct horse battery")).await.expect("accepts");
    assert_eq!(w.status(ann).await, StatusKind::Pending, "holds core, onboarding not complete");
    let admin = w.admin_actor().await;
    let half = OnboardingFacts { crm_connected: Some(true), mailbox_connected: None };
    w.services.set_onboarding(&admin, ann, half).await.expect("records");
    assert_eq!(w.status(ann).await, StatusKind::Pending);
    let rest = OnboardingFacts { crm_connected: None, mailbox_connected: Some(true) };
    w.services.set_onboarding(&admin, ann, rest).await.expect("records");
    assert_eq!(w.status(ann).await, StatusKind::Active);
    w.assign(ann, &[]).await;
    assert_eq!(w.status(ann).await, StatusKind::Revoked, "held core and lost it");
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    assert_eq!(w.status(ann).await, StatusKind::Deactivated);
}

#[tokio::test]
async fn a_member_who_never_held_core_is_inactive_with_no_license() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    assert_eq!(w.details(ann).await.status, Status::Inactive([InactiveReason::NoLicense].into()));
}

#[tokio::test]
async fn a_system_reason_makes_a_user_inactive_before_revoked() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    w.services.set_inactive_reason(&w.system(), ann, InactiveReason::InactiveInMailbox, true).await.expect("marks");
    assert_eq!(w.details(ann).await.status, Status::Inactive([InactiveReason::InactiveInMailbox].into()));
    w.services.set_inactive_reason(&w.system(), ann, InactiveReason::InactiveInMailbox, false).await.expect("clears");
    assert_eq!(w.status(ann).await, StatusKind::Revoked, "seats were released while inactive");
}

#[tokio::test]
async fn the_product_replaces_the_reasons_it_reports_and_cannot_set_roster_s_own() {
    let w = World::new().await;
    let admin = w.admin_actor().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    w.services.set_inactive_reason(&w.system(), ann, InactiveReason::InactiveInCrm, true).await.expect("CRM sync");
    let reported = BTreeSet::from([InactiveReason::AccountFailure, InactiveReason::PackageExpired]);
    let details = w.services.set_reported_inactive_reasons(&admin, ann, &reported).await.expect("sets");
    let all =
        BTreeSet::from([InactiveReason::InactiveInCrm, InactiveReason::AccountFailure, InactiveReason::PackageExpired]);
    assert_eq!(details.status, Status::Inactive(all), "the CRM's reason stays");
    let details = w
        .services
        .set_reported_inactive_reasons(&admin, ann, &BTreeSet::from([InactiveReason::AccountFailure]))
        .await
        .expect("replaces");
    let left = BTreeSet::from([InactiveReason::InactiveInCrm, InactiveReason::AccountFailure]);
    assert_eq!(details.status, Status::Inactive(left), "package_expired cleared, the rest kept");

    let before = w.details(ann).await.user.version;
    for own in [InactiveReason::InactiveInCrm, InactiveReason::NoLicense] {
        let err = failure(w.services.set_reported_inactive_reasons(&admin, ann, &BTreeSet::from([own])).await);
        match err {
            ServiceError::Validation(errors) => {
                assert_eq!((errors[0].field.as_str(), errors[0].code), ("reasons", "not_reportable"))
            }
            other => panic!("expected not_reportable, got {other:?}"),
        }
    }
    assert_eq!(w.details(ann).await.user.version, before, "a refusal changes nothing");
}

// ---- system inactivity (§4.5) ------------------------------------------------------------------

#[tokio::test]
async fn a_user_becoming_inactive_has_their_seats_released_with_an_audit_event_saying_why() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core", "dialer", "sms"]).await;
    w.services.set_inactive_reason(&w.system(), ann, InactiveReason::PackageExpired, true).await.expect("marks");
    assert!(w.products(ann).await.is_empty());
    assert_eq!((w.seats_used("core").await, w.seats_used("sms").await), (0, 0));
    let event = w.events_named("user.licenses_changed").await.pop().expect("audited");
    assert_eq!(event.details["reason"], "inactive: package_expired");
    assert_eq!(event.details["products"]["after"], serde_json::json!([]));
}

#[tokio::test]
async fn an_inactive_user_keeps_their_seats_when_the_organization_does_not_release_them() {
    let w = World::build(OrgSettings { release_seats_when_inactive: false, ..OrgSettings::default() }, None).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    w.services.set_inactive_reason(&w.system(), ann, InactiveReason::AccountFailure, true).await.expect("marks");
    assert_eq!(w.products(ann).await, keys(&["core"]));
    assert_eq!(w.seats_used("core").await, 1);
}

// ---- deactivation ------------------------------------------------------------------------------

#[tokio::test]
async fn deactivating_releases_every_license_in_the_same_transaction_and_keeps_the_data() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    w.assign(ann, &["core", "dialer", "flow"]).await;
    let ann_actor = w.actor(ann).await;
    let connection = w.connection(&ann_actor, "carl", None).await;
    let details = w.services.deactivate_user(&w.admin_actor().await, ann, None).await.expect("deactivates");
    assert_eq!(details.status, Status::Deactivated);
    assert!(details.products.is_empty());
    assert_eq!(details.groups, BTreeSet::from([sales]), "memberships are data and are kept");
    for product in ["core", "dialer", "flow"] {
        assert_eq!(w.seats_used(product).await, 0);
    }
    let event = w.events_named("user.deactivated").await.pop().expect("audited");
    assert_eq!(event.details["released"], serde_json::json!(["core", "dialer", "flow"]));
    assert_eq!(w.store.snapshot().await.connections[&connection.id].inviter_id, ann);
}

#[tokio::test]
async fn a_deactivated_user_can_no_longer_log_in_or_act() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services.deactivate_user(&w.admin_actor().await, ann, None).await.expect("deactivates");
    let err = failure(w.services.resolve_actor(w.org.id, ann, roster_domain::audit::Source::Console, None).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn an_admin_cannot_deactivate_themself() {
    let w = World::new().await;
    w.member("second_admin", &["admin"], &[]).await;
    let err = failure(w.services.deactivate_user(&w.admin_actor().await, w.admin, None).await);
    assert_eq!(err.code(), ErrorCode::SelfDeactivation);
    assert!(w.details(w.admin).await.user.lifecycle.deactivated_at.is_none());
}

#[tokio::test]
async fn an_admin_cannot_delete_themself() {
    let w = World::new().await;
    w.member("second_admin", &["admin"], &[]).await;
    let err = failure(w.services.delete_user(&w.admin_actor().await, w.admin, true).await);
    assert_eq!(err.code(), ErrorCode::SelfDeactivation);
}

#[tokio::test]
async fn deactivating_the_last_admin_is_refused() {
    let w = World::new().await;
    let err = failure(w.services.deactivate_user(&w.system(), w.admin, None).await);
    assert_eq!(err.code(), ErrorCode::LastAdmin);
    assert!(w.details(w.admin).await.user.lifecycle.deactivated_at.is_none());
}

#[tokio::test]
async fn deleting_the_last_admin_is_refused() {
    let w = World::new().await;
    let err = failure(w.services.delete_user(&w.system(), w.admin, true).await);
    assert_eq!(err.code(), ErrorCode::LastAdmin);
}

#[tokio::test]
async fn the_last_admin_cannot_lose_the_admin_role() {
    let w = World::new().await;
    let standard = vec![RoleAssignment::org_wide(key("standard"))];
    let err = failure(w.services.set_roles(&w.system(), w.admin, standard, None).await);
    assert_eq!(err.code(), ErrorCode::LastAdmin);
}

#[tokio::test]
async fn a_scoped_or_deactivated_admin_does_not_count_as_another_active_admin() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let scoped = w.member("scoped", &["standard"], &[sales]).await;
    w.scope_admin(scoped, sales).await;
    let off = w.member("off", &["admin"], &[]).await;
    w.services.deactivate_user(&w.system(), off, None).await.expect("another admin remained");
    let err = failure(w.services.deactivate_user(&w.system(), w.admin, None).await);
    assert_eq!(err.code(), ErrorCode::LastAdmin);
}

#[tokio::test]
async fn with_a_second_active_admin_the_first_can_be_deactivated() {
    let w = World::new().await;
    let second = w.member("second", &["admin"], &[]).await;
    w.services.deactivate_user(&w.actor(second).await, w.admin, None).await.expect("deactivates");
    let err = failure(w.services.deactivate_user(&w.system(), second, None).await);
    assert_eq!(err.code(), ErrorCode::LastAdmin, "now the second is the last");
}

#[tokio::test]
async fn deactivating_an_already_deactivated_user_changes_nothing() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    let before = w.store.snapshot().await;
    w.services.deactivate_user(&admin, ann, None).await.expect("is idempotent");
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn deactivating_needs_the_current_version_when_one_is_given() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let version = w.details(ann).await.user.version;
    let err = failure(w.services.deactivate_user(&w.admin_actor().await, ann, Some(version + 1)).await);
    assert_eq!(err.code(), ErrorCode::PreconditionFailed);
}

// ---- reactivation ------------------------------------------------------------------------------

#[tokio::test]
async fn reactivating_clears_the_deactivation_and_the_user_holds_no_licenses_until_assigned() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core"]).await;
    let admin = w.admin_actor().await;
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    let details = w.services.reactivate_user(&admin, ann, BTreeSet::new(), None).await.expect("reactivates");
    assert!(details.user.lifecycle.deactivated_at.is_none());
    assert!(details.products.is_empty());
    assert_eq!(details.status, Status::Revoked, "held core before");
    assert!(w.actor(ann).await.has(Permission::InviteConnections), "can log in again");
}

#[tokio::test]
async fn reactivating_with_products_assigns_them_in_the_same_operation() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    let details = w.services.reactivate_user(&admin, ann, keys(&["core", "dialer"]), None).await.expect("reactivates");
    assert_eq!(details.products, keys(&["core", "dialer"]));
    assert_eq!(details.status, Status::Pending);
    let event = w.events_named("user.licenses_changed").await.pop().expect("audited");
    assert_eq!(event.details["reason"], "reactivated");
}

#[tokio::test]
async fn reactivating_with_products_is_all_or_nothing() {
    let w = World::new().await;
    w.set_seats("dialer", 0).await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services.deactivate_user(&admin, ann, None).await.expect("deactivates");
    let before = w.store.snapshot().await;
    let err = failure(w.services.reactivate_user(&admin, ann, keys(&["core", "dialer"]), None).await);
    assert_eq!(err.code(), ErrorCode::SeatLimitReached);
    assert_eq!(w.store.snapshot().await, before, "still deactivated, no core seat taken");
    assert_eq!(w.status(ann).await, StatusKind::Deactivated);

    let err = failure(w.services.reactivate_user(&admin, ann, keys(&["sms"]), None).await);
    assert_eq!(err.code(), ErrorCode::MissingPrerequisite);
    assert_eq!(w.store.snapshot().await, before);
}

// ---- deletion and restore ------------------------------------------------------------------------

#[tokio::test]
async fn deleting_requires_confirmation() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let err = failure(w.services.delete_user(&w.admin_actor().await, ann, false).await);
    assert_eq!(err.code(), ErrorCode::ConfirmationRequired);
    assert_eq!(w.status(ann).await, StatusKind::Inactive);
}

#[tokio::test]
async fn deleting_releases_licenses_ends_memberships_and_frees_the_email() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    w.assign(ann, &["core", "flow"]).await;
    let connection = w.connection(&w.actor(ann).await, "carl", None).await;
    let admin = w.admin_actor().await;
    w.services.delete_user(&admin, ann, true).await.expect("deletes");
    let err = failure(w.services.get_user(&admin, ann).await);
    assert_eq!(err.code(), ErrorCode::NotFound, "a deleted user is gone from the Users table");
    assert_eq!((w.seats_used("core").await, w.seats_used("flow").await), (0, 0));
    let state = w.store.snapshot().await;
    assert!(state.memberships.iter().filter(|m| m.user_id == ann).all(|m| m.left_at.is_some()));
    assert_eq!(state.connections[&connection.id].inviter_id, ann, "records keep their owner id");
    assert_eq!(state.connections[&connection.id].groups, BTreeSet::from([sales]));
    w.member("ann", &["standard"], &[]).await;
}

#[tokio::test]
async fn restoring_within_thirty_days_brings_the_user_back_without_licenses_or_groups() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    w.assign(ann, &["core"]).await;
    let admin = w.admin_actor().await;
    w.services.delete_user(&admin, ann, true).await.expect("deletes");
    w.clock.advance(Duration::days(29));
    let details = w.services.restore_user(&admin, ann).await.expect("restores");
    assert!(details.products.is_empty());
    assert!(details.groups.is_empty());
    assert_eq!(details.status, Status::Revoked);
    assert_eq!(w.events_named("user.restored").await.len(), 1);
}

#[tokio::test]
async fn restoring_after_thirty_days_is_refused() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services.delete_user(&admin, ann, true).await.expect("deletes");
    w.clock.advance(Duration::days(30) + Duration::seconds(1));
    let err = failure(w.services.restore_user(&admin, ann).await);
    assert_eq!(err.code(), ErrorCode::RestoreExpired);
}

#[tokio::test]
async fn restoring_is_refused_when_the_email_was_reused_meanwhile() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    w.services.delete_user(&admin, ann, true).await.expect("deletes");
    w.member("ann", &["standard"], &[]).await;
    let err = failure(w.services.restore_user(&admin, ann).await);
    assert_eq!(err.code(), ErrorCode::Conflict);
}

#[tokio::test]
async fn a_deleted_user_is_read_with_their_restore_window_by_whoever_may_restore() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["standard"], &[]).await;
    let admin = w.admin_actor().await;
    let err = failure(w.services.deleted_user(&admin, ann).await);
    assert_eq!(err.code(), ErrorCode::NotFound, "a member who is not deleted is no deleted user");
    w.services.delete_user(&admin, ann, true).await.expect("deletes");
    let deleted_at = w.clock.now();
    w.clock.advance(Duration::days(3));
    let read = w.services.deleted_user(&admin, ann).await.expect("reads the deleted user");
    assert_eq!(read.id, ann);
    assert_eq!(read.deleted_at, deleted_at);
    assert_eq!(read.restorable_until, deleted_at + Duration::days(30));
    let err = failure(w.services.deleted_user(&w.actor(bob).await, ann).await);
    assert_eq!(err.code(), ErrorCode::Forbidden, "a member without manage_users reads no deleted user");
    w.clock.advance(Duration::days(40));
    let read = w.services.deleted_user(&admin, ann).await.expect("still read after the window");
    assert!(read.restorable_until < w.clock.now());
}

#[tokio::test]
async fn restoring_a_user_who_was_never_deleted_is_not_found() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let err = failure(w.services.restore_user(&w.admin_actor().await, ann).await);
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn a_deleted_user_can_no_longer_log_in() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services.delete_user(&w.admin_actor().await, ann, true).await.expect("deletes");
    let err = failure(w.services.resolve_actor(w.org.id, ann, roster_domain::audit::Source::Api, None).await);
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn a_connection_invited_by_a_deactivated_member_keeps_its_stamp() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let c = w.connection(&w.actor(ann).await, "carl", Some(GroupChoice::Group(sales))).await;
    w.services.deactivate_user(&w.admin_actor().await, ann, None).await.expect("deactivates");
    assert_eq!(w.store.snapshot().await.connections[&c.id].groups, BTreeSet::from([sales]));
}

#[tokio::test]
async fn only_user_managers_set_a_system_reason_for_inactivity() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    let bob = w.member("bob", &["full_member"], &[]).await;
    let err =
        failure(w.services.set_inactive_reason(&w.actor(bob).await, ann, InactiveReason::AccountFailure, true).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

/// Every row of the Users page carries what the user's own page shows: the derived status,
/// products, current groups (not a deleted one) and pending changes (not a cancelled one).
#[tokio::test]
async fn every_row_of_the_users_page_is_the_users_details() {
    use roster_domain::scheduling::ScheduledAction;
    use roster_domain::users_query::UserPaging;

    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let east = w.group("East", Some(sales)).await;
    let gone = w.group("Gone", None).await;
    let ann = w.member("ann", &["standard"], &[sales, gone]).await;
    let bob = w.member("bob", &["operations"], &[east]).await;
    let cy = w.member("cy", &["standard"], &[]).await;
    w.assign(ann, &["core", "flow"]).await;
    w.assign(bob, &["core"]).await;
    let admin = w.admin_actor().await;
    w.services.delete_group(&admin, gone, false).await.expect("deletes");
    let later = roster_domain::ports::Clock::now(&w.clock) + Duration::days(3);
    w.services
        .schedule_change(&admin, ann, ScheduledAction::RemoveLicense(key("flow")), later)
        .await
        .expect("schedules");
    let cancelled =
        w.services.schedule_change(&admin, bob, ScheduledAction::Deactivate, later).await.expect("schedules");
    w.services.cancel_scheduled(&admin, cancelled.id).await.expect("cancels");
    w.services.deactivate_user(&admin, cy, None).await.expect("deactivates");

    for paging in [UserPaging::Cursor { after: None, limit: 2 }, UserPaging::Page { page: 1, per_page: 10 }] {
        let mut query = UserQuery::new(w.org.id);
        query.paging = Some(paging);
        let mut rows = w.services.list_users(&admin, query.clone()).await.expect("lists").items;
        if let Some(UserPaging::Cursor { .. }) = query.paging {
            let mut next = w.services.list_users(&admin, query.clone()).await.expect("lists").next_cursor;
            while let Some(cursor) = next {
                query.paging = Some(UserPaging::Cursor { after: Some(cursor), limit: 2 });
                let page = w.services.list_users(&admin, query.clone()).await.expect("lists");
                rows.extend(page.items);
                next = page.next_cursor;
            }
        }
        assert_eq!(rows.len(), 4, "the admin, ann, bob and cy");
        for row in &rows {
            assert_eq!(row, &w.details(row.user.id).await, "{}", row.user.email.as_str());
        }
        let ann_row = rows.iter().find(|r| r.user.id == ann).expect("ann");
        assert_eq!(ann_row.groups, BTreeSet::from([sales]), "a deleted group is not a current group");
        assert_eq!(ann_row.products, keys(&["core", "flow"]));
        assert_eq!(ann_row.scheduled.len(), 1);
        let bob_row = rows.iter().find(|r| r.user.id == bob).expect("bob");
        assert!(bob_row.scheduled.is_empty(), "a cancelled change is not shown");
        assert_eq!(rows.iter().find(|r| r.user.id == cy).expect("cy").status, Status::Deactivated);
    }
}

#[tokio::test]
async fn a_member_is_created_with_every_setting_and_into_groups_the_actor_manages_only() {
    let w = World::new().await;
    let (sales, east, support) = w.sales_east_support().await;
    let mut new = w.new_user("ann", &["standard"], &[east]);
    new.agent_ring_number = Some(phone("+14155550111"));
    new.dialer_number = Some(phone("+14155550112"));
    new.settings = SettingsPatch {
        mailbox_provider: Some(MailboxProvider::Google),
        email_throttle_max_per_day: Some(1_800),
        homepage: Some(roster_domain::user::Homepage::Leads),
        voip_forward_to: Some(Some(phone("+14155550113"))),
        ..SettingsPatch::default()
    };
    let details = w.services.create_user(&w.admin_actor().await, new).await.expect("creates");
    let settings = &details.user.settings;
    assert_eq!((settings.mailbox_provider, settings.email_throttle_max_per_day), (MailboxProvider::Google, 1_800));
    assert_eq!(details.user.dialer_number, Some(phone("+14155550112")));
    assert_eq!(details.groups, [east].into());
    let event = w.events_named("user.created").await.pop().expect("audited");
    assert_eq!(event.details["settings.homepage"]["after"], "leads");
    assert!(event.details.get("settings.flow_enabled").is_none(), "defaults are left out");

    // Over the provider's cap: refused before anything is written.
    let before = w.store.snapshot().await;
    let mut over = w.new_user("bob", &["standard"], &[]);
    over.settings.mailbox_provider = Some(MailboxProvider::Google);
    over.settings.email_throttle_max_per_day = Some(1_801);
    let err = failure(w.services.create_user(&w.admin_actor().await, over).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    assert_eq!(w.store.snapshot().await, before);
    // A scoped admin of Sales creates members in Sales' subtree only (`manage_groups` there).
    let lead = w.member("lead", &["standard"], &[sales]).await;
    w.scope_admin(lead, sales).await;
    let lead = w.actor(lead).await;
    let before = w.store.snapshot().await;
    let err = failure(w.services.create_user(&lead, w.new_user("cy", &["standard"], &[support])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert_eq!(w.store.snapshot().await, before);
    w.services.create_user(&lead, w.new_user("cy", &["standard"], &[east])).await.expect("within the scope");
}
