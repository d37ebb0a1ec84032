//! `RoleRepository`, `GroupRepository`, `InviteRepository` and `ScheduleRepository` on a fresh
//! SQLite file and — when `ROSTER_TEST_DATABASE_URL` is set — a fresh PostgreSQL schema: round
//! trips, the stated orders, organization scoping, conflicts on insert and update, stale versions
//! and missing parents, each refused write leaving the transaction usable.

#[allow(dead_code, reason = "shared with tests/schema.rs, which uses the rest of it")]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use roster_domain::groups::{Group, Membership};
use roster_domain::ids::{FlowId, GroupId, InviteId, OrgId, RoleId, ScheduledChangeId, UserId};
use roster_domain::invites::{Invite, InvitePurpose};
use roster_domain::ports::{
    GroupRepository, InviteRepository, LicenseRepository, RoleRepository, ScheduleRepository, StoreError, UniqueField,
};
use roster_domain::roles::{Permission, Role, Visibility};
use roster_domain::scheduling::{ScheduleState, ScheduledAction, ScheduledChange};
use roster_domain::seats::SeatReservation;
use roster_domain::values::{GroupName, Key, Label};
use sea_orm::Value;
use support::{TestDb, begin, stores};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn uid(n: u64, sub: u64) -> Uuid {
    Uuid::from_u64_pair(n, sub)
}

fn key(s: &str) -> Key {
    Key::parse(s).expect("a valid key")
}

fn org_id(n: u64) -> OrgId {
    OrgId::from_uuid(uid(n, 0))
}

fn user_id(org: u64, n: u64) -> UserId {
    UserId::from_uuid(uid(org, 100 + n))
}

/// A user row written directly (the user repository does not exist yet), committed; `deleted`
/// marks it deleted.
async fn insert_user(t: &TestDb, org: OrgId, user: UserId, email: &str, deleted: bool) {
    let deleted_at = if deleted { "{t}" } else { "NULL" };
    let sql = format!(
        "INSERT INTO users (org_id, id, email, first_name, last_name, first_name_sort, last_name_sort, \
         search_text, created_at, updated_at, deleted_at) \
         VALUES (?, ?, ?, 'Ada', 'Lovelace', 'ada', 'lovelace', '', {{t}}, {{t}}, {deleted_at})"
    );
    t.exec(&sql, vec![org.as_uuid().into(), user.as_uuid().into(), email.into()]).await.expect("inserts a user");
}

/// A role grant written directly, committed.
async fn grant(t: &TestDb, org: OrgId, user: UserId, role: RoleId, scope: Option<GroupId>) {
    let sql = "INSERT INTO user_roles (org_id, user_id, role_id, scope_group_id) VALUES (?, ?, ?, ?)";
    let values: Vec<Value> = vec![
        org.as_uuid().into(),
        user.as_uuid().into(),
        role.as_uuid().into(),
        scope.as_ref().map(GroupId::as_uuid).into(),
    ];
    t.exec(sql, values).await.expect("inserts a grant");
}

/// A flow written directly (the connection repository does not exist yet), committed.
async fn insert_flow(t: &TestDb, org: OrgId, flow: FlowId) {
    let sql = "INSERT INTO flows (org_id, id, name, created_at) VALUES (?, ?, 'Flow', {t})";
    t.exec(sql, vec![org.as_uuid().into(), flow.as_uuid().into()]).await.expect("inserts a flow");
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, field: UniqueField, what: &str) {
    assert!(matches!(result, Err(StoreError::Conflict { field: f }) if f == field), "{what}: got {result:?}");
}

fn assert_missing<T: std::fmt::Debug>(result: Result<T, StoreError>, kind: &str, what: &str) {
    assert!(matches!(result, Err(StoreError::Missing { kind: k }) if k == kind), "{what}: got {result:?}");
}

fn assert_stale<T: std::fmt::Debug>(result: Result<T, StoreError>, kind: &str, what: &str) {
    assert!(matches!(result, Err(StoreError::StaleVersion { kind: k }) if k == kind), "{what}: got {result:?}");
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{what}: got {result:?}");
}

// ---------------------------------------------------------------------------------------------
// Roles

fn role(org: OrgId, n: u64, key_text: &str) -> Role {
    Role {
        id: RoleId::from_uuid(uid(org.as_uuid().as_u64_pair().0, 10 + n)),
        org_id: org,
        key: key(key_text),
        name: Label::parse(&format!("Role {key_text}")).expect("a valid name"),
        permissions: [Permission::ManageUsers, Permission::ViewAudit].into(),
        visibility: Visibility::Groups,
        assignable: true,
        builtin: false,
    }
}

#[tokio::test]
async fn roles_round_trip_with_unique_keys_per_organization() {
    for (t, store) in stores("roles").await {
        let engine = t.engine();
        let (alpha, beta) = (org_id(1), org_id(2));
        let (admin, agent, scorer) = (role(alpha, 3, "admin"), role(alpha, 1, "agent"), role(alpha, 2, "scorer"));
        let mut scorer = scorer;
        scorer.permissions = BTreeSet::new();
        scorer.visibility = Visibility::OwnInvites;
        scorer.assignable = false;
        scorer.builtin = true;
        let mut tx = begin(&store).await;
        for r in [&admin, &agent, &scorer] {
            tx.insert_role(r).await.expect("inserts");
        }
        let beta_admin = role(beta, 1, "admin");
        tx.insert_role(&beta_admin).await.expect("the same key in another organization");
        assert_conflict(tx.insert_role(&role(alpha, 4, "admin")).await, UniqueField::Key, "a taken key on insert");
        assert_unavailable(tx.insert_role(&role(alpha, 1, "other")).await, "a duplicate id is a bug");
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(
            tx.roles(alpha).await.expect("lists"),
            vec![agent.clone(), scorer.clone(), admin.clone()],
            "in id order ({engine:?})"
        );
        assert_eq!(tx.roles(beta).await.expect("lists"), vec![beta_admin.clone()], "scoped");
        assert_eq!(tx.roles(org_id(9)).await.expect("lists"), vec![]);

        let mut changed = agent.clone();
        changed.name = Label::parse("Field agent").expect("valid");
        changed.permissions = Permission::ALL.into();
        changed.visibility = Visibility::All;
        changed.assignable = false;
        tx.update_role(&changed).await.expect("an entity never clashes with itself");
        let mut rekeyed = changed.clone();
        rekeyed.key = key("admin");
        assert_conflict(tx.update_role(&rekeyed).await, UniqueField::Key, "a taken key on update");
        rekeyed.key = key("field_agent");
        tx.update_role(&rekeyed).await.expect("a free key");
        assert_missing(tx.update_role(&role(alpha, 7, "ghost")).await, "role", "an unknown role");
        let mut elsewhere = beta_admin.clone();
        elsewhere.org_id = alpha;
        elsewhere.key = key("elsewhere");
        assert_missing(tx.update_role(&elsewhere).await, "role", "a role of another organization");

        assert_missing(tx.delete_role(alpha, beta_admin.id).await, "role", "a role of another organization");
        assert_missing(tx.delete_role(alpha, RoleId::from_uuid(uid(1, 99))).await, "role", "an unknown role");
        tx.delete_role(alpha, admin.id).await.expect("deletes");
        assert_missing(tx.delete_role(alpha, admin.id).await, "role", "already gone");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        assert_eq!(tx.roles(alpha).await.expect("lists"), vec![rekeyed.clone(), scorer.clone()]);
        assert_eq!(tx.roles(beta).await.expect("lists"), vec![beta_admin.clone()], "untouched");
        drop(tx);

        // Holders: live (also deactivated or invited) users count, deleted ones do not.
        let (ada, gone, carol) = (user_id(1, 1), user_id(1, 2), user_id(2, 1));
        insert_user(&t, alpha, ada, "ada@example.com", false).await;
        insert_user(&t, alpha, gone, "gone@example.com", true).await;
        insert_user(&t, beta, carol, "carol@example.com", false).await;
        grant(&t, alpha, ada, rekeyed.id, Some(GroupId::from_uuid(uid(1, 50)))).await;
        grant(&t, alpha, gone, scorer.id, None).await;
        grant(&t, beta, carol, beta_admin.id, None).await;
        let mut tx = begin(&store).await;
        assert!(tx.role_in_use(alpha, rekeyed.id).await.expect("reads"), "a scoped grant counts");
        assert!(!tx.role_in_use(alpha, scorer.id).await.expect("reads"), "only a deleted holder");
        assert!(!tx.role_in_use(alpha, beta_admin.id).await.expect("reads"), "held in another organization");
        assert!(tx.role_in_use(beta, beta_admin.id).await.expect("reads"));
        assert!(!tx.role_in_use(beta, rekeyed.id).await.expect("reads"), "scoped");
        drop(tx);
        t.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Groups

fn group(org: OrgId, n: u64, parent: Option<GroupId>, name: &str) -> Group {
    Group {
        id: GroupId::from_uuid(uid(org.as_uuid().as_u64_pair().0, 20 + n)),
        org_id: org,
        parent_id: parent,
        name: GroupName::parse(name).expect("a valid name"),
        depth: if parent.is_some() { 2 } else { 1 },
        deleted_at: None,
        created_at: datetime!(2026-02-03 04:05:06.789012 UTC),
        version: 1,
    }
}

#[tokio::test]
async fn groups_round_trip_with_live_sibling_names_and_optimistic_updates() {
    for (t, store) in stores("groups").await {
        let engine = t.engine();
        let (alpha, beta) = (org_id(1), org_id(2));
        let root = group(alpha, 0, None, "Alpha");
        let sales = group(alpha, 3, Some(root.id), "Sales");
        let support = group(alpha, 2, Some(root.id), "Support");
        let mut team = group(alpha, 1, Some(sales.id), "sales");
        team.depth = 3;
        let mut tx = begin(&store).await;
        for g in [&root, &sales, &support, &team] {
            tx.insert_group(g).await.expect("inserts (a namesake below another parent is fine)");
        }
        assert_conflict(
            tx.insert_group(&group(alpha, 4, Some(root.id), "  SALES ")).await,
            UniqueField::Name,
            "a live sibling's name, in another case",
        );
        // Unicode case folding: SQLite's NOCASE and lower() would miss this one.
        let equipe = group(alpha, 5, Some(root.id), "Équipe Öst");
        tx.insert_group(&equipe).await.expect("inserts");
        assert_conflict(
            tx.insert_group(&group(alpha, 6, Some(root.id), "équipe öST")).await,
            UniqueField::Name,
            "a non-ASCII namesake",
        );
        let mut old_sales = group(alpha, 7, Some(root.id), "SALES");
        old_sales.deleted_at = Some(T0);
        tx.insert_group(&old_sales).await.expect("a deleted group does not clash");
        assert_missing(
            tx.insert_group(&group(alpha, 8, Some(GroupId::from_uuid(uid(1, 99))), "Lost")).await,
            "group",
            "an unknown parent",
        );
        let beta_root = group(beta, 0, None, "Beta");
        tx.insert_group(&beta_root).await.expect("another organization's root");
        assert_missing(
            tx.insert_group(&group(beta, 1, Some(root.id), "Stray")).await,
            "group",
            "a parent of another organization",
        );
        let beta_sales = group(beta, 3, Some(beta_root.id), "Sales");
        tx.insert_group(&beta_sales).await.expect("the same name in another organization");
        assert_unavailable(tx.insert_group(&group(alpha, 3, Some(root.id), "Other")).await, "a duplicate id");
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(
            tx.groups(alpha).await.expect("lists"),
            vec![root.clone(), team.clone(), support.clone(), sales.clone(), equipe.clone(), old_sales.clone()],
            "in id order, deleted ones included, times to the microsecond ({engine:?})"
        );
        assert_eq!(tx.groups(beta).await.expect("lists"), vec![beta_root.clone(), beta_sales.clone()], "scoped");

        // Optimistic versions.
        let mut renamed = support.clone();
        renamed.name = GroupName::parse("Help desk").expect("valid");
        for stale in [0, 1, 3] {
            renamed.version = stale;
            assert_stale(tx.update_group(&renamed).await, "group", &format!("version {stale}"));
        }
        renamed.version = 2;
        tx.update_group(&renamed).await.expect("the next version");
        assert_missing(tx.update_group(&group(alpha, 9, Some(root.id), "Ghost")).await, "group", "unknown");
        let mut foreign = beta_sales.clone();
        foreign.org_id = alpha;
        foreign.version = 2;
        assert_missing(tx.update_group(&foreign).await, "group", "a group of another organization");

        // Renames, moves, deletes and restores are checked like an insert.
        let mut clash = renamed.clone();
        clash.version = 3;
        clash.name = GroupName::parse("sales").expect("valid");
        assert_conflict(tx.update_group(&clash).await, UniqueField::Name, "a rename onto a live sibling");
        let mut moved = renamed.clone();
        moved.version = 3;
        moved.parent_id = Some(GroupId::from_uuid(uid(1, 99)));
        assert_missing(tx.update_group(&moved).await, "group", "a move below an unknown parent");
        moved.parent_id = Some(beta_root.id);
        assert_missing(tx.update_group(&moved).await, "group", "a move below another organization's group");
        moved.parent_id = Some(sales.id);
        moved.depth = 3;
        moved.name = GroupName::parse("SALES").expect("valid");
        assert_conflict(tx.update_group(&moved).await, UniqueField::Name, "a move beside a live namesake");
        moved.name = GroupName::parse("Help desk").expect("valid");
        tx.update_group(&moved).await.expect("moves");

        let mut deleted_sales = sales.clone();
        deleted_sales.version = 2;
        deleted_sales.deleted_at = Some(datetime!(2026-03-01 00:00:00.000001 UTC));
        tx.update_group(&deleted_sales).await.expect("deletes");
        let mut new_sales = group(alpha, 10, Some(root.id), "Sales");
        tx.insert_group(&new_sales).await.expect("the deleted group freed its name");
        let mut restored = deleted_sales.clone();
        restored.version = 3;
        restored.deleted_at = None;
        assert_conflict(tx.update_group(&restored).await, UniqueField::Name, "a restore beside a namesake");
        new_sales.version = 2;
        new_sales.name = GroupName::parse("Sales (new)").expect("valid");
        tx.update_group(&new_sales).await.expect("renames");
        tx.update_group(&restored).await.expect("restores once the name is free");
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(
            tx.groups(alpha).await.expect("lists"),
            vec![
                root.clone(),
                team.clone(),
                moved.clone(),
                restored.clone(),
                equipe.clone(),
                old_sales.clone(),
                new_sales.clone()
            ]
        );
        assert_eq!(tx.groups(beta).await.expect("lists"), vec![beta_root.clone(), beta_sales.clone()], "untouched");
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn memberships_keep_their_history_within_the_organization() {
    for (t, store) in stores("memberships").await {
        let (alpha, beta) = (org_id(1), org_id(2));
        let (ada, bob, carol) = (user_id(1, 2), user_id(1, 1), user_id(2, 1));
        insert_user(&t, alpha, ada, "ada@example.com", false).await;
        insert_user(&t, alpha, bob, "bob@example.com", false).await;
        insert_user(&t, beta, carol, "carol@example.com", false).await;
        let root = group(alpha, 0, None, "Alpha");
        let sales = group(alpha, 1, Some(root.id), "Sales");
        let beta_root = group(beta, 0, None, "Beta");
        let mut tx = begin(&store).await;
        for g in [&root, &sales, &beta_root] {
            tx.insert_group(g).await.expect("inserts");
        }

        let at = |minute: u8| datetime!(2026-03-01 10:00:00.000007 UTC).replace_minute(minute).expect("a minute");
        let member = |org, group, user, joined, left| Membership {
            org_id: org,
            group_id: group,
            user_id: user,
            joined_at: joined,
            left_at: left,
        };
        let ada_sales_old = member(alpha, sales.id, ada, at(1), Some(at(2)));
        let ada_root = member(alpha, root.id, ada, at(3), None);
        let ada_sales = member(alpha, sales.id, ada, at(4), None);
        let bob_sales = member(alpha, sales.id, bob, at(5), None);
        for m in [&ada_sales_old, &ada_root, &ada_sales, &bob_sales] {
            tx.insert_membership(m).await.expect("inserts");
        }
        let carol_beta = member(beta, beta_root.id, carol, at(6), None);
        tx.insert_membership(&carol_beta).await.expect("inserts");
        let unknown_group = GroupId::from_uuid(uid(1, 99));
        let unknown_user = user_id(1, 9);
        assert_missing(tx.insert_membership(&member(alpha, unknown_group, ada, at(7), None)).await, "group", "group");
        assert_missing(tx.insert_membership(&member(alpha, sales.id, unknown_user, at(7), None)).await, "user", "user");
        assert_missing(
            tx.insert_membership(&member(alpha, unknown_group, unknown_user, at(7), None)).await,
            "group",
            "both unknown: the group is named first",
        );
        assert_missing(
            tx.insert_membership(&member(alpha, sales.id, carol, at(7), None)).await,
            "user",
            "a user of another organization",
        );
        assert_missing(
            tx.insert_membership(&member(alpha, beta_root.id, ada, at(7), None)).await,
            "group",
            "a group of another organization",
        );
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(
            tx.memberships_of(alpha, ada).await.expect("reads"),
            vec![ada_sales_old.clone(), ada_root.clone(), ada_sales.clone()],
            "the whole history"
        );
        assert_eq!(tx.memberships_of(beta, ada).await.expect("reads"), vec![], "scoped");
        assert_eq!(tx.current_members(alpha, sales.id).await.expect("reads"), vec![bob, ada], "in id order");
        assert_eq!(tx.current_members(beta, sales.id).await.expect("reads"), vec![], "scoped");
        assert_eq!(tx.current_members(beta, beta_root.id).await.expect("reads"), vec![carol]);

        assert!(!tx.end_membership(beta, sales.id, ada, at(8)).await.expect("ends"), "not in that organization");
        assert!(tx.end_membership(alpha, sales.id, ada, at(8)).await.expect("ends"));
        assert!(!tx.end_membership(alpha, sales.id, ada, at(9)).await.expect("ends"), "no current one left");
        assert!(!tx.end_membership(alpha, sales.id, carol, at(9)).await.expect("ends"), "never a member");
        let ada_sales_again = member(alpha, sales.id, ada, at(10), None);
        tx.insert_membership(&ada_sales_again).await.expect("joins again");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        let mut ended = ada_sales.clone();
        ended.left_at = Some(at(8));
        assert_eq!(
            tx.memberships_of(alpha, ada).await.expect("reads"),
            vec![ada_sales_old, ada_root, ended, ada_sales_again],
            "ending keeps the period; joining again adds one"
        );
        assert_eq!(tx.current_members(alpha, sales.id).await.expect("reads"), vec![bob, ada]);
        assert_eq!(tx.memberships_of(alpha, bob).await.expect("reads"), vec![bob_sales]);
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn group_flows_are_replaced_as_a_set_within_the_organization() {
    for (t, store) in stores("group_flows").await {
        let (alpha, beta) = (org_id(1), org_id(2));
        let flow = |org: u64, n: u64| FlowId::from_uuid(uid(org, 30 + n));
        let (f1, f2, f3) = (flow(1, 1), flow(1, 2), flow(1, 3));
        let b1 = flow(2, 1);
        for f in [f2, f1, f3] {
            insert_flow(&t, alpha, f).await;
        }
        insert_flow(&t, beta, b1).await;
        let root = group(alpha, 0, None, "Alpha");
        let sales = group(alpha, 1, Some(root.id), "Sales");
        let beta_root = group(beta, 0, None, "Beta");
        let mut tx = begin(&store).await;
        for g in [&root, &sales, &beta_root] {
            tx.insert_group(g).await.expect("inserts");
        }
        assert_eq!(tx.group_flows(alpha).await.expect("reads"), BTreeMap::new(), "none yet");
        tx.set_group_flows(alpha, sales.id, &[f2, f1].into()).await.expect("sets");
        tx.set_group_flows(alpha, root.id, &[f3].into()).await.expect("sets");
        tx.set_group_flows(beta, beta_root.id, &[b1].into()).await.expect("sets");
        assert_missing(tx.set_group_flows(alpha, sales.id, &[f1, b1].into()).await, "flow", "another org's flow");
        assert_missing(
            tx.set_group_flows(alpha, sales.id, &[FlowId::from_uuid(uid(1, 99))].into()).await,
            "flow",
            "an unknown flow",
        );
        assert_missing(
            tx.set_group_flows(alpha, GroupId::from_uuid(uid(1, 99)), &[f1].into()).await,
            "group",
            "an unknown group",
        );
        assert_missing(
            tx.set_group_flows(alpha, beta_root.id, &[f1].into()).await,
            "group",
            "a group of another organization",
        );
        assert_missing(tx.set_group_flows(alpha, beta_root.id, &BTreeSet::new()).await, "group", "even to clear it");
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(
            tx.group_flows(alpha).await.expect("reads"),
            BTreeMap::from([(root.id, [f3].into()), (sales.id, [f1, f2].into())]),
            "the refused writes changed nothing"
        );
        assert_eq!(tx.group_flows(beta).await.expect("reads"), BTreeMap::from([(beta_root.id, [b1].into())]));
        tx.set_group_flows(alpha, sales.id, &[f2, f3].into()).await.expect("replaces");
        tx.set_group_flows(alpha, root.id, &BTreeSet::new()).await.expect("clears");
        tx.set_group_flows(alpha, root.id, &BTreeSet::new()).await.expect("clears again");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        assert_eq!(
            tx.group_flows(alpha).await.expect("reads"),
            BTreeMap::from([(sales.id, [f2, f3].into())]),
            "a group without flows has no entry"
        );
        assert_eq!(tx.group_flows(beta).await.expect("reads"), BTreeMap::from([(beta_root.id, [b1].into())]));
        drop(tx);
        t.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Invites

fn invite(org: OrgId, n: u64, user: UserId) -> Invite {
    Invite {
        id: InviteId::from_uuid(uid(org.as_uuid().as_u64_pair().0, 40 + n)),
        org_id: org,
        user_id: user,
        purpose: InvitePurpose::Member,
        products: [key("core"), key("dialer")].into(),
        group_ids: Default::default(),
        token_hash: format!("hash-{org}-{n}"),
        expires_at: datetime!(2026-01-08 00:00:00.000001 UTC),
        created_by: Some(user_id(9, 9)),
        created_at: T0,
        accepted_at: None,
    }
}

#[tokio::test]
async fn invites_round_trip_by_id_and_token_within_the_organization() {
    for (t, store) in stores("invites").await {
        let (alpha, beta) = (org_id(1), org_id(2));
        let (ada, bob, carol) = (user_id(1, 1), user_id(1, 2), user_id(2, 1));
        insert_user(&t, alpha, ada, "ada@example.com", false).await;
        insert_user(&t, alpha, bob, "bob@example.com", false).await;
        insert_user(&t, beta, carol, "carol@example.com", false).await;

        let first = invite(alpha, 2, ada);
        let mut signup = invite(alpha, 1, bob);
        signup.purpose = InvitePurpose::SignupVerification;
        signup.products = BTreeSet::new();
        signup.created_by = None;
        let mut accepted = invite(alpha, 3, bob);
        accepted.accepted_at = Some(datetime!(2026-01-02 03:04:05.000006 UTC));
        let beta_invite = invite(beta, 1, carol);
        let mut tx = begin(&store).await;
        for i in [&first, &signup, &accepted, &beta_invite] {
            tx.insert_invite(i).await.expect("inserts");
        }
        assert_missing(tx.insert_invite(&invite(alpha, 4, user_id(1, 9))).await, "user", "an unknown user");
        assert_missing(tx.insert_invite(&invite(alpha, 5, carol)).await, "user", "a user of another organization");
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(tx.invite(alpha, first.id).await.expect("reads"), Some(first.clone()));
        assert_eq!(tx.invite(alpha, signup.id).await.expect("reads"), Some(signup.clone()));
        assert_eq!(tx.invite(beta, first.id).await.expect("reads"), None, "scoped");
        assert_eq!(tx.invite_by_token_hash(&beta_invite.token_hash).await.expect("reads"), Some(beta_invite.clone()));
        assert_eq!(
            tx.invite_by_token_hash(&accepted.token_hash).await.expect("reads"),
            Some(accepted.clone()),
            "accepted ones too"
        );
        assert_eq!(tx.invite_by_token_hash("unknown").await.expect("reads"), None);
        assert_eq!(
            tx.pending_invites(alpha).await.expect("reads"),
            vec![signup.clone(), first.clone()],
            "pending only, in id order"
        );
        assert_eq!(tx.pending_invites(beta).await.expect("reads"), vec![beta_invite.clone()]);

        let mut resent = first.clone();
        resent.token_hash = "resent".to_owned();
        resent.expires_at = datetime!(2026-01-15 00:00:00 UTC);
        tx.update_invite(&resent).await.expect("updates");
        assert_missing(tx.update_invite(&invite(alpha, 9, ada)).await, "invite", "an unknown invite");
        let mut foreign = beta_invite.clone();
        foreign.org_id = alpha;
        foreign.user_id = ada;
        assert_missing(tx.update_invite(&foreign).await, "invite", "an invite of another organization");
        let mut orphan = signup.clone();
        orphan.user_id = user_id(1, 9);
        assert_missing(tx.update_invite(&orphan).await, "user", "moved to an unknown user");

        let reservation = |product: &str| SeatReservation { org_id: alpha, invite_id: first.id, product: key(product) };
        tx.insert_reservation(&reservation("core")).await.expect("reserves");
        tx.insert_reservation(&reservation("dialer")).await.expect("reserves");
        assert_missing(tx.delete_invite(beta, first.id).await, "invite", "an invite of another organization");
        assert_eq!(tx.reservations_of(alpha, first.id).await.expect("reads").len(), 2, "kept");
        assert_missing(tx.delete_invite(alpha, InviteId::from_uuid(uid(1, 99))).await, "invite", "unknown");
        tx.delete_invite(alpha, accepted.id).await.expect("deletes");
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(tx.invite(alpha, first.id).await.expect("reads"), Some(resent.clone()));
        assert_eq!(tx.invite_by_token_hash("resent").await.expect("reads"), Some(resent.clone()));
        assert_eq!(tx.invite_by_token_hash(&first.token_hash).await.expect("reads"), None, "the old token is gone");
        assert_eq!(tx.invite(alpha, signup.id).await.expect("reads"), Some(signup.clone()), "unchanged");
        assert_eq!(tx.invite(alpha, accepted.id).await.expect("reads"), None);
        tx.delete_invite(alpha, first.id).await.expect("deletes with its reservations");
        assert_eq!(tx.reservations_of(alpha, first.id).await.expect("reads"), vec![]);
        assert_missing(tx.delete_invite(alpha, first.id).await, "invite", "already gone");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        assert_eq!(tx.pending_invites(alpha).await.expect("reads"), vec![signup.clone()]);
        assert_eq!(tx.pending_invites(beta).await.expect("reads"), vec![beta_invite.clone()], "untouched");
        drop(tx);
        let n = t.count("SELECT COUNT(*) AS n FROM seat_reservations", vec![]).await;
        assert_eq!(n, 0, "no reservation outlives its invite");
        t.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Scheduled changes

fn change(org: OrgId, n: u64, user: UserId, effective_at: OffsetDateTime) -> ScheduledChange {
    ScheduledChange {
        id: ScheduledChangeId::from_uuid(uid(org.as_uuid().as_u64_pair().0, 60 + n)),
        org_id: org,
        user_id: user,
        action: ScheduledAction::Deactivate,
        effective_at,
        created_by: Some(user_id(9, 9)),
        created_at: T0,
        state: ScheduleState::Pending,
    }
}

#[tokio::test]
async fn scheduled_changes_round_trip_and_fall_due_in_time_order() {
    for (t, store) in stores("scheduled").await {
        let (alpha, beta) = (org_id(1), org_id(2));
        let (ada, bob, carol) = (user_id(1, 1), user_id(1, 2), user_id(2, 1));
        insert_user(&t, alpha, ada, "ada@example.com", false).await;
        insert_user(&t, alpha, bob, "bob@example.com", false).await;
        insert_user(&t, beta, carol, "carol@example.com", false).await;
        let day = |d: u8| datetime!(2026-04-01 12:00:00.000001 UTC).replace_day(d).expect("a day");

        let ada_late = change(alpha, 1, ada, day(20));
        let mut ada_license = change(alpha, 3, ada, day(10));
        ada_license.action = ScheduledAction::RemoveLicense(key("dialer"));
        ada_license.created_by = None;
        let ada_tie = change(alpha, 2, ada, day(10));
        let mut ada_applied = change(alpha, 4, ada, day(5));
        ada_applied.state = ScheduleState::Applied { at: day(5) };
        let mut bob_cancelled = change(alpha, 5, bob, day(1));
        bob_cancelled.state = ScheduleState::Cancelled { at: day(2) };
        let mut bob_failed = change(alpha, 6, bob, day(3));
        bob_failed.state = ScheduleState::Failed { at: day(3), code: "last_admin".to_owned() };
        let carol_due = change(beta, 1, carol, day(10));
        let carol_early = change(beta, 2, carol, day(4));
        let mut tx = begin(&store).await;
        for c in
            [&ada_late, &ada_license, &ada_tie, &ada_applied, &bob_cancelled, &bob_failed, &carol_due, &carol_early]
        {
            tx.insert_scheduled(c).await.expect("inserts");
        }
        assert_missing(tx.insert_scheduled(&change(alpha, 7, user_id(1, 9), day(1))).await, "user", "unknown user");
        assert_missing(tx.insert_scheduled(&change(alpha, 8, carol, day(1))).await, "user", "another org's user");
        assert_unavailable(tx.insert_scheduled(&change(alpha, 1, ada, day(1))).await, "a duplicate id");
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(
            tx.scheduled_for_user(alpha, ada).await.expect("reads"),
            vec![ada_applied.clone(), ada_tie.clone(), ada_license.clone(), ada_late.clone()],
            "every state, by effective_at then id"
        );
        assert_eq!(
            tx.scheduled_for_user(alpha, bob).await.expect("reads"),
            vec![bob_cancelled.clone(), bob_failed.clone()]
        );
        assert_eq!(tx.scheduled_for_user(beta, ada).await.expect("reads"), vec![], "scoped");
        assert_eq!(tx.scheduled(alpha, ada_license.id).await.expect("reads"), Some(ada_license.clone()));
        assert_eq!(tx.scheduled(alpha, bob_failed.id).await.expect("reads"), Some(bob_failed.clone()));
        assert_eq!(tx.scheduled(beta, ada_license.id).await.expect("reads"), None, "scoped");

        assert_eq!(
            tx.due_scheduled(day(10), 10).await.expect("reads"),
            vec![carol_early.clone(), ada_tie.clone(), ada_license.clone(), carol_due.clone()],
            "pending ones of every organization, at or before now, by effective_at then id"
        );
        assert_eq!(tx.due_scheduled(day(10), 2).await.expect("reads"), vec![carol_early.clone(), ada_tie.clone()]);
        assert_eq!(tx.due_scheduled(day(10), 0).await.expect("reads"), vec![], "a limit of 0");
        assert_eq!(tx.due_scheduled(day(3), 10).await.expect("reads"), vec![], "none due yet");

        let mut failed = ada_tie.clone();
        failed.state = ScheduleState::Failed { at: day(11), code: "seat_pool_missing".to_owned() };
        tx.update_scheduled(&failed).await.expect("updates");
        let mut cancelled = ada_license.clone();
        cancelled.state = ScheduleState::Cancelled { at: day(9) };
        tx.update_scheduled(&cancelled).await.expect("updates");
        let mut rescheduled = carol_due.clone();
        rescheduled.effective_at = day(25);
        rescheduled.action = ScheduledAction::RemoveLicense(key("core"));
        tx.update_scheduled(&rescheduled).await.expect("updates");
        assert_missing(
            tx.update_scheduled(&change(alpha, 9, ada, day(1))).await,
            "scheduled change",
            "an unknown change",
        );
        let mut foreign = carol_early.clone();
        foreign.org_id = alpha;
        foreign.user_id = ada;
        assert_missing(tx.update_scheduled(&foreign).await, "scheduled change", "a change of another organization");
        let mut orphan = ada_late.clone();
        orphan.user_id = user_id(1, 9);
        assert_missing(tx.update_scheduled(&orphan).await, "user", "moved to an unknown user");
        tx.commit().await.expect("commits after the refused writes");

        let mut tx = begin(&store).await;
        assert_eq!(tx.scheduled(alpha, failed.id).await.expect("reads"), Some(failed));
        assert_eq!(tx.scheduled(alpha, cancelled.id).await.expect("reads"), Some(cancelled));
        assert_eq!(tx.scheduled(beta, rescheduled.id).await.expect("reads"), Some(rescheduled.clone()));
        assert_eq!(tx.scheduled(alpha, ada_late.id).await.expect("reads"), Some(ada_late.clone()), "unchanged");
        assert_eq!(tx.due_scheduled(day(30), 10).await.expect("reads"), vec![carol_early, ada_late, rescheduled]);
        drop(tx);
        t.finish().await;
    }
}
