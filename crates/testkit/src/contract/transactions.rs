//! The unit of work: what a transaction reads back, when its writes become visible, that
//! dropping it undoes everything, and that an expected refusal leaves it usable.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use roster_domain::audit::AuditQuery;
use roster_domain::catalog::Catalog;
use roster_domain::ids::{ConnectionId, GroupId, UserId};
use roster_domain::mail::{DeliveryState, QueuedMail};
use roster_domain::ports::{PasswordHash, SeatsExhausted, Store, StoreError, UniqueField, UserLookup};
use roster_domain::scheduling::ScheduleState;
use roster_domain::visibility::{ConnectionQuery, ConnectionScope};

use super::seed::{self, Seed, T0, dump, key, seed, uid};
use super::{assert_conflict, assert_missing, assert_stale, begin, commit};

/// Every entity of the seed, read back in a later transaction, equals what was written: every
/// field, every optional fact, sets, JSON details, secrets and hashes.
pub async fn every_entity_reads_back_exactly_as_written(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    assert_eq!(tx.org(o).await.expect("reads"), Some(s.org.clone()), "org");
    assert_eq!(tx.org_by_slug(&s.org.slug).await.expect("reads"), Some(s.org.clone()), "org by slug");
    assert_eq!(tx.orgs().await.expect("reads"), vec![s.org.clone()], "orgs");
    assert_eq!(tx.catalog(o).await.expect("reads"), s.catalog, "catalog");
    assert_eq!(tx.seat_pools(o).await.expect("reads"), s.pools, "seat pools, by product");
    assert_eq!(tx.roles(o).await.expect("reads"), s.roles, "roles, by id");
    let groups: Vec<_> = s.groups().into_iter().cloned().collect();
    assert_eq!(tx.groups(o).await.expect("reads"), groups, "groups, deleted included, by id");
    for u in s.users() {
        assert_eq!(tx.user(o, u.id).await.expect("reads").as_ref(), Some(u), "user {}", u.email);
        assert_eq!(tx.password_hash(o, u.id).await.expect("reads").as_ref(), s.password_hashes.get(&u.id));
        let mut held = tx.memberships_of(o, u.id).await.expect("reads");
        let mut want: Vec<_> = s.memberships.iter().filter(|m| m.user_id == u.id).cloned().collect();
        held.sort_by_key(|m| (m.group_id, m.joined_at));
        want.sort_by_key(|m| (m.group_id, m.joined_at));
        assert_eq!(held, want, "memberships of {}", u.email);
    }
    let users: Vec<_> = s.users().into_iter().cloned().collect();
    assert_eq!(tx.users_by_ids(o, &s.user_ids()).await.expect("reads"), users, "users by ids");
    assert_eq!(tx.licenses_of(o, s.ada.id).await.expect("reads"), s.licenses[..2], "ada's licenses, by product");
    assert_eq!(tx.all_licenses(o).await.expect("reads"), s.licenses, "all licenses, by user then product");
    assert_eq!(tx.flows(o).await.expect("reads"), vec![s.flow.clone()], "flows");
    let flows = tx.group_flows(o).await.expect("reads");
    assert_eq!(flows, [(s.sales.id, BTreeSet::from([s.flow.id]))].into(), "group flows");
    assert_eq!(tx.api_keys(o).await.expect("reads"), vec![s.api_key.clone()], "api keys");
    assert_eq!(tx.api_key(o, s.api_key.id).await.expect("reads"), Some(s.api_key.clone()), "api key");
    let by_hash = tx.api_key_by_secret_hash(&s.api_key.secret_hash).await.expect("reads");
    assert_eq!(by_hash, Some(s.api_key.clone()), "api key by secret hash");
    for c in &s.connections {
        assert_eq!(tx.connection(o, c.id).await.expect("reads").as_ref(), Some(c), "connection {}", c.id);
    }
    assert_eq!(tx.invite(o, s.invite.id).await.expect("reads"), Some(s.invite.clone()), "invite");
    let by_token = tx.invite_by_token_hash(&s.invite.token_hash).await.expect("reads");
    assert_eq!(by_token, Some(s.invite.clone()), "invite by token hash");
    assert_eq!(tx.pending_invites(o).await.expect("reads"), vec![s.invite.clone()], "pending invites");
    assert_eq!(tx.reservations_of(o, s.invite.id).await.expect("reads"), vec![s.reservation.clone()]);
    for c in &s.scheduled {
        assert_eq!(tx.scheduled(o, c.id).await.expect("reads").as_ref(), Some(c), "scheduled change {}", c.id);
    }
    assert_eq!(tx.scheduled_for_user(o, s.bob.id).await.expect("reads"), s.scheduled[..1], "bob's schedule");
    let newest_first: Vec<_> = s.events.iter().rev().cloned().collect();
    assert_eq!(tx.audit(o, &AuditQuery::default()).await.expect("reads"), newest_first, "audit log");
    let feed: Vec<_> = (1..).zip(s.events.iter().cloned()).collect();
    assert_eq!(tx.events_after(o, None, 10).await.expect("reads"), feed, "event feed");
    let queued = QueuedMail {
        mail: s.mail.clone(),
        delivery: DeliveryState::Pending { attempts: 0, next_attempt_at: s.mail.created_at, last_error: None },
    };
    assert_eq!(tx.due_mail(T0, 10).await.expect("reads"), vec![queued], "queued mail, due at once");
    assert_eq!(tx.webhook(o, s.webhook.id).await.expect("reads"), Some(s.webhook.clone()), "webhook");
    assert_eq!(tx.webhooks(o).await.expect("reads"), vec![s.webhook.clone()], "webhooks");
    let log = tx.webhook_deliveries(o, s.webhook.id, 10).await.expect("reads");
    assert_eq!(log, vec![s.delivery.clone()], "delivery log");
    assert_eq!(tx.pending_webhook_delivery(o, s.webhook.id).await.expect("reads"), None, "the delivery is settled");
}

/// Reads inside a transaction see the transaction's own uncommitted writes.
pub async fn reads_in_a_transaction_see_its_own_writes(store: Arc<dyn Store>) {
    let mut tx = begin(&store).await;
    let s = seed::write_seed(tx.as_mut(), 1).await;
    let o = s.org.id;
    assert_eq!(tx.user(o, s.ada.id).await.expect("reads"), Some(s.ada.clone()));
    assert_eq!(tx.find_user(o, UserLookup::Email(&s.bob.email)).await.expect("reads"), Some(s.bob.clone()));
    assert_eq!(tx.connection(o, s.connections[0].id).await.expect("reads"), Some(s.connections[0].clone()));
    let taken = tx.take_seats(o, &key("sms"), 2).await.expect("takes seats");
    assert_eq!(tx.seat_pools(o).await.expect("reads")[3], taken, "the pool shows the seats just taken");
    assert_eq!(tx.last_event_position(o).await.expect("reads"), 3, "uncommitted events have positions");
    let mut renamed = s.ada.clone();
    renamed.first_name = seed::name("Augusta");
    renamed.version += 1;
    tx.update_user(&renamed).await.expect("updates");
    assert_eq!(tx.user(o, s.ada.id).await.expect("reads"), Some(renamed));
}

/// After a commit, a later transaction sees every write of the committed one.
pub async fn a_commit_makes_every_write_visible_to_later_transactions(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let mut ada = s.ada.clone();
    ada.lifecycle.deactivated_at = Some(T0 + Duration::days(4));
    ada.version += 1;
    tx.update_user(&ada).await.expect("updates");
    tx.take_seats(o, &key("dialer"), 2).await.expect("takes seats");
    tx.end_membership(o, s.sales.id, s.ada.id, T0 + Duration::days(4)).await.expect("ends");
    let extra = seed::connection(o, uid(1, 900), s.bob.id, T0 + Duration::days(4), &[s.east.id]);
    tx.insert_connection(&extra).await.expect("inserts");
    tx.append_audit(&seed::event(o, uid(1, 901), T0 + Duration::days(4), "user.deactivated")).await.expect("appends");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.user(o, s.ada.id).await.expect("reads"), Some(ada));
    assert_eq!(tx.seat_pools(o).await.expect("reads")[1].seats_used(), 2);
    assert_eq!(tx.current_members(o, s.sales.id).await.expect("reads"), Vec::<UserId>::new());
    assert_eq!(tx.connection(o, extra.id).await.expect("reads"), Some(extra));
    assert_eq!(tx.last_event_position(o).await.expect("reads"), 4);
}

/// Dropping a transaction without committing undoes every kind of write it made, and gives its
/// event positions back.
pub async fn dropping_a_transaction_rolls_every_write_back(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let before = dump(tx.as_mut(), &s).await;
    // Committed, not dropped: on PostgreSQL a dropped transaction rolls back in the
    // background, and until it has, the mail rows its dump locked are skipped by the next dump.
    commit(tx).await;

    let mut tx = begin(&store).await;
    write_a_bit_of_everything(tx.as_mut(), &s).await;
    assert_ne!(dump(tx.as_mut(), &s).await, before, "the writes are visible inside the transaction");
    drop(tx);

    // A dropped transaction may release its row locks a moment after `drop` returns (an async
    // driver sends the rollback when the pool takes the connection back), and `due_mail` skips
    // rows another transaction still locks. Read again until the locks are gone; what is
    // compared is the whole state, so a write that survived the drop still fails the check.
    let mut tx = begin(&store).await;
    let mut after = dump(tx.as_mut(), &s).await;
    for _ in 0..200 {
        if after == before {
            break;
        }
        drop(tx);
        tx = begin(&store).await;
        after = dump(tx.as_mut(), &s).await;
    }
    assert_eq!(after, before, "nothing of the dropped transaction remains");
    assert_eq!(tx.user(o, UserId::from_uuid(uid(1, 950))).await.expect("reads"), None);
    assert_eq!(tx.org(roster_domain::ids::OrgId::from_uuid(uid(2, 0))).await.expect("reads"), None);
    tx.append_audit(&seed::event(o, uid(1, 960), T0, "user.updated")).await.expect("appends");
    let feed = tx.events_after(o, Some(3), 10).await.expect("reads");
    assert_eq!(feed.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [4], "the rolled-back positions are reused");
}

/// One write of (almost) every kind, on the seeded organization.
async fn write_a_bit_of_everything(tx: &mut dyn roster_domain::ports::Tx, s: &Seed) {
    let o = s.org.id;
    let mut org = s.org.clone();
    org.version += 1;
    org.trial_ends_at = None;
    tx.update_org(&org).await.expect("updates the org");
    tx.save_catalog(o, &Catalog::default_catalog()).await.expect("saves a catalog");
    tx.take_seats(o, &key("sms"), 1).await.expect("takes seats");
    tx.return_seats(o, &key("core"), 1).await.expect("returns seats");
    tx.set_seats_total(o, &key("voice"), 9).await.expect("sets a total");
    tx.insert_license(&seed::license(&s.bob, "dialer")).await.expect("inserts a license");
    assert!(tx.delete_license(o, s.ada.id, &key("flow")).await.expect("deletes a license"));
    let mut role = s.role("auditor").clone();
    role.name = seed::label("Auditors");
    tx.update_role(&role).await.expect("updates a role");
    tx.insert_role(&seed::role(o, uid(1, 931), "extra")).await.expect("inserts a role");
    tx.delete_role(o, s.role("scorer").id).await.expect("deletes a role");
    let mut east = s.east.clone();
    east.name = seed::group_name("Far East");
    east.version += 1;
    tx.update_group(&east).await.expect("updates a group");
    tx.insert_group(&seed::group(o, uid(1, 932), Some(&s.root), "West")).await.expect("inserts a group");
    tx.insert_membership(&seed::membership(&s.support, &s.ada, T0, None)).await.expect("inserts a membership");
    assert!(tx.end_membership(o, s.east.id, s.bob.id, T0 + Duration::days(1)).await.expect("ends a membership"));
    tx.set_group_flows(o, s.sales.id, &BTreeSet::new()).await.expect("clears flows");
    tx.insert_flow(&seed::flow(o, uid(1, 933), "Second")).await.expect("inserts a flow");
    let mut key_row = s.api_key.clone();
    key_row.revoked_at = Some(T0 + Duration::days(1));
    tx.update_api_key(&key_row).await.expect("revokes a key");
    tx.insert_api_key(&seed::api_key(o, uid(1, 934), s.admin.id, "another-hash")).await.expect("inserts a key");
    tx.insert_connection(&seed::connection(o, uid(1, 935), s.admin.id, T0, &[])).await.expect("inserts a connection");
    assert_eq!(tx.restamp_unstamped(o, s.ada.id, s.support.id).await.expect("restamps"), 1);
    assert_eq!(tx.transfer_stamp(o, s.bob.id, s.east.id, s.sales.id).await.expect("transfers"), 1);
    let mut invite = s.invite.clone();
    invite.token_hash = "resent".to_owned();
    tx.update_invite(&invite).await.expect("updates an invite");
    tx.delete_reservations(o, s.invite.id).await.expect("deletes reservations");
    let mut change = s.scheduled[0].clone();
    change.state = ScheduleState::Cancelled { at: T0 };
    tx.update_scheduled(&change).await.expect("updates a scheduled change");
    tx.insert_scheduled(&seed::scheduled(
        &s.ada,
        uid(1, 936),
        roster_domain::scheduling::ScheduledAction::Deactivate,
        T0,
    ))
    .await
    .expect("inserts a scheduled change");
    tx.append_audit(&seed::event(o, uid(1, 937), T0, "user.updated")).await.expect("appends");
    tx.enqueue_mail(&seed::mail(o, uid(1, 938), "x@example.com", T0)).await.expect("enqueues");
    let sent = DeliveryState::Sent { at: T0, attempts: 1 };
    tx.set_delivery(s.mail.id, &sent).await.expect("records a delivery");
    let mut hook = s.webhook.clone();
    hook.position = 3;
    hook.version += 1;
    tx.update_webhook(&hook).await.expect("updates a webhook");
    tx.insert_webhook_delivery(&seed::delivery(&hook, uid(1, 939), 3, T0, T0)).await.expect("inserts a delivery");
    tx.insert_webhook(&seed::webhook(o, uid(1, 940), s.admin.id, T0)).await.expect("inserts a webhook");
    tx.insert_user(&seed::user(o, uid(1, 950), "new@example.com")).await.expect("inserts a user");
    let mut bob = s.bob.clone();
    bob.version += 1;
    bob.lifecycle.crm_connected = true;
    tx.update_user(&bob).await.expect("updates a user");
    tx.set_password_hash(o, s.bob.id, &PasswordHash::new("new".to_owned())).await.expect("sets a hash");
    tx.purge_user(o, s.cy.id).await.expect("purges a user");
    seed::insert_org_with_root(tx, &seed::org(2, "second")).await;
}

/// A write refused with an expected error (`Conflict`, `StaleVersion`, `SeatsExhausted`,
/// `Missing`) changes nothing, and the transaction goes on: later writes succeed and commit
/// with the earlier ones (on PostgreSQL: each such write runs in a savepoint).
pub async fn a_failed_expected_write_changes_nothing_and_leaves_the_transaction_usable(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let zed = seed::user(o, uid(1, 500), "zed@example.com");
    tx.insert_user(&zed).await.expect("a first write");

    assert_conflict(tx.insert_user(&seed::user(o, uid(1, 501), "ada@example.com")).await, UniqueField::Email, "email");
    let mut bob = s.bob.clone();
    bob.version += 1;
    bob.phone = s.ada.phone.clone();
    bob.first_name = seed::name("Robert");
    assert_conflict(tx.update_user(&bob).await, UniqueField::Phone, "phone on update");
    assert_stale(tx.update_user(&s.ada).await, "user", "the stored version is already 3");
    let refused = tx.take_seats(o, &key("voice"), 3).await;
    match refused {
        Err(StoreError::SeatsExhausted(e)) => {
            assert_eq!(e, SeatsExhausted { product: key("voice"), seats_total: 2, seats_used: 0 });
        }
        other => panic!("expected SeatsExhausted, got {other:?}"),
    }
    let ghost = seed::user(o, uid(1, 502), "ghost@example.com");
    assert_missing(tx.insert_license(&seed::license(&ghost, "core")).await, "user", "license of an unknown user");
    let ghost_group = seed::group(o, uid(1, 503), None, "Ghost");
    let unknown = seed::membership(&ghost_group, &zed, T0, None);
    assert_missing(tx.insert_membership(&unknown).await, "group", "membership of an unknown group");

    assert_eq!(tx.user(o, s.bob.id).await.expect("reads after a failure"), Some(s.bob.clone()), "bob unchanged");
    tx.take_seats(o, &key("voice"), 2).await.expect("a write after the failures");
    let unstamped = seed::connection(o, uid(1, 504), zed.id, T0, &[]);
    tx.insert_connection(&unstamped).await.expect("another write");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.user(o, zed.id).await.expect("reads"), Some(zed.clone()), "the first write committed");
    assert_eq!(tx.user(o, s.bob.id).await.expect("reads"), Some(s.bob.clone()), "the refused update left nothing");
    assert_eq!(tx.user(o, s.ada.id).await.expect("reads"), Some(s.ada.clone()));
    assert_eq!(tx.user(o, UserId::from_uuid(uid(1, 501))).await.expect("reads"), None, "the refused insert");
    assert_eq!(tx.seat_pools(o).await.expect("reads")[4].seats_used(), 2, "voice: only the accepted take");
    assert_eq!(tx.licenses_of(o, ghost.id).await.expect("reads"), vec![]);
    assert_eq!(tx.connection(o, ConnectionId::from_uuid(uid(1, 504))).await.expect("reads"), Some(unstamped));
    assert!(tx.groups(o).await.expect("reads").iter().all(|g| g.id != GroupId::from_uuid(uid(1, 503))));
    let all = ConnectionQuery { org_id: o, scope: ConnectionScope::All, group: None, after: None, limit: 200 };
    assert_eq!(tx.list_connections(&all).await.expect("lists").len(), 5);
}
