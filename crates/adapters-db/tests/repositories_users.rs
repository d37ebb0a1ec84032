//! `UserRepository` on a fresh SQLite file and — when `ROSTER_TEST_DATABASE_URL` is set — a fresh
//! PostgreSQL schema: round trips, conflicts (case-insensitive email, phone, agent id, CRM id,
//! free again after a soft delete), stale versions, password hashes, purge, `active_admins`,
//! `count_billable`, and `list_users` compared with the reference semantics
//! (`UserQuery::matches` / `paginate`) over the same users for many queries.

#[allow(dead_code, reason = "shared with the other test files")]
mod support;

use std::collections::BTreeSet;

use roster_adapters_db::SeaOrmStore;
use roster_domain::groups::{Group, Membership};
use roster_domain::ids::{GroupId, OrgId, RoleId, UserId};
use roster_domain::ports::{
    GroupRepository, LicenseRepository, PasswordHash, StoreError, UniqueField, UserLookup, UserRepository,
};
use roster_domain::roles::{Permission, RoleGrant};
use roster_domain::seats::LicenseAssignment;
use roster_domain::user::{CallRecording, Homepage, InactiveReason, MailboxProvider, StatusKind, User};
use roster_domain::users_query::{
    RoleFilter, SortFacts, SortValue, UserCursor, UserPage, UserPaging, UserQuery, UserSort, UserSortField,
    in_group_filter,
};
use roster_domain::values::{AgentId, CrmId, Email, GroupName, Key, Nicknames, PersonName, Phone};
use support::{begin, stores};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00.123456 UTC);
const TD: OffsetDateTime = datetime!(2026-03-01 00:00:00 UTC);

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
    // Not in creation order, so id order differs from every sort.
    UserId::from_uuid(uid(org, (n * 7919) % 1000 + 1000))
}

const ADMIN: u64 = 1;
const AGENT: u64 = 2;

fn role(n: u64) -> RoleId {
    RoleId::from_uuid(uid(99, n))
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, field: UniqueField, what: &str) {
    assert!(matches!(result, Err(StoreError::Conflict { field: f }) if f == field), "{what}: got {result:?}");
}

fn basic_user(org: OrgId, id: UserId, email: &str) -> User {
    User::new(
        id,
        org,
        Email::parse(email).expect("valid"),
        PersonName::parse("Ada").expect("valid"),
        PersonName::parse("Lovelace").expect("valid"),
        BTreeSet::new(),
        T0,
    )
}

/// A user with every optional field set.
fn full_user(org: OrgId, id: UserId) -> User {
    let mut u = basic_user(org, id, "Full.User@Example.com");
    u.first_name = PersonName::parse("Émile").expect("valid");
    u.last_name = PersonName::parse("Østergård").expect("valid");
    u.phone = Some(Phone::parse("+1 555 000 1234").expect("valid"));
    u.nicknames = Nicknames::parse(["Zed", "Alpha", "Émi"]).expect("valid");
    u.crm_id = Some(CrmId::parse("CRM_Full").expect("valid"));
    u.agent_id = Some(AgentId::parse("Agent.Full").expect("valid"));
    u.agent_ring_number = Some(Phone::parse("+1 555 000 2222").expect("valid"));
    u.dialer_number = Some(Phone::parse("+1 555 000 3333").expect("valid"));
    u.roles = [
        RoleGrant { role_id: role(ADMIN), scope: None },
        RoleGrant { role_id: role(AGENT), scope: Some(GroupId::from_uuid(uid(5, 5))) },
        RoleGrant { role_id: role(AGENT), scope: Some(GroupId::from_uuid(uid(5, 6))) },
    ]
    .into();
    u.extra_permissions = [Permission::ALL[0], Permission::ALL[1]].into();
    u.group_access = [GroupId::from_uuid(uid(5, 7)), GroupId::from_uuid(uid(5, 8))].into();
    u.settings.mailbox_provider = MailboxProvider::Google;
    u.settings.email_throttle_max_per_day = 123;
    u.settings.flow_enabled = false;
    u.settings.email_sync = true;
    u.settings.calendar_sync = true;
    u.settings.call_recording = CallRecording::Enforced;
    u.settings.homepage = Homepage::Leads;
    u.settings.round_robin = true;
    u.settings.scoring_enabled = true;
    u.settings.roaming_agent = true;
    u.settings.voip_forward_to = Some(Phone::parse("+1 555 000 4444").expect("valid"));
    u.lifecycle.deactivated_at = Some(datetime!(2026-02-01 10:00:00.000001 UTC));
    u.lifecycle.invited = true;
    u.lifecycle.inactive_reasons = [InactiveReason::InactiveInCrm, InactiveReason::NoLicense].into();
    u.lifecycle.ever_held_core = true;
    u.lifecycle.crm_connected = true;
    u.lifecycle.mailbox_connected = true;
    u.has_password = true;
    let text = |t: &str| Some(roster_domain::values::DirectoryText::parse(t).expect("valid"));
    u.directory = roster_domain::user::DirectoryAttributes {
        external_id: text("00uAda"),
        title: text("Analyst"),
        employee_number: text("1701"),
        cost_center: text("CC-7"),
        organization: text("Babbage & Co"),
        division: text("Engines"),
        department: text("Analytical"),
        manager: text("b0b-1d"),
    };
    u.updated_at = datetime!(2026-02-02 00:00:00 UTC);
    u
}

#[tokio::test]
async fn users_round_trip_with_optimistic_updates_hashes_and_purge() {
    for (t, store) in stores("users_round_trip").await {
        let org = org_id(1);
        let full = full_user(org, user_id(1, 1));
        let plain = basic_user(org, user_id(1, 2), "plain@example.com");
        let other_org = basic_user(org_id(2), user_id(2, 1), "plain@example.com");
        let mut tx = begin(&store).await;
        for u in [&full, &plain, &other_org] {
            tx.insert_user(u).await.expect("inserts");
        }
        assert_eq!(tx.user(org, full.id).await.expect("reads"), Some(full.clone()));
        assert_eq!(tx.user(org, plain.id).await.expect("reads"), Some(plain.clone()));
        assert_eq!(tx.user(org, other_org.id).await.expect("reads"), None, "another organization's user");
        assert!(tx.users_by_ids(org, &[]).await.expect("reads").is_empty());
        let unknown = user_id(1, 99);
        let mut expected = vec![full.clone(), plain.clone()];
        expected.sort_by_key(|u| u.id);
        let by_ids = tx.users_by_ids(org, &[plain.id, unknown, full.id, plain.id, other_org.id]).await.expect("reads");
        assert_eq!(by_ids, expected);
        // Lookups by every unique field, live users only.
        let found = |u: Option<User>| u.map(|u| u.id);
        let full_email = Email::parse("full.user@example.com").expect("valid");
        assert_eq!(found(tx.find_user(org, UserLookup::Email(&full_email)).await.expect("reads")), Some(full.id));
        let phone = full.phone.clone().expect("set");
        assert_eq!(found(tx.find_user(org, UserLookup::Phone(&phone)).await.expect("reads")), Some(full.id));
        let agent = full.agent_id.clone().expect("set");
        assert_eq!(found(tx.find_user(org, UserLookup::AgentId(&agent)).await.expect("reads")), Some(full.id));
        let crm = full.crm_id.clone().expect("set");
        assert_eq!(found(tx.find_user(org, UserLookup::CrmId(&crm)).await.expect("reads")), Some(full.id));
        assert_eq!(found(tx.find_user(org_id(3), UserLookup::CrmId(&crm)).await.expect("reads")), None);

        // Update: children replaced, nickname order kept.
        let mut changed = full.clone();
        changed.touch(datetime!(2026-02-03 00:00:00 UTC));
        changed.roles = [RoleGrant { role_id: role(AGENT), scope: None }].into();
        changed.group_access = BTreeSet::new();
        changed.nicknames = Nicknames::parse(["b", "A", "c"]).expect("valid");
        changed.phone = None;
        changed.lifecycle.inactive_reasons = [InactiveReason::PackageExpired, InactiveReason::AccountFailure].into();
        tx.update_user(&changed).await.expect("updates");
        assert_eq!(tx.user(org, full.id).await.expect("reads"), Some(changed.clone()));
        let stale = tx.update_user(&changed).await;
        assert!(matches!(stale, Err(StoreError::StaleVersion { kind: "user" })), "{stale:?}");
        let missing = tx.update_user(&basic_user(org, unknown, "x@example.com")).await;
        assert!(matches!(missing, Err(StoreError::Missing { kind: "user" })), "{missing:?}");

        // Password hashes.
        assert_eq!(tx.password_hash(org, plain.id).await.expect("reads"), None);
        tx.set_password_hash(org, plain.id, &PasswordHash::new("$argon2id$one".into())).await.expect("sets");
        tx.set_password_hash(org, plain.id, &PasswordHash::new("$argon2id$two".into())).await.expect("replaces");
        assert_eq!(
            tx.password_hash(org, plain.id).await.expect("reads").map(|h| h.as_str().to_owned()),
            Some("$argon2id$two".to_owned())
        );
        assert_eq!(tx.password_hash(org_id(2), plain.id).await.expect("reads"), None);
        let no_user = tx.set_password_hash(org, unknown, &PasswordHash::new("x".into())).await;
        assert!(matches!(no_user, Err(StoreError::Missing { kind: "user" })), "{no_user:?}");

        // Purge: the row and its children go; the other users stay.
        tx.insert_license(&LicenseAssignment { org_id: org, user_id: plain.id, product: key("core"), assigned_at: T0 })
            .await
            .expect("assigns");
        tx.purge_user(org, plain.id).await.expect("purges");
        assert_eq!(tx.user(org, plain.id).await.expect("reads"), None);
        assert_eq!(tx.password_hash(org, plain.id).await.expect("reads"), None);
        assert!(tx.licenses_of(org, plain.id).await.expect("reads").is_empty());
        let again = tx.purge_user(org, plain.id).await;
        assert!(matches!(again, Err(StoreError::Missing { kind: "user" })), "{again:?}");
        assert!(tx.user(org_id(2), other_org.id).await.expect("reads").is_some());
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        assert_eq!(tx.user(org, full.id).await.expect("reads"), Some(changed));
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn unique_fields_conflict_among_live_users_only() {
    for (t, store) in stores("users_conflicts").await {
        let org = org_id(1);
        let mut a = basic_user(org, user_id(1, 1), "ada@example.com");
        a.phone = Some(Phone::parse("+1 555 111 0001").expect("valid"));
        a.agent_id = Some(AgentId::parse("AG1").expect("valid"));
        a.crm_id = Some(CrmId::parse("C1").expect("valid"));
        let mut tx = begin(&store).await;
        tx.insert_user(&a).await.expect("inserts");
        let mut b = basic_user(org, user_id(1, 2), "ADA@Example.COM");
        assert_conflict(tx.insert_user(&b).await, UniqueField::Email, "email in another case");
        b.email = Email::parse("bob@example.com").expect("valid");
        b.phone = a.phone.clone();
        assert_conflict(tx.insert_user(&b).await, UniqueField::Phone, "phone");
        b.phone = None;
        b.agent_id = a.agent_id.clone();
        assert_conflict(tx.insert_user(&b).await, UniqueField::AgentId, "agent id");
        b.agent_id = None;
        b.crm_id = a.crm_id.clone();
        assert_conflict(tx.insert_user(&b).await, UniqueField::CrmId, "crm id");
        b.crm_id = None;
        // The transaction is still usable; a refused insert left no row and no children.
        b.roles = [RoleGrant { role_id: role(ADMIN), scope: None }].into();
        tx.insert_user(&b).await.expect("inserts once free of clashes");
        // Another organization may use the same values.
        let mut c = a.clone();
        c.id = user_id(2, 1);
        c.org_id = org_id(2);
        tx.insert_user(&c).await.expect("inserts in another organization");

        // Conflicts on update.
        let mut b2 = b.clone();
        b2.touch(T0);
        b2.email = Email::parse("Ada@example.com").expect("valid");
        assert_conflict(tx.update_user(&b2).await, UniqueField::Email, "update to a taken email");
        b2.email = b.email.clone();
        b2.agent_id = a.agent_id.clone();
        assert_conflict(tx.update_user(&b2).await, UniqueField::AgentId, "update to a taken agent id");
        b2.agent_id = None;
        b2.phone = a.phone.clone();
        assert_conflict(tx.update_user(&b2).await, UniqueField::Phone, "update to a taken phone");
        b2.phone = None;
        b2.crm_id = a.crm_id.clone();
        assert_conflict(tx.update_user(&b2).await, UniqueField::CrmId, "update to a taken crm id");
        assert_eq!(tx.user(org, b.id).await.expect("reads"), Some(b.clone()), "refused updates changed nothing");

        // Soft-deleting `a` frees every value.
        let mut a2 = a.clone();
        a2.touch(T0);
        a2.lifecycle.deleted_at = Some(TD);
        tx.update_user(&a2).await.expect("soft-deletes");
        let email = a.email.clone();
        assert_eq!(tx.find_user(org, UserLookup::Email(&email)).await.expect("reads"), None);
        tx.update_user(&b2).await.expect("takes the deleted user's crm id");
        let mut d = a.clone();
        d.id = user_id(1, 3);
        d.crm_id = None;
        tx.insert_user(&d).await.expect("takes the deleted user's email, phone and agent id");
        assert_eq!(tx.find_user(org, UserLookup::Email(&email)).await.expect("reads").map(|u| u.id), Some(d.id));
        // A deleted user stays readable by id.
        assert_eq!(tx.user(org, a.id).await.expect("reads"), Some(a2));
        tx.commit().await.expect("commits");
        t.finish().await;
    }
}

#[tokio::test]
async fn active_admins_and_billable_count() {
    for (t, store) in stores("users_admins").await {
        let org = org_id(1);
        let admin = RoleGrant { role_id: role(ADMIN), scope: None };
        let scoped = RoleGrant { role_id: role(ADMIN), scope: Some(GroupId::from_uuid(uid(5, 1))) };
        let mut users = Vec::new();
        for n in 0..8 {
            let mut u = basic_user(org, user_id(1, n), &format!("u{n}@example.com"));
            u.roles = match n {
                0..=4 => [admin.clone()].into(),
                5 => [scoped.clone()].into(),
                _ => BTreeSet::new(),
            };
            match n {
                1 => u.lifecycle.deactivated_at = Some(T0),
                2 => u.lifecycle.invited = true,
                3 => u.lifecycle.deleted_at = Some(T0),
                _ => {}
            }
            users.push(u);
        }
        let mut outsider = basic_user(org_id(2), user_id(2, 1), "x@example.com");
        outsider.roles = [admin.clone()].into();
        let mut tx = begin(&store).await;
        for u in users.iter().chain([&outsider]) {
            tx.insert_user(u).await.expect("inserts");
        }
        let mut expected = vec![users[0].id, users[4].id];
        expected.sort();
        assert_eq!(tx.active_admins(org, role(ADMIN)).await.expect("reads"), expected);
        assert!(tx.active_admins(org, role(AGENT)).await.expect("reads").is_empty());
        // 0, 4, 5, 6, 7 are billable.
        assert_eq!(tx.count_billable(org).await.expect("counts"), 5);
        assert_eq!(tx.count_billable(org_id(3)).await.expect("counts"), 0);
        drop(tx);
        t.finish().await;
    }
}

/// The Users-table fixture: users with varied facts, licenses, a live and a deleted group.
struct Fixture {
    org: OrgId,
    users: Vec<User>,
    licenses: BTreeSet<(UserId, Key)>,
    groups: Vec<Group>,
    memberships: Vec<Membership>,
}

const FIRST: [&str; 8] = ["Ada", "ada", "Émile", "zoë", "ZOË", "Bob", "Øle", "_under"];
const LAST: [&str; 6] = ["Lovelace", "lovelace", "Østergård", "Smith", "d'Arc", "100%"];

fn fixture() -> Fixture {
    let org = org_id(1);
    let mut users = Vec::new();
    let mut licenses = BTreeSet::new();
    for n in 0..46_u64 {
        let email = match n % 5 {
            0 => format!("u{n}_x%y@example.com"),
            1 => format!("user.{n}@example.org"),
            _ => format!("{}{n}@b.example.com", ["zed", "amy", "ken"][usize::try_from(n % 3).expect("small")]),
        };
        let mut u = basic_user(org, user_id(1, n), &email);
        let i = usize::try_from(n).expect("small");
        u.first_name = PersonName::parse(FIRST[i % FIRST.len()]).expect("valid");
        u.last_name = PersonName::parse(LAST[(i / 3) % LAST.len()]).expect("valid");
        if n % 3 == 0 {
            u.phone = Some(Phone::parse(&format!("+1 555 200 {n:04}")).expect("valid"));
        }
        if n % 2 == 0 {
            u.agent_id = Some(AgentId::parse(&format!("{}{n}", ["Ag", "ag", "B_", "a.x"][i % 4])).expect("valid"));
        }
        if n % 3 != 1 {
            u.crm_id = Some(CrmId::parse(&format!("{}{}", ["crm_", "CRM-", "Z"][i % 3], 100 - n)).expect("valid"));
        }
        if n % 4 == 0 {
            u.nicknames = Nicknames::parse([format!("Nick\\{n}"), "Zed".to_owned()]).expect("valid");
        }
        if n % 5 == 0 {
            u.roles.insert(RoleGrant { role_id: role(ADMIN), scope: None });
        }
        if n % 7 == 0 {
            u.roles.insert(RoleGrant { role_id: role(AGENT), scope: Some(GroupId::from_uuid(uid(5, 1))) });
        }
        if n % 11 == 3 {
            u.lifecycle.deactivated_at = Some(T0);
        }
        if n % 9 == 4 {
            u.lifecycle.invited = true;
        }
        if n % 13 == 12 {
            u.lifecycle.deleted_at = Some(TD);
        }
        if n % 6 == 0 {
            u.lifecycle.inactive_reasons.insert(InactiveReason::PackageExpired);
        }
        if n % 10 == 7 {
            u.lifecycle.inactive_reasons.insert(InactiveReason::InactiveInCrm);
        }
        u.lifecycle.ever_held_core = n % 4 == 1;
        u.lifecycle.crm_connected = n % 2 == 0;
        u.lifecycle.mailbox_connected = n % 3 != 2;
        u.created_at = T0 + Duration::hours(i64::try_from(n % 10).expect("small"));
        if n % 3 == 0 {
            licenses.insert((u.id, key("core")));
        }
        if n % 4 == 2 {
            licenses.insert((u.id, key("dialer")));
        }
        users.push(u);
    }
    let group = |n: u64, parent: Option<GroupId>, deleted: Option<OffsetDateTime>| Group {
        id: GroupId::from_uuid(uid(1, 20 + n)),
        org_id: org,
        parent_id: parent,
        name: GroupName::parse(&format!("G{n}")).expect("valid"),
        depth: if parent.is_some() { 2 } else { 1 },
        deleted_at: deleted,
        created_at: T0,
        version: 1,
    };
    let root = group(0, None, None);
    let live = group(1, Some(root.id), None);
    let gone = group(2, Some(root.id), Some(TD));
    let mut memberships = Vec::new();
    for (n, u) in users.iter().enumerate() {
        let m = |g: &Group, left_at| Membership { org_id: org, group_id: g.id, user_id: u.id, joined_at: T0, left_at };
        match n % 4 {
            0 => memberships.push(m(&live, None)),
            1 => memberships.push(m(&live, Some(T0 + Duration::days(1)))),
            _ => {}
        }
        match n % 5 {
            0 => memberships.push(m(&gone, Some(TD))),
            1 => memberships.push(m(&gone, Some(T0 + Duration::days(2)))),
            _ => {}
        }
    }
    Fixture { org, users, licenses, groups: vec![root, live, gone], memberships }
}

impl Fixture {
    async fn load(&self, store: &SeaOrmStore) {
        let mut tx = begin(store).await;
        for u in &self.users {
            tx.insert_user(u).await.expect("inserts a user");
        }
        // A user of another organization, who never shows up.
        let mut stranger = self.users[0].clone();
        stranger.org_id = org_id(2);
        stranger.id = user_id(2, 0);
        tx.insert_user(&stranger).await.expect("inserts");
        for (user, product) in &self.licenses {
            let assignment =
                LicenseAssignment { org_id: self.org, user_id: *user, product: product.clone(), assigned_at: T0 };
            tx.insert_license(&assignment).await.expect("assigns");
        }
        for g in &self.groups {
            tx.insert_group(g).await.expect("inserts a group");
        }
        for m in &self.memberships {
            tx.insert_membership(m).await.expect("inserts a membership");
        }
        tx.commit().await.expect("commits");
    }

    /// The reference answer: `matches` over the fixture's facts, then `paginate`.
    fn expected(&self, query: &UserQuery) -> UserPage {
        let group = query.group.and_then(|g| self.groups.iter().find(|x| x.id == g));
        let matching = self
            .users
            .iter()
            .filter(|u| {
                query.matches(
                    u,
                    |k| self.licenses.contains(&(u.id, k.clone())),
                    || {
                        group.is_some_and(|g| {
                            self.memberships.iter().any(|m| m.user_id == u.id && in_group_filter(g, m))
                        })
                    },
                    || {
                        self.memberships
                            .iter()
                            .filter(|m| m.user_id == u.id && m.left_at.is_none())
                            .map(|m| m.group_id)
                            .collect()
                    },
                )
            })
            .cloned()
            .collect();
        // The sorts of this file read only the users' own columns; every column, facts
        // included, is checked by the persistence contract suite (`contract::users_query`).
        query.paginate(matching, |_| SortFacts::default())
    }
}

fn sorts() -> Vec<Vec<UserSort>> {
    let s = |field, descending| UserSort { field, descending };
    let mut out = vec![Vec::new()];
    for field in [
        UserSortField::FirstName,
        UserSortField::LastName,
        UserSortField::Email,
        UserSortField::CreatedAt,
        UserSortField::AgentId,
        UserSortField::CrmId,
    ] {
        out.push(vec![s(field.clone(), false)]);
        out.push(vec![s(field, true)]);
    }
    out.push(vec![s(UserSortField::LastName, false), s(UserSortField::FirstName, true)]);
    out.push(vec![s(UserSortField::CreatedAt, true), s(UserSortField::AgentId, true)]);
    out.push(vec![s(UserSortField::LastName, true), s(UserSortField::FirstName, true)]);
    out.push(vec![s(UserSortField::CrmId, false), s(UserSortField::CreatedAt, false), s(UserSortField::Email, true)]);
    out
}

/// Filter variants (sort and paging set later).
fn filters(f: &Fixture) -> Vec<UserQuery> {
    let base = UserQuery::new(f.org);
    let mut out = vec![base.clone()];
    let kinds = [
        StatusKind::Deleted,
        StatusKind::Deactivated,
        StatusKind::Invited,
        StatusKind::Inactive,
        StatusKind::Revoked,
        StatusKind::Pending,
        StatusKind::Active,
    ];
    for trial in [false, true] {
        for k in kinds {
            let mut q = base.clone();
            q.statuses = [k].into();
            q.in_trial = trial;
            out.push(q);
        }
        let mut q = base.clone();
        q.statuses = [StatusKind::Active, StatusKind::Pending, StatusKind::Revoked].into();
        q.in_trial = trial;
        out.push(q);
    }
    for r in [role(ADMIN), role(AGENT), role(77)] {
        let mut q = base.clone();
        q.role = Some(RoleFilter::Id(r));
        out.push(q);
    }
    for g in f.groups.iter().map(|g| g.id).chain([GroupId::from_uuid(uid(1, 99))]) {
        let mut q = base.clone();
        q.group = Some(g);
        out.push(q);
    }
    for (p, held) in [("core", true), ("core", false), ("dialer", true), ("dialer", false), ("none", true)] {
        let mut q = base.clone();
        q.product = Some((key(p), held));
        out.push(q);
    }
    for text in [
        "ada",
        "ADA",
        "  Émile ",
        "émile ø",
        "zoë",
        "_",
        "%",
        "\\",
        "x%y",
        "_x",
        "100%",
        "nick\\1",
        "zed",
        "d'arc",
        "555 2",
        "+1555200",
        "crm-",
        "a.x",
        "b_",
        "",
        "   ",
        "a lovelace",
        "nomatch",
        "\u{1f}",
    ] {
        let mut q = base.clone();
        q.q = Some(text.to_owned());
        out.push(q);
    }
    let mut q = base.clone();
    q.created_from = Some(T0 + Duration::hours(3));
    out.push(q.clone());
    q.created_to = Some(T0 + Duration::hours(7));
    out.push(q.clone());
    q.created_from = None;
    out.push(q);
    // Combined.
    let mut q = base.clone();
    q.statuses = [StatusKind::Inactive, StatusKind::Pending].into();
    q.group = Some(f.groups[1].id);
    q.product = Some((key("dialer"), false));
    q.q = Some("e".to_owned());
    out.push(q);
    out
}

fn ids(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

#[tokio::test]
async fn list_users_agrees_with_the_reference_semantics() {
    let f = fixture();
    for (t, store) in stores("users_list").await {
        f.load(&store).await;
        let mut tx = begin(&store).await;
        let mut checked = 0;
        let mut statuses_seen = BTreeSet::new();
        for filter in filters(&f) {
            for sort in sorts() {
                let mut query = filter.clone();
                query.sort = sort;
                // No paging: every row, compared whole (rows and their children round-trip).
                let got = tx.list_users(&query).await.expect("lists");
                let want = f.expected(&query);
                assert_eq!(ids(&got.items), ids(&want.items), "{:?} on {:?}", query, t.engine());
                assert_eq!(got, want, "{query:?}");
                if !got.items.is_empty() && query.statuses.len() == 1 {
                    statuses_seen.extend(query.statuses.iter().copied());
                }
                checked += 1;
            }
        }
        assert!(checked > 500);
        // The fixture gives every listable status at least one user.
        assert_eq!(statuses_seen.len(), 6, "{statuses_seen:?}");
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn list_users_pages_by_cursor_and_by_number() {
    let f = fixture();
    for (t, store) in stores("users_pages").await {
        f.load(&store).await;
        let mut tx = begin(&store).await;
        let queries: Vec<UserQuery> = filters(&f).into_iter().step_by(4).collect();
        for filter in queries {
            for sort in sorts() {
                let mut query = filter.clone();
                query.sort = sort;
                let all = f.expected(&query).items;
                // Cursor walk: every row exactly once, in order, each page as the reference's.
                for limit in [1_u32, 4, 7, 50] {
                    let mut after = None;
                    let mut seen = Vec::new();
                    loop {
                        query.paging = Some(UserPaging::Cursor { after: after.clone(), limit });
                        let got = tx.list_users(&query).await.expect("lists");
                        assert_eq!(got, f.expected(&query), "{query:?} on {:?}", t.engine());
                        seen.extend(ids(&got.items));
                        match got.next_cursor {
                            Some(c) => after = Some(c),
                            None => break,
                        }
                    }
                    assert_eq!(seen, ids(&all), "the walk covers every row once: {query:?}");
                }
                query.paging = Some(UserPaging::Cursor { after: None, limit: 0 });
                assert_eq!(tx.list_users(&query).await.expect("lists"), f.expected(&query));
                // Page numbers, past the last page too.
                for per_page in [5_u32, 10, 50] {
                    for page in 0..=(u32::try_from(all.len()).expect("small") / per_page + 2) {
                        query.paging = Some(UserPaging::Page { page, per_page });
                        let got = tx.list_users(&query).await.expect("lists");
                        assert_eq!(got, f.expected(&query), "{query:?}");
                        assert_eq!(got.total, Some(u64::try_from(all.len()).expect("small")));
                    }
                }
                query.paging = None;
            }
        }
        // Cursors that are no row's: arbitrary values, absent ids, another type than the column's.
        let s = |field, descending| UserSort { field, descending };
        let odd: Vec<(Vec<UserSort>, Vec<SortValue>)> = vec![
            (vec![s(UserSortField::LastName, false)], vec![SortValue::Text("m".into())]),
            (vec![s(UserSortField::LastName, true)], vec![SortValue::Text("m".into())]),
            (vec![s(UserSortField::AgentId, false)], vec![SortValue::Null]),
            (vec![s(UserSortField::AgentId, true)], vec![SortValue::Null]),
            (vec![s(UserSortField::AgentId, false)], vec![SortValue::Text(String::new())]),
            (vec![s(UserSortField::CrmId, true)], vec![SortValue::Text(String::new())]),
            (vec![s(UserSortField::FirstName, false)], vec![SortValue::Text(String::new())]),
            (vec![s(UserSortField::Email, true)], vec![SortValue::Null]),
            (vec![s(UserSortField::CrmId, true)], vec![SortValue::Text("crm_80".into())]),
            (vec![s(UserSortField::FirstName, false)], vec![SortValue::Time(T0)]),
            (vec![s(UserSortField::FirstName, true)], vec![SortValue::Time(T0)]),
            (vec![s(UserSortField::CreatedAt, false)], vec![SortValue::Text("x".into())]),
            (vec![s(UserSortField::CreatedAt, true)], vec![SortValue::Null]),
            (vec![s(UserSortField::CreatedAt, true)], vec![SortValue::Time(T0 + Duration::minutes(150))]),
            (Vec::new(), vec![SortValue::Text("lovelace".into())]),
            (Vec::new(), vec![SortValue::Text("lovelace".into()), SortValue::Text("ada".into())]),
            (
                vec![s(UserSortField::LastName, false), s(UserSortField::FirstName, true)],
                vec![SortValue::Text("østergård".into()), SortValue::Text("zoë".into())],
            ),
        ];
        for (sort, values) in odd {
            for cursor_id in [UserId::from_uuid(Uuid::nil()), user_id(1, 5), UserId::from_uuid(Uuid::max())] {
                let mut query = UserQuery::new(f.org);
                query.sort = sort.clone();
                query.paging = Some(UserPaging::Cursor {
                    after: Some(UserCursor { values: values.clone(), id: cursor_id }),
                    limit: 5,
                });
                let got = tx.list_users(&query).await.expect("lists");
                assert_eq!(got, f.expected(&query), "{query:?} on {:?}", t.engine());
            }
        }
        drop(tx);
        t.finish().await;
    }
}
