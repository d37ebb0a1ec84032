//! `UserRepository::list_users`, the Users-table query (§10), against the reference semantics
//! of `users_query.rs` (`UserQuery::matches`, `sort_key`, `paginate`) on generated users: names
//! in several scripts and cases, optional ids, statuses from every combination of facts,
//! licenses, roles with and without scope, memberships current, ended and in a deleted group,
//! groups whose names differ only in case, every setting, scheduled changes pending and
//! settled — so that every sort column (`UserSortField`) meets ties, absent values and lists.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use roster_domain::groups::{Group, Membership};
use roster_domain::ids::{GroupId, RoleId, UserId};
use roster_domain::org::Organization;
use roster_domain::ports::{Store, Tx};
use roster_domain::roles::RoleGrant;
use roster_domain::scheduling::{ScheduleState, ScheduledAction, ScheduledChange};
use roster_domain::user::{CallRecording, Homepage, InactiveReason, MailboxProvider, StatusKind, User};
use roster_domain::users_query::{
    RoleFilter, SortFacts, SortValue, UserCursor, UserPage, UserPaging, UserQuery, UserSort, UserSortField,
    in_group_filter,
};
use roster_domain::values::{AgentId, CrmId, Email, Key, Nicknames, Phone};

use super::seed::{self, T0, key, uid};
use super::{begin, commit};
use crate::generator::Rng;

const FIRST_NAMES: [&str; 18] = [
    "Ada",
    "ada",
    "ADA",
    "Émile",
    "émile",
    "Zoë",
    "Bob",
    "bob",
    "Åsa",
    "Ørjan",
    "Ülla",
    "Ñandú",
    "Li Na",
    "O'Brien",
    "Mary-Jane",
    "İlkay",
    "Straße",
    "STRAẞE",
];
const LAST_NAMES: [&str; 14] = [
    "Lovelace",
    "lovelace",
    "Byron",
    "Ørsted",
    "Østergaard",
    "Zed",
    "zed",
    "Abel",
    "Moss",
    "Çelik",
    "de la Cruz",
    "Müller",
    "MÜLLER",
    "Ng",
];
const EMAIL_PREFIXES: [&str; 6] = ["a.", "Z_", "m-", "b", "pct%", "emile"];
const AGENT_PREFIXES: [&str; 5] = ["AG_", "ag_", "Agent.", "zz-", "a"];
const CRM_PREFIXES: [&str; 4] = ["005", "005x_", "ZZ", "00-"];
const NICKNAMES: [&str; 7] = ["Ace", "ace of spades", "100%", "under_score", "Zoë", "ĳ", "C:\\path"];
const QUERIES: [&str; 26] = [
    "ada",
    "ADA",
    " émile ",
    "ÉMILE",
    "%",
    "_",
    "100%",
    "ørsted",
    "ØRSTED",
    "straße",
    "strasse",
    "i̇",
    "ag_",
    "AG_",
    "005x_",
    "+1415555",
    "5550",
    "a l",
    "ada lovelace",
    "ß",
    "zz-",
    "acme.io",
    "",
    "   ",
    "nomatch",
    "\\",
];
const PRODUCTS: [&str; 4] = ["core", "flow", "dialer", "sms"];
const ROLE_KEYS: [&str; 3] = ["team_lead", "admin", "standard"];

/// Every sort column: each fixed one, and the per-product columns of a product some hold
/// (`core`) and of one nobody holds (`sms`).
fn sort_fields() -> Vec<UserSortField> {
    let mut fields = UserSortField::FIXED.to_vec();
    fields.push(UserSortField::Product(key("core")));
    fields.push(UserSortField::Product(key("sms")));
    fields
}
const STATUSES: [StatusKind; 7] = [
    StatusKind::Deleted,
    StatusKind::Deactivated,
    StatusKind::Invited,
    StatusKind::Inactive,
    StatusKind::Revoked,
    StatusKind::Pending,
    StatusKind::Active,
];

/// One generated organization of users, and every fact the Users-table filters read.
#[derive(Debug, Clone)]
pub struct UserWorld {
    pub org: Organization,
    /// The roles' ids; role `k` has the key `ROLE_KEYS[k]`.
    pub roles: Vec<RoleId>,
    /// The root, two live groups, one deleted at `deleted_at`, and a live group whose name
    /// differs from the second's only in case.
    pub groups: Vec<Group>,
    pub users: Vec<User>,
    pub licenses: BTreeMap<UserId, BTreeSet<Key>>,
    pub memberships: Vec<Membership>,
    /// Scheduled changes, pending and settled.
    pub scheduled: Vec<ScheduledChange>,
}

impl UserWorld {
    /// Generates organization number `n` with `count` users.
    pub fn generate(n: u64, count: u64, rng: &mut Rng) -> Self {
        let org = seed::org(n, &format!("users-{n}"));
        let o = org.id;
        let roles: Vec<RoleId> = (0..3).map(|k| RoleId::from_uuid(uid(n, 10 + k))).collect();
        let root = seed::group(o, org.root_group_id.as_uuid(), None, "Root");
        let live_a = seed::group(o, uid(n, 20), Some(&root), "Team A");
        let live_b = seed::group(o, uid(n, 21), Some(&live_a), "Team B");
        let mut gone = seed::group(o, uid(n, 22), Some(&root), "Gone");
        let deleted_at = T0 + Duration::days(20);
        gone.deleted_at = Some(deleted_at);
        let other_b = seed::group(o, uid(n, 23), Some(&root), "team b");
        let groups = vec![root, live_a, live_b, gone, other_b];
        let mut users = Vec::new();
        let mut licenses = BTreeMap::new();
        let mut memberships = Vec::new();
        let mut scheduled = Vec::new();
        for i in 0..count {
            let mut u = User::new(
                UserId::from_uuid(rng.uuid()),
                o,
                Email::parse(&format!("{}{i}@{}", rng.pick(&EMAIL_PREFIXES), rng.pick(&["example.com", "acme.io"])))
                    .expect("a valid email"),
                seed::name(rng.one(&FIRST_NAMES)),
                seed::name(rng.one(&LAST_NAMES)),
                BTreeSet::new(),
                rng.instant(T0, 8),
            );
            if rng.chance(65) {
                u.agent_id = Some(AgentId::parse(&format!("{}{i}", rng.pick(&AGENT_PREFIXES))).expect("valid"));
            }
            if rng.chance(65) {
                u.crm_id = Some(CrmId::parse(&format!("{}{i}", rng.pick(&CRM_PREFIXES))).expect("valid"));
            }
            if rng.chance(60) {
                u.phone = Some(Phone::parse(&format!("+1415555{i:04}")).expect("valid"));
            }
            let nicknames: Vec<&str> = NICKNAMES.iter().copied().filter(|_| rng.chance(15)).collect();
            u.nicknames = Nicknames::parse(nicknames).expect("distinct nicknames");
            for r in &roles {
                if rng.chance(35) {
                    let scope = if rng.chance(30) { Some(groups[1].id) } else { None };
                    u.roles.insert(RoleGrant { role_id: *r, scope });
                }
            }
            let l = &mut u.lifecycle;
            if rng.chance(12) {
                l.deactivated_at = Some(rng.instant(T0, 8));
            }
            if rng.chance(8) {
                l.deleted_at = Some(rng.instant(T0, 8));
            }
            l.invited = rng.chance(15);
            if rng.chance(12) {
                l.inactive_reasons = rng.subset(&[InactiveReason::InactiveInCrm, InactiveReason::AccountFailure], 60);
            }
            l.ever_held_core = rng.chance(30);
            l.crm_connected = rng.chance(60);
            l.mailbox_connected = rng.chance(60);
            let held: BTreeSet<Key> = PRODUCTS[..3].iter().filter(|_| rng.chance(45)).map(|p| key(p)).collect();
            licenses.insert(u.id, held);
            for g in &groups[1..3] {
                if rng.chance(30) {
                    memberships.push(seed::membership(g, &u, rng.instant(T0, 8), None));
                }
                if rng.chance(15) {
                    let joined = rng.instant(T0, 8);
                    memberships.push(seed::membership(g, &u, joined, Some(joined + Duration::hours(1))));
                }
            }
            if rng.chance(25) {
                memberships.push(seed::membership(&groups[3], &u, T0, Some(deleted_at)));
            } else if rng.chance(15) {
                memberships.push(seed::membership(&groups[3], &u, T0, Some(deleted_at - Duration::days(1))));
            }
            Self::vary_the_rest(&mut u, rng, i);
            if rng.chance(20) {
                memberships.push(seed::membership(&groups[4], &u, rng.instant(T0, 8), None));
            }
            for k in 0..rng.below(3) {
                let action = if rng.chance(50) {
                    ScheduledAction::Deactivate
                } else {
                    ScheduledAction::RemoveLicense(key(rng.one(&PRODUCTS)))
                };
                let id = uid(n, 1_000 + i * 4 + u64::try_from(k).unwrap_or(0));
                let mut change = seed::scheduled(&u, id, action, rng.instant(T0 + Duration::days(30), 4));
                change.state = match rng.below(4) {
                    0 => ScheduleState::Applied { at: T0 },
                    1 => ScheduleState::Cancelled { at: T0 },
                    _ => ScheduleState::Pending,
                };
                scheduled.push(change);
            }
            users.push(u);
        }
        Self { org, roles, groups, users, licenses, memberships, scheduled }
    }

    /// Settings, numbers and the last change, each with ties and absent values.
    fn vary_the_rest(u: &mut User, rng: &mut Rng, i: u64) {
        let s = &mut u.settings;
        s.mailbox_provider = *rng.pick(&[MailboxProvider::None, MailboxProvider::Google, MailboxProvider::Microsoft]);
        s.email_throttle_max_per_day = *rng.pick(&[1, 300, 300, 1_800]);
        s.flow_enabled = rng.chance(70);
        s.email_sync = rng.chance(40);
        s.calendar_sync = rng.chance(40);
        s.call_recording = *rng.pick(&[CallRecording::Optional, CallRecording::Enforced, CallRecording::Disabled]);
        s.homepage = *rng.pick(&[Homepage::Default, Homepage::Leads]);
        s.round_robin = rng.chance(30);
        s.scoring_enabled = rng.chance(30);
        s.roaming_agent = rng.chance(20);
        if rng.chance(40) {
            s.voip_forward_to = Some(Phone::parse(&format!("+4420{}{i:04}", rng.below(3))).expect("valid"));
        }
        if rng.chance(40) {
            u.agent_ring_number = Some(Phone::parse(&format!("+1212{}{i:04}", rng.below(3))).expect("valid"));
        }
        if rng.chance(40) {
            u.dialer_number = Some(Phone::parse(&format!("+331{}{i:04}", rng.below(3))).expect("valid"));
        }
        u.updated_at = u.created_at + Duration::hours(i64::try_from(rng.below(3)).unwrap_or(0));
    }

    /// What user `u` sorts by beside their own row.
    pub fn facts(&self, u: &User) -> SortFacts {
        SortFacts {
            products: self.licenses[&u.id].clone(),
            roles: u
                .roles
                .iter()
                .filter_map(|g| self.roles.iter().position(|r| *r == g.role_id))
                .map(|k| key(ROLE_KEYS[k]))
                .collect(),
            teams: self
                .memberships
                .iter()
                .filter(|m| m.user_id == u.id && m.left_at.is_none())
                .filter_map(|m| self.groups.iter().find(|g| g.id == m.group_id))
                .map(|g| g.name.key())
                .collect(),
            next_scheduled: self
                .scheduled
                .iter()
                .filter(|c| c.user_id == u.id && c.is_pending())
                .map(|c| c.effective_at)
                .min(),
        }
    }

    /// Writes the world through the port.
    pub async fn write(&self, tx: &mut dyn Tx) {
        seed::insert_org_with_root(tx, &self.org).await;
        tx.save_catalog(self.org.id, &roster_domain::catalog::Catalog::default_catalog())
            .await
            .expect("saves a catalog");
        for p in PRODUCTS {
            tx.insert_seat_pool(&seed::pool(self.org.id, p, 1_000, 0)).await.expect("inserts a pool");
        }
        for (k, r) in self.roles.iter().enumerate() {
            tx.insert_role(&seed::role(self.org.id, r.as_uuid(), ROLE_KEYS[k])).await.expect("inserts a role");
        }
        for g in &self.groups[1..] {
            tx.insert_group(g).await.expect("inserts a group");
        }
        for u in &self.users {
            tx.insert_user(u).await.expect("inserts a user");
        }
        for (u, held) in &self.licenses {
            let user = self.users.iter().find(|x| x.id == *u).expect("a generated user");
            for p in held {
                tx.insert_license(&seed::license(user, p.as_str())).await.expect("inserts a license");
            }
        }
        for m in &self.memberships {
            tx.insert_membership(m).await.expect("inserts a membership");
        }
        for c in &self.scheduled {
            tx.insert_scheduled(c).await.expect("inserts a scheduled change");
        }
    }

    /// The reference answer to `query`.
    pub fn expected(&self, query: &UserQuery) -> UserPage {
        let group = query.group.and_then(|g| self.groups.iter().find(|x| x.id == g && x.org_id == query.org_id));
        let matching = self.users.iter().filter(|u| {
            let held = &self.licenses[&u.id];
            let in_group =
                || group.is_some_and(|g| self.memberships.iter().any(|m| m.user_id == u.id && in_group_filter(g, m)));
            let open_groups = || {
                self.memberships
                    .iter()
                    .filter(|m| m.user_id == u.id && m.left_at.is_none())
                    .map(|m| m.group_id)
                    .collect()
            };
            query.matches(u, |k| held.contains(k), in_group, open_groups)
        });
        query.paginate(matching.cloned().collect(), |u| self.facts(u))
    }

    /// A random query over this world.
    pub fn query(&self, rng: &mut Rng) -> UserQuery {
        let mut q = UserQuery::new(self.org.id);
        if rng.chance(35) {
            q.statuses = rng.subset(&STATUSES, 45);
        }
        q.role = match rng.below(20) {
            0..=13 => None,
            14..=18 => Some(RoleFilter::Id(*rng.pick(&self.roles))),
            _ => Some(RoleFilter::Id(RoleId::from_uuid(rng.uuid()))),
        };
        if rng.chance(30) {
            let unknown = GroupId::from_uuid(rng.uuid());
            let mut choices: Vec<GroupId> = self.groups.iter().map(|g| g.id).collect();
            choices.push(unknown);
            q.group = Some(*rng.pick(&choices));
        }
        if rng.chance(30) {
            q.product = Some((key(rng.one(&PRODUCTS)), rng.chance(50)));
        }
        q.q = match rng.below(20) {
            0..=12 => None,
            13..=17 => Some(rng.one(&QUERIES).to_owned()),
            _ => Some(rng.pick(&self.users).display_name().to_uppercase()),
        };
        let instants: Vec<OffsetDateTime> = (0..8).map(|_| rng.instant(T0, 8)).collect();
        if rng.chance(20) {
            q.created_from = Some(*rng.pick(&instants));
        }
        if rng.chance(20) {
            q.created_to = Some(*rng.pick(&instants));
        }
        if rng.chance(60) {
            let mut fields = sort_fields();
            for _ in 0..=rng.below(3) {
                let field = fields.remove(rng.below(fields.len()));
                q.sort.push(UserSort { field, descending: rng.chance(50) });
            }
        }
        q.paging = match rng.below(20) {
            0..=6 => None,
            7..=13 => {
                let after = if rng.chance(40) {
                    let u = rng.pick(&self.users);
                    Some(UserCursor { values: q.sort_key(u, &self.facts(u)), id: u.id })
                } else {
                    None
                };
                let limit = *rng.pick(&[1, 2, 3, 7, 50, 200]);
                if rng.chance(50) {
                    Some(UserPaging::Cursor { after, limit })
                } else {
                    Some(UserPaging::Before { before: after, limit })
                }
            }
            14..=16 => Some(UserPaging::Offset {
                offset: u64::try_from(if rng.chance(25) { rng.below(90) } else { rng.below(5) }).unwrap_or(0),
                limit: if rng.chance(10) { 0 } else { *rng.pick(&[1, 3, 10, 100]) },
            }),
            _ => Some(UserPaging::Page {
                page: u32::try_from(rng.below(7)).unwrap_or(1),
                per_page: *rng.pick(&[1, 3, 10, 25, 50]),
            }),
        };
        q.in_trial = rng.chance(30);
        if rng.chance(20) {
            // A scoped reader: mostly a subtree or one of its groups; rarely none, or a group of
            // no one.
            let (a, b, c) = (self.groups[1].id, self.groups[2].id, self.groups[4].id);
            let nobodys = GroupId::from_uuid(rng.uuid());
            let scopes = [vec![a, b, c], vec![a, b, c], vec![a, b], vec![b], vec![a], vec![], vec![nobodys]];
            q.within = Some(rng.pick(&scopes).iter().copied().collect());
        }
        q
    }

    fn describe(&self, ids: &[UserId]) -> String {
        let mut out = String::new();
        for id in ids {
            let u = self.users.iter().find(|u| u.id == *id);
            let _ = write!(out, "\n  {id} {}", u.map_or("?".to_owned(), User::label));
        }
        out
    }
}

/// Generated worlds, written to one store: several organizations, so that each query also
/// proves scoping.
pub(crate) async fn worlds(store: &Arc<dyn Store>, seed_base: u64) -> Vec<UserWorld> {
    let mut rng = Rng::new(seed_base);
    let worlds: Vec<UserWorld> = (1..=3).map(|n| UserWorld::generate(n, 80, &mut rng)).collect();
    let mut tx = begin(store).await;
    for w in &worlds {
        w.write(tx.as_mut()).await;
    }
    commit(tx).await;
    worlds
}

#[track_caller]
fn assert_same_page(world: &UserWorld, query: &UserQuery, got: &UserPage, want: &UserPage, what: &str) {
    let ids = |p: &UserPage| p.items.iter().map(|u| u.id).collect::<Vec<_>>();
    if ids(got) != ids(want)
        || got.next_cursor != want.next_cursor
        || got.previous_cursor != want.previous_cursor
        || got.total != want.total
    {
        panic!(
            "{what}: list_users disagrees with the reference for\n{query:#?}\nexpected (total {:?}, next {:?}, previous {:?}):{}\ngot (total {:?}, next {:?}, previous {:?}):{}",
            want.total,
            want.next_cursor,
            want.previous_cursor,
            world.describe(&ids(want)),
            got.total,
            got.next_cursor,
            got.previous_cursor,
            world.describe(&ids(got)),
        );
    }
    assert_eq!(got, want, "{what}: the rows themselves");
}

/// For 450 random queries (filters of every kind, every sort, cursors and page numbers, trial
/// on and off) over three generated organizations, `list_users` answers exactly what the
/// reference semantics give on the rows written; `list_users_with_facts` answers the same page
/// and, in its order, what `page_facts` answers for its users.
pub async fn list_users_equals_the_reference_semantics_on_generated_users(store: Arc<dyn Store>) {
    let worlds = worlds(&store, 0x5EED_0001).await;
    let mut rng = Rng::new(0x5EED_0002);
    let mut tx = begin(&store).await;
    let mut non_empty = 0;
    for w in &worlds {
        for i in 0..150 {
            let query = w.query(&mut rng);
            let want = w.expected(&query);
            let got = tx.list_users(&query).await.expect("lists");
            assert_same_page(w, &query, &got, &want, &format!("query {i} of {}", w.org.slug));
            non_empty += usize::from(!want.items.is_empty());
            let all = w.expected(&UserQuery { paging: None, ..query.clone() }).items.len();
            let counted = tx.count_users(&query).await.expect("counts");
            assert_eq!(counted, u64::try_from(all).unwrap_or(0), "query {i} of {}: the count", w.org.slug);
            // Read with the page's facts, the page is the same and the facts are `page_facts`'s.
            let (with, facts) = tx.list_users_with_facts(&query).await.expect("lists with facts");
            assert_eq!(with, got, "query {i} of {}: the page read with its facts", w.org.slug);
            let ids: Vec<_> = got.items.iter().map(|u| u.id).collect();
            let mut separate = tx.page_facts(w.org.id, &ids).await.expect("reads");
            separate.sort_by_key(|f| ids.iter().position(|id| *id == f.user_id));
            assert_eq!(facts, separate, "query {i} of {}: the facts, in the page's order", w.org.slug);
        }
    }
    assert!(non_empty > 225, "the generator asks mostly queries with answers ({non_empty} of 450)");
}

/// For every sort column in both directions (and the default and multi-column sorts), under a
/// few filters and in and out of the trial, following `next_cursor` from the first page visits
/// every matching user exactly once, in the query's order, each page as the reference cuts it;
/// page numbers cut the same order.
pub async fn a_cursor_walk_visits_every_matching_user_once_in_order_for_every_sort(store: Arc<dyn Store>) {
    let worlds = worlds(&store, 0x5EED_0003).await;
    let w = &worlds[0];
    let mut sorts: Vec<Vec<UserSort>> = vec![vec![]];
    for field in sort_fields() {
        for descending in [false, true] {
            sorts.push(vec![UserSort { field: field.clone(), descending }]);
        }
    }
    let s = |field: UserSortField, descending| UserSort { field, descending };
    sorts.push(vec![
        s(UserSortField::Status, true),
        s(UserSortField::Products, false),
        s(UserSortField::LastName, false),
    ]);
    sorts.push(vec![s(UserSortField::Teams, false), s(UserSortField::Roles, true), s(UserSortField::Scheduled, false)]);
    sorts.push(vec![
        s(UserSortField::Product(key("core")), true),
        s(UserSortField::FlowEnabled, false),
        s(UserSortField::EmailThrottleMaxPerDay, true),
        s(UserSortField::Phone, false),
    ]);
    sorts.push(vec![s(UserSortField::MailboxProvider, false), s(UserSortField::Status, false)]);
    sorts.push(vec![
        UserSort { field: UserSortField::AgentId, descending: true },
        UserSort { field: UserSortField::FirstName, descending: false },
        UserSort { field: UserSortField::CreatedAt, descending: true },
    ]);
    sorts.push(vec![
        UserSort { field: UserSortField::CrmId, descending: false },
        UserSort { field: UserSortField::LastName, descending: true },
    ]);
    let mut tx = begin(&store).await;
    for (k, sort) in sorts.into_iter().enumerate() {
        let mut query = UserQuery::new(w.org.id);
        query.sort = sort;
        match k % 4 {
            1 => query.statuses = [StatusKind::Pending, StatusKind::Inactive, StatusKind::Revoked].into(),
            2 => query.q = Some("a".to_owned()),
            _ => {}
        }
        query.in_trial = k % 5 == 3;
        let everyone = tx.list_users(&query).await.expect("lists").items;
        assert_eq!(everyone, w.expected(&query).items, "sort {k}: the unpaged list");
        for (page, per_page) in [(1, 10), (3, 10), (2, 25)] {
            query.paging = Some(UserPaging::Page { page, per_page });
            let got = tx.list_users(&query).await.expect("lists");
            assert_same_page(w, &query, &got, &w.expected(&query), &format!("sort {k}, page {page} of {per_page}"));
        }
        for limit in [3, 7] {
            let mut walked: Vec<User> = Vec::new();
            let mut after = None;
            for step in 0.. {
                assert!(step <= everyone.len(), "sort {k}: the walk ends");
                query.paging = Some(UserPaging::Cursor { after: after.clone(), limit });
                let page = tx.list_users(&query).await.expect("lists");
                assert_same_page(
                    w,
                    &query,
                    &page,
                    &w.expected(&query),
                    &format!("sort {k}, limit {limit}, page {step}"),
                );
                walked.extend(page.items);
                match page.next_cursor {
                    Some(c) => after = Some(c),
                    None => break,
                }
            }
            assert_eq!(walked, everyone, "sort {k}, limit {limit}: the walk visits every row once, in order");
            // Walking back from the end with `previous_cursor` visits the same rows.
            let mut back: Vec<User> = Vec::new();
            let mut before = None;
            for step in 0.. {
                assert!(step <= everyone.len(), "sort {k}: the walk back ends");
                query.paging = Some(UserPaging::Before { before: before.clone(), limit });
                let page = tx.list_users(&query).await.expect("lists");
                assert_same_page(
                    w,
                    &query,
                    &page,
                    &w.expected(&query),
                    &format!("sort {k}, limit {limit}, page {step} from the end"),
                );
                back.splice(0..0, page.items);
                match page.previous_cursor {
                    Some(c) => before = Some(c),
                    None => break,
                }
            }
            assert_eq!(back, everyone, "sort {k}, limit {limit}: the walk back visits every row once");
            let key = |u: &User| query.sort_key(u, &w.facts(u));
            assert!(
                walked.windows(2).all(|p| query.compare_keys(&key(&p[0]), p[0].id, &key(&p[1]), p[1].id).is_lt()),
                "strictly increasing"
            );
        }
    }
}

/// A cursor is opaque but not signed: a client may send back any values. For every sort column
/// in both directions, a cursor holding a value of each kind — absent, empty and other text,
/// a time, yes and no, numbers, lists with and without the characters a list's text reserves —
/// pages exactly as the reference semantics order those values against the rows.
pub async fn a_cursor_that_is_no_rows_pages_as_the_reference_for_every_sort(store: Arc<dyn Store>) {
    let worlds = worlds(&store, 0x5EED_0005).await;
    let w = &worlds[2];
    let text = |s: &str| SortValue::Text(s.to_owned());
    let list = |items: &[&str]| SortValue::List(items.iter().map(|i| (*i).to_owned()).collect());
    let values = [
        SortValue::Null,
        text(""),
        text("m"),
        text("+1415555"),
        text("none"),
        SortValue::Time(T0 + Duration::hours(14)),
        SortValue::Bool(false),
        SortValue::Bool(true),
        SortValue::Int(-1),
        SortValue::Int(4),
        SortValue::Int(300),
        list(&[]),
        list(&[""]),
        list(&["core"]),
        list(&["core", "dialer"]),
        list(&["core\u{0}x", "z"]),
        list(&["admin\u{1}"]),
        list(&["team a", "team b"]),
        list(&["\u{2}"]),
    ];
    let ids = [UserId::from_uuid(uuid::Uuid::nil()), w.users[7].id, UserId::from_uuid(uuid::Uuid::max())];
    let mut tx = begin(&store).await;
    for field in sort_fields() {
        for descending in [false, true] {
            for (k, value) in values.iter().enumerate() {
                let mut query = UserQuery::new(w.org.id);
                query.sort = vec![UserSort { field: field.clone(), descending }];
                query.in_trial = k % 3 == 0;
                let cursor = UserCursor { values: vec![value.clone()], id: ids[k % ids.len()] };
                query.paging = Some(UserPaging::Cursor { after: Some(cursor.clone()), limit: 5 });
                let got = tx.list_users(&query).await.expect("lists");
                assert_same_page(w, &query, &got, &w.expected(&query), &format!("{field} after {value:?}"));
                query.paging = Some(UserPaging::Before { before: Some(cursor), limit: 5 });
                let got = tx.list_users(&query).await.expect("lists");
                assert_same_page(w, &query, &got, &w.expected(&query), &format!("{field} before {value:?}"));
            }
        }
    }
}

/// Page-number paging gives rows `(page - 1) * per_page ..` of the sorted result and the total
/// on every page, also past the last one; the pages together are the whole result.
pub async fn page_numbers_slice_the_sorted_rows_and_count_them_all(store: Arc<dyn Store>) {
    let worlds = worlds(&store, 0x5EED_0004).await;
    let w = &worlds[1];
    let mut tx = begin(&store).await;
    let mut query = UserQuery::new(w.org.id);
    query.sort = vec![UserSort { field: UserSortField::LastName, descending: true }];
    let everyone = tx.list_users(&query).await.expect("lists").items;
    let total = u64::try_from(everyone.len()).unwrap_or(0);
    assert!(total > 30, "enough live users to page through");
    for per_page in [10, 25, 50] {
        let mut joined = Vec::new();
        let pages = everyone.len().div_ceil(usize::try_from(per_page).unwrap_or(1));
        for page in 1..=u32::try_from(pages + 1).unwrap_or(1) {
            query.paging = Some(UserPaging::Page { page, per_page });
            let got = tx.list_users(&query).await.expect("lists");
            assert_eq!(got.total, Some(total), "per_page {per_page}, page {page}: the total");
            assert_eq!(got.next_cursor, None);
            assert_same_page(w, &query, &got, &w.expected(&query), &format!("per_page {per_page}, page {page}"));
            joined.extend(got.items);
        }
        assert_eq!(joined, everyone, "per_page {per_page}: the pages cover the result once");
    }
}

/// The group filter keeps a live group's current members (not its former ones), and for a
/// deleted group the members whose membership ended when it was deleted — not those who left
/// earlier, nor a membership left open.
pub async fn the_group_filter_keeps_current_members_and_a_deleted_groups_last_members(store: Arc<dyn Store>) {
    let org = seed::org(1, "groups");
    let o = org.id;
    let mut tx = begin(&store).await;
    let root = seed::insert_org_with_root(tx.as_mut(), &org).await;
    let live = seed::group(o, uid(1, 20), Some(&root), "Live");
    let mut gone = seed::group(o, uid(1, 21), Some(&root), "Gone");
    let deleted_at = T0 + Duration::days(2);
    let people: Vec<User> = (0..5).map(|k| seed::user(o, uid(1, 100 + k), &format!("p{k}@example.com"))).collect();
    tx.insert_group(&live).await.expect("inserts");
    tx.insert_group(&gone).await.expect("inserts");
    for p in &people {
        tx.insert_user(p).await.expect("inserts");
    }
    let rows = [
        seed::membership(&live, &people[0], T0, None),
        seed::membership(&live, &people[1], T0, Some(T0 + Duration::days(1))),
        seed::membership(&gone, &people[2], T0, Some(deleted_at)),
        seed::membership(&gone, &people[3], T0, Some(T0 + Duration::days(1))),
        seed::membership(&gone, &people[4], T0, None),
    ];
    for m in &rows {
        tx.insert_membership(m).await.expect("inserts");
    }
    gone.deleted_at = Some(deleted_at);
    gone.version += 1;
    tx.update_group(&gone).await.expect("deletes the group");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let mut q = UserQuery::new(o);
    let ids = |p: UserPage| p.items.into_iter().map(|u| u.id).collect::<Vec<_>>();
    q.group = Some(live.id);
    assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [people[0].id], "current members only");
    q.group = Some(gone.id);
    assert_eq!(ids(tx.list_users(&q).await.expect("lists")), [people[2].id], "the members it had when deleted");
    q.group = Some(root.id);
    assert!(ids(tx.list_users(&q).await.expect("lists")).is_empty(), "the root has no members");
}

/// A scoped reader's list (`UserQuery::within`) holds exactly the users the scope covers: at
/// least one open membership and every open one inside the scope. Ungrouped users (never
/// grouped, or whose memberships all ended) are organization-level and covered by no scope; a
/// user with one group outside is not covered. Cursor pages and page totals count the same
/// rows, and `None` is every user.
pub async fn a_scoped_readers_list_holds_only_the_users_the_scope_covers(store: Arc<dyn Store>) {
    let org = seed::org(1, "scoped");
    let o = org.id;
    let mut tx = begin(&store).await;
    let root = seed::insert_org_with_root(tx.as_mut(), &org).await;
    let sales = seed::group(o, uid(1, 20), Some(&root), "Sales");
    let east = seed::group(o, uid(1, 21), Some(&sales), "East");
    let support = seed::group(o, uid(1, 22), Some(&root), "Support");
    for g in [&sales, &east, &support] {
        tx.insert_group(g).await.expect("inserts");
    }
    let people: Vec<User> = (0..7).map(|k| seed::user(o, uid(1, 100 + k), &format!("p{k}@example.com"))).collect();
    for p in &people {
        tx.insert_user(p).await.expect("inserts");
    }
    let left = Some(T0 + Duration::days(1));
    let rows = [
        // people[0]: ungrouped.
        seed::membership(&sales, &people[1], T0, None),
        seed::membership(&sales, &people[2], T0, None),
        seed::membership(&east, &people[2], T0, None),
        seed::membership(&east, &people[3], T0, None),
        seed::membership(&east, &people[4], T0, None),
        seed::membership(&support, &people[4], T0, None),
        seed::membership(&sales, &people[5], T0, left),
        seed::membership(&support, &people[6], T0, None),
        seed::membership(&east, &people[6], T0, left),
    ];
    for m in &rows {
        tx.insert_membership(m).await.expect("inserts");
    }
    commit(tx).await;

    let mut tx = begin(&store).await;
    let ids = |p: UserPage| p.items.into_iter().map(|u| u.id).collect::<BTreeSet<_>>();
    let set = |k: &[usize]| k.iter().map(|k| people[*k].id).collect::<BTreeSet<_>>();
    let mut q = UserQuery::new(o);
    assert_eq!(ids(tx.list_users(&q).await.expect("lists")), set(&[0, 1, 2, 3, 4, 5, 6]), "no scope: everyone");
    q.within = Some([sales.id, east.id].into());
    assert_eq!(ids(tx.list_users(&q).await.expect("lists")), set(&[1, 2, 3]), "the Sales subtree");
    q.within = Some([east.id].into());
    assert_eq!(ids(tx.list_users(&q).await.expect("lists")), set(&[3]), "East alone");
    q.within = Some([support.id].into());
    assert_eq!(ids(tx.list_users(&q).await.expect("lists")), set(&[6]), "Support: an ended membership is gone");
    q.within = Some(BTreeSet::new());
    assert!(ids(tx.list_users(&q).await.expect("lists")).is_empty(), "an empty scope covers no one");

    q.within = Some([sales.id, east.id].into());
    q.paging = Some(UserPaging::Page { page: 1, per_page: 2 });
    let page = tx.list_users(&q).await.expect("lists");
    assert_eq!((page.items.len(), page.total), (2, Some(3)), "the total counts the covered users only");
    q.paging = Some(UserPaging::Cursor { after: None, limit: 2 });
    let first = tx.list_users(&q).await.expect("lists");
    q.paging = Some(UserPaging::Cursor { after: first.next_cursor.clone(), limit: 2 });
    let second = tx.list_users(&q).await.expect("lists");
    assert_eq!(second.next_cursor, None);
    let mut walked = ids(first);
    walked.extend(ids(second));
    assert_eq!(walked, set(&[1, 2, 3]), "a cursor walk visits the covered users");
}
