//! `ConnectionRepository`: connections and the visibility query (§7.2 in the database), the
//! restamping rules, flows and API keys.
//!
//! `list_connections` is the query SQL adapters translate by hand (stamps × viewer groups ×
//! inviter × cc, newest first, keyset), so it is checked as a property: on generated stamps, cc
//! lists, viewers, group filters and cursors, the answer must equal filtering every row written
//! with `ConnectionQuery::matches`, sorting by `(created_at, id)` descending and keeping `limit`.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::sync::Arc;

use time::Duration;

use roster_domain::connections::{ApiKey, Connection};
use roster_domain::groups::Group;
use roster_domain::ids::{ConnectionId, FlowId, GroupId, UserId};
use roster_domain::org::Organization;
use roster_domain::ports::{Store, Tx};
use roster_domain::roles::Permission;
use roster_domain::user::User;
use roster_domain::visibility::{ConnectionCursor, ConnectionQuery, ConnectionScope};

use super::seed::{self, T0, seed, uid};
use super::{assert_missing, begin, commit};
use crate::generator::Rng;

/// One generated organization of connections.
#[derive(Debug, Clone)]
pub struct ConnectionWorld {
    pub org: Organization,
    /// Below the root; some deleted (stamps keep deleted groups).
    pub groups: Vec<Group>,
    pub users: Vec<User>,
    pub flow: FlowId,
    pub api_key: ApiKey,
    pub connections: Vec<Connection>,
}

impl ConnectionWorld {
    pub fn generate(n: u64, count: usize, rng: &mut Rng) -> Self {
        let org = seed::org(n, &format!("connections-{n}"));
        let o = org.id;
        let root = seed::group(o, org.root_group_id.as_uuid(), None, "Root");
        let groups: Vec<Group> = (0..6_u64)
            .map(|k| {
                let mut g = seed::group(o, rng.uuid(), Some(&root), &format!("Group {k}"));
                if k == 5 {
                    g.deleted_at = Some(T0);
                }
                g
            })
            .collect();
        let users: Vec<User> =
            (0..8).map(|k| seed::user(o, rng.uuid(), &format!("member{k}-{n}@example.com"))).collect();
        let flow = FlowId::from_uuid(uid(n, 50));
        let api_key = seed::api_key(o, uid(n, 60), users[0].id, &format!("conn-key-{n}"));
        let group_ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
        let user_ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        let connections = (0..count)
            .map(|_| {
                let mut c = seed::connection(
                    o,
                    rng.uuid(),
                    *rng.pick(&user_ids),
                    rng.instant(T0, 10),
                    &rng.subset(&group_ids, 20).into_iter().collect::<Vec<_>>(),
                );
                c.cc = rng.subset(&user_ids, 10);
                c.flow_id = rng.chance(20).then_some(flow);
                c.via_api_key = rng.chance(15).then_some(api_key.id);
                c
            })
            .collect();
        Self { org, groups, users, flow, api_key, connections }
    }

    pub async fn write(&self, tx: &mut dyn Tx) {
        seed::insert_org_with_root(tx, &self.org).await;
        for g in &self.groups {
            tx.insert_group(g).await.expect("inserts a group");
        }
        for u in &self.users {
            tx.insert_user(u).await.expect("inserts a user");
        }
        tx.insert_flow(&seed::flow(self.org.id, self.flow.as_uuid(), "Flow")).await.expect("inserts a flow");
        tx.insert_api_key(&self.api_key).await.expect("inserts an api key");
        for c in &self.connections {
            tx.insert_connection(c).await.expect("inserts a connection");
        }
    }

    /// A random query over this world, viewers and groups of other worlds (or none) included.
    pub fn query(&self, rng: &mut Rng) -> ConnectionQuery {
        let mut viewers: Vec<UserId> = self.users.iter().map(|u| u.id).collect();
        viewers.push(UserId::from_uuid(rng.uuid()));
        let mut groups: Vec<GroupId> = self.groups.iter().map(|g| g.id).collect();
        groups.push(GroupId::from_uuid(rng.uuid()));
        let scope = match rng.below(20) {
            0..=7 => ConnectionScope::All,
            8..=14 => ConnectionScope::Groups { viewer: *rng.pick(&viewers), groups: rng.subset(&groups, 30) },
            _ => ConnectionScope::Own { viewer: *rng.pick(&viewers) },
        };
        let group = rng.chance(50).then(|| *rng.pick(&groups));
        let after = match rng.below(20) {
            0..=9 => None,
            10..=16 => {
                let c = rng.pick(&self.connections);
                Some(ConnectionCursor { created_at: c.created_at, id: c.id })
            }
            _ => Some(ConnectionCursor { created_at: rng.instant(T0, 10), id: ConnectionId::from_uuid(rng.uuid()) }),
        };
        ConnectionQuery { org_id: self.org.id, scope, group, after, limit: *rng.pick(&[1, 2, 5, 17, 200]) }
    }
}

/// The reference answer: every row matching, newest first, `id` breaking ties, at most `limit`.
pub fn expected<'a>(all: impl Iterator<Item = &'a Connection>, query: &ConnectionQuery) -> Vec<Connection> {
    let mut rows: Vec<&Connection> = all.filter(|c| query.matches(c)).collect();
    rows.sort_by_key(|c| Reverse((c.created_at, c.id)));
    rows.into_iter().take(usize::try_from(query.limit).unwrap_or(usize::MAX)).cloned().collect()
}

async fn worlds(store: &Arc<dyn Store>, seed_base: u64) -> Vec<ConnectionWorld> {
    let mut rng = Rng::new(seed_base);
    let worlds: Vec<ConnectionWorld> = (1..=3).map(|n| ConnectionWorld::generate(n, 80, &mut rng)).collect();
    let mut tx = begin(store).await;
    for w in &worlds {
        w.write(tx.as_mut()).await;
    }
    commit(tx).await;
    worlds
}

fn ids(rows: &[Connection]) -> Vec<ConnectionId> {
    rows.iter().map(|c| c.id).collect()
}

/// For 600 random queries (every scope, viewers with and without groups, unknown viewers and
/// groups, an empty group set, group filters incl. deleted groups, cursors on and between rows,
/// limits 1 to 200) over three generated organizations, `list_connections` answers exactly the
/// reference: every row written that `ConnectionQuery::matches`, newest first, limited.
pub async fn list_connections_equals_filtering_every_row_newest_first_on_generated_data(store: Arc<dyn Store>) {
    let worlds = worlds(&store, 0xC0_0001).await;
    let all: Vec<&Connection> = worlds.iter().flat_map(|w| &w.connections).collect();
    let mut rng = Rng::new(0xC0_0002);
    let mut tx = begin(&store).await;
    let mut non_empty = 0;
    for w in &worlds {
        for i in 0..200 {
            let query = w.query(&mut rng);
            let want = expected(all.iter().copied(), &query);
            let got = tx.list_connections(&query).await.expect("lists");
            assert_eq!(ids(&got), ids(&want), "query {i} of {}:\n{query:#?}", w.org.slug);
            assert_eq!(got, want, "query {i} of {}: the rows themselves", w.org.slug);
            non_empty += usize::from(!want.is_empty());
        }
    }
    assert!(non_empty > 300, "the generator asks mostly queries with answers ({non_empty} of 600)");
}

/// Following pages with the last row's `(created_at, id)` as the next cursor gives every
/// matching connection once, in order, for every kind of scope and page size.
pub async fn connection_pages_chained_by_cursor_give_the_whole_list_once(store: Arc<dyn Store>) {
    let worlds = worlds(&store, 0xC0_0003).await;
    let mut rng = Rng::new(0xC0_0004);
    let mut tx = begin(&store).await;
    for w in &worlds {
        for i in 0..12 {
            let mut query = w.query(&mut rng);
            query.after = None;
            query.limit = 200;
            let everything = tx.list_connections(&query).await.expect("lists");
            assert_eq!(everything, expected(w.connections.iter(), &query), "walk {i}: the whole list");
            query.limit = *rng.pick(&[1, 3, 8]);
            let mut walked: Vec<Connection> = Vec::new();
            loop {
                let page = tx.list_connections(&query).await.expect("lists");
                assert!(page.len() <= usize::try_from(query.limit).unwrap_or(0), "walk {i}: within the limit");
                let Some(last) = page.last() else { break };
                query.after = Some(ConnectionCursor { created_at: last.created_at, id: last.id });
                walked.extend(page);
                assert!(walked.len() <= everything.len(), "walk {i}: no row twice");
            }
            assert_eq!(walked, everything, "walk {i}: every row once, in order");
        }
    }
}

/// A connection reads back with every field (stamp, cc, flow, key, token); it needs its inviter
/// among the organization's users (`Missing { kind: "user" }`).
pub async fn a_connection_reads_back_and_needs_its_inviter_in_the_organization(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let mut c = seed::connection(o, uid(1, 300), s.bob.id, T0 + Duration::microseconds(7), &[s.east.id, s.old.id]);
    c.cc = BTreeSet::from([s.ada.id, s.admin.id]);
    c.flow_id = Some(s.flow.id);
    c.via_api_key = Some(s.api_key.id);
    tx.insert_connection(&c).await.expect("inserts");
    let ghost = UserId::from_uuid(uid(1, 999));
    let orphan = seed::connection(o, uid(1, 301), ghost, T0, &[]);
    assert_missing(tx.insert_connection(&orphan).await, "user", "an unknown inviter");
    commit(tx).await;
    let mut tx = begin(&store).await;
    assert_eq!(tx.connection(o, c.id).await.expect("reads"), Some(c));
    assert_eq!(tx.connection(o, orphan.id).await.expect("reads"), None);
}

/// `restamp_unstamped` stamps `{group}` on the inviter's "Organization"-stamped connections only
/// (timing rule 1 of §7.2) and answers how many changed.
pub async fn restamping_gives_the_group_to_that_inviters_organization_stamped_connections_only(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let second = seed::connection(o, uid(1, 300), s.ada.id, T0, &[]);
    let bobs = seed::connection(o, uid(1, 301), s.bob.id, T0, &[]);
    tx.insert_connection(&second).await.expect("inserts");
    tx.insert_connection(&bobs).await.expect("inserts");
    assert_eq!(tx.restamp_unstamped(o, s.ada.id, s.support.id).await.expect("restamps"), 2);
    assert_eq!(tx.restamp_unstamped(o, s.ada.id, s.east.id).await.expect("restamps"), 0, "nothing unstamped left");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let stamp = |c: Option<Connection>| c.expect("exists").groups;
    let support = BTreeSet::from([s.support.id]);
    assert_eq!(stamp(tx.connection(o, s.connections[1].id).await.expect("reads")), support);
    assert_eq!(stamp(tx.connection(o, second.id).await.expect("reads")), support);
    assert_eq!(stamp(tx.connection(o, s.connections[0].id).await.expect("reads")), BTreeSet::from([s.sales.id]));
    assert_eq!(stamp(tx.connection(o, bobs.id).await.expect("reads")), BTreeSet::new(), "another inviter's");
}

/// `transfer_stamp` replaces `from` with `to` in the inviter's connections stamped with `from`,
/// once per connection (one already stamped with both keeps `to` once), and answers how many
/// changed; other inviters' connections keep their stamp.
pub async fn transferring_a_stamp_replaces_the_group_once_even_where_both_are_stamped(store: Arc<dyn Store>) {
    let s = seed(&store, 1).await;
    let o = s.org.id;
    let mut tx = begin(&store).await;
    let rows = [
        seed::connection(o, uid(1, 300), s.ada.id, T0, &[s.sales.id, s.east.id]),
        seed::connection(o, uid(1, 301), s.ada.id, T0, &[s.east.id]),
        seed::connection(o, uid(1, 302), s.ada.id, T0, &[s.sales.id, s.support.id]),
        seed::connection(o, uid(1, 303), s.bob.id, T0, &[s.sales.id]),
    ];
    for c in &rows {
        tx.insert_connection(c).await.expect("inserts");
    }
    // ada's: the seeded one stamped {sales}, and 300 and 302.
    assert_eq!(tx.transfer_stamp(o, s.ada.id, s.sales.id, s.east.id).await.expect("transfers"), 3);
    assert_eq!(tx.transfer_stamp(o, s.ada.id, s.sales.id, s.east.id).await.expect("transfers"), 0, "none left");
    commit(tx).await;
    let mut tx = begin(&store).await;
    let mut stamps = Vec::new();
    for id in [s.connections[0].id, rows[0].id, rows[1].id, rows[2].id, rows[3].id] {
        stamps.push(tx.connection(o, id).await.expect("reads").expect("exists").groups);
    }
    let east = BTreeSet::from([s.east.id]);
    assert_eq!(
        stamps,
        [east.clone(), east.clone(), east, BTreeSet::from([s.east.id, s.support.id]), BTreeSet::from([s.sales.id])]
    );
    let in_east =
        ConnectionQuery { org_id: o, scope: ConnectionScope::All, group: Some(s.east.id), after: None, limit: 200 };
    assert_eq!(tx.list_connections(&in_east).await.expect("lists").len(), 5, "the group filter sees the new stamps");
}

/// Flows and API keys list in id order; `api_key_by_secret_hash` finds a key of any
/// organization, revoked ones too; `update_api_key` replaces a key; a key needs its creator in
/// the organization (`Missing { kind: "user" }`), and an update a key of the organization
/// (`Missing { kind: "api key" }`).
pub async fn flows_and_api_keys_are_kept_per_organization(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let o = a.org.id;
    let mut tx = begin(&store).await;
    let early_flow = seed::flow(o, uid(1, 3), "Early");
    tx.insert_flow(&early_flow).await.expect("inserts");
    let mut early_key = seed::api_key(o, uid(1, 4), a.ada.id, "early-hash");
    early_key.permissions = BTreeSet::new();
    tx.insert_api_key(&early_key).await.expect("inserts");
    let ghost = seed::api_key(o, uid(1, 5), UserId::from_uuid(uid(1, 999)), "ghost-hash");
    assert_missing(tx.insert_api_key(&ghost).await, "user", "an unknown creator");
    let mut revoked = a.api_key.clone();
    revoked.revoked_at = Some(T0 + Duration::days(1));
    revoked.last_used_at = Some(T0 + Duration::hours(20));
    revoked.permissions.insert(Permission::ExportData);
    tx.update_api_key(&revoked).await.expect("updates");
    let unknown = seed::api_key(o, uid(1, 6), a.ada.id, "unknown-hash");
    assert_missing(tx.update_api_key(&unknown).await, "api key", "an unknown key");
    commit(tx).await;

    let mut tx = begin(&store).await;
    assert_eq!(tx.flows(o).await.expect("reads"), vec![early_flow, a.flow.clone()]);
    assert_eq!(tx.api_keys(o).await.expect("reads"), vec![early_key, revoked.clone()]);
    assert_eq!(tx.api_key_by_secret_hash(&a.api_key.secret_hash).await.expect("reads"), Some(revoked));
    assert_eq!(tx.api_key_by_secret_hash(&b.api_key.secret_hash).await.expect("reads"), Some(b.api_key.clone()));
    assert_eq!(tx.api_key_by_secret_hash("no-such-hash").await.expect("reads"), None);
    assert_eq!(tx.api_key(o, ghost.id).await.expect("reads"), None);
}

/// `touch_api_key` records a use and changes nothing else: a revocation committed in between
/// stays, a key of another organization is not touched, and an unknown key is no error.
pub async fn touching_an_api_key_records_its_use_and_keeps_a_revocation(store: Arc<dyn Store>) {
    let a = seed(&store, 1).await;
    let b = seed(&store, 2).await;
    let o = a.org.id;
    let mut tx = begin(&store).await;
    let mut revoked = a.api_key.clone();
    revoked.revoked_at = Some(T0 + Duration::days(1));
    tx.update_api_key(&revoked).await.expect("revokes");
    commit(tx).await;

    let used = T0 + Duration::days(2);
    let mut tx = begin(&store).await;
    tx.touch_api_key(o, a.api_key.id, used).await.expect("touches");
    tx.touch_api_key(o, b.api_key.id, used).await.expect("another organization's key: nothing to do");
    tx.touch_api_key(o, roster_domain::ids::ApiKeyId::from_uuid(uid(1, 998)), used).await.expect("unknown: no error");
    commit(tx).await;

    let mut tx = begin(&store).await;
    let read = tx.api_key(o, a.api_key.id).await.expect("reads").expect("the key");
    assert_eq!(read, ApiKey { last_used_at: Some(used), ..revoked }, "only the last use changed");
    let other = tx.api_key(b.org.id, b.api_key.id).await.expect("reads").expect("the key");
    assert_eq!(other, b.api_key, "another organization's key is untouched");
}
