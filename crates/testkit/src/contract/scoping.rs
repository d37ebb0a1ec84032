//! Organization scoping: every method that takes an organization answers and changes only that
//! organization's rows, whatever ids it is given.

use std::collections::BTreeSet;
use std::sync::Arc;

use roster_domain::audit::AuditQuery;
use roster_domain::ports::{PasswordHash, Store, UserLookup};
use roster_domain::seats::SeatReservation;
use roster_domain::users_query::{RoleFilter, UserQuery};
use roster_domain::visibility::{ConnectionQuery, ConnectionScope};

use super::seed::{self, T0, dump, key, seed};
use super::{assert_missing, begin, commit};

/// Two organizations seeded alike (same emails, phones, names): asking organization B for A's
/// ids finds nothing, and writing A's rows under B's id is refused as missing or changes
/// nothing. Both organizations read back unchanged afterwards.
pub async fn another_organizations_rows_are_neither_returned_nor_changed(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let mut tx = begin(&store).await;
    let (before_a, before_b) = (dump(tx.as_mut(), &a).await, dump(tx.as_mut(), &b).await);
    // Committed, not dropped: on PostgreSQL a dropped transaction rolls back in the
    // background, and until it has, the mail rows its dump locked are skipped by the next dump.
    commit(tx).await;
    let o = b.org.id;
    let mut tx = begin(&store).await;

    // Reads.
    assert_eq!(tx.user(o, a.ada.id).await.expect("reads"), None);
    assert!(tx.users_by_ids(o, &a.user_ids()).await.expect("reads").is_empty());
    let found = tx.find_user(o, UserLookup::Email(&a.ada.email)).await.expect("reads");
    assert_eq!(found.map(|u| u.id), Some(b.ada.id), "the same address finds B's own user");
    let found = tx.find_user(o, UserLookup::Phone(a.ada.phone.as_ref().expect("a phone"))).await.expect("reads");
    assert_eq!(found.map(|u| u.id), Some(b.ada.id));
    assert_eq!(tx.password_hash(o, a.ada.id).await.expect("reads"), None);
    assert!(tx.memberships_of(o, a.ada.id).await.expect("reads").is_empty());
    assert!(tx.current_members(o, a.sales.id).await.expect("reads").is_empty());
    assert!(tx.licenses_of(o, a.ada.id).await.expect("reads").is_empty());
    assert!(tx.reservations_of(o, a.invite.id).await.expect("reads").is_empty());
    assert_eq!(tx.connection(o, a.connections[0].id).await.expect("reads"), None);
    assert_eq!(tx.api_key(o, a.api_key.id).await.expect("reads"), None);
    assert_eq!(tx.invite(o, a.invite.id).await.expect("reads"), None);
    assert_eq!(tx.scheduled(o, a.scheduled[0].id).await.expect("reads"), None);
    assert!(tx.scheduled_for_user(o, a.bob.id).await.expect("reads").is_empty());
    assert_eq!(tx.webhook(o, a.webhook.id).await.expect("reads"), None);
    assert_eq!(tx.pending_webhook_delivery(o, a.webhook.id).await.expect("reads"), None);
    assert!(tx.webhook_deliveries(o, a.webhook.id, 10).await.expect("reads").is_empty());
    assert!(!tx.role_in_use(o, a.role("standard").id).await.expect("reads"));
    assert!(tx.active_admins(o, a.role("admin").id).await.expect("reads").is_empty());
    let own = ConnectionQuery {
        org_id: o,
        scope: ConnectionScope::Own { viewer: a.ada.id },
        group: None,
        after: None,
        limit: 200,
    };
    assert!(tx.list_connections(&own).await.expect("lists").is_empty(), "A's inviter has nothing in B");
    let in_a_group = ConnectionQuery { scope: ConnectionScope::All, group: Some(a.sales.id), ..own };
    assert!(tx.list_connections(&in_a_group).await.expect("lists").is_empty(), "A's group stamps nothing in B");
    let mut by_role = UserQuery::new(o);
    by_role.role = Some(RoleFilter::Id(a.role("standard").id));
    assert!(tx.list_users(&by_role).await.expect("lists").items.is_empty(), "A's role is held by no one in B");
    by_role.role = None;
    by_role.group = Some(a.sales.id);
    assert!(tx.list_users(&by_role).await.expect("lists").items.is_empty(), "A's group has no member in B");
    let listed = tx.list_users(&UserQuery::new(o)).await.expect("lists").items;
    assert!(!listed.is_empty() && listed.iter().all(|u| u.org_id == o), "B's users only");
    assert!(tx.audit(o, &AuditQuery::default()).await.expect("reads").iter().all(|e| e.org_id == o));
    assert_eq!(tx.events_after(o, None, 100).await.expect("reads").len(), 3, "B's feed counts B's events");

    // Writes of A's rows under B's id.
    let moved = |mut u: roster_domain::user::User| {
        u.org_id = o;
        u.version += 1;
        u
    };
    assert_missing(tx.update_user(&moved(a.ada.clone())).await, "user", "update_user");
    assert_missing(tx.purge_user(o, a.ada.id).await, "user", "purge_user");
    assert_missing(tx.set_password_hash(o, a.ada.id, &PasswordHash::new("x".to_owned())).await, "user", "hash");
    assert!(!tx.delete_license(o, a.ada.id, &key("core")).await.expect("answers"), "delete_license");
    let mut license = seed::license(&a.ada, "dialer");
    license.org_id = o;
    assert_missing(tx.insert_license(&license).await, "user", "insert_license");
    let reservation = SeatReservation { org_id: o, invite_id: a.invite.id, product: key("dialer") };
    assert_missing(tx.insert_reservation(&reservation).await, "invite", "insert_reservation");
    tx.delete_reservations(o, a.invite.id).await.expect("deletes nothing");

    let mut role = a.role("auditor").clone();
    role.org_id = o;
    assert_missing(tx.update_role(&role).await, "role", "update_role");
    assert_missing(tx.delete_role(o, a.role("auditor").id).await, "role", "delete_role");

    let mut sales = a.sales.clone();
    sales.org_id = o;
    sales.version += 1;
    assert_missing(tx.update_group(&sales).await, "group", "update_group");
    let mut below = seed::group(o, seed::uid(2, 800), Some(&a.sales), "Below");
    below.org_id = o;
    assert_missing(tx.insert_group(&below).await, "group", "a parent of another org");
    let mut joined = seed::membership(&a.sales, &b.ada, T0, None);
    joined.org_id = o;
    assert_missing(tx.insert_membership(&joined).await, "group", "membership in A's group");
    let mut joined = seed::membership(&b.sales, &a.ada, T0, None);
    joined.org_id = o;
    assert_missing(tx.insert_membership(&joined).await, "user", "membership of A's user");
    assert!(!tx.end_membership(o, a.sales.id, a.ada.id, T0).await.expect("answers"), "end_membership");
    assert_missing(tx.set_group_flows(o, a.sales.id, &BTreeSet::new()).await, "group", "flows of A's group");
    let a_flow = BTreeSet::from([a.flow.id]);
    assert_missing(tx.set_group_flows(o, b.sales.id, &a_flow).await, "flow", "A's flow on B's group");

    let mut c = seed::connection(o, seed::uid(2, 801), a.ada.id, T0, &[]);
    c.org_id = o;
    assert_missing(tx.insert_connection(&c).await, "user", "a connection invited by A's user");
    assert_eq!(tx.restamp_unstamped(o, a.ada.id, b.sales.id).await.expect("answers"), 0, "restamp");
    assert_eq!(tx.transfer_stamp(o, a.bob.id, a.east.id, b.sales.id).await.expect("answers"), 0, "transfer");
    let mut key_row = a.api_key.clone();
    key_row.org_id = o;
    assert_missing(tx.update_api_key(&key_row).await, "api key", "update_api_key");
    let foreign_creator = seed::api_key(o, seed::uid(2, 802), a.admin.id, "h");
    assert_missing(tx.insert_api_key(&foreign_creator).await, "user", "a key created by A's user");

    let mut inv = a.invite.clone();
    inv.org_id = o;
    assert_missing(tx.update_invite(&inv).await, "invite", "update_invite");
    assert_missing(tx.delete_invite(o, a.invite.id).await, "invite", "delete_invite");
    let mut inv = seed::invite(&a.cy, seed::uid(2, 803), "h2", &[]);
    inv.org_id = o;
    assert_missing(tx.insert_invite(&inv).await, "user", "an invite of A's user");

    let mut change = a.scheduled[0].clone();
    change.org_id = o;
    assert_missing(tx.update_scheduled(&change).await, "scheduled change", "update_scheduled");
    let mut change =
        seed::scheduled(&a.bob, seed::uid(2, 804), roster_domain::scheduling::ScheduledAction::Deactivate, T0);
    change.org_id = o;
    assert_missing(tx.insert_scheduled(&change).await, "user", "a change of A's user");

    let mut hook = a.webhook.clone();
    hook.org_id = o;
    hook.version += 1;
    assert_missing(tx.update_webhook(&hook).await, "webhook", "update_webhook");
    let mut d = seed::delivery(&a.webhook, seed::uid(2, 805), 2, T0, T0);
    d.org_id = o;
    assert_missing(tx.insert_webhook_delivery(&d).await, "webhook", "a delivery to A's endpoint");
    let mut d = a.delivery.clone();
    d.org_id = o;
    d.version += 1;
    assert_missing(tx.update_webhook_delivery(&d).await, "webhook delivery", "update_webhook_delivery");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(dump(tx.as_mut(), &a).await, before_a, "A is unchanged");
    assert_eq!(dump(tx.as_mut(), &b).await, before_b, "B is unchanged");
}
