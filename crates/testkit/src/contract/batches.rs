//! The batch writes (`ports/store.rs`, "Batch writes"): each stores what its single-row method
//! stores, all or nothing, and an empty slice is a no-op. Batches larger than one statement's
//! worth of rows are used on purpose, so SQL adapters split them and must still undo them whole.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use roster_domain::audit::AuditEvent;
use roster_domain::connections::Connection;
use roster_domain::groups::Membership;
use roster_domain::ids::{GroupId, InviteId, OrgId, UserId};
use roster_domain::invites::Invite;
use roster_domain::mail::{DeliveryState, OutgoingMail};
use roster_domain::ports::{Store, StoreError, Tx, UniqueField};
use roster_domain::roles::RoleGrant;
use roster_domain::seats::{LicenseAssignment, SeatReservation};
use roster_domain::user::User;
use roster_domain::values::{CrmId, Email, Phone};

use super::seed::{self, Seed, T0, phone, seed, uid};
use super::{assert_conflict, assert_missing, begin, commit};

/// More rows than one statement carries on either engine (SQLite fits 840 users per statement,
/// every statement at most 1,000 rows).
const MANY: u64 = 1_200;

/// New users `first..first + n` of the seeded organization, each with a role grant (and every
/// other one with group access, a phone and a CRM id), as an import would create them.
fn new_users(s: &Seed, first: u64, n: u64) -> Vec<User> {
    let standard = s.role("standard").id;
    (first..first + n)
        .map(|k| {
            let mut u = seed::user(s.org.id, uid(s.n, k), &format!("user{k}@batch.example.com"));
            u.roles = BTreeSet::from([RoleGrant::org_wide(standard)]);
            u.created_at = T0 + Duration::microseconds(i64::try_from(k).expect("small"));
            if k % 2 == 0 {
                u.group_access = BTreeSet::from([s.sales.id, s.support.id]);
                u.phone = Some(phone(&format!("+1415666{k:04}")));
                u.crm_id = Some(CrmId::parse(&format!("crm-{k}")).expect("valid"));
                u.lifecycle.invited = true;
            }
            u
        })
        .collect()
}

/// The number of the seeded organization `org` in [`uid`].
fn org_number(org: OrgId) -> u64 {
    org.as_uuid().as_u64_pair().0
}

fn invites_for(users: &[User], first: u64) -> Vec<Invite> {
    (first..)
        .zip(users)
        .map(|(k, u)| seed::invite(u, uid(org_number(u.org_id), k), &format!("hash-{k}"), &["sms"]))
        .collect()
}

fn events(org: OrgId, n: u64, first: u64) -> Vec<AuditEvent> {
    (first..first + n)
        .map(|k| seed::event(org, uid(org_number(org), k), T0 + Duration::minutes(1), "batch.event"))
        .collect()
}

fn mails(org: OrgId, n: u64, first: u64) -> Vec<OutgoingMail> {
    (first..first + n).map(|k| seed::mail(org, uid(org_number(org), k), &format!("m{k}@example.com"), T0)).collect()
}

fn ids(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

/// Writes one batch of every kind (more users than a statement holds) and reads each row back
/// exactly as written, as the single-row methods' round trips do; audit positions continue the
/// organization's count in slice order, after single appends and between batches alike.
pub async fn every_batch_write_reads_back_as_the_single_row_writes_do(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let users = new_users(&s, 1_000, MANY);
    let invites = invites_for(&users[..10], 5_000);
    let reservations: Vec<SeatReservation> = invites
        .iter()
        .flat_map(|i| ["sms", "flow"].map(|p| SeatReservation { org_id: o, invite_id: i.id, product: seed::key(p) }))
        .collect();
    let licenses: Vec<LicenseAssignment> =
        users[..20].iter().flat_map(|u| [seed::license(u, "core"), seed::license(u, "sms")]).collect();
    let memberships: Vec<Membership> = users
        .iter()
        .map(|u| seed::membership(&s.sales, u, T0, None))
        .chain(users[..5].iter().map(|u| seed::membership(&s.east, u, T0, Some(T0 + Duration::hours(1)))))
        .collect();
    let connections: Vec<Connection> = (0..MANY)
        .map(|k| {
            let inviter = users[usize::try_from(k % 7).expect("small")].id;
            let groups: &[GroupId] = match k % 3 {
                0 => &[],
                1 => &[s.sales.id],
                _ => &[s.sales.id, s.east.id],
            };
            let mut c = seed::connection(
                o,
                uid(1, 10_000 + k),
                inviter,
                T0 + Duration::seconds(i64::try_from(k).expect("small")),
                groups,
            );
            if k % 5 == 0 {
                c.cc = BTreeSet::from([s.ada.id, users[0].id]);
            }
            c
        })
        .collect();
    let before = {
        let mut tx = begin(&store).await;
        tx.last_event_position(o).await.expect("reads")
    };
    let single = events(o, 2, 20_000);
    let batch = events(o, 3, 20_010);
    let more = events(o, 2, 20_020);
    let queued = mails(o, 3, 30_000);

    let mut tx = begin(&store).await;
    tx.insert_users(&users).await.expect("inserts the users");
    tx.insert_invites(&invites).await.expect("inserts the invites");
    tx.insert_reservations(&reservations).await.expect("inserts the reservations");
    tx.insert_licenses(&licenses).await.expect("inserts the licenses");
    tx.insert_memberships(&memberships).await.expect("inserts the memberships");
    tx.insert_connections(&connections).await.expect("inserts the connections");
    for e in &single {
        tx.append_audit(e).await.expect("appends");
    }
    tx.append_audits(&batch).await.expect("appends the batch");
    tx.append_audits(&more).await.expect("appends a second batch");
    tx.enqueue_mails(&queued).await.expect("queues the mail");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let mut sorted = users.clone();
    sorted.sort_by_key(|u| u.id);
    assert_eq!(tx.users_by_ids(o, &ids(&users)).await.expect("reads"), sorted, "users with grants and access");
    for i in &invites {
        assert_eq!(tx.invite(o, i.id).await.expect("reads").as_ref(), Some(i));
        let mut expected: Vec<SeatReservation> = reservations.iter().filter(|r| r.invite_id == i.id).cloned().collect();
        expected.sort_by(|a, b| a.product.cmp(&b.product));
        assert_eq!(tx.reservations_of(o, i.id).await.expect("reads"), expected);
    }
    for u in &users[..20] {
        let expected: Vec<LicenseAssignment> = licenses.iter().filter(|l| l.user_id == u.id).cloned().collect();
        assert_eq!(tx.licenses_of(o, u.id).await.expect("reads"), expected, "by product: core, sms");
    }
    for u in &users[..6] {
        let mut got = tx.memberships_of(o, u.id).await.expect("reads");
        let mut expected: Vec<Membership> = memberships.iter().filter(|m| m.user_id == u.id).cloned().collect();
        got.sort_by_key(|m| (m.group_id, m.joined_at));
        expected.sort_by_key(|m| (m.group_id, m.joined_at));
        assert_eq!(got, expected);
    }
    let members = tx.current_members(o, s.sales.id).await.expect("reads");
    let members: BTreeSet<UserId> = members.into_iter().collect();
    assert!(users.iter().all(|u| members.contains(&u.id)), "every user is a current member of sales");
    for c in connections.iter().step_by(97).chain(connections.last()) {
        assert_eq!(tx.connection(o, c.id).await.expect("reads").as_ref(), Some(c), "with its stamp and cc");
    }
    let feed = tx.events_after(o, Some(before), 100).await.expect("reads");
    let expected: Vec<(u64, AuditEvent)> =
        (before + 1..).zip(single.iter().chain(&batch).chain(&more).cloned()).collect();
    assert_eq!(feed, expected, "consecutive positions in append order");
    assert_eq!(tx.last_event_position(o).await.expect("reads"), before + 7);
    let due = tx.due_mail(T0 + Duration::days(1), 100).await.expect("reads");
    for m in &queued {
        let found = due.iter().find(|q| q.mail.id == m.id).expect("queued");
        assert_eq!(&found.mail, m);
        assert_eq!(
            found.delivery,
            DeliveryState::Pending { attempts: 0, next_attempt_at: m.created_at, last_error: None }
        );
    }
}

/// A batch with one refused row — a clash with a stored row, a clash between two rows of the
/// batch, a missing referenced row — fails as the single-row write of that row would, stores
/// none of its rows (even those in earlier statements of a large batch), and leaves the
/// transaction usable.
pub async fn a_refused_row_refuses_its_whole_batch_and_the_transaction_goes_on(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;

    let mut users = new_users(&s, 1_000, MANY);
    let last = users.len() - 1;
    users[last].email = s.ada.email.clone();
    assert_conflict(tx.insert_users(&users).await, UniqueField::Email, "the last row clashes with ada");
    users[last].email = users[0].email.clone();
    assert_conflict(tx.insert_users(&users).await, UniqueField::Email, "two rows of the batch clash");
    users[last].email = seed::email("free@batch.example.com");
    users[last].crm_id = s.ada.crm_id.clone();
    assert_conflict(tx.insert_users(&users).await, UniqueField::CrmId, "a crm id clash");
    assert!(tx.users_by_ids(o, &ids(&users)).await.expect("reads").is_empty(), "no user of a refused batch");

    let ghost = seed::user(o, uid(1, 999_999), "ghost@example.com");
    let licenses = [seed::license(&s.bob, "sms"), seed::license(&ghost, "sms")];
    assert_missing(tx.insert_licenses(&licenses).await, "user", "a license of an unknown user");
    let twice = [seed::license(&s.bob, "sms"), seed::license(&s.bob, "sms")];
    assert_conflict(tx.insert_licenses(&twice).await, UniqueField::Key, "one license per user and product");
    assert!(tx.licenses_of(o, s.bob.id).await.expect("reads").iter().all(|l| l.product.as_str() != "sms"));

    let reservations = [
        SeatReservation { org_id: o, invite_id: s.invite.id, product: seed::key("voice") },
        SeatReservation { org_id: o, invite_id: InviteId::from_uuid(uid(1, 999_998)), product: seed::key("sms") },
    ];
    assert_missing(tx.insert_reservations(&reservations).await, "invite", "a reservation of an unknown invite");
    let invites =
        [seed::invite(&s.bob, uid(1, 7_000), "h-7000", &[]), seed::invite(&ghost, uid(1, 7_001), "h-7001", &[])];
    assert_missing(tx.insert_invites(&invites).await, "user", "an invite of an unknown user");
    assert_eq!(tx.invite(o, invites[0].id).await.expect("reads"), None);

    let unknown_group = seed::group(o, uid(1, 999_997), Some(&s.root), "Nowhere");
    let memberships =
        [seed::membership(&s.support, &s.bob, T0, None), seed::membership(&unknown_group, &s.bob, T0, None)];
    assert_missing(tx.insert_memberships(&memberships).await, "group", "a membership of an unknown group");
    let memberships = [seed::membership(&s.support, &s.bob, T0, None), seed::membership(&s.support, &ghost, T0, None)];
    assert_missing(tx.insert_memberships(&memberships).await, "user", "a membership of an unknown user");
    assert!(!tx.current_members(o, s.support.id).await.expect("reads").contains(&s.bob.id));

    let connections = [
        seed::connection(o, uid(1, 8_000), s.bob.id, T0, &[s.sales.id]),
        seed::connection(o, uid(1, 8_001), ghost.id, T0, &[s.sales.id]),
    ];
    assert_missing(tx.insert_connections(&connections).await, "user", "a connection of an unknown inviter");
    assert_eq!(tx.connection(o, connections[0].id).await.expect("reads"), None);

    // The transaction is still usable: a good batch of each kind goes through and commits.
    let good = new_users(&s, 1_000, 3);
    tx.insert_users(&good).await.expect("a good batch after refused ones");
    tx.insert_licenses(&[seed::license(&s.bob, "sms")]).await.expect("inserts");
    tx.append_audits(&events(o, 2, 9_000)).await.expect("appends");
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.users_by_ids(o, &ids(&good)).await.expect("reads").len(), 3);
    assert_eq!(tx.users_by_ids(o, &ids(&users)).await.expect("reads").len(), 3, "only the good batch's users");
}

/// Batches written in a transaction that is dropped leave nothing behind, audit positions
/// included: the next append takes them again.
pub async fn batches_of_a_dropped_transaction_leave_nothing(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let before = {
        let mut tx = begin(&store).await;
        tx.last_event_position(o).await.expect("reads")
    };
    let users = new_users(&s, 1_000, 50);
    {
        let mut tx = begin(&store).await;
        tx.insert_users(&users).await.expect("inserts");
        tx.insert_memberships(&users.iter().map(|u| seed::membership(&s.sales, u, T0, None)).collect::<Vec<_>>())
            .await
            .expect("inserts");
        tx.append_audits(&events(o, 5, 9_000)).await.expect("appends");
        tx.enqueue_mails(&mails(o, 2, 9_100)).await.expect("queues");
        drop(tx);
    }
    let mut tx = begin(&store).await;
    assert!(tx.users_by_ids(o, &ids(&users)).await.expect("reads").is_empty());
    assert!(!tx.current_members(o, s.sales.id).await.expect("reads").contains(&users[0].id));
    assert_eq!(tx.last_event_position(o).await.expect("reads"), before, "positions given back");
    let again = events(o, 2, 9_200);
    tx.append_audits(&again).await.expect("appends");
    let feed = tx.events_after(o, Some(before), 10).await.expect("reads");
    assert_eq!(feed, (before + 1..).zip(again).collect::<Vec<_>>(), "the given-back positions are taken again");
}

/// An empty slice writes nothing and succeeds, for every batch write.
pub async fn an_empty_batch_is_a_no_op(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let before = tx.last_event_position(o).await.expect("reads");
    empty_batches(tx.as_mut()).await.expect("empty batches succeed");
    assert_eq!(tx.last_event_position(o).await.expect("reads"), before);
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.last_event_position(o).await.expect("reads"), before, "no counter moved");
    let found = tx.users_matching(o, &[], &[], &[]).await.expect("reads");
    assert!(found.is_empty(), "empty lists match nothing");
}

async fn empty_batches(tx: &mut dyn Tx) -> Result<(), StoreError> {
    tx.insert_users(&[]).await?;
    tx.insert_licenses(&[]).await?;
    tx.insert_reservations(&[]).await?;
    tx.insert_invites(&[]).await?;
    tx.append_audits(&[]).await?;
    tx.enqueue_mails(&[]).await?;
    tx.insert_memberships(&[]).await?;
    tx.insert_connections(&[]).await
}

/// `users_matching` finds the live users `find_user` would find for any of the values, each
/// once, in id order: emails as normalized, phones and CRM ids exactly; deleted users and other
/// organizations' users never.
pub async fn users_matching_finds_the_live_holders_of_any_value_once_in_id_order(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let other = seed(&store, 2).await;
    let o = s.org.id;
    let many = new_users(&s, 1_000, MANY);
    let mut tx = begin(&store).await;
    tx.insert_users(&many).await.expect("inserts");

    let shouted = [Email::parse("ADA@example.com").expect("valid")];
    let ada_phone: Vec<Phone> = s.ada.phone.iter().cloned().collect();
    let ada_crm: Vec<CrmId> = s.ada.crm_id.iter().cloned().collect();
    let found = tx.users_matching(o, &shouted, &ada_phone, &ada_crm).await.expect("reads");
    assert_eq!(found, vec![s.ada.clone()], "ada once, whichever value matched");

    let emails = vec![s.cy.email.clone(), s.eve.email.clone(), seed::email("nobody@example.com")];
    let crm_ids = vec![CrmId::parse("005ADA").expect("valid")];
    let phones: Vec<Phone> = s.bob.phone.iter().cloned().collect();
    let found = tx.users_matching(o, &emails, &phones, &crm_ids).await.expect("reads");
    let mut expected = vec![s.bob.clone(), s.cy.clone()];
    expected.sort_by_key(|u| u.id);
    assert_eq!(found, expected, "eve is deleted, CRM ids keep case, unknown values match nothing");

    // More values than one `IN (…)` list holds, from all three lists at once.
    let emails: Vec<Email> = many.iter().map(|u| u.email.clone()).collect();
    let phones: Vec<Phone> = many.iter().filter_map(|u| u.phone.clone()).collect();
    let crm_ids: Vec<CrmId> = many.iter().filter_map(|u| u.crm_id.clone()).collect();
    let found = tx.users_matching(o, &emails, &phones, &crm_ids).await.expect("reads");
    let mut expected = many.clone();
    expected.sort_by_key(|u| u.id);
    assert_eq!(found, expected);
    let theirs = tx.users_matching(other.org.id, &emails, &phones, &crm_ids).await.expect("reads");
    assert!(theirs.is_empty(), "another organization's users are not matched");
}
