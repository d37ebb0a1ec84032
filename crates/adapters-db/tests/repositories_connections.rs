//! `ConnectionRepository` on a fresh SQLite file and — when `ROSTER_TEST_DATABASE_URL` is set — a
//! fresh PostgreSQL schema: connections with their stamp and cc, the visible-connections query
//! checked against `ConnectionQuery::matches` on generated data, restamping and stamp transfer,
//! flows and API keys, all scoped to the organization.

#[allow(dead_code, reason = "shared with tests/schema.rs, which uses the rest of it")]
mod support;

use std::cmp::Reverse;
use std::collections::BTreeSet;

use roster_domain::connections::{ApiKey, Connection, Flow};
use roster_domain::ids::{ApiKeyId, ConnectionId, FlowId, GroupId, OrgId, UserId};
use roster_domain::ports::{ConnectionRepository, StoreError};
use roster_domain::roles::Permission;
use roster_domain::values::{Email, Label, PersonName};
use roster_domain::visibility::{ConnectionCursor, ConnectionQuery, ConnectionScope};
use roster_testkit::generator::Rng;
use support::{TestDb, begin, stores};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn uid(n: u64, sub: u64) -> Uuid {
    Uuid::from_u64_pair(n, sub)
}

fn org_id(n: u64) -> OrgId {
    OrgId::from_uuid(uid(n, 0))
}

fn user_id(org: u64, n: u64) -> UserId {
    UserId::from_uuid(uid(org, 100 + n))
}

fn group_id(n: u64) -> GroupId {
    GroupId::from_uuid(uid(900, n))
}

/// A user row written directly (the user repository is not used here), committed.
async fn insert_user(t: &TestDb, org: OrgId, user: UserId) {
    let sql = "INSERT INTO users (org_id, id, email, first_name, last_name, first_name_sort, last_name_sort, \
               search_text, created_at, updated_at) \
               VALUES (?, ?, ?, 'Ada', 'Lovelace', 'ada', 'lovelace', '', {t}, {t})";
    let email = format!("u-{}@example.com", user.as_uuid().simple());
    t.exec(sql, vec![org.as_uuid().into(), user.as_uuid().into(), email.into()]).await.expect("inserts a user");
}

fn connection(org: OrgId, id: Uuid, inviter: UserId, at: OffsetDateTime, groups: &[GroupId]) -> Connection {
    Connection {
        id: ConnectionId::from_uuid(id),
        org_id: org,
        email: Email::parse(&format!("c-{}@example.org", id.simple())).expect("a valid email"),
        name: PersonName::parse("Carl Client").expect("a valid name"),
        flow_id: None,
        inviter_id: inviter,
        groups: groups.iter().copied().collect(),
        cc: BTreeSet::new(),
        via_api_key: None,
        user_token_hash: format!("tok-{}", id.simple()),
        created_at: at,
    }
}

fn api_key(org: OrgId, id: Uuid, created_by: UserId, secret_hash: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(id),
        org_id: org,
        name: Label::parse("Integration").expect("a valid label"),
        group_id: None,
        permissions: BTreeSet::from([Permission::InviteConnections]),
        created_by,
        secret_hash: secret_hash.to_owned(),
        created_at: T0,
        last_used_at: None,
        revoked_at: None,
    }
}

fn assert_missing<T: std::fmt::Debug>(result: Result<T, StoreError>, kind: &str, what: &str) {
    assert!(matches!(result, Err(StoreError::Missing { kind: k }) if k == kind), "{what}: got {result:?}");
}

fn ids(rows: &[Connection]) -> Vec<ConnectionId> {
    rows.iter().map(|c| c.id).collect()
}

/// The reference answer: every row matching, newest first, `id` breaking ties, at most `limit`.
fn expected(all: &[Connection], query: &ConnectionQuery) -> Vec<Connection> {
    let mut rows: Vec<&Connection> = all.iter().filter(|c| query.matches(c)).collect();
    rows.sort_by_key(|c| Reverse((c.created_at, c.id)));
    rows.into_iter().take(usize::try_from(query.limit).expect("fits")).cloned().collect()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_connection_reads_back_with_its_stamp_and_cc_and_needs_its_inviter() {
    for (t, store) in stores("connection_round_trip").await {
        let (alpha, beta) = (org_id(1), org_id(2));
        let (ada, bob, cy) = (user_id(1, 1), user_id(1, 2), user_id(1, 3));
        for u in [ada, bob, cy] {
            insert_user(&t, alpha, u).await;
        }
        let beta_user = user_id(2, 1);
        insert_user(&t, beta, beta_user).await;
        let mut tx = begin(&store).await;
        let flow = Flow {
            id: FlowId::from_uuid(uid(1, 50)),
            org_id: alpha,
            name: Label::parse("Flow").unwrap(),
            created_at: T0,
        };
        tx.insert_flow(&flow).await.expect("inserts a flow");
        let key = api_key(alpha, uid(1, 60), ada, "hash-1");
        tx.insert_api_key(&key).await.expect("inserts a key");
        let at = T0 + Duration::microseconds(7);
        let mut full = connection(alpha, uid(1, 300), bob, at, &[group_id(1), group_id(2)]);
        full.cc = BTreeSet::from([ada, cy]);
        full.flow_id = Some(flow.id);
        full.via_api_key = Some(key.id);
        tx.insert_connection(&full).await.expect("inserts");
        let bare = connection(alpha, uid(1, 301), ada, T0, &[]);
        tx.insert_connection(&bare).await.expect("inserts one without stamp or cc");
        let orphan = connection(alpha, uid(1, 302), user_id(1, 99), T0, &[group_id(1)]);
        assert_missing(tx.insert_connection(&orphan).await, "user", "an unknown inviter");
        let foreign = connection(alpha, uid(1, 303), beta_user, T0, &[group_id(1)]);
        assert_missing(tx.insert_connection(&foreign).await, "user", "an inviter of another organization");
        // The transaction goes on after a refused write.
        let after = connection(alpha, uid(1, 304), cy, T0, &[group_id(3)]);
        tx.insert_connection(&after).await.expect("inserts after a refusal");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        assert_eq!(tx.connection(alpha, full.id).await.expect("reads"), Some(full.clone()));
        assert_eq!(tx.connection(alpha, bare.id).await.expect("reads"), Some(bare.clone()));
        assert_eq!(tx.connection(alpha, after.id).await.expect("reads"), Some(after.clone()));
        assert_eq!(tx.connection(alpha, orphan.id).await.expect("reads"), None, "nothing of a refused insert");
        assert_eq!(tx.connection(beta, full.id).await.expect("reads"), None, "another organization's id");
        drop(tx);
        // Stamp and cc rows carry the connection's `created_at`, and a refused insert left none.
        let stamped = t
            .count(
                "SELECT COUNT(*) AS n FROM connection_groups g JOIN connections c \
                 ON c.org_id = g.org_id AND c.id = g.connection_id WHERE g.created_at = c.created_at",
                vec![],
            )
            .await;
        assert_eq!(stamped, 3);
        assert_eq!(t.count("SELECT COUNT(*) AS n FROM connection_groups", vec![]).await, 3);
        let cc = t
            .count(
                "SELECT COUNT(*) AS n FROM connection_cc x JOIN connections c \
                 ON c.org_id = x.org_id AND c.id = x.connection_id WHERE x.created_at = c.created_at",
                vec![],
            )
            .await;
        assert_eq!(cc, 2);
        t.finish().await;
    }
}

/// 200 connections of one organization (and 40 of another sharing its group ids) with random
/// stamps, cc lists, inviters and colliding times; 400 random queries (every scope, empty and
/// unknown group sets, unknown viewers, group filters, cursors on and between rows, limits 1 to
/// 200) answer exactly the reference; and cursor walks give every row once.
#[tokio::test]
async fn list_connections_equals_filtering_every_row_newest_first_on_generated_data() {
    for (t, store) in stores("connection_query").await {
        let mut rng = Rng::new(0xC0_FFEE);
        let orgs = [org_id(1), org_id(2)];
        let groups: Vec<GroupId> = (1..=6).map(group_id).collect();
        let mut users: Vec<Vec<UserId>> = Vec::new();
        for (k, org) in orgs.iter().enumerate() {
            let n = k as u64 + 1;
            let list: Vec<UserId> = (1..=8).map(|u| user_id(n, u)).collect();
            for u in &list {
                insert_user(&t, *org, *u).await;
            }
            users.push(list);
        }
        let mut all: Vec<Connection> = Vec::new();
        let mut tx = begin(&store).await;
        for (k, org) in orgs.iter().enumerate() {
            for _ in 0..(if k == 0 { 200 } else { 40 }) {
                let at = T0 + Duration::seconds(i64::try_from(rng.below(60)).unwrap());
                let stamp: Vec<GroupId> = rng.subset(&groups, 25).into_iter().collect();
                let mut c = connection(*org, rng.uuid(), *rng.pick(&users[k]), at, &stamp);
                c.cc = rng.subset(&users[k], 12);
                tx.insert_connection(&c).await.expect("inserts");
                all.push(c);
            }
        }
        tx.commit().await.expect("commits");

        let mut viewers = users[0].clone();
        viewers.push(user_id(1, 99));
        viewers.push(users[1][0]);
        let mut filter_groups = groups.clone();
        filter_groups.push(group_id(77));
        let mine: Vec<Connection> = all.iter().filter(|c| c.org_id == orgs[0]).cloned().collect();
        let mut tx = begin(&store).await;
        let mut non_empty = 0;
        let mut queries = Vec::new();
        for i in 0..400 {
            let org = if rng.chance(90) { orgs[0] } else { orgs[1] };
            let scope = match rng.below(20) {
                0..=5 => ConnectionScope::All,
                6..=14 => {
                    ConnectionScope::Groups { viewer: *rng.pick(&viewers), groups: rng.subset(&filter_groups, 30) }
                }
                _ => ConnectionScope::Own { viewer: *rng.pick(&viewers) },
            };
            let group = rng.chance(40).then(|| *rng.pick(&filter_groups));
            let after = match rng.below(20) {
                0..=9 => None,
                10..=16 => {
                    let c = rng.pick(&mine);
                    Some(ConnectionCursor { created_at: c.created_at, id: c.id })
                }
                _ => Some(ConnectionCursor {
                    created_at: T0 + Duration::seconds(i64::try_from(rng.below(60)).unwrap()),
                    id: ConnectionId::from_uuid(rng.uuid()),
                }),
            };
            let limit = *rng.pick(&[1, 2, 5, 17, 200]);
            let query = ConnectionQuery { org_id: org, scope, group, after, limit };
            let want = expected(&all, &query);
            let got = tx.list_connections(&query).await.expect("lists");
            assert_eq!(ids(&got), ids(&want), "{:?} query {i}:\n{query:#?}", t.engine());
            assert_eq!(got, want, "query {i}: the rows themselves");
            non_empty += usize::from(!want.is_empty());
            queries.push(query);
        }
        assert!(non_empty > 200, "mostly queries with answers ({non_empty} of 400)");
        let none = ConnectionQuery { org_id: orgs[0], scope: ConnectionScope::All, group: None, after: None, limit: 0 };
        assert!(tx.list_connections(&none).await.expect("lists").is_empty(), "a limit of 0 answers nothing");

        // Cursor walks: every matching row once, in order.
        for (i, query) in queries.iter().take(40).enumerate() {
            let mut query = query.clone();
            query.after = None;
            query.limit = 1000;
            let everything = expected(&all, &query);
            query.limit = *rng.pick(&[1, 3, 8]);
            let mut walked: Vec<Connection> = Vec::new();
            loop {
                let page = tx.list_connections(&query).await.expect("lists");
                assert!(page.len() <= query.limit as usize, "walk {i}: within the limit");
                let Some(last) = page.last() else { break };
                query.after = Some(ConnectionCursor { created_at: last.created_at, id: last.id });
                walked.extend(page);
                assert!(walked.len() <= everything.len(), "walk {i}: no row twice");
            }
            assert_eq!(ids(&walked), ids(&everything), "walk {i}: every row once, in order");
        }
        drop(tx);
        t.finish().await;
    }
}

#[tokio::test]
async fn restamp_and_transfer_change_only_that_inviters_stamps_and_count_each_connection_once() {
    for (t, store) in stores("connection_restamp").await {
        let (alpha, beta) = (org_id(1), org_id(2));
        let (ada, bob) = (user_id(1, 1), user_id(1, 2));
        insert_user(&t, alpha, ada).await;
        insert_user(&t, alpha, bob).await;
        insert_user(&t, beta, ada).await; // the same user id in another organization
        let (sales, east, support, west) = (group_id(1), group_id(2), group_id(3), group_id(4));
        let at = |s: i64| T0 + Duration::seconds(s);
        let rows = [
            connection(alpha, uid(1, 300), ada, at(1), &[sales, east]),
            connection(alpha, uid(1, 301), ada, at(2), &[east]),
            connection(alpha, uid(1, 302), ada, at(3), &[sales, support]),
            connection(alpha, uid(1, 303), bob, at(4), &[sales]),
            connection(alpha, uid(1, 304), ada, at(5), &[]),
            connection(alpha, uid(1, 305), ada, at(6), &[]),
            connection(alpha, uid(1, 306), bob, at(7), &[]),
            connection(alpha, uid(1, 307), ada, at(8), &[sales]),
            connection(beta, uid(2, 300), ada, at(1), &[]),
            connection(beta, uid(2, 301), ada, at(2), &[sales]),
        ];
        let mut tx = begin(&store).await;
        for c in &rows {
            tx.insert_connection(c).await.expect("inserts");
        }
        // Ada's sales-stamped: 300 (with east), 302, 307.
        assert_eq!(tx.transfer_stamp(alpha, ada, sales, east).await.expect("transfers"), 3);
        assert_eq!(tx.transfer_stamp(alpha, ada, sales, east).await.expect("transfers"), 0, "none left");
        // Ada's unstamped: 304, 305.
        assert_eq!(tx.restamp_unstamped(alpha, ada, west).await.expect("restamps"), 2);
        assert_eq!(tx.restamp_unstamped(alpha, ada, support).await.expect("restamps"), 0, "none unstamped left");
        // A transfer onto the same group changes nothing but counts the stamped ones.
        assert_eq!(tx.transfer_stamp(alpha, ada, west, west).await.expect("transfers"), 2);
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        let mut stamps = Vec::new();
        for c in &rows {
            stamps.push(tx.connection(c.org_id, c.id).await.expect("reads").expect("exists").groups);
        }
        let set = |g: &[GroupId]| g.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(
            stamps,
            [
                set(&[east]),
                set(&[east]),
                set(&[east, support]),
                set(&[sales]),
                set(&[west]),
                set(&[west]),
                set(&[]),
                set(&[east]),
                set(&[]),
                set(&[sales]),
            ]
        );
        let in_east =
            ConnectionQuery { org_id: alpha, scope: ConnectionScope::All, group: Some(east), after: None, limit: 200 };
        let found = tx.list_connections(&in_east).await.expect("lists");
        assert_eq!(
            ids(&found),
            [307, 302, 301, 300].map(|n| ConnectionId::from_uuid(uid(1, n))),
            "the filter sees new stamps"
        );
        drop(tx);
        // The copies of `created_at` follow the connection.
        let copied = t
            .count(
                "SELECT COUNT(*) AS n FROM connection_groups g JOIN connections c \
                 ON c.org_id = g.org_id AND c.id = g.connection_id WHERE g.created_at = c.created_at",
                vec![],
            )
            .await;
        assert_eq!(copied, t.count("SELECT COUNT(*) AS n FROM connection_groups", vec![]).await);
        t.finish().await;
    }
}

#[tokio::test]
async fn flows_and_api_keys_are_kept_per_organization_and_keys_found_by_hash() {
    for (t, store) in stores("connection_keys").await {
        let (alpha, beta) = (org_id(1), org_id(2));
        let (ada, bea) = (user_id(1, 1), user_id(2, 1));
        insert_user(&t, alpha, ada).await;
        insert_user(&t, beta, bea).await;
        let flow = |org: OrgId, id: Uuid, name: &str| Flow {
            id: FlowId::from_uuid(id),
            org_id: org,
            name: Label::parse(name).expect("a valid label"),
            created_at: T0 + Duration::microseconds(3),
        };
        let mut tx = begin(&store).await;
        let (late, early, other) =
            (flow(alpha, uid(1, 9), "Late"), flow(alpha, uid(1, 3), "Early"), flow(beta, uid(2, 1), "B"));
        for f in [&late, &early, &other] {
            tx.insert_flow(f).await.expect("inserts a flow");
        }
        let late_key = api_key(alpha, uid(1, 8), ada, "hash-late");
        let mut early_key = api_key(alpha, uid(1, 4), ada, "hash-early");
        early_key.permissions = BTreeSet::new();
        early_key.group_id = Some(group_id(1));
        let beta_key = api_key(beta, uid(2, 4), bea, "hash-beta");
        for k in [&late_key, &early_key, &beta_key] {
            tx.insert_api_key(k).await.expect("inserts a key");
        }
        assert_missing(
            tx.insert_api_key(&api_key(alpha, uid(1, 5), bea, "hash-x")).await,
            "user",
            "a creator of another organization",
        );
        let duplicate = tx.insert_api_key(&api_key(alpha, uid(1, 6), ada, "hash-beta")).await;
        assert!(matches!(duplicate, Err(StoreError::Unavailable(_))), "a taken secret hash: {duplicate:?}");
        let mut revoked = late_key.clone();
        revoked.revoked_at = Some(T0 + Duration::days(1));
        revoked.last_used_at = Some(T0 + Duration::hours(20));
        revoked.permissions.insert(Permission::ExportData);
        tx.update_api_key(&revoked).await.expect("updates after refusals");
        let mut stranger = beta_key.clone();
        stranger.org_id = alpha;
        assert_missing(tx.update_api_key(&stranger).await, "api key", "a key of another organization");
        let mut moved = early_key.clone();
        moved.created_by = user_id(1, 99);
        assert_missing(tx.update_api_key(&moved).await, "user", "an unknown creator");
        tx.commit().await.expect("commits");

        let mut tx = begin(&store).await;
        assert_eq!(tx.flows(alpha).await.expect("reads"), vec![early.clone(), late.clone()]);
        assert_eq!(tx.flows(beta).await.expect("reads"), vec![other.clone()]);
        assert_eq!(tx.api_keys(alpha).await.expect("reads"), vec![early_key.clone(), revoked.clone()]);
        assert_eq!(tx.api_key(alpha, revoked.id).await.expect("reads"), Some(revoked.clone()));
        assert_eq!(tx.api_key(beta, revoked.id).await.expect("reads"), None);
        assert_eq!(tx.api_key_by_secret_hash("hash-late").await.expect("reads"), Some(revoked));
        assert_eq!(tx.api_key_by_secret_hash("hash-beta").await.expect("reads"), Some(beta_key));
        assert_eq!(tx.api_key_by_secret_hash("no-such-hash").await.expect("reads"), None);
        drop(tx);
        t.finish().await;
    }
}
