//! Import from and sync with the CRM directory (§8.3, §4.5).

use roster_domain::ErrorCode;
use roster_domain::audit::Source;
use roster_domain::mail::MailKind;
use roster_domain::org::OrgSettings;
use roster_domain::services::{CrmImportRequest, CrmImportStatus};
use roster_domain::user::{InactiveReason, StatusKind};

use crate::support::{World, crm_id, failure, key, keys, password};

fn import(ids: &[&str], products: &[&str]) -> CrmImportRequest {
    CrmImportRequest {
        crm_ids: ids.iter().map(|i| crm_id(i)).collect(),
        products: keys(products),
        roles: vec![key("standard")],
        send_welcome_email: true,
        dry_run: false,
    }
}

#[tokio::test]
async fn importing_reports_created_already_member_by_crm_id_or_email_not_found_and_seat_refused() {
    let w = World::new().await;
    w.set_seats("core", 2).await;
    w.crm_has([
        w.crm_user("005A", "ann"),
        w.crm_user("005B", "bob"),
        w.crm_user("005C", "cid"),
        w.crm_user("005D", "dee"),
        w.crm_user("005E", "eve"),
    ]);
    let mut linked = w.new_user("bob_linked", &["standard"], &[]);
    linked.crm_id = Some(crm_id("005B"));
    let linked = w.create(linked).await;
    let by_email = w.member("cid", &["standard"], &[]).await;
    let request = import(&["005A", "005B", "005C", "005Z", "005D", "005E"], &["core"]);
    let outcomes = w.services.import_from_crm(&w.admin_actor().await, request).await.expect("imports");
    let got: Vec<(&str, CrmImportStatus)> = outcomes.iter().map(|o| (o.crm_id.as_str(), o.status)).collect();
    assert_eq!(
        got,
        [
            ("005A", CrmImportStatus::Created),
            ("005B", CrmImportStatus::AlreadyMember),
            ("005C", CrmImportStatus::AlreadyMember),
            ("005Z", CrmImportStatus::NotFound),
            ("005D", CrmImportStatus::Created),
            ("005E", CrmImportStatus::SeatRefused),
        ]
    );
    assert_eq!(outcomes[1].user_id, Some(linked), "matched by CRM id");
    assert_eq!(outcomes[2].user_id, Some(by_email), "matched by email");
    assert!(outcomes[5].message.as_deref().is_some_and(|m| m.contains("core")));
    assert_eq!(w.seats_used("core").await, 2);
    let eve = w.store.snapshot().await.users.values().any(|u| u.email == w.email("eve"));
    assert!(!eve, "a refused row creates no user");
}

#[tokio::test]
async fn an_imported_user_is_invited_with_reserved_licenses_their_crm_id_and_a_welcome_email() {
    let w = World::new().await;
    let mut ann = w.crm_user("005A", "ann");
    ann.phone = Some(crate::support::phone("+4915112345678"));
    w.crm_has([ann]);
    let outcomes = w
        .services
        .import_from_crm(&w.admin_actor().await, import(&["005A"], &["core", "dialer"]))
        .await
        .expect("imports");
    let user = outcomes[0].user_id.expect("created");
    let details = w.details(user).await;
    assert_eq!(details.status.kind(), StatusKind::Invited);
    assert_eq!(details.user.crm_id, Some(crm_id("005A")));
    assert_eq!(details.user.phone, Some(crate::support::phone("+4915112345678")));
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (1, 1));
    let MailKind::Invitation { token, .. } = w.outbox().await.pop().expect("queued").kind else {
        panic!("an invitation")
    };
    w.services.accept_invite(&token, &password("correct horse battery")).await.expect("sets a password");
    assert_eq!(w.details(user).await.status.kind(), StatusKind::Pending);
    assert_eq!(w.products(user).await, keys(&["core", "dialer"]));
    let event = w.events_named("invite.created").await.pop().expect("audited");
    assert_eq!(event.source, Source::Import);
}

#[tokio::test]
async fn importing_without_a_welcome_email_queues_no_mail() {
    let w = World::new().await;
    w.crm_has([w.crm_user("005A", "ann")]);
    let mut request = import(&["005A"], &["core"]);
    request.send_welcome_email = false;
    w.services.import_from_crm(&w.admin_actor().await, request).await.expect("imports");
    assert!(w.outbox().await.is_empty());
}

#[tokio::test]
async fn importing_as_a_dry_run_reports_the_outcomes_and_changes_nothing() {
    let w = World::new().await;
    w.crm_has([w.crm_user("005A", "ann")]);
    let before = w.store.snapshot().await;
    let mut request = import(&["005A", "005Z"], &["core"]);
    request.dry_run = true;
    let outcomes = w.services.import_from_crm(&w.admin_actor().await, request).await.expect("imports");
    assert_eq!(
        outcomes.iter().map(|o| o.status).collect::<Vec<_>>(),
        [CrmImportStatus::Created, CrmImportStatus::NotFound]
    );
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn importing_with_an_unknown_product_or_role_fails_validation() {
    let w = World::new().await;
    w.crm_has([w.crm_user("005A", "ann")]);
    let admin = w.admin_actor().await;
    let err = failure(w.services.import_from_crm(&admin, import(&["005A"], &["fax"])).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let mut request = import(&["005A"], &["core"]);
    request.roles = vec![key("wizard")];
    let err = failure(w.services.import_from_crm(&admin, request).await);
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn importing_requires_manage_users_over_the_whole_organization() {
    let w = World::new().await;
    let lead = w.actor(w.member("lead", &["team_lead"], &[]).await).await;
    let err = failure(w.services.import_from_crm(&lead, import(&["005A"], &["core"])).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = failure(w.services.search_crm(&lead, "ann", 0).await);
    assert_eq!(err.code(), ErrorCode::Forbidden);
}

#[tokio::test]
async fn searching_the_crm_finds_users_by_name_or_email() {
    let w = World::new().await;
    w.crm_has([w.crm_user("005A", "ann"), w.crm_user("005B", "bob")]);
    let page = w.services.search_crm(&w.admin_actor().await, "BOB@", 0).await.expect("searches");
    assert_eq!(page.users.iter().map(|u| u.crm_id.as_str()).collect::<Vec<_>>(), ["005B"]);
}

#[tokio::test]
async fn a_crm_failure_surfaces_as_crm_unavailable_and_a_missing_directory_as_crm_not_configured() {
    let w = World::new().await;
    w.crm.fail_next_with_timeout();
    let err = failure(w.services.search_crm(&w.admin_actor().await, "ann", 0).await);
    assert_eq!(err.code(), ErrorCode::CrmUnavailable);
    // The same services without a directory.
    let bare = w.services_with_hasher(std::sync::Arc::new(roster_testkit::FakeHasher));
    let err = failure(bare.search_crm(&w.admin_actor().await, "ann", 0).await);
    assert_eq!(err.code(), ErrorCode::CrmNotConfigured);
}

// ---- sync ------------------------------------------------------------------------------------

async fn linked_member(w: &World, id: &str, local: &str) -> roster_domain::ids::UserId {
    let mut new = w.new_user(local, &["standard"], &[]);
    new.crm_id = Some(crm_id(id));
    let user = w.create(new).await;
    w.assign(user, &["core", "dialer"]).await;
    user
}

#[tokio::test]
async fn sync_marks_users_inactive_in_crm_and_releases_their_seats_when_the_setting_is_on() {
    let w = World::new().await;
    w.crm_has([w.crm_user("005A", "ann"), w.crm_user("005B", "bob")]);
    let ann = linked_member(&w, "005A", "ann").await;
    let bob = linked_member(&w, "005B", "bob").await;
    w.crm.set_active(&crm_id("005A"), false, crate::support::T0);
    let changed = w.services.sync_from_crm(&w.admin_actor().await).await.expect("syncs");
    assert_eq!(changed, [ann]);
    let details = w.details(ann).await;
    assert!(details.user.lifecycle.inactive_reasons.contains(&InactiveReason::InactiveInCrm));
    assert_eq!(details.status.kind(), StatusKind::Inactive);
    assert!(details.products.is_empty());
    assert_eq!((w.seats_used("core").await, w.seats_used("dialer").await), (1, 1), "only bob's remain");
    assert_eq!(w.products(bob).await, keys(&["core", "dialer"]));
    let released = w.events_named("user.licenses_changed").await.pop().expect("audited");
    assert_eq!(released.source, Source::CrmSync);
    assert_eq!(released.details["reason"], "inactive: inactive_in_crm");
}

#[tokio::test]
async fn sync_clears_inactive_in_crm_when_the_crm_reactivates_the_user() {
    let w = World::new().await;
    w.crm_has([w.crm_user("005A", "ann")]);
    let ann = linked_member(&w, "005A", "ann").await;
    let admin = w.admin_actor().await;
    w.crm.set_active(&crm_id("005A"), false, crate::support::T0);
    w.services.sync_from_crm(&admin).await.expect("syncs");
    w.crm.set_active(&crm_id("005A"), true, crate::support::T0);
    assert_eq!(w.services.sync_from_crm(&admin).await.expect("syncs"), [ann]);
    let details = w.details(ann).await;
    assert!(details.user.lifecycle.inactive_reasons.is_empty());
    assert_eq!(details.status.kind(), StatusKind::Revoked, "seats released while inactive are not given back");
    assert!(w.services.sync_from_crm(&admin).await.expect("syncs").is_empty(), "nothing left to change");
}

#[tokio::test]
async fn sync_keeps_seats_when_the_organization_does_not_release_them() {
    let w = World::build(OrgSettings { release_seats_when_inactive: false, ..OrgSettings::default() }, None).await;
    w.crm_has([w.crm_user("005A", "ann")]);
    let ann = linked_member(&w, "005A", "ann").await;
    w.crm.set_active(&crm_id("005A"), false, crate::support::T0);
    w.services.sync_from_crm(&w.admin_actor().await).await.expect("syncs");
    assert_eq!(w.status(ann).await, StatusKind::Inactive);
    assert_eq!(w.products(ann).await, keys(&["core", "dialer"]));
    assert_eq!(w.seats_used("core").await, 1);
}

#[tokio::test]
async fn sync_leaves_users_unknown_to_the_crm_alone() {
    let w = World::new().await;
    let ann = linked_member(&w, "005A", "ann").await;
    let before = w.store.snapshot().await;
    assert!(w.services.sync_from_crm(&w.admin_actor().await).await.expect("syncs").is_empty());
    assert_eq!(w.store.snapshot().await, before);
    assert_eq!(w.products(ann).await.len(), 2);
}
