//! `GroupRepository`: the group tree's rows, sibling names, memberships and group flows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use time::Duration;

use roster_domain::groups::{Group, Membership};
use roster_domain::ids::{FlowId, GroupId, UserId};
use roster_domain::ports::{Store, UniqueField};

use super::seed::{self, T0, group_name, seed, uid};
use super::{assert_conflict, assert_missing, assert_stale, begin, commit};

/// Live groups under one parent have names that differ in `GroupName::key` (Unicode
/// lower-case): a clash is `Conflict { field: Name }` on insert, rename, move and restore; the
/// same name under another parent, or beside a deleted sibling, is fine.
pub async fn live_sibling_group_names_conflict_case_insensitively_on_insert_and_on_update(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let under = |parent: &Group, n: u64, title: &str| seed::group(o, uid(1, n), Some(parent), title);
    assert_conflict(tx.insert_group(&under(&s.root, 300, "sALES")).await, UniqueField::Name, "case differs only");
    tx.insert_group(&under(&s.support, 301, "SALES")).await.expect("not a sibling of Sales");
    tx.insert_group(&under(&s.root, 302, "ÉQUIPE")).await.expect("inserts");
    assert_conflict(tx.insert_group(&under(&s.root, 303, "équipe")).await, UniqueField::Name, "non-ASCII case");
    tx.insert_group(&under(&s.root, 304, "old")).await.expect("the deleted sibling frees its name");

    let next = |g: &Group| Group { version: g.version + 1, ..g.clone() };
    let renamed = Group { name: group_name("Sales"), ..next(&s.support) };
    assert_conflict(tx.update_group(&renamed).await, UniqueField::Name, "a rename");
    let moved = Group { parent_id: Some(s.sales.id), depth: 3, ..next(&under(&s.support, 301, "SALES")) };
    tx.update_group(&moved).await.expect("no group named sales under Sales");
    let moved_up = Group { parent_id: Some(s.root.id), depth: 2, version: 3, ..moved.clone() };
    assert_conflict(tx.update_group(&moved_up).await, UniqueField::Name, "a move beside a namesake");
    let restored = Group { deleted_at: None, ..next(&s.old) };
    assert_conflict(tx.update_group(&restored).await, UniqueField::Name, "a restore beside a namesake");
    let same = Group { name: group_name("SALES"), ..next(&s.sales) };
    tx.update_group(&same).await.expect("a group never clashes with itself");
    let mut deleted = next(&same);
    deleted.deleted_at = Some(T0 + Duration::days(5));
    tx.update_group(&deleted).await.expect("deletes Sales");
    tx.insert_group(&under(&s.root, 305, "Sales")).await.expect("a deleted group frees its name");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let names: BTreeMap<GroupId, String> =
        tx.groups(o).await.expect("reads").into_iter().map(|g| (g.id, g.name.as_str().to_owned())).collect();
    assert_eq!(names.get(&s.sales.id).map(String::as_str), Some("SALES"), "the accepted rename");
    assert_eq!(names.get(&s.support.id).map(String::as_str), Some("Support"), "the refused rename left nothing");
}

/// `update_group` needs the stored version plus one (`StaleVersion { kind: "group" }`) of a
/// group of the organization (`Missing { kind: "group" }`), and a group's parent must be a group
/// of the organization (`Missing { kind: "group" }`). Groups list in id order, deleted ones
/// included, every field read back.
pub async fn a_group_update_needs_the_next_version_and_a_parent_in_the_organization(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let ghost = seed::group(o, uid(1, 999), Some(&s.root), "Ghost");
    let orphan = seed::group(o, uid(1, 300), Some(&ghost), "Orphan");
    assert_missing(tx.insert_group(&orphan).await, "group", "an unknown parent");
    assert_missing(tx.update_group(&Group { version: 2, ..ghost.clone() }).await, "group", "an unknown group");
    for stale in [1, 3] {
        let renamed = Group { name: group_name("West"), version: stale, ..s.east.clone() };
        assert_stale(tx.update_group(&renamed).await, "group", "not the next version");
    }
    let moved = Group { parent_id: Some(ghost.id), version: 2, ..s.east.clone() };
    assert_missing(tx.update_group(&moved).await, "group", "a move below an unknown parent");
    let moved = Group { parent_id: Some(s.support.id), version: 2, ..s.east.clone() };
    tx.update_group(&moved).await.expect("a move below Support");
    let early = seed::group(o, uid(1, 2), Some(&s.root), "Early");
    tx.insert_group(&early).await.expect("inserts");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let want = vec![s.root.clone(), early, s.sales.clone(), moved, s.support.clone(), s.old.clone()];
    assert_eq!(tx.groups(o).await.expect("reads"), want, "in id order, deleted included");
}

/// Memberships are history: `end_membership` closes the open one (answering whether there was
/// one), a new one can start later; `memberships_of` answers every period (in no particular
/// order); `current_members` the users with an open membership, in id order. A membership needs
/// its group and user in the organization (`Missing`).
pub async fn memberships_keep_their_history_and_current_members_are_the_open_ones(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let later = T0 + Duration::days(3);
    tx.insert_membership(&seed::membership(&s.east, &s.ada, later, None)).await.expect("joins east");
    assert!(tx.end_membership(o, s.sales.id, s.ada.id, later).await.expect("ends"), "ada was in sales");
    assert!(!tx.end_membership(o, s.sales.id, s.ada.id, later).await.expect("answers"), "not any more");
    assert!(!tx.end_membership(o, s.support.id, s.admin.id, later).await.expect("answers"), "never was");
    let rejoined = seed::membership(&s.sales, &s.ada, later + Duration::hours(1), None);
    tx.insert_membership(&rejoined).await.expect("joins sales again");
    let ghost = seed::user(o, uid(1, 999), "ghost@example.com");
    assert_missing(tx.insert_membership(&seed::membership(&s.sales, &ghost, T0, None)).await, "user", "unknown user");
    let nowhere = seed::group(o, uid(1, 998), Some(&s.root), "Nowhere");
    assert_missing(tx.insert_membership(&seed::membership(&nowhere, &s.ada, T0, None)).await, "group", "unknown group");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let mut history = tx.memberships_of(o, s.ada.id).await.expect("reads");
    history.sort_by_key(|m| (m.joined_at, m.group_id));
    let mut want: Vec<Membership> = vec![
        seed::membership(&s.sales, &s.ada, T0, Some(later)),
        seed::membership(&s.old, &s.ada, T0, s.old.deleted_at),
        seed::membership(&s.east, &s.ada, later, None),
        rejoined,
    ];
    want.sort_by_key(|m| (m.joined_at, m.group_id));
    assert_eq!(history, want, "every period, with its dates");
    assert_eq!(tx.current_members(o, s.sales.id).await.expect("reads"), vec![s.ada.id]);
    assert_eq!(tx.current_members(o, s.east.id).await.expect("reads"), vec![s.ada.id, s.bob.id], "in id order");
    assert_eq!(tx.current_members(o, s.support.id).await.expect("reads"), Vec::<UserId>::new(), "bob left");
    assert_eq!(tx.current_members(o, s.old.id).await.expect("reads"), Vec::<UserId>::new());
}

/// `set_group_flows` replaces a group's set of flows (an empty set leaves the group without an
/// entry in `group_flows`); it needs the group and every flow in the organization (`Missing`
/// naming `group` or `flow`). Flows list in id order.
pub async fn group_flows_replace_the_set_and_need_a_group_and_flows_of_the_organization(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let (first, second) = (seed::flow(o, uid(1, 49), "First"), seed::flow(o, uid(1, 51), "Second"));
    tx.insert_flow(&second).await.expect("inserts");
    tx.insert_flow(&first).await.expect("inserts");
    let both = BTreeSet::from([first.id, second.id, s.flow.id]);
    tx.set_group_flows(o, s.sales.id, &both).await.expect("sets");
    tx.set_group_flows(o, s.east.id, &BTreeSet::from([second.id])).await.expect("sets");
    tx.set_group_flows(o, s.support.id, &BTreeSet::from([first.id])).await.expect("sets");
    tx.set_group_flows(o, s.support.id, &BTreeSet::new()).await.expect("clears");
    tx.set_group_flows(o, s.east.id, &BTreeSet::from([first.id])).await.expect("replaces");
    let unknown = FlowId::from_uuid(uid(1, 999));
    assert_missing(tx.set_group_flows(o, s.sales.id, &BTreeSet::from([first.id, unknown])).await, "flow", "flow");
    assert_missing(tx.set_group_flows(o, GroupId::from_uuid(uid(1, 998)), &BTreeSet::new()).await, "group", "group");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let want = BTreeMap::from([(s.sales.id, both), (s.east.id, BTreeSet::from([first.id]))]);
    assert_eq!(tx.group_flows(o).await.expect("reads"), want, "the refused change left sales as it was");
    assert_eq!(tx.flows(o).await.expect("reads"), vec![first, s.flow.clone(), second], "flows in id order");
}

/// `groups_version` grows with every group write of the organization — insert, rename, move,
/// delete — as the writing transaction sees it and, once committed, as every later one does; a
/// rolled-back write leaves the committed number where it was; writes that are not to groups
/// (a membership, a user, another organization's group) leave it alone; an unknown
/// organization answers 0.
pub async fn the_groups_version_moves_with_every_group_write_and_nothing_else(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let o = s.org.id;
    let version = |store: Arc<dyn Store>, org| async move {
        let mut tx = begin(&store).await;
        tx.groups_version(org).await.expect("reads the groups version")
    };
    let start = version(Arc::clone(&store), o).await;
    let other_start = version(Arc::clone(&store), b.org.id).await;
    let next = |g: &Group| Group { version: g.version + 1, ..g.clone() };

    // Each kind of write moves it, in the writing transaction already.
    let mut tx = begin(&store).await;
    let mut seen = start;
    let mut moved = |now: u64, what: &str| {
        assert!(now > seen, "{what}: the version moves ({seen} -> {now})");
        seen = now;
    };
    let added = seed::group(o, uid(1, 400), Some(&s.root), "Marketing");
    tx.insert_group(&added).await.expect("inserts");
    moved(tx.groups_version(o).await.expect("reads"), "an insert");
    let renamed = Group { name: group_name("Growth"), ..next(&added) };
    tx.update_group(&renamed).await.expect("renames");
    moved(tx.groups_version(o).await.expect("reads"), "a rename");
    let relocated = Group { parent_id: Some(s.sales.id), depth: 3, ..next(&renamed) };
    tx.update_group(&relocated).await.expect("moves");
    moved(tx.groups_version(o).await.expect("reads"), "a move");
    let deleted = Group { deleted_at: Some(T0 + Duration::days(9)), ..next(&relocated) };
    tx.update_group(&deleted).await.expect("deletes");
    moved(tx.groups_version(o).await.expect("reads"), "a delete");
    let in_tx = seen;
    commit(tx).await;
    assert_eq!(version(Arc::clone(&store), o).await, in_tx, "committed, later transactions see it");
    assert_eq!(version(Arc::clone(&store), b.org.id).await, other_start, "another organization's is untouched");

    // A rolled-back write leaves the committed number.
    let mut tx = begin(&store).await;
    tx.insert_group(&seed::group(o, uid(1, 401), Some(&s.root), "Legal")).await.expect("inserts");
    assert!(tx.groups_version(o).await.expect("reads") > in_tx);
    drop(tx);
    assert_eq!(version(Arc::clone(&store), o).await, in_tx, "a rollback takes the move back");

    // Writes that are not to the organization's groups leave it alone.
    let mut tx = begin(&store).await;
    tx.insert_membership(&Membership {
        org_id: o,
        group_id: s.support.id,
        user_id: s.admin.id,
        joined_at: T0 + Duration::days(10),
        left_at: None,
    })
    .await
    .expect("a membership");
    tx.update_user(&roster_domain::user::User { version: s.admin.version + 1, ..s.admin.clone() })
        .await
        .expect("a user");
    tx.insert_group(&seed::group(b.org.id, uid(2, 402), Some(&b.root), "Elsewhere")).await.expect("another org");
    commit(tx).await;
    assert_eq!(version(Arc::clone(&store), o).await, in_tx, "memberships, users and other orgs do not move it");

    let unknown = roster_domain::ids::OrgId::from_uuid(uid(9, 999));
    assert_eq!(version(Arc::clone(&store), unknown).await, 0, "an unknown organization");

    // Read with the organization's row, it is the same number.
    let mut tx = begin(&store).await;
    let org = tx.org(o).await.expect("reads").expect("the organization");
    let both = tx.org_and_groups_version(o).await.expect("reads");
    assert_eq!(both, Some((org, in_tx)), "the organization with its groups version");
    assert_eq!(tx.org_and_groups_version(unknown).await.expect("reads"), None, "an unknown organization");
}
