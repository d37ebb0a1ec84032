//! Read transactions ([`Store::begin_read`]): what they see, that they refuse every write, and
//! that they neither wait for a writer nor hold one up.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::Duration;

use roster_domain::catalog::Catalog;
use roster_domain::ids::UserId;
use roster_domain::mail::DeliveryState;
use roster_domain::ports::{PasswordHash, Store, StoreError, Tx};
use roster_domain::scheduling::{ScheduleState, ScheduledAction};

use super::seed::{self, T0, dump, key, seed, uid};
use super::{begin, commit, within};

/// How long a step may take before the case concludes it is waiting on a lock. SQLite's busy
/// timeout is longer (5 s), so a read that queued for the write lock fails here, not there.
const NO_WAITING: StdDuration = StdDuration::from_secs(3);

async fn begin_read(store: &Arc<dyn Store>) -> Box<dyn Tx> {
    store.begin_read().await.expect("the store opens a read transaction")
}

/// Asserts that a write through a read transaction failed with `Unavailable`.
#[track_caller]
fn refused<T: Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("{what} through a read transaction: expected Unavailable, got {other:?}"),
    }
}

/// A read transaction reads exactly what a read-write one reads, and a later one sees what was
/// committed since.
pub async fn a_read_transaction_reads_what_was_committed(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let written = dump(tx.as_mut(), &s).await;
    // Committed, not dropped: on PostgreSQL a dropped transaction rolls back in the
    // background, and until it has, the mail rows its dump locked are skipped by the next dump.
    commit(tx).await;
    let mut read = begin_read(&store).await;
    assert_eq!(dump(read.as_mut(), &s).await, written, "everything, read through a read transaction");
    commit(read).await;

    let zed = seed::user(o, uid(1, 900), "zed@example.com");
    let mut tx = begin(&store).await;
    tx.insert_user(&zed).await.expect("inserts");
    commit(tx).await;
    let mut read = begin_read(&store).await;
    assert_eq!(read.user(o, zed.id).await.expect("reads"), Some(zed), "a later read transaction sees the commit");
}

/// Every write method called through a read transaction fails with `Unavailable`, the
/// transaction stays usable for reads, and nothing changes, committed or not.
pub async fn a_read_transaction_refuses_every_write_and_changes_nothing(store: Arc<dyn Store>) {
    refuses_every_write(store, false).await;
}

/// What [`Store::single_read`] opens reads what was committed, and refuses every write as a
/// read transaction does.
pub async fn a_single_read_reads_what_was_committed_and_refuses_every_write(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let zed = seed::user(s.org.id, uid(1, 900), "zed@example.com");
    let mut tx = begin(&store).await;
    tx.insert_user(&zed).await.expect("inserts");
    commit(tx).await;
    let mut read = store.single_read().await.expect("opens");
    assert_eq!(read.user(s.org.id, zed.id).await.expect("reads"), Some(zed), "it sees the commit");
    assert_eq!(read.user(s.org.id, s.ada.id).await.expect("reads").as_ref(), Some(&s.ada));
    commit(read).await;
    // The refusals, on an organization of their own.
    refuses_every_write(store, true).await;
}

/// Every write through a read unit of work (`single`: [`Store::single_read`]'s, else
/// [`Store::begin_read`]'s) fails with `Unavailable` and changes nothing.
async fn refuses_every_write(store: Arc<dyn Store>, single: bool) {
    let n = if single { 3 } else { 1 };
    let s = seed(&store, n).await;
    let o = s.org.id;
    let uid = |k: u64| uid(n, k);
    let mut tx = begin(&store).await;
    let before = dump(tx.as_mut(), &s).await;
    // Committed, not dropped: on PostgreSQL a dropped transaction rolls back in the
    // background, and until it has, the mail rows its dump locked are skipped by the next dump.
    commit(tx).await;

    let mut read = if single { store.single_read().await.expect("opens") } else { begin_read(&store).await };
    let tx = read.as_mut();
    let second = seed::org(n + 10, "second");
    refused(tx.insert_org(&second).await, "insert_org");
    let mut org = s.org.clone();
    org.version += 1;
    org.trial_ends_at = None;
    refused(tx.update_org(&org).await, "update_org");
    refused(tx.save_catalog(o, &Catalog::default_catalog()).await, "save_catalog");
    let zed = seed::user(o, uid(950), "zed@example.com");
    refused(tx.insert_user(&zed).await, "insert_user");
    refused(tx.insert_users(std::slice::from_ref(&zed)).await, "insert_users");
    let mut bob = s.bob.clone();
    bob.version += 1;
    bob.lifecycle.crm_connected = true;
    refused(tx.update_user(&bob).await, "update_user");
    refused(tx.purge_user(o, s.cy.id).await, "purge_user");
    refused(tx.set_password_hash(o, s.bob.id, &PasswordHash::new("new".to_owned())).await, "set_password_hash");
    refused(tx.insert_seat_pool(&seed::pool(o, "extra", 3, 0)).await, "insert_seat_pool");
    refused(tx.set_seats_total(o, &key("voice"), 9).await, "set_seats_total");
    refused(tx.take_seats(o, &key("sms"), 1).await, "take_seats");
    refused(tx.return_seats(o, &key("core"), 1).await, "return_seats");
    let license = seed::license(&s.bob, "dialer");
    refused(tx.insert_license(&license).await, "insert_license");
    refused(tx.insert_licenses(std::slice::from_ref(&license)).await, "insert_licenses");
    refused(tx.delete_license(o, s.ada.id, &key("flow")).await, "delete_license");
    refused(tx.insert_reservation(&s.reservation).await, "insert_reservation");
    refused(tx.insert_reservations(std::slice::from_ref(&s.reservation)).await, "insert_reservations");
    refused(tx.delete_reservations(o, s.invite.id).await, "delete_reservations");
    refused(tx.insert_role(&seed::role(o, uid(931), "extra")).await, "insert_role");
    let mut role = s.role("auditor").clone();
    role.name = seed::label("Auditors");
    refused(tx.update_role(&role).await, "update_role");
    refused(tx.delete_role(o, s.role("scorer").id).await, "delete_role");
    refused(tx.insert_group(&seed::group(o, uid(932), Some(&s.root), "West")).await, "insert_group");
    let mut east = s.east.clone();
    east.version += 1;
    east.name = seed::group_name("Far East");
    refused(tx.update_group(&east).await, "update_group");
    let membership = seed::membership(&s.support, &s.ada, T0, None);
    refused(tx.insert_membership(&membership).await, "insert_membership");
    refused(tx.insert_memberships(std::slice::from_ref(&membership)).await, "insert_memberships");
    refused(tx.end_membership(o, s.east.id, s.bob.id, T0 + Duration::days(1)).await, "end_membership");
    refused(tx.set_group_flows(o, s.sales.id, &BTreeSet::new()).await, "set_group_flows");
    let connection = seed::connection(o, uid(935), s.admin.id, T0, &[]);
    refused(tx.insert_connection(&connection).await, "insert_connection");
    refused(tx.insert_connections(std::slice::from_ref(&connection)).await, "insert_connections");
    refused(tx.restamp_unstamped(o, s.ada.id, s.support.id).await, "restamp_unstamped");
    refused(tx.transfer_stamp(o, s.bob.id, s.east.id, s.sales.id).await, "transfer_stamp");
    refused(tx.insert_flow(&seed::flow(o, uid(933), "Second")).await, "insert_flow");
    refused(tx.insert_api_key(&seed::api_key(o, uid(934), s.admin.id, "another-hash")).await, "insert_api_key");
    let mut api_key = s.api_key.clone();
    api_key.revoked_at = Some(T0 + Duration::days(1));
    refused(tx.update_api_key(&api_key).await, "update_api_key");
    let invite = seed::invite(&zed, uid(936), "another-token", &["core"]);
    refused(tx.insert_invite(&invite).await, "insert_invite");
    refused(tx.insert_invites(std::slice::from_ref(&invite)).await, "insert_invites");
    let mut resent = s.invite.clone();
    resent.token_hash = "resent".to_owned();
    refused(tx.update_invite(&resent).await, "update_invite");
    refused(tx.delete_invite(o, s.invite.id).await, "delete_invite");
    let change = seed::scheduled(&s.ada, uid(937), ScheduledAction::Deactivate, T0);
    refused(tx.insert_scheduled(&change).await, "insert_scheduled");
    let mut cancelled = s.scheduled[0].clone();
    cancelled.state = ScheduleState::Cancelled { at: T0 };
    refused(tx.update_scheduled(&cancelled).await, "update_scheduled");
    let event = seed::event(o, uid(938), T0, "user.updated");
    refused(tx.append_audit(&event).await, "append_audit");
    refused(tx.append_audits(std::slice::from_ref(&event)).await, "append_audits");
    let mail = seed::mail(o, uid(939), "x@example.com", T0);
    refused(tx.enqueue_mail(&mail).await, "enqueue_mail");
    refused(tx.enqueue_mails(std::slice::from_ref(&mail)).await, "enqueue_mails");
    refused(tx.set_delivery(s.mail.id, &DeliveryState::Sent { at: T0, attempts: 1 }).await, "set_delivery");
    refused(tx.insert_webhook(&seed::webhook(o, uid(940), s.admin.id, T0)).await, "insert_webhook");
    let mut hook = s.webhook.clone();
    hook.position = 3;
    hook.version += 1;
    refused(tx.update_webhook(&hook).await, "update_webhook");
    let delivery = seed::delivery(&hook, uid(941), 3, T0, T0);
    refused(tx.insert_webhook_delivery(&delivery).await, "insert_webhook_delivery");
    refused(tx.update_webhook_delivery(&s.delivery).await, "update_webhook_delivery");
    refused(tx.purge_webhook_deliveries(T0 + Duration::days(365), 10).await, "purge_webhook_deliveries");

    assert_eq!(dump(tx, &s).await, before, "the refused writes left nothing, even inside the transaction");
    commit(read).await;
    let mut tx = begin(&store).await;
    assert_eq!(dump(tx.as_mut(), &s).await, before, "committing the read transaction changed nothing");
    assert_eq!(tx.org(second.id).await.expect("reads"), None);
}

/// A read transaction opens and reads while a writer holds its transaction open, does not see
/// the uncommitted write, and lets that writer — and the next one — commit while it stays open.
pub async fn a_read_transaction_neither_waits_for_a_writer_nor_holds_one_up(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let first = seed::user(o, uid(1, 900), "first@example.com");
    let second = seed::user(o, uid(1, 901), "second@example.com");

    let mut writer = begin(&store).await;
    writer.insert_user(&first).await.expect("inserts");
    let mut read = within(NO_WAITING, async {
        let mut read = begin_read(&store).await;
        assert_eq!(read.user(o, first.id).await.expect("reads"), None, "an uncommitted write is not seen");
        assert_eq!(read.user(o, s.ada.id).await.expect("reads").as_ref(), Some(&s.ada), "committed rows are");
        read
    })
    .await
    .expect("a read transaction does not wait for an open writer");

    within(NO_WAITING, commit(writer)).await.expect("the writer commits while a read transaction is open");
    within(NO_WAITING, async {
        let mut tx = begin(&store).await;
        tx.insert_user(&second).await.expect("inserts");
        commit(tx).await;
    })
    .await
    .expect("the next writer opens and commits while the read transaction is open");
    let ada: Option<UserId> = read.user(o, s.ada.id).await.expect("still reads").map(|u| u.id);
    assert_eq!(ada, Some(s.ada.id));
    drop(read);

    let mut read = begin_read(&store).await;
    for u in [&first, &second] {
        assert_eq!(read.user(o, u.id).await.expect("reads").as_ref(), Some(u), "{} was committed", u.email);
    }
}

/// The facts of a page of the Users table are read for all its users at once: per user of the
/// organization among the ids, in id order, the products they hold, the groups of their open
/// memberships (a deleted group's too; ended ones not) and whether a scheduled change of theirs
/// is pending; repeats, unknown ids and another organization's users add nothing. The pending
/// changes themselves are read for the users that have some, by user then time.
pub async fn a_page_of_users_gets_its_licenses_memberships_and_pending_changes_at_once(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let other = seed(&store, 2).await;
    let o = s.org.id;
    let ghost = UserId::from_uuid(uid(1, 999));
    let page = [s.bob.id, s.ada.id, ghost, s.ada.id, s.admin.id, s.dee.id, other.ada.id];
    let mut tx = begin_read(&store).await;

    let facts = tx.page_facts(o, &page).await.expect("reads");
    let mut known = vec![s.ada.id, s.bob.id, s.admin.id, s.dee.id];
    known.sort();
    assert_eq!(facts.iter().map(|f| f.user_id).collect::<Vec<_>>(), known, "each known user once, in id order");
    for f in &facts {
        let products: BTreeSet<_> =
            s.licenses.iter().filter(|l| l.user_id == f.user_id).map(|l| l.product.clone()).collect();
        assert_eq!(f.products, products, "{:?}: the products held", f.user_id);
        let open: BTreeSet<_> =
            s.memberships.iter().filter(|m| m.user_id == f.user_id && m.is_current()).map(|m| m.group_id).collect();
        assert_eq!(f.open_groups, open, "{:?}: the open memberships' groups", f.user_id);
        let pending = s.scheduled.iter().any(|c| c.user_id == f.user_id && c.state == ScheduleState::Pending);
        assert_eq!(f.pending_scheduled, pending, "{:?}: a pending change", f.user_id);
    }
    let of = |id: UserId| facts.iter().find(|f| f.user_id == id).expect("listed");
    assert!(
        !of(s.ada.id).products.is_empty() && !of(s.bob.id).products.is_empty(),
        "the seed gives ada and bob licenses"
    );
    assert_eq!(of(s.ada.id).open_groups, BTreeSet::from([s.sales.id]), "ada in sales; her membership of old ended");
    assert_eq!(of(s.bob.id).open_groups, BTreeSet::from([s.east.id]), "bob in east; he left support");
    assert!(of(s.dee.id).open_groups.is_empty(), "dee left sales");
    assert!(of(s.bob.id).pending_scheduled && of(s.ada.id).pending_scheduled, "bob's deactivation, ada's removal");
    assert!(!of(s.dee.id).pending_scheduled, "dee's applied change is not pending");

    let pending = tx.pending_scheduled_for_users(o, &page).await.expect("reads");
    let ids: BTreeSet<_> = pending.iter().map(|c| c.id).collect();
    let expected: BTreeSet<_> =
        s.scheduled.iter().filter(|c| c.state == ScheduleState::Pending).map(|c| c.id).collect();
    assert_eq!(ids.len(), 2, "bob's deactivation and ada's flow removal; dee's applied change is not pending");
    assert_eq!(ids, expected);
    let order: Vec<_> = pending.iter().map(|c| (c.user_id, c.effective_at)).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "by user, then time");
    assert!(pending.iter().all(|c| c.org_id == o));

    assert!(tx.page_facts(o, &[]).await.expect("reads").is_empty(), "an empty page");
    assert!(tx.page_facts(o, &[ghost]).await.expect("reads").is_empty(), "an unknown id");
    assert!(tx.page_facts(other.org.id, &[s.bob.id]).await.expect("reads").is_empty(), "scoped");
    assert!(tx.pending_scheduled_for_users(other.org.id, &[s.bob.id]).await.expect("reads").is_empty(), "scoped");
    drop(tx);
}

/// `Store::authority` answers a member exactly as a read transaction reads them: the user (with
/// grants and group access) as `user` answers, whatever their lifecycle; the groups of their
/// open memberships, a deleted group's included and ended ones not; and the organization's
/// groups and roles versions, which move with committed group and role writes. `None` for an
/// unknown id and for another organization's user.
pub async fn authority_reads_a_member_their_open_groups_and_both_versions(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let other = seed(&store, 2).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    // The admin stays a member of a group after it was deleted.
    tx.insert_membership(&roster_domain::groups::Membership {
        org_id: o,
        group_id: s.old.id,
        user_id: s.admin.id,
        joined_at: T0,
        left_at: None,
    })
    .await
    .expect("a membership");
    commit(tx).await;

    let check = |store: Arc<dyn Store>, who: UserId| async move {
        let facts = store.authority(o, who).await.expect("reads").expect("a member of the organization");
        let mut tx = begin_read(&store).await;
        assert_eq!(Some(&facts.user), tx.user(o, who).await.expect("reads").as_ref(), "{who:?}: the user");
        let open: BTreeSet<_> = tx
            .memberships_of(o, who)
            .await
            .expect("reads")
            .into_iter()
            .filter(roster_domain::groups::Membership::is_current)
            .map(|m| m.group_id)
            .collect();
        assert_eq!(facts.open_groups, open, "{who:?}: the open memberships' groups");
        assert_eq!(facts.groups_version, tx.groups_version(o).await.expect("reads"), "{who:?}: groups version");
        assert_eq!(facts.roles_version, tx.roles_version(o).await.expect("reads"), "{who:?}: roles version");
        facts
    };
    for who in [s.admin.id, s.ada.id, s.bob.id, s.cy.id, s.dee.id, s.eve.id] {
        check(Arc::clone(&store), who).await;
    }
    let facts = check(Arc::clone(&store), s.ada.id).await;
    assert_eq!(facts.user.group_access, BTreeSet::from([s.support.id]), "ada's extra access comes with her");
    assert_eq!(facts.open_groups, BTreeSet::from([s.sales.id]), "ada in sales; her membership of old ended");
    let bob = check(Arc::clone(&store), s.bob.id).await;
    assert_eq!(bob.user.roles.len(), 2, "bob's org-wide and scoped grants");
    assert_eq!(bob.open_groups, BTreeSet::from([s.east.id]));
    let admin = check(Arc::clone(&store), s.admin.id).await;
    assert_eq!(admin.open_groups, BTreeSet::from([s.old.id]), "a deleted group's open membership counts here");
    assert!(check(Arc::clone(&store), s.eve.id).await.user.is_deleted(), "a deleted user is answered as such");

    // Committed group and role writes move the versions it answers.
    let mut tx = begin(&store).await;
    tx.insert_group(&seed::group(o, uid(1, 420), Some(&s.root), "Legal")).await.expect("a group");
    tx.insert_role(&seed::role(o, uid(1, 320), "reviewer")).await.expect("a role");
    commit(tx).await;
    let after = check(Arc::clone(&store), s.admin.id).await;
    assert!(after.groups_version > admin.groups_version, "the groups version moved");
    assert!(after.roles_version > admin.roles_version, "the roles version moved");

    assert_eq!(store.authority(o, UserId::from_uuid(uid(1, 999))).await.expect("reads"), None, "an unknown id");
    assert_eq!(store.authority(o, other.ada.id).await.expect("reads"), None, "another organization's user");
    assert_eq!(store.authority(other.org.id, s.ada.id).await.expect("reads"), None, "scoped both ways");
}
