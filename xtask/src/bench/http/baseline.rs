//! The baseline of `bench http`: a minimal axum server reading the same database as `roster
//! serve`, with one hand-written SQL statement per request and nothing else — no session lookup,
//! no permission check, no transaction, no domain types. It runs in its own process
//! (`cargo xtask bench http-baseline …`, started by the benchmark), as the product does.
//!
//! Its SQL is built from constants only (values are bound), hence `AssertSqlSafe`.
//!
//! - `GET /users?cursor=` — the Users page of the benchmark (status active, sort by last name,
//!   50 rows), with each row's products, current groups and role grants aggregated by the same
//!   statement, so that it carries what the product's page carries.
//! - `GET /connections?cursor=` — the visible connections of one viewer (fixed at start: its
//!   current groups are read once), 50 newest first: the union of the stamp, inviter and cc
//!   branches, as `bench db`'s raw baseline writes it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use roster_adapters_db::Engine;
use sea_orm::sqlx::{self, Row as _};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::bench::queries::{ACTIVE, CONNECTION_COLUMNS};
use crate::bench::raw::{micros, numbered};

const PAGE: usize = 50;

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

struct Baseline {
    engine: Engine,
    pool: Pool,
    org: Uuid,
    viewer: Uuid,
    viewer_groups: Vec<Uuid>,
}

#[derive(Debug, Deserialize)]
struct CursorParam {
    cursor: Option<String>,
}

/// `cargo xtask bench http-baseline <database-url> <listen> <org-id> <viewer-id>`: serves until
/// killed.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let [url, listen, org, viewer] = args else {
        anyhow::bail!("usage: cargo xtask bench http-baseline <database-url> <listen> <org-id> <viewer-id>");
    };
    let listen: SocketAddr = listen.parse().context("listen address")?;
    let org: Uuid = org.parse().context("org id")?;
    let viewer: Uuid = viewer.parse().context("viewer id")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let (engine, pool) = if url.starts_with("postgres") {
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(10).connect(url).await?;
            (Engine::Postgres, Pool::Postgres(pool))
        } else {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
            let options = options
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(std::time::Duration::from_secs(5))
                .foreign_keys(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
            (Engine::Sqlite, Pool::Sqlite(pool))
        };
        let sql = numbered(
            engine,
            "SELECT group_id FROM memberships WHERE org_id = ? AND user_id = ? AND left_at IS NULL ORDER BY group_id",
        );
        let viewer_groups: Vec<Uuid> = match &pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).bind(org).bind(viewer).fetch_all(p).await?
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).bind(org).bind(viewer).fetch_all(p).await?
            }
        };
        let state = Arc::new(Baseline { engine, pool, org, viewer, viewer_groups });
        let app = Router::new()
            .route("/users", get(users))
            .route("/connections", get(connections))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}

fn failed(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// The Users page SQL: rows of the filter after the cursor, with aggregated children.
fn users_sql(engine: Engine, after: bool) -> String {
    let (agg, id_text) = match engine {
        Engine::Sqlite => ("group_concat", "hex"),
        Engine::Postgres => ("string_agg", "text"),
    };
    let keyset = if after { " AND (u.last_name_sort, u.id) > (?, ?)" } else { "" };
    numbered(
        engine,
        &format!(
            "SELECT u.id, u.email, u.first_name, u.last_name, u.last_name_sort, u.version, \
             (SELECT {agg}(l.product, ',') FROM licenses l WHERE l.org_id = u.org_id AND l.user_id = u.id) AS products, \
             (SELECT {agg}({id_text}(m.group_id), ',') FROM memberships m \
              WHERE m.org_id = u.org_id AND m.user_id = u.id AND m.left_at IS NULL) AS groups, \
             (SELECT {agg}({id_text}(r.role_id), ',') FROM user_roles r WHERE r.org_id = u.org_id AND r.user_id = u.id) AS roles \
             FROM users u WHERE u.org_id = ? AND u.deleted_at IS NULL AND {ACTIVE}{keyset} \
             ORDER BY u.last_name_sort, u.id LIMIT {}",
            PAGE + 1
        ),
    )
}

async fn users(
    State(b): State<Arc<Baseline>>,
    Query(p): Query<CursorParam>,
) -> Result<axum::Json<Value>, (StatusCode, String)> {
    let after = match p.cursor.as_deref() {
        Some(c) => {
            let (last, id) = c.rsplit_once('|').ok_or((StatusCode::BAD_REQUEST, "cursor".to_owned()))?;
            Some((last.to_owned(), id.parse::<Uuid>().map_err(|_| (StatusCode::BAD_REQUEST, "cursor".to_owned()))?))
        }
        None => None,
    };
    let sql = users_sql(b.engine, after.is_some());
    macro_rules! fetch {
        ($pool:expr) => {{
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(b.org);
            if let Some((last, id)) = &after {
                q = q.bind(last.clone()).bind(*id);
            }
            let rows = q.fetch_all($pool).await.map_err(failed)?;
            rows.iter()
                .map(|r| {
                    Ok::<_, sqlx::Error>(json!({
                        "id": r.try_get::<Uuid, _>("id")?,
                        "email": r.try_get::<String, _>("email")?,
                        "first_name": r.try_get::<String, _>("first_name")?,
                        "last_name": r.try_get::<String, _>("last_name")?,
                        "last_name_sort": r.try_get::<String, _>("last_name_sort")?,
                        "version": r.try_get::<i64, _>("version")?,
                        "products": r.try_get::<Option<String>, _>("products")?,
                        "groups": r.try_get::<Option<String>, _>("groups")?,
                        "roles": r.try_get::<Option<String>, _>("roles")?,
                    }))
                })
                .collect::<Result<Vec<Value>, _>>()
                .map_err(failed)?
        }};
    }
    let mut items = match &b.pool {
        Pool::Sqlite(p) => fetch!(p),
        Pool::Postgres(p) => fetch!(p),
    };
    let more = items.len() > PAGE;
    items.truncate(PAGE);
    let next_cursor = if more {
        items
            .last()
            .map(|u| format!("{}|{}", u["last_name_sort"].as_str().unwrap_or(""), u["id"].as_str().unwrap_or("")))
    } else {
        None
    };
    Ok(axum::Json(json!({ "items": items, "next_cursor": next_cursor })))
}

/// The visible-connections SQL for the viewer, after an optional `(created_at, id)`.
fn connections_sql(b: &Baseline, after: bool) -> String {
    let mut branches = Vec::new();
    let keyset = |idc: &str| if after { format!(" AND (created_at, {idc}) < (?, ?)") } else { String::new() };
    let mut branch = |table: &str, select: &str, idc: &str, column: &str| {
        let sql = format!(
            "SELECT {select} FROM {table} WHERE org_id = ? AND {column} = ?{} ORDER BY created_at DESC, {idc} DESC LIMIT {PAGE}",
            keyset(idc)
        );
        branches.push(format!("SELECT connection_id, created_at FROM ({sql}) AS b{}", branches.len()));
    };
    for _ in &b.viewer_groups {
        branch("connection_groups", "connection_id, created_at", "connection_id", "group_id");
    }
    branch("connections", "id AS connection_id, created_at", "id", "inviter_id");
    branch("connection_cc", "connection_id, created_at", "connection_id", "user_id");
    let sql = format!(
        "SELECT {CONNECTION_COLUMNS} FROM ({}) AS page JOIN connections c ON c.org_id = ? AND c.id = page.connection_id \
         ORDER BY page.created_at DESC, page.connection_id DESC LIMIT {PAGE}",
        branches.join(" UNION ")
    );
    numbered(b.engine, &sql)
}

async fn connections(
    State(b): State<Arc<Baseline>>,
    Query(p): Query<CursorParam>,
) -> Result<axum::Json<Value>, (StatusCode, String)> {
    let after = match p.cursor.as_deref() {
        Some(c) => {
            let (at, id) = c.split_once('|').ok_or((StatusCode::BAD_REQUEST, "cursor".to_owned()))?;
            let at: i64 = at.parse().map_err(|_| (StatusCode::BAD_REQUEST, "cursor".to_owned()))?;
            Some((at, id.parse::<Uuid>().map_err(|_| (StatusCode::BAD_REQUEST, "cursor".to_owned()))?))
        }
        None => None,
    };
    let sql = connections_sql(&b, after.is_some());
    let values: Vec<Uuid> = b.viewer_groups.iter().copied().chain([b.viewer, b.viewer]).collect();
    let items: Vec<(Uuid, String, i64)> = match &b.pool {
        Pool::Sqlite(pool) => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for v in &values {
                q = q.bind(b.org).bind(*v);
                if let Some((at, id)) = after {
                    q = q.bind(at).bind(id);
                }
            }
            let rows = q.bind(b.org).fetch_all(pool).await.map_err(failed)?;
            rows.iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("email")?, r.try_get::<i64, _>("created_at")?)))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(failed)?
        }
        Pool::Postgres(pool) => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for v in &values {
                q = q.bind(b.org).bind(*v);
                if let Some((at, id)) = after {
                    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000).map_err(failed)?;
                    q = q.bind(at).bind(id);
                }
            }
            let rows = q.bind(b.org).fetch_all(pool).await.map_err(failed)?;
            rows.iter()
                .map(|r| {
                    Ok((r.try_get("id")?, r.try_get("email")?, micros(r.try_get::<OffsetDateTime, _>("created_at")?)))
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(failed)?
        }
    };
    let next_cursor = (items.len() == PAGE).then(|| items.last().map(|(id, _, at)| format!("{at}|{id}"))).flatten();
    let items: Vec<Value> =
        items.iter().map(|(id, email, at)| json!({"id": id, "email": email, "created_at": at})).collect();
    Ok(axum::Json(json!({ "items": items, "next_cursor": next_cursor })))
}
