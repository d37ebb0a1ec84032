//! `UserRepository` apart from the Users-table query (`users_query`): lookups, unique values,
//! optimistic updates, purging, admins, billing and password hashes.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use roster_domain::ids::UserId;
use roster_domain::ports::{PasswordHash, Store, UniqueField, UserLookup};
use roster_domain::roles::RoleGrant;
use roster_domain::user::User;
use roster_domain::values::{AgentId, CrmId, Email};

use super::seed::{self, T0, phone, seed, uid};
use super::{assert_conflict, assert_missing, assert_stale, begin, commit};

/// `find_user` finds a live user by email, phone, agent id or CRM id, and never a deleted one;
/// `user` reads deleted users too; `users_by_ids` answers the known ids of the organization once
/// each, in id order.
pub async fn a_live_user_is_found_by_each_unique_field_and_by_ids_in_id_order(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let ada = Some(s.ada.clone());
    let shouted = Email::parse("  ADA@Example.COM ").expect("emails are normalized when parsed");
    assert_eq!(tx.find_user(o, UserLookup::Email(&shouted)).await.expect("reads"), ada);
    let ada_phone = s.ada.phone.clone().expect("a phone");
    assert_eq!(tx.find_user(o, UserLookup::Phone(&ada_phone)).await.expect("reads"), ada);
    let agent = s.ada.agent_id.clone().expect("an agent id");
    assert_eq!(tx.find_user(o, UserLookup::AgentId(&agent)).await.expect("reads"), ada);
    let crm = s.ada.crm_id.clone().expect("a crm id");
    assert_eq!(tx.find_user(o, UserLookup::CrmId(&crm)).await.expect("reads"), ada);
    let other_case = AgentId::parse("AGENT-ADA").expect("valid");
    assert_eq!(tx.find_user(o, UserLookup::AgentId(&other_case)).await.expect("reads"), None, "agent ids keep case");
    let other_case = CrmId::parse("005ADA").expect("valid");
    assert_eq!(tx.find_user(o, UserLookup::CrmId(&other_case)).await.expect("reads"), None, "crm ids keep case");

    assert_eq!(tx.find_user(o, UserLookup::Email(&s.eve.email)).await.expect("reads"), None, "eve is deleted");
    let eve_phone = s.eve.phone.clone().expect("a phone");
    assert_eq!(tx.find_user(o, UserLookup::Phone(&eve_phone)).await.expect("reads"), None);
    assert_eq!(tx.user(o, s.eve.id).await.expect("reads"), Some(s.eve.clone()), "by id, deleted included");
    let unknown = seed::email("nobody@example.com");
    assert_eq!(tx.find_user(o, UserLookup::Email(&unknown)).await.expect("reads"), None);
    let dee = Some(s.dee.clone());
    assert_eq!(tx.find_user(o, UserLookup::Email(&s.dee.email)).await.expect("reads"), dee, "deactivated is live");

    let asked = [s.eve.id, s.ada.id, UserId::from_uuid(uid(1, 999)), s.admin.id, s.ada.id];
    let found = tx.users_by_ids(o, &asked).await.expect("reads");
    assert_eq!(found, vec![s.admin.clone(), s.ada.clone(), s.eve.clone()], "known ids, once each, in id order");
    assert!(tx.users_by_ids(o, &[]).await.expect("reads").is_empty());
}

/// Email (as normalized by `Email::parse`: case-insensitive), phone, agent id and CRM id are
/// unique among an organization's users that are not deleted: a clash is `Conflict` naming the
/// field, on insert and on update; absent optional values never clash; a user never clashes
/// with itself.
pub async fn a_taken_email_phone_agent_id_or_crm_id_conflicts_on_insert_and_on_update(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let zed = seed::user(o, uid(1, 300), "zed@example.com");
    let shouted = User { email: Email::parse("Ada@EXAMPLE.com").expect("valid"), ..zed.clone() };
    assert_conflict(tx.insert_user(&shouted).await, UniqueField::Email, "an email differing in case only");
    assert_conflict(
        tx.insert_user(&User { phone: s.ada.phone.clone(), ..zed.clone() }).await,
        UniqueField::Phone,
        "phone",
    );
    let same_agent = User { agent_id: s.ada.agent_id.clone(), ..zed.clone() };
    assert_conflict(tx.insert_user(&same_agent).await, UniqueField::AgentId, "agent id");
    let same_crm = User { crm_id: s.ada.crm_id.clone(), ..zed.clone() };
    assert_conflict(tx.insert_user(&same_crm).await, UniqueField::CrmId, "crm id");
    let same_ring = User { agent_ring_number: s.ada.agent_ring_number.clone(), ..zed.clone() };
    tx.insert_user(&same_ring).await.expect("ring numbers are not unique, absent values never clash");

    let next = |mut u: User| {
        u.version += 1;
        u
    };
    let cases = [
        (User { email: s.ada.email.clone(), ..next(zed.clone()) }, UniqueField::Email),
        (User { phone: s.bob.phone.clone(), ..next(zed.clone()) }, UniqueField::Phone),
        (User { agent_id: s.ada.agent_id.clone(), ..next(zed.clone()) }, UniqueField::AgentId),
        (User { crm_id: s.ada.crm_id.clone(), ..next(zed.clone()) }, UniqueField::CrmId),
    ];
    for (changed, field) in cases {
        assert_conflict(tx.update_user(&changed).await, field, "update");
    }
    let mut own = next(s.ada.clone());
    own.first_name = seed::name("Augusta");
    tx.update_user(&own).await.expect("a user never clashes with itself");
    let mut free = next(zed.clone());
    free.phone = Some(phone("+14155550999"));
    free.agent_id = Some(AgentId::parse("agent-zed").expect("valid"));
    free.crm_id = Some(CrmId::parse("005Zed").expect("valid"));
    tx.update_user(&free).await.expect("free values");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.user(o, zed.id).await.expect("reads"), Some(free), "only the accepted update is stored");
}

/// A deleted user holds none of their unique values: others may take them; restoring the deleted
/// user then conflicts on each value taken meanwhile.
pub async fn a_deleted_user_frees_every_unique_value_and_restoring_checks_them_again(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let mut xavier = seed::user(o, uid(1, 300), "xavier@example.com");
    xavier.phone = Some(phone("+14155550300"));
    xavier.agent_id = Some(AgentId::parse("agent-x").expect("valid"));
    xavier.crm_id = Some(CrmId::parse("005X").expect("valid"));
    tx.insert_user(&xavier).await.expect("inserts");
    xavier.lifecycle.deleted_at = Some(T0 + Duration::days(1));
    xavier.version += 1;
    tx.update_user(&xavier).await.expect("deletes");

    let takers = [
        (User { email: xavier.email.clone(), ..seed::user(o, uid(1, 301), "unused@example.com") }, UniqueField::Email),
        (User { phone: xavier.phone.clone(), ..seed::user(o, uid(1, 302), "p@example.com") }, UniqueField::Phone),
        (
            User { agent_id: xavier.agent_id.clone(), ..seed::user(o, uid(1, 303), "a@example.com") },
            UniqueField::AgentId,
        ),
        (User { crm_id: xavier.crm_id.clone(), ..seed::user(o, uid(1, 304), "c@example.com") }, UniqueField::CrmId),
    ];
    let mut restored = xavier.clone();
    restored.lifecycle.deleted_at = None;
    for (mut taker, field) in takers {
        tx.insert_user(&taker).await.expect("the deleted user's value is free");
        restored.version = xavier.version + 1;
        assert_conflict(tx.update_user(&restored).await, field, "restoring over a taken value");
        taker.lifecycle.deleted_at = Some(T0 + Duration::days(2));
        taker.version += 1;
        tx.update_user(&taker).await.expect("deletes the taker");
    }
    tx.update_user(&restored).await.expect("every value is free again");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let found = tx.find_user(o, UserLookup::Email(&xavier.email)).await.expect("reads");
    assert_eq!(found, Some(restored));
}

/// The same email, phone, agent id and CRM id may belong to users of different organizations.
pub async fn unique_values_are_unique_per_organization_only(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let mut tx = begin(&store).await;
    assert_eq!((a.ada.email.clone(), a.ada.agent_id.clone()), (b.ada.email.clone(), b.ada.agent_id.clone()));
    let agent = a.ada.agent_id.clone().expect("an agent id");
    let in_a = tx.find_user(a.org.id, UserLookup::AgentId(&agent)).await.expect("reads");
    let in_b = tx.find_user(b.org.id, UserLookup::AgentId(&agent)).await.expect("reads");
    assert_eq!((in_a, in_b), (Some(a.ada.clone()), Some(b.ada.clone())));
    let mut only_a = seed::user(a.org.id, uid(1, 300), "only-a@example.com");
    only_a.crm_id = Some(CrmId::parse("005OnlyA").expect("valid"));
    tx.insert_user(&only_a).await.expect("inserts in A");
    let in_b = User { id: UserId::from_uuid(uid(2, 300)), org_id: b.org.id, ..only_a.clone() };
    tx.insert_user(&in_b).await.expect("the same values are free in B");
    // Only the email clashes here: with several clashing fields any one may be named.
    let again = User { id: UserId::from_uuid(uid(2, 301)), phone: None, agent_id: None, crm_id: None, ..in_b.clone() };
    assert_conflict(tx.insert_user(&again).await, UniqueField::Email, "but taken in B now");
    let mut moved = b.bob.clone();
    moved.version += 1;
    moved.crm_id = a.ada.crm_id.clone();
    assert_conflict(tx.update_user(&moved).await, UniqueField::CrmId, "B's own ada holds the same crm id");
}

/// `update_user` needs the stored version plus one: an equal or skipped version is
/// `StaleVersion { kind: "user" }` and changes nothing; an unknown user is `Missing`.
pub async fn a_user_update_needs_the_next_version_of_an_existing_user(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let mut bob = s.bob.clone();
    bob.first_name = seed::name("Robert");
    for stale in [0, 1, 3] {
        bob.version = stale;
        assert_stale(tx.update_user(&bob).await, "user", "not the next version");
    }
    assert_eq!(tx.user(o, bob.id).await.expect("reads"), Some(s.bob.clone()), "refused updates change nothing");
    bob.version = 2;
    tx.update_user(&bob).await.expect("the next version");
    assert_stale(tx.update_user(&bob).await, "user", "the same version twice");
    let ghost = User { version: 2, ..seed::user(o, uid(1, 999), "ghost@example.com") };
    assert_missing(tx.update_user(&ghost).await, "user", "an unknown user");
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.user(o, bob.id).await.expect("reads"), Some(bob));
}

/// Purging removes the user with their password hash, licenses, memberships, scheduled changes,
/// invites and those invites' reservations, and nothing else: seat counts are the caller's to
/// return, audit events stay.
pub async fn purging_a_user_removes_the_rows_that_hang_off_them_and_nothing_else(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let cy = &s.cy;
    tx.set_password_hash(o, cy.id, &PasswordHash::new("cy".to_owned())).await.expect("sets");
    tx.insert_license(&seed::license(cy, "dialer")).await.expect("inserts");
    tx.insert_membership(&seed::membership(&s.support, cy, T0, None)).await.expect("inserts");
    let change = seed::scheduled(cy, uid(1, 300), roster_domain::scheduling::ScheduledAction::Deactivate, T0);
    tx.insert_scheduled(&change).await.expect("inserts");
    let mut about_cy = seed::event(o, uid(1, 301), T0, "invite.created");
    about_cy.target_id = cy.id.to_string();
    tx.append_audit(&about_cy).await.expect("appends");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let pools = tx.seat_pools(o).await.expect("reads");
    let events = tx.events_after(o, None, 100).await.expect("reads");
    tx.purge_user(o, cy.id).await.expect("purges");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.user(o, cy.id).await.expect("reads"), None);
    assert_eq!(tx.password_hash(o, cy.id).await.expect("reads"), None);
    assert!(tx.licenses_of(o, cy.id).await.expect("reads").is_empty());
    assert!(tx.memberships_of(o, cy.id).await.expect("reads").is_empty());
    assert_eq!(tx.current_members(o, s.support.id).await.expect("reads"), Vec::<UserId>::new());
    assert!(tx.scheduled_for_user(o, cy.id).await.expect("reads").is_empty());
    assert_eq!(tx.scheduled(o, change.id).await.expect("reads"), None);
    assert_eq!(tx.invite(o, s.invite.id).await.expect("reads"), None);
    assert_eq!(tx.invite_by_token_hash(&s.invite.token_hash).await.expect("reads"), None);
    assert!(tx.reservations_of(o, s.invite.id).await.expect("reads").is_empty());
    assert_eq!(tx.seat_pools(o).await.expect("reads"), pools, "seat counts are untouched");
    assert_eq!(tx.events_after(o, None, 100).await.expect("reads"), events, "audit events stay");
    let others: Vec<User> = s.users().into_iter().filter(|u| u.id != cy.id).cloned().collect();
    assert_eq!(tx.users_by_ids(o, &s.user_ids()).await.expect("reads"), others);
    assert_eq!(tx.all_licenses(o).await.expect("reads"), s.licenses, "other users' licenses stay");
    assert_missing(tx.purge_user(o, cy.id).await, "user", "purging twice");
}

/// `active_admins` lists, in id order, the users holding the role org-wide who are not deleted,
/// deactivated or invited (a scoped grant does not count); `count_billable` counts the users who
/// are not deleted, deactivated or invited.
pub async fn active_admins_and_billable_users_leave_out_invited_deactivated_and_deleted_users(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let admin_role = s.role("admin").id;
    let mut tx = begin(&store).await;
    assert_eq!(tx.active_admins(o, admin_role).await.expect("reads"), vec![s.admin.id]);
    assert_eq!(tx.count_billable(o).await.expect("counts"), 3, "admin, ada and bob");

    let grant = |n: u64, address: &str| {
        let mut u = seed::user(o, uid(1, n), address);
        u.roles = BTreeSet::from([
            RoleGrant::org_wide(admin_role),
            RoleGrant { role_id: admin_role, scope: Some(s.sales.id) },
        ]);
        u
    };
    let second = grant(90, "second@example.com");
    let mut invited = grant(91, "invited@example.com");
    invited.lifecycle.invited = true;
    let mut off = grant(92, "off@example.com");
    off.lifecycle.deactivated_at = Some(T0);
    let mut gone = grant(93, "gone@example.com");
    gone.lifecycle.deleted_at = Some(T0);
    let mut inactive = grant(94, "inactive@example.com");
    inactive.lifecycle.inactive_reasons = [roster_domain::user::InactiveReason::AccountFailure].into();
    for u in [&second, &invited, &off, &gone, &inactive] {
        tx.insert_user(u).await.expect("inserts");
    }
    tx.insert_license(&seed::license(&off, "core")).await.expect("a license does not make anyone billable");
    let admins = tx.active_admins(o, admin_role).await.expect("reads");
    assert_eq!(admins, vec![second.id, inactive.id, s.admin.id], "in id order; system inactivity still counts");
    assert_eq!(tx.count_billable(o).await.expect("counts"), 5);
    let standard = tx.active_admins(o, s.role("standard").id).await.expect("reads");
    assert_eq!(standard, vec![s.ada.id], "any role: cy holds standard too, but is invited");
}

/// A password hash is stored per user, replaced by the next one, and refused (`Missing`) for an
/// unknown user; a user without one reads `None`.
pub async fn a_password_hash_is_set_replaced_and_read_for_a_user_of_the_organization(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    assert_eq!(tx.password_hash(o, s.bob.id).await.expect("reads"), None);
    tx.set_password_hash(o, s.bob.id, &PasswordHash::new("first".to_owned())).await.expect("sets");
    tx.set_password_hash(o, s.bob.id, &PasswordHash::new("second".to_owned())).await.expect("replaces");
    let ghost = UserId::from_uuid(uid(1, 999));
    assert_missing(tx.set_password_hash(o, ghost, &PasswordHash::new("x".to_owned())).await, "user", "unknown");
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.password_hash(o, s.bob.id).await.expect("reads"), Some(PasswordHash::new("second".to_owned())));
    assert_eq!(tx.password_hash(o, s.ada.id).await.expect("reads"), s.password_hashes.get(&s.ada.id).cloned());
}
