//! A use case that fails halfway leaves nothing behind: every write of a multi-step use case is
//! made to fail in turn (`fail_after_writes`), and ports mocked with mockall fail where a real
//! adapter could (the password hasher, the CRM, the outbox).

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use roster_domain::ports::{
    CrmError, HasherError, MockCrmDirectory, MockOutbox, MockPasswordHasher, PasswordHash, StoreError,
};
use roster_domain::services::{BulkLicenses, BulkOp, CrmImportRequest, MoveUser, NewApiKey};
use roster_domain::user::{InactiveReason, StatusKind};
use roster_domain::{ErrorCode, ServiceResult, Services};
use roster_testkit::FakeHasher;

use crate::credentials::log_in;
use crate::outbox_override::OutboxOverrideStore;
use crate::support::{World, crm_id, failure, key, keys, label, password};

/// Runs `op` with its first write failing, then its second, and so on until it succeeds. Each
/// failure must answer `internal` and leave the store exactly as it was. Answers the number of
/// writes the use case makes.
async fn every_write_fails_cleanly<T, F, Fut>(w: &World, mut op: F) -> usize
where
    T: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = ServiceResult<T>>,
{
    for n in 0..500 {
        let before = w.store.snapshot().await;
        w.store.fail_after_writes(n);
        let result = op().await;
        w.store.clear_failures();
        match result {
            Ok(_) => return n,
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Internal, "write #{n} failed with {e:?}");
                assert_eq!(w.store.snapshot().await, before, "write #{n} failed and left a partial change");
            }
        }
    }
    panic!("the use case never succeeded");
}

#[tokio::test]
async fn deactivating_a_user_with_licenses_leaves_nothing_when_any_write_fails() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.assign(ann, &["core", "dialer", "sms"]).await;
    let admin = w.admin_actor().await;
    let writes = every_write_fails_cleanly(&w, || w.services.deactivate_user(&admin, ann, None)).await;
    assert!(writes >= 8, "three licenses and seats released, the user and two events: {writes}");
    assert_eq!(w.status(ann).await, StatusKind::Deactivated);
    assert_eq!(w.seats_used("core").await, 0);
}

#[tokio::test]
async fn a_bulk_assignment_leaves_nothing_when_any_write_fails() {
    let w = World::new().await;
    let mut users = Vec::new();
    for name in ["ann", "bob", "cid"] {
        users.push(w.member(name, &["standard"], &[]).await);
    }
    let admin = w.admin_actor().await;
    let request = || BulkLicenses {
        user_ids: users.clone(),
        products: keys(&["core", "dialer"]),
        op: BulkOp::Assign,
        atomic: false,
        dry_run: false,
    };
    let writes = every_write_fails_cleanly(&w, || w.services.bulk_licenses(&admin, request())).await;
    assert!(writes >= 12, "{writes}");
    assert_eq!(w.seats_used("dialer").await, 3);
}

#[tokio::test]
async fn an_invite_leaves_nothing_when_any_write_fails() {
    let w = World::inviting().await;
    let admin = w.admin_actor().await;
    let rows = || vec![w.invite_row("ann", &["core", "dialer"]), w.invite_row("bob", &["core"])];
    let writes = every_write_fails_cleanly(&w, || w.services.invite_members(&admin, rows(), false)).await;
    assert!(writes >= 12, "{writes}");
    assert_eq!(w.seats_used("core").await, 2);
}

#[tokio::test]
async fn accepting_an_invite_leaves_nothing_and_keeps_the_token_valid_when_any_write_fails() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core", "dialer"]).await;
    let token = w.token_of(invite).await;
    let pw = password("correct horse battery");
    let writes = every_write_fails_cleanly(&w, || w.services.accept_invite(&token, &pw)).await;
    assert!(writes >= 5, "{writes}");
    assert_eq!(w.status(user).await, StatusKind::Pending);
    assert_eq!(w.products(user).await, keys(&["core", "dialer"]));
}

#[tokio::test]
async fn moving_with_record_transfer_leaves_nothing_when_any_write_fails() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let support = w.group("Support", None).await;
    let ann = w.member("ann", &["standard"], &[sales]).await;
    let c = w.connection(&w.actor(ann).await, "carl", None).await;
    let admin = w.admin_actor().await;
    let request = MoveUser { from_group_id: sales, to_group_id: support, transfer_records: true };
    let writes = every_write_fails_cleanly(&w, || w.services.move_user(&admin, ann, request)).await;
    assert_eq!(writes, 4, "end, start, transfer, audit");
    assert_eq!(w.store.snapshot().await.connections[&c.id].groups, [support].into());
}

#[tokio::test]
async fn deleting_a_group_with_cascade_leaves_nothing_when_any_write_fails() {
    let w = World::new().await;
    let sales = w.group("Sales", None).await;
    let east = w.group("East", Some(sales)).await;
    w.member("ann", &["standard"], &[east]).await;
    w.member("bob", &["standard"], &[sales]).await;
    let admin = w.admin_actor().await;
    w.services
        .create_api_key(&admin, NewApiKey { name: label("East"), group_id: Some(east), permissions: [].into() })
        .await
        .expect("creates");
    let writes = every_write_fails_cleanly(&w, || w.services.delete_group(&admin, sales, true)).await;
    assert!(writes >= 8, "{writes}");
    assert!(w.store.snapshot().await.groups.values().filter(|g| g.depth > 1).all(|g| g.deleted_at.is_some()));
}

#[tokio::test]
async fn reactivating_with_products_leaves_nothing_when_any_write_fails() {
    let w = World::new().await;
    let ann = w.member("ann", &["standard"], &[]).await;
    w.services.deactivate_user(&w.system(), ann, None).await.expect("deactivates");
    let admin = w.admin_actor().await;
    every_write_fails_cleanly(&w, || w.services.reactivate_user(&admin, ann, keys(&["core", "flow"]), None)).await;
    assert_eq!(w.products(ann).await, keys(&["core", "flow"]));
}

#[tokio::test]
async fn a_crm_sync_that_releases_seats_leaves_nothing_when_any_write_fails() {
    let w = World::new().await;
    w.crm_has([w.crm_user("005A", "ann")]);
    let mut new = w.new_user("ann", &["standard"], &[]);
    new.crm_id = Some(crm_id("005A"));
    let ann = w.create(new).await;
    w.assign(ann, &["core"]).await;
    w.crm.set_active(&crm_id("005A"), false, crate::support::T0);
    let admin = w.admin_actor().await;
    every_write_fails_cleanly(&w, || w.services.sync_from_crm(&admin)).await;
    assert!(w.details(ann).await.user.lifecycle.inactive_reasons.contains(&InactiveReason::InactiveInCrm));
    assert_eq!(w.seats_used("core").await, 0);
}

#[tokio::test]
async fn a_failed_commit_leaves_nothing() {
    let w = World::inviting().await;
    let before = w.store.snapshot().await;
    w.store.fail_next_commit();
    let err =
        failure(w.services.invite_members(&w.admin_actor().await, vec![w.invite_row("ann", &["core"])], false).await);
    assert_eq!(err.code(), ErrorCode::Internal);
    assert_eq!(w.store.snapshot().await, before);
}

// ---- mocked ports --------------------------------------------------------------------------------

#[tokio::test]
async fn a_password_hasher_failure_makes_accepting_fail_with_nothing_changed_and_the_token_still_valid() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core"]).await;
    let token = w.token_of(invite).await;
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().times(1).returning(|_| Err(HasherError::Failed("argon2: out of memory".into())));
    hasher.expect_verify().never();
    let broken = w.services_with_hasher(Arc::new(hasher));
    let before = w.store.snapshot().await;
    let err = failure(broken.accept_invite(&token, &password("correct horse battery")).await);
    assert_eq!(err.code(), ErrorCode::Internal);
    assert_eq!(w.store.snapshot().await, before);
    w.services.accept_invite(&token, &password("correct horse battery")).await.expect("the token still works");
    assert_eq!(w.status(user).await, StatusKind::Pending);
}

#[tokio::test]
async fn the_hash_the_hasher_returns_is_what_is_stored_and_verified_at_login() {
    let w = World::inviting().await;
    let (invite, user) = w.invite("ann", &["core"]).await;
    let token = w.token_of(invite).await;
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().times(1).returning(|_| Ok(PasswordHash::new("$argon2id$v=19$stub".into())));
    hasher
        .expect_verify()
        .withf(|pw, hash| pw.expose() == "correct horse battery" && hash.as_str() == "$argon2id$v=19$stub")
        .times(1)
        .returning(|_, _| Ok(true));
    let services = w.services_with_hasher(Arc::new(hasher));
    services.accept_invite(&token, &password("correct horse battery")).await.expect("accepts");
    assert_eq!(w.store.snapshot().await.password_hashes[&user].as_str(), "$argon2id$v=19$stub");
    let logged_in = log_in(
        &services,
        &w.org.slug,
        &w.email("ann"),
        &password("correct horse battery"),
        roster_domain::audit::Source::Console,
    )
    .await;
    assert_eq!(logged_in.expect("logs in").id, user);
}

#[tokio::test]
async fn a_crm_timeout_makes_the_import_create_nothing() {
    let w = World::new().await;
    let mut crm = MockCrmDirectory::new();
    crm.expect_get().times(1).returning(|_| Err(CrmError::Timeout));
    crm.expect_search().never();
    crm.expect_list_changed_since().never();
    let services = w.services.clone().with_crm(Arc::new(crm));
    let before = w.store.snapshot().await;
    let request = CrmImportRequest {
        crm_ids: vec![crm_id("005A"), crm_id("005B")],
        products: keys(&["core"]),
        roles: vec![key("standard")],
        send_welcome_email: true,
        dry_run: false,
    };
    let err = failure(services.import_from_crm(&w.admin_actor().await, request).await);
    assert_eq!(err.code(), ErrorCode::CrmUnavailable);
    assert_eq!(w.store.snapshot().await, before);
}

#[tokio::test]
async fn a_crm_sync_asks_the_directory_once_for_the_linked_members_and_a_failure_changes_nothing() {
    let w = World::new().await;
    let mut linked = w.new_user("ann", &["standard"], &[]);
    linked.crm_id = Some(crm_id("005A"));
    let ann = w.create(linked).await;
    w.assign(ann, &["core"]).await;
    w.member("bob", &["standard"], &[]).await;
    let admin = w.admin_actor().await;

    let mut crm = MockCrmDirectory::new();
    crm.expect_get().withf(|ids| ids == [crm_id("005A")]).times(1).returning(|_| Err(CrmError::RateLimited));
    let before = w.store.snapshot().await;
    let err = failure(w.services.clone().with_crm(Arc::new(crm)).sync_from_crm(&admin).await);
    assert_eq!(err.code(), ErrorCode::CrmUnavailable);
    assert_eq!(w.store.snapshot().await, before);

    let mut crm = MockCrmDirectory::new();
    let mut inactive = w.crm_user("005A", "ann");
    inactive.active = false;
    crm.expect_get().withf(|ids| ids == [crm_id("005A")]).times(1).returning(move |_| Ok(vec![inactive.clone()]));
    let changed = w.services.clone().with_crm(Arc::new(crm)).sync_from_crm(&admin).await.expect("syncs");
    assert_eq!(changed, [ann]);
    assert_eq!(w.seats_used("core").await, 0);
}

/// Services over the world's store whose next transaction's outbox fails.
fn with_failing_outbox(w: &World) -> Services {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_enqueue_mail()
        .times(1)
        .returning(|_| Err(StoreError::unavailable(std::io::Error::other("outbox table unavailable"))));
    outbox.expect_due_mail().never();
    outbox.expect_set_delivery().never();
    let store = OutboxOverrideStore::new(w.store.clone(), outbox);
    Services::new(Arc::new(store), Arc::new(w.clock.clone()), Arc::new(w.ids.clone()), Arc::new(FakeHasher))
}

#[tokio::test]
async fn an_outbox_failure_makes_the_invite_leave_no_user_and_no_reservation() {
    let w = World::inviting().await;
    let admin = w.admin_actor().await;
    let services = with_failing_outbox(&w);
    let before = w.store.snapshot().await;
    let err = failure(services.invite_members(&admin, vec![w.invite_row("ann", &["core", "dialer"])], false).await);
    assert_eq!(err.code(), ErrorCode::Internal);
    let after = w.store.snapshot().await;
    assert_eq!(after, before);
    assert!(after.reservations.is_empty());
    assert!(after.users.values().all(|u| u.email != w.email("ann")));
    assert_eq!(w.seats_used("dialer").await, 0);
}

#[tokio::test]
async fn an_outbox_failure_makes_a_resend_keep_the_old_token() {
    let w = World::inviting().await;
    let (invite, _) = w.invite("ann", &["core"]).await;
    let old = w.token_of(invite).await;
    let admin = w.admin_actor().await;
    let before = w.store.snapshot().await;
    let err = failure(with_failing_outbox(&w).resend_invite(&admin, invite).await);
    assert_eq!(err.code(), ErrorCode::Internal);
    assert_eq!(w.store.snapshot().await, before);
    w.services.accept_invite(&old, &password("correct horse battery")).await.expect("the old token still works");
}
