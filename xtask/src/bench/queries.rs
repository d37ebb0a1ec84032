//! The read measurements: four queries, each through
//! - **adapter**: the product's path, timed whole: for the Users page `SeaOrmStore::begin_read`
//!   → `list_users` with the domain's `UserQuery` → rollback (the page's read transaction, which
//!   also reads the facts of the page's users); for the connections page `Store::single_read` →
//!   `list_connections` with the `ConnectionQuery` (one statement outside any transaction, as the
//!   service reads it);
//! - **adapter, open tx**: the same repository call inside one read transaction opened
//!   beforehand, to tell the query's cost from the transaction's;
//! - **sqlx**: the same rows by hand-written SQL on the same pool, no transaction;
//! - **rusqlite** (SQLite only): that SQL on a rusqlite connection to the same file (the floor).
//!
//! The paths take turns within each run, so that noise on the machine falls on all of them
//! alike, and each run starts with the next path ([`Paths::order`]): whichever path reads a
//! case first brings its pages into the caches for the others. Every baseline answers the same
//! rows as the adapter (checked on each run) and fetches the same children (role grants and
//! group access of a page of users; stamps and cc of a page of connections), by a second
//! statement where the adapter reads them in the page's statement.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::anyhow;
use roster_adapters_db::SeaOrmStore;
use roster_domain::ids::ConnectionId;
use roster_domain::ports::{ConnectionRepository, Store, UserRepository};
use roster_domain::user::StatusKind;
use roster_domain::users_query::{SortValue, UserCursor, UserPaging, UserQuery, UserSort, UserSortField};
use roster_domain::visibility::{ConnectionCursor, ConnectionQuery, query_for};
use roster_testkit::generator::{
    Rng, SYNTHETIC_FIRST_NAMES, SYNTHETIC_LAST_NAMES, synthetic_first_name, synthetic_last_name,
};
use time::Duration;
use uuid::Uuid;

use super::generate::Org;
use super::raw::{P, RawDb};
use super::report::{QueryReport, Stats};
use super::{Options, Timings, check_same};

/// The page size of every query (the console's largest).
const PAGE: u32 = 50;
/// The page number the deep-page query asks for (§10's console paging).
const DEEP_PAGE: u32 = 10_000;
/// The deep page reads half a million rows per run (seconds at 1M users): it takes a tenth of
/// the samples, at least ten and at most twenty, so that a full run stays within half an hour.
fn deep_page_samples(samples: usize) -> usize {
    (samples / 10).clamp(10, 20)
}

/// The columns of `users` the adapter selects, qualified with `u`.
const USER_COLUMNS: &str = "u.org_id, u.id, u.email, u.first_name, u.last_name, u.phone, u.nicknames, u.crm_id, \
    u.agent_id, u.agent_ring_number, u.dialer_number, u.extra_permissions, u.mailbox_provider, \
    u.email_throttle_max_per_day, u.flow_enabled, u.email_sync, u.calendar_sync, u.call_recording, u.homepage, \
    u.round_robin, u.scoring_enabled, u.roaming_agent, u.voip_forward_to, u.deactivated_at, u.deleted_at, u.invited, \
    u.inactive_reasons, u.ever_held_core, u.crm_connected, u.mailbox_connected, u.has_password, u.first_name_sort, \
    u.last_name_sort, u.agent_id_sort, u.crm_id_sort, u.search_text, u.created_at, u.updated_at, u.version";

/// The status filter `active` by hand (§3.1 with no trial running): a member, no inactive reason,
/// Core held, CRM and mailbox connected.
pub(crate) const ACTIVE: &str = "u.deactivated_at IS NULL AND NOT u.invited AND u.inactive_reasons = 0 \
    AND u.crm_connected AND u.mailbox_connected \
    AND EXISTS (SELECT 1 FROM licenses l WHERE l.org_id = u.org_id AND l.user_id = u.id AND l.product = 'core')";

pub(crate) const CONNECTION_COLUMNS: &str =
    "c.org_id, c.id, c.email, c.name, c.flow_id, c.inviter_id, c.via_api_key, c.user_token_hash, c.created_at";

/// One input of a Users query and the SQL that answers it by hand.
struct UserCase {
    query: UserQuery,
    sql: String,
    params: Vec<P>,
    /// The deep page's `COUNT(*)`, when the query asks for a total.
    count: Option<(String, Vec<P>)>,
}

/// One input of the connections query and its SQL by hand.
struct ConnectionCase {
    query: ConnectionQuery,
    sql: String,
    params: Vec<P>,
}

/// Runs the four read measurements.
pub(crate) async fn run(
    options: &Options,
    store: &SeaOrmStore,
    raw: &RawDb,
    org: &Org,
) -> anyhow::Result<Vec<QueryReport>> {
    let runs = Timings::new(options.samples).runs().len();
    let deep_samples = deep_page_samples(options.samples);
    let seed = options.seed;
    let mut out = Vec::new();

    let cursor_cases: Vec<UserCase> = (0..runs).map(|i| users_by_cursor(org, seed, i)).collect();
    out.push(
        measure_users(
            "users_cursor",
            "Users page by keyset cursor: status active, sort last name, 50 rows, a different cursor each run",
            options.samples,
            store,
            raw,
            &cursor_cases,
        )
        .await?,
    );

    let page = DEEP_PAGE.min(u32::try_from(org.active / PAGE as usize).unwrap_or(DEEP_PAGE)).max(1);
    let deep_runs = Timings::new(deep_samples).runs().len();
    let deep_cases: Vec<UserCase> = (0..deep_runs).map(|_| users_deep_page(org, page)).collect();
    let detail = format!(
        "Users page number {page} (per_page 50, with the total): status active, sort last name; \
         baseline: raw OFFSET + COUNT(*)"
    );
    out.push(measure_users("users_page_10000", &detail, deep_samples, store, raw, &deep_cases).await?);

    let search_cases: Vec<UserCase> = (0..runs).map(|i| users_search(org, i)).collect();
    out.push(
        measure_users(
            "email_prefix_search",
            "Search q = 3-4 leading letters of common emails, sort by email, first page of 50",
            options.samples,
            store,
            raw,
            &search_cases,
        )
        .await?,
    );

    let status_cases: Vec<UserCase> = (0..runs).map(|i| users_by_status(org, seed, i)).collect();
    out.push(
        measure_users(
            "users_by_status",
            "Users page sorted by status (§3.1's precedence, then id), 50 rows after a random cursor",
            options.samples,
            store,
            raw,
            &status_cases,
        )
        .await?,
    );

    let products_cases: Vec<UserCase> = (0..runs).map(|i| users_by_products(org, seed, i)).collect();
    out.push(
        measure_users(
            "users_by_products",
            "Users page sorted by the products held (then id), 50 rows after a random cursor",
            options.samples,
            store,
            raw,
            &products_cases,
        )
        .await?,
    );

    let actor = org.actor(&org.viewer, &org.viewer_groups);
    let connection_cases: Vec<ConnectionCase> =
        (0..runs).map(|i| visible_connections(org, &actor, seed, i)).collect::<anyhow::Result<_>>()?;
    out.push(measure_connections(options, store, raw, &connection_cases).await?);
    Ok(out)
}

/// Query 1: a page after a cursor anywhere in the table (a last name and an id drawn at random).
fn users_by_cursor(org: &Org, seed: u64, i: usize) -> UserCase {
    let mut rng = Rng::new(seed ^ 0x5eed_0001 ^ (i as u64).wrapping_mul(0x9E37_79B9));
    let last = synthetic_last_name(rng.skewed(SYNTHETIC_LAST_NAMES)).to_lowercase();
    let id = rng.uuid();
    let mut query = active_by_last_name(org);
    query.paging = Some(UserPaging::Cursor {
        after: Some(UserCursor {
            values: vec![SortValue::Text(last.clone())],
            id: roster_domain::ids::UserId::from_uuid(id),
        }),
        limit: PAGE,
    });
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = ? AND u.deleted_at IS NULL AND {ACTIVE} \
         AND (u.last_name_sort, u.id) > (?, ?) ORDER BY u.last_name_sort, u.id LIMIT {}",
        PAGE + 1
    );
    UserCase { query, sql, params: vec![P::Id(org.id.as_uuid()), P::Text(last), P::Id(id)], count: None }
}

/// Query 2: page `page` by page number, with the total.
fn users_deep_page(org: &Org, page: u32) -> UserCase {
    let mut query = active_by_last_name(org);
    query.paging = Some(UserPaging::Page { page, per_page: PAGE });
    let filters = format!("FROM users u WHERE u.org_id = ? AND u.deleted_at IS NULL AND {ACTIVE}");
    let sql = format!("SELECT {USER_COLUMNS} {filters} ORDER BY u.last_name_sort, u.id LIMIT {PAGE} OFFSET ?");
    let offset = i64::from(page - 1) * i64::from(PAGE);
    UserCase {
        query,
        sql,
        params: vec![P::Id(org.id.as_uuid()), P::Int(offset)],
        count: Some((format!("SELECT COUNT(*) AS n {filters}"), vec![P::Id(org.id.as_uuid())])),
    }
}

/// Query 3: the first page of a search for the first letters of a common first name (emails
/// start with the first name), sorted by email.
fn users_search(org: &Org, i: usize) -> UserCase {
    let name = synthetic_first_name((i * 7) % SYNTHETIC_FIRST_NAMES.min(12)).to_lowercase();
    let q: String = name.chars().take(3 + i % 2).collect();
    let mut query = UserQuery::new(org.id);
    query.q = Some(q.clone());
    query.sort = vec![UserSort { field: UserSortField::Email, descending: false }];
    query.paging = Some(UserPaging::Cursor { after: None, limit: PAGE });
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = ? AND u.deleted_at IS NULL \
         AND u.search_text LIKE ? ESCAPE '\\' ORDER BY u.email, u.id LIMIT {}",
        PAGE + 1
    );
    UserCase { query, sql, params: vec![P::Id(org.id.as_uuid()), P::Text(format!("%{q}%"))], count: None }
}

/// Query 5: a page sorted by status after a cursor anywhere in the table (a rank and an id drawn
/// at random). Outside a trial the order is the expression of the `users_by_status` index, which
/// the raw path writes as the migration does.
fn users_by_status(org: &Org, seed: u64, i: usize) -> UserCase {
    let mut rng = Rng::new(seed ^ 0x5eed_0005 ^ (i as u64).wrapping_mul(0x9E37_79B9));
    let rank = 1 + i64::try_from(rng.below(6)).unwrap_or(0);
    let id = rng.uuid();
    let mut query = UserQuery::new(org.id);
    query.sort = vec![UserSort { field: UserSortField::Status, descending: false }];
    query.paging = Some(UserPaging::Cursor {
        after: Some(UserCursor { values: vec![SortValue::Int(rank)], id: roster_domain::ids::UserId::from_uuid(id) }),
        limit: PAGE,
    });
    let rank_sql = roster_adapters_db::migrations::USERS_STATUS_RANK;
    let sql = format!(
        "SELECT {USER_COLUMNS}, u.products_sort AS sort_products FROM users u WHERE u.org_id = ? \
         AND u.deleted_at IS NULL AND ({rank_sql}, u.id) > (?, ?) ORDER BY {rank_sql}, u.id LIMIT {}",
        PAGE + 1
    );
    UserCase { query, sql, params: vec![P::Id(org.id.as_uuid()), P::Int(rank), P::Id(id)], count: None }
}

/// Query 6: a page sorted by the products held after a cursor anywhere in the table (a list of
/// products and an id drawn at random).
fn users_by_products(org: &Org, seed: u64, i: usize) -> UserCase {
    const LISTS: [&[&str]; 6] =
        [&[], &["core"], &["core", "dialer"], &["core", "dialer", "sms"], &["core", "flow"], &["core", "sms"]];
    let mut rng = Rng::new(seed ^ 0x5eed_0006 ^ (i as u64).wrapping_mul(0x9E37_79B9));
    let products: Vec<String> = rng.pick(&LISTS).iter().map(|p| (*p).to_owned()).collect();
    let id = rng.uuid();
    let text = roster_domain::users_query::list_sort_text(&products);
    let mut query = UserQuery::new(org.id);
    query.sort = vec![UserSort { field: UserSortField::Products, descending: false }];
    query.paging = Some(UserPaging::Cursor {
        after: Some(UserCursor {
            values: vec![SortValue::List(products)],
            id: roster_domain::ids::UserId::from_uuid(id),
        }),
        limit: PAGE,
    });
    let sql = format!(
        "SELECT {USER_COLUMNS}, u.products_sort AS sort_products FROM users u WHERE u.org_id = ? \
         AND u.deleted_at IS NULL AND (u.products_sort, u.id) > (?, ?) ORDER BY u.products_sort, u.id LIMIT {}",
        PAGE + 1
    );
    UserCase { query, sql, params: vec![P::Id(org.id.as_uuid()), P::Text(text), P::Id(id)], count: None }
}

fn active_by_last_name(org: &Org) -> UserQuery {
    let mut query = UserQuery::new(org.id);
    query.statuses = BTreeSet::from([StatusKind::Active]);
    query.sort = vec![UserSort { field: UserSortField::LastName, descending: false }];
    query
}

/// Query 4: the viewer's visible connections, 50 newest before a random instant (the first
/// page on run 0).
fn visible_connections(
    org: &Org,
    actor: &roster_domain::actor::Actor,
    seed: u64,
    i: usize,
) -> anyhow::Result<ConnectionCase> {
    let after = if i == 0 {
        None
    } else {
        let mut rng = Rng::new(seed ^ 0x5eed_0004 ^ (i as u64).wrapping_mul(0x9E37_79B9));
        let span = (org.last_connection_at - org.first_connection_at).whole_seconds().max(1);
        let at = org.first_connection_at + Duration::seconds(i64::try_from(rng.below(usize::try_from(span)?))?);
        Some(ConnectionCursor { created_at: at, id: ConnectionId::from_uuid(Uuid::max()) })
    };
    let query = query_for(actor, None, after, PAGE).map_err(|e| anyhow!("query_for: {e}"))?;
    let org_id = org.id.as_uuid();
    let mut params = Vec::new();
    let mut branches = Vec::new();
    let mut branch = |table: &str, select: &str, idc: &str, column: &str, value: Uuid, params: &mut Vec<P>| {
        let mut sql = format!("SELECT {select} FROM {table} WHERE org_id = ? AND {column} = ?");
        params.extend([P::Id(org_id), P::Id(value)]);
        if let Some(a) = after {
            sql.push_str(&format!(" AND (created_at, {idc}) < (?, ?)"));
            params.extend([P::Time(a.created_at), P::Id(a.id.as_uuid())]);
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, {idc} DESC LIMIT {PAGE}"));
        branches.push(format!("SELECT connection_id, created_at FROM ({sql}) AS b{}", branches.len()));
    };
    for g in &org.viewer_groups {
        branch("connection_groups", "connection_id, created_at", "connection_id", "group_id", g.as_uuid(), &mut params);
    }
    let viewer = org.viewer.id.as_uuid();
    branch("connections", "id AS connection_id, created_at", "id", "inviter_id", viewer, &mut params);
    branch("connection_cc", "connection_id, created_at", "connection_id", "user_id", viewer, &mut params);
    params.push(P::Id(org_id));
    let sql = format!(
        "SELECT {CONNECTION_COLUMNS} FROM ({}) AS page JOIN connections c ON c.org_id = ? AND c.id = page.connection_id \
         ORDER BY page.created_at DESC, page.connection_id DESC LIMIT {PAGE}",
        branches.join(" UNION ")
    );
    Ok(ConnectionCase { query, sql, params })
}

/// The children of a page of users, in one statement: role grants (kind 0), group access (1).
fn user_children_sql(org_id: Uuid, ids: &[Uuid]) -> (String, Vec<P>) {
    children_sql(
        org_id,
        ids,
        "SELECT user_id AS owner, role_id AS member, 0 AS kind FROM user_roles WHERE org_id = ? AND user_id IN",
        "SELECT user_id AS owner, group_id AS member, 1 AS kind FROM user_group_access WHERE org_id = ? AND user_id IN",
    )
}

/// The stamp (kind 0) and cc (kind 1) of a page of connections, in one statement.
fn connection_children_sql(org_id: Uuid, ids: &[Uuid]) -> (String, Vec<P>) {
    children_sql(
        org_id,
        ids,
        "SELECT connection_id AS owner, group_id AS member, 0 AS kind FROM connection_groups \
         WHERE org_id = ? AND connection_id IN",
        "SELECT connection_id AS owner, user_id AS member, 1 AS kind FROM connection_cc \
         WHERE org_id = ? AND connection_id IN",
    )
}

fn children_sql(org_id: Uuid, ids: &[Uuid], first: &str, second: &str) -> (String, Vec<P>) {
    let marks = vec!["?"; ids.len().max(1)].join(", ");
    let sql = format!("{first} ({marks}) UNION ALL {second} ({marks})");
    let mut params = vec![P::Id(org_id)];
    let id_params = || ids.iter().map(|u| P::Id(*u)).chain(ids.is_empty().then_some(P::Id(Uuid::nil())));
    params.extend(id_params());
    params.push(P::Id(org_id));
    params.extend(id_params());
    (sql, params)
}

/// The ids of a page of users as the adapter answers them (the cursor queries fetch one extra
/// row to know whether more follow; it is not part of the page).
fn page_ids<T>(rows: &[T], id: impl Fn(&T) -> Uuid) -> Vec<Uuid> {
    rows.iter().take(PAGE as usize).map(id).collect()
}

async fn measure_users(
    name: &str,
    detail: &str,
    samples: usize,
    store: &SeaOrmStore,
    raw: &RawDb,
    cases: &[UserCase],
) -> anyhow::Result<QueryReport> {
    eprintln!("bench: {name}…");
    let org_id = cases[0].query.org_id.as_uuid();
    let mut paths = Paths::new(samples, raw.has_rusqlite());
    let mut open = store.begin_read().await?;
    let (mut rows, mut total) = (0, None);
    for run in paths.runs() {
        let case = &cases[run];
        let mut answers = Answers::default();
        for (pos, path) in paths.order(run).into_iter().enumerate() {
            let started = Instant::now();
            let ids = match path {
                Path::Adapter => {
                    let mut tx = store.begin_read().await?;
                    let page = tx.list_users(&case.query).await?;
                    tx.rollback().await?;
                    total = page.total;
                    page.items.iter().map(|u| u.id.as_uuid()).collect()
                }
                Path::InTx => open.list_users(&case.query).await?.items.iter().map(|u| u.id.as_uuid()).collect(),
                Path::Sqlx => {
                    let found = raw.users(&case.sql, &case.params).await?;
                    let ids = page_ids(&found, |u| u.id);
                    let (sql, params) = user_children_sql(org_id, &ids);
                    let children = raw.children(&sql, &params).await?;
                    let counted = match &case.count {
                        Some((sql, params)) => Some(raw.count(sql, params).await?),
                        None => None,
                    };
                    std::hint::black_box((children, counted));
                    ids
                }
                Path::Rusqlite => {
                    let found = raw.lite_users(&case.sql, &case.params)?;
                    let ids = page_ids(&found, |u| u.id);
                    let (sql, params) = user_children_sql(org_id, &ids);
                    let children = raw.lite_children(&sql, &params)?;
                    let counted = match &case.count {
                        Some((sql, params)) => Some(raw.lite_count(sql, params)?),
                        None => None,
                    };
                    std::hint::black_box((children, counted));
                    ids
                }
            };
            paths.record(name, (run, pos), path, started.elapsed());
            answers.push(path, ids);
        }
        rows = answers.check(name)?;
    }
    open.rollback().await?;
    let (measured, rusqlite) = paths.stats();
    Ok(QueryReport::new(name, detail, samples, (rows, total), measured, rusqlite))
}

/// The ways a query is run, each timed on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// The product's path (a read transaction, or one statement outside any).
    Adapter,
    /// The same repository call inside a read transaction opened beforehand.
    InTx,
    /// Hand-written SQL through sqlx on the same pool.
    Sqlx,
    /// Hand-written SQL through rusqlite (SQLite only).
    Rusqlite,
}

/// The ids each path answered in one run.
#[derive(Default)]
struct Answers(Vec<(Path, Vec<Uuid>)>);

impl Answers {
    fn push(&mut self, path: Path, ids: Vec<Uuid>) {
        self.0.push((path, ids));
    }

    /// Fails unless every path answered the adapter's rows; the number of rows.
    fn check(&self, name: &str) -> anyhow::Result<usize> {
        let expected =
            self.0.iter().find(|(p, _)| *p == Path::Adapter).map(|(_, ids)| ids.as_slice()).unwrap_or_default();
        for (path, ids) in &self.0 {
            check_same(&format!("{name} ({path:?})"), expected, ids)?;
        }
        Ok(expected.len())
    }
}

/// The timings of one query's paths, taken in turns.
struct Paths {
    adapter: Timings,
    adapter_in_tx: Timings,
    sqlx: Timings,
    rusqlite: Option<Timings>,
    /// Whether every run is printed (`ROSTER_BENCH_TRACE`), read once.
    trace: bool,
}

impl Paths {
    fn new(samples: usize, rusqlite: bool) -> Self {
        Self {
            adapter: Timings::new(samples),
            adapter_in_tx: Timings::new(samples),
            sqlx: Timings::new(samples),
            rusqlite: rusqlite.then(|| Timings::new(samples)),
            trace: super::tracing(),
        }
    }

    fn runs(&self) -> std::ops::Range<usize> {
        self.adapter.runs()
    }

    /// The order of the paths in run `run`: each run starts one path further along. The first
    /// path to read a case's rows pays for bringing its pages into the caches (PostgreSQL's
    /// shared buffers, SQLite's page cache) and the later ones find them there; with a fixed
    /// order that cost always fell on the adapter (measured on PostgreSQL: a Users page's
    /// execution 4.4 ms on first read, 1.2 ms on the next).
    fn order(&self, run: usize) -> Vec<Path> {
        let mut order = vec![Path::Adapter, Path::InTx, Path::Sqlx];
        if self.rusqlite.is_some() {
            order.push(Path::Rusqlite);
        }
        let n = order.len();
        order.rotate_left(run % n);
        order
    }

    /// Keeps the time `path` took at position `pos` of run `run` (and prints it when
    /// `ROSTER_BENCH_TRACE` asks).
    fn record(&mut self, query: &str, (run, pos): (usize, usize), path: Path, took: std::time::Duration) {
        if self.trace {
            eprintln!("trace {query} {run} {pos} {path:?} {}", took.as_micros());
        }
        let timings = match path {
            Path::Adapter => &mut self.adapter,
            Path::InTx => &mut self.adapter_in_tx,
            Path::Sqlx => &mut self.sqlx,
            Path::Rusqlite => match self.rusqlite.as_mut() {
                Some(t) => t,
                None => return,
            },
        };
        timings.record(run, took);
    }

    fn stats(self) -> ([Stats; 3], Option<Stats>) {
        ([self.adapter.stats(), self.adapter_in_tx.stats(), self.sqlx.stats()], self.rusqlite.map(Timings::stats))
    }
}

async fn measure_connections(
    options: &Options,
    store: &SeaOrmStore,
    raw: &RawDb,
    cases: &[ConnectionCase],
) -> anyhow::Result<QueryReport> {
    let name = "visible_connections";
    eprintln!("bench: {name}…");
    let org_id = cases[0].query.org_id.as_uuid();
    let sets_of = |ids: &[Uuid]| connection_children_sql(org_id, ids);
    let mut paths = Paths::new(options.samples, raw.has_rusqlite());
    let mut open = store.begin_read().await?;
    let mut rows = 0;
    for run in paths.runs() {
        let case = &cases[run];
        let mut answers = Answers::default();
        for (pos, path) in paths.order(run).into_iter().enumerate() {
            let started = Instant::now();
            let ids = match path {
                Path::Adapter => {
                    // The product's path: one statement, no transaction (`Store::single_read`).
                    let mut tx = Store::single_read(store).await?;
                    let page = tx.list_connections(&case.query).await?;
                    tx.commit().await?;
                    page.iter().map(|c| c.id.as_uuid()).collect()
                }
                Path::InTx => open.list_connections(&case.query).await?.iter().map(|c| c.id.as_uuid()).collect(),
                Path::Sqlx => {
                    let found = raw.connections(&case.sql, &case.params).await?;
                    let ids = page_ids(&found, |c| c.id);
                    let (sql, params) = sets_of(&ids);
                    std::hint::black_box(raw.children(&sql, &params).await?);
                    ids
                }
                Path::Rusqlite => {
                    let found = raw.lite_connections(&case.sql, &case.params)?;
                    let ids = page_ids(&found, |c| c.id);
                    let (sql, params) = sets_of(&ids);
                    std::hint::black_box(raw.lite_children(&sql, &params)?);
                    ids
                }
            };
            paths.record(name, (run, pos), path, started.elapsed());
            answers.push(path, ids);
        }
        rows = answers.check(name)?;
    }
    open.rollback().await?;
    let (measured, rusqlite) = paths.stats();
    let detail = format!(
        "Visible connections of an `operations` member in {} teams, 50 newest before a random instant",
        cases[0].query.scope_groups()
    );
    Ok(QueryReport::new(name, &detail, options.samples, (rows, None), measured, rusqlite).one_statement())
}

/// How many groups a scope names (for the report's wording).
trait ScopeGroups {
    fn scope_groups(&self) -> usize;
}

impl ScopeGroups for ConnectionQuery {
    fn scope_groups(&self) -> usize {
        match &self.scope {
            roster_domain::visibility::ConnectionScope::Groups { groups, .. } => groups.len(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_reads_first_equally_often() {
        for rusqlite in [false, true] {
            let paths = Paths::new(40, rusqlite);
            let n = if rusqlite { 4 } else { 3 };
            let mut first = std::collections::BTreeMap::new();
            for run in 0..12 {
                let order = paths.order(run);
                assert_eq!(order.len(), n);
                let distinct: std::collections::BTreeSet<_> = order.iter().map(|p| format!("{p:?}")).collect();
                assert_eq!(distinct.len(), n, "run {run}: each path once");
                *first.entry(format!("{:?}", order[0])).or_insert(0) += 1;
            }
            assert_eq!(first.len(), n);
            assert!(first.values().all(|&k| k == 12 / n), "{first:?}");
        }
    }

    #[test]
    fn a_path_that_answers_other_rows_than_the_adapter_fails_the_run() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut same = Answers::default();
        same.push(Path::Sqlx, vec![a, b]);
        same.push(Path::Adapter, vec![a, b]);
        same.push(Path::InTx, vec![a, b]);
        assert_eq!(same.check("q").expect("same rows"), 2);
        let mut differ = Answers::default();
        differ.push(Path::Adapter, vec![a, b]);
        differ.push(Path::Rusqlite, vec![b, a]);
        assert!(differ.check("q").is_err());
    }
}
