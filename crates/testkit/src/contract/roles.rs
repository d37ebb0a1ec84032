//! `RoleRepository`: roles per organization, unique keys, and whether a role is in use.

use std::collections::BTreeSet;
use std::sync::Arc;

use roster_domain::ids::RoleId;
use roster_domain::ports::{Store, UniqueField};
use roster_domain::roles::{Permission, Role, RoleGrant, Visibility};

use super::seed::{self, T0, key, seed, uid};
use super::{assert_conflict, assert_missing, begin, commit};

/// A role key is unique within an organization (`Conflict { field: Key }` on insert and on
/// update) and free in another one.
pub async fn role_keys_are_unique_per_organization_on_insert_and_on_update(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let mut tx = begin(&store).await;
    assert_conflict(tx.insert_role(&seed::role(a.org.id, uid(1, 300), "admin")).await, UniqueField::Key, "insert");
    tx.insert_role(&seed::role(a.org.id, uid(1, 301), "reviewer")).await.expect("a free key");
    tx.insert_role(&seed::role(b.org.id, uid(2, 301), "reviewer")).await.expect("free in another organization");
    let renamed = Role { key: key("standard"), ..seed::role(a.org.id, uid(1, 301), "reviewer") };
    assert_conflict(tx.update_role(&renamed).await, UniqueField::Key, "update");
    let own = Role { name: seed::label("Reviewers"), ..seed::role(a.org.id, uid(1, 301), "reviewer") };
    tx.update_role(&own).await.expect("a role never clashes with itself");
}

/// Roles list in id order with every field; `update_role` replaces one, `delete_role` removes
/// it, and both are `Missing { kind: "role" }` for a role the organization does not have.
pub async fn roles_are_listed_updated_and_deleted_in_their_organization(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let custom = Role {
        id: RoleId::from_uuid(uid(1, 5)),
        org_id: o,
        key: key("night_shift"),
        name: seed::label("Night shift"),
        permissions: BTreeSet::from([Permission::InviteConnections, Permission::ExportData]),
        visibility: Visibility::OwnInvites,
        assignable: false,
        builtin: false,
    };
    tx.insert_role(&custom).await.expect("inserts");
    let changed = Role {
        permissions: BTreeSet::new(),
        visibility: Visibility::All,
        assignable: true,
        name: seed::label("Night"),
        ..custom.clone()
    };
    tx.update_role(&changed).await.expect("updates");
    tx.delete_role(o, s.role("analyst").id).await.expect("deletes a role nobody holds");
    let ghost = seed::role(o, uid(1, 999), "ghost");
    assert_missing(tx.update_role(&ghost).await, "role", "update of an unknown role");
    assert_missing(tx.delete_role(o, ghost.id).await, "role", "delete of an unknown role");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let mut want: Vec<Role> = s.roles.iter().filter(|r| r.key.as_str() != "analyst").cloned().collect();
    want.insert(0, changed);
    assert_eq!(tx.roles(o).await.expect("reads"), want, "in id order");
}

/// A role is in use while a user who is not deleted holds it, with any scope; deactivated and
/// invited holders count, deleted ones do not.
pub async fn a_role_is_in_use_while_a_user_who_is_not_deleted_holds_it(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    assert!(tx.role_in_use(o, s.role("admin").id).await.expect("reads"));
    assert!(tx.role_in_use(o, s.role("auditor").id).await.expect("reads"), "dee is deactivated, still a holder");
    assert!(!tx.role_in_use(o, s.role("team_lead").id).await.expect("reads"), "eve is deleted");
    assert!(!tx.role_in_use(o, s.role("scorer").id).await.expect("reads"), "nobody");
    assert!(!tx.role_in_use(o, RoleId::from_uuid(uid(1, 999))).await.expect("reads"), "an unknown role");
    let mut ada = s.ada.clone();
    ada.roles.insert(RoleGrant { role_id: s.role("scorer").id, scope: Some(s.east.id) });
    ada.version += 1;
    tx.update_user(&ada).await.expect("grants");
    assert!(tx.role_in_use(o, s.role("scorer").id).await.expect("reads"), "a scoped grant counts");
    let mut bob = s.bob.clone();
    bob.lifecycle.deleted_at = Some(T0);
    bob.version += 1;
    tx.update_user(&bob).await.expect("deletes bob");
    assert!(!tx.role_in_use(o, s.role("operations_limited").id).await.expect("reads"), "bob was the holder");
    assert!(tx.role_in_use(o, s.role("standard").id).await.expect("reads"), "cy is invited, still a holder");
}

/// `roles_version` grows with every role write of the organization — insert, update, delete —
/// as the writing transaction sees it and, once committed, as every later one does; a
/// rolled-back write leaves the committed number where it was; writes that are not to the
/// organization's roles (a user's grants, a group, another organization's role) leave it alone;
/// an unknown organization answers 0.
pub async fn the_roles_version_moves_with_every_role_write_and_nothing_else(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let o = s.org.id;
    let version = |store: Arc<dyn Store>, org| async move {
        let mut tx = store.begin_read().await.expect("opens");
        tx.roles_version(org).await.expect("reads the roles version")
    };
    let start = version(Arc::clone(&store), o).await;
    let other_start = version(Arc::clone(&store), b.org.id).await;

    let mut tx = begin(&store).await;
    let mut seen = start;
    let mut moved = |now: u64, what: &str| {
        assert!(now > seen, "{what}: the version moves ({seen} -> {now})");
        seen = now;
    };
    let added = seed::role(o, uid(1, 310), "reviewer");
    tx.insert_role(&added).await.expect("inserts");
    moved(tx.roles_version(o).await.expect("reads"), "an insert");
    let changed = Role { permissions: BTreeSet::from([Permission::ExportData]), ..added.clone() };
    tx.update_role(&changed).await.expect("updates");
    moved(tx.roles_version(o).await.expect("reads"), "an update");
    tx.delete_role(o, added.id).await.expect("deletes");
    moved(tx.roles_version(o).await.expect("reads"), "a delete");
    let in_tx = seen;
    commit(tx).await;
    assert_eq!(version(Arc::clone(&store), o).await, in_tx, "committed, later transactions see it");
    assert_eq!(version(Arc::clone(&store), b.org.id).await, other_start, "another organization's is untouched");

    let mut tx = begin(&store).await;
    tx.insert_role(&seed::role(o, uid(1, 311), "temp")).await.expect("inserts");
    assert!(tx.roles_version(o).await.expect("reads") > in_tx);
    drop(tx);
    assert_eq!(version(Arc::clone(&store), o).await, in_tx, "a rollback takes the move back");

    let mut tx = begin(&store).await;
    let granted = roster_domain::user::User {
        roles: BTreeSet::from([RoleGrant::org_wide(s.role("analyst").id)]),
        version: s.admin.version + 1,
        ..s.admin.clone()
    };
    tx.update_user(&granted).await.expect("a user's grants");
    tx.insert_group(&seed::group(o, uid(1, 402), Some(&s.root), "Legal")).await.expect("a group");
    tx.insert_role(&seed::role(b.org.id, uid(2, 310), "reviewer")).await.expect("another org's role");
    commit(tx).await;
    assert_eq!(version(Arc::clone(&store), o).await, in_tx, "grants, groups and other orgs do not move it");

    let unknown = roster_domain::ids::OrgId::from_uuid(uid(9, 999));
    assert_eq!(version(Arc::clone(&store), unknown).await, 0, "an unknown organization");
}
