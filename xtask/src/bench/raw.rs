//! The baselines' database access: hand-written SQL through sqlx (on the very pool the adapter
//! uses, so both pay the same driver) and, on SQLite, through rusqlite on its own connection to
//! the same file (the floor: no worker-thread hand-off, no async).
//!
//! SQL is written once with `?` markers and numbered for PostgreSQL; parameters are [`P`]
//! values, already in each engine's representation (ids as `uuid`/16-byte blobs, times as
//! `timestamptz`/microseconds).

use anyhow::Context as _;
use roster_adapters_db::{Db, Engine};
use sea_orm::sqlx::{self, Row as _};
use time::OffsetDateTime;
use uuid::Uuid;

/// A parameter of a raw statement.
#[derive(Debug, Clone)]
pub(crate) enum P {
    Id(Uuid),
    Int(i64),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    /// A time: `timestamptz` on PostgreSQL, microseconds since the epoch on SQLite.
    Time(OffsetDateTime),
    /// JSON: `jsonb` on PostgreSQL, text on SQLite.
    Json(serde_json::Value),
}

/// The columns of a Users-table row the baselines decode (all columns are selected, as the
/// adapter does; these are the ones the table shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawUser {
    pub(crate) id: Uuid,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) phone: Option<String>,
    pub(crate) crm_id: Option<String>,
    pub(crate) agent_id: Option<String>,
    pub(crate) created_at: i64,
}

/// A connection row, every column decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawConnection {
    pub(crate) id: Uuid,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) flow_id: Option<Uuid>,
    pub(crate) inviter_id: Uuid,
    pub(crate) via_api_key: Option<Uuid>,
    pub(crate) user_token_hash: String,
    pub(crate) created_at: i64,
}

/// A `(owner, member, kind)` row of a child table (role grants, group access, stamps, cc).
pub(crate) type Child = (Uuid, Uuid, i32);

/// Raw access to the benchmark's database.
pub(crate) struct RawDb {
    engine: Engine,
    pool: Pool,
    /// rusqlite on the same file (SQLite only).
    lite: Option<rusqlite::Connection>,
}

enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl std::fmt::Debug for RawDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawDb").field("engine", &self.engine).finish_non_exhaustive()
    }
}

// The baselines' SQL is built from constant fragments and `?` markers only: every value is a
// bound parameter, which is what `AssertSqlSafe` asserts.

/// Runs `$body` with `$pool` bound to the engine's sqlx pool (the body compiles for both).
macro_rules! on_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// Binds `params` to a sqlx query, in the representation of `engine`.
macro_rules! bind_all {
    ($query:expr, $engine:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                P::Id(u) => q.bind(*u),
                P::Int(i) => q.bind(*i),
                P::Text(s) => q.bind(s.clone()),
                P::OptText(s) => q.bind(s.clone()),
                P::Bool(b) => q.bind(*b),
                P::Time(t) => match $engine {
                    Engine::Sqlite => q.bind(micros(*t)),
                    Engine::Postgres => q.bind(*t),
                },
                P::Json(j) => match $engine {
                    Engine::Sqlite => q.bind(j.to_string()),
                    Engine::Postgres => q.bind(sqlx::types::Json(j.clone())),
                },
            };
        }
        q
    }};
}

/// Microseconds since the Unix epoch (SQLite's time representation in Roster's schema).
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// `sql` with its `?` markers numbered `$1, $2, …` for PostgreSQL (the adapter's own rule).
pub(crate) fn numbered(engine: Engine, sql: &str) -> String {
    roster_adapters_db::number_parameters(engine, sql)
}

/// A time column: `timestamptz` or integer microseconds.
trait TimeColumn {
    fn micros_at(&self, column: &str) -> Result<i64, sqlx::Error>;
}

impl TimeColumn for sqlx::sqlite::SqliteRow {
    fn micros_at(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
}

impl TimeColumn for sqlx::postgres::PgRow {
    fn micros_at(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get::<OffsetDateTime, _>(column).map(micros)
    }
}

impl RawDb {
    /// Raw access to `db`: its own sqlx pool and, for an SQLite file, a rusqlite connection.
    pub(crate) fn new(db: &Db, sqlite_file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let engine = db.engine();
        let pool = match engine {
            Engine::Sqlite => Pool::Sqlite(db.connection().get_sqlite_connection_pool().clone()),
            Engine::Postgres => Pool::Postgres(db.connection().get_postgres_connection_pool().clone()),
        };
        let lite = match sqlite_file {
            Some(path) => {
                let conn = rusqlite::Connection::open(path).context("rusqlite could not open the SQLite file")?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Some(conn)
            }
            None => None,
        };
        Ok(Self { engine, pool, lite })
    }

    pub(crate) fn has_rusqlite(&self) -> bool {
        self.lite.is_some()
    }

    /// The engine's version, for the report.
    pub(crate) async fn server_version(&self) -> anyhow::Result<String> {
        let sql = match self.engine {
            Engine::Sqlite => "SELECT 'SQLite ' || sqlite_version() AS v",
            Engine::Postgres => "SELECT split_part(version(), ' on ', 1) AS v",
        };
        on_pool!(self, pool => Ok(sqlx::query(sql).fetch_one(pool).await?.try_get::<String, _>("v")?))
    }

    /// Users rows through sqlx.
    pub(crate) async fn users(&self, sql: &str, params: &[P]) -> anyhow::Result<Vec<RawUser>> {
        let sql = numbered(self.engine, sql);
        on_pool!(self, pool => {
            let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), self.engine, params).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(RawUser {
                        id: r.try_get("id")?,
                        email: r.try_get("email")?,
                        first_name: r.try_get("first_name")?,
                        last_name: r.try_get("last_name")?,
                        phone: r.try_get("phone")?,
                        crm_id: r.try_get("crm_id")?,
                        agent_id: r.try_get("agent_id")?,
                        created_at: r.micros_at("created_at")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(anyhow::Error::from)
        })
    }

    /// Connection rows through sqlx.
    pub(crate) async fn connections(&self, sql: &str, params: &[P]) -> anyhow::Result<Vec<RawConnection>> {
        let sql = numbered(self.engine, sql);
        on_pool!(self, pool => {
            let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), self.engine, params).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(RawConnection {
                        id: r.try_get("id")?,
                        email: r.try_get("email")?,
                        name: r.try_get("name")?,
                        flow_id: r.try_get("flow_id")?,
                        inviter_id: r.try_get("inviter_id")?,
                        via_api_key: r.try_get("via_api_key")?,
                        user_token_hash: r.try_get("user_token_hash")?,
                        created_at: r.micros_at("created_at")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(anyhow::Error::from)
        })
    }

    /// `(owner, member, kind)` rows through sqlx.
    pub(crate) async fn children(&self, sql: &str, params: &[P]) -> anyhow::Result<Vec<Child>> {
        let sql = numbered(self.engine, sql);
        on_pool!(self, pool => {
            let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), self.engine, params).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("owner")?, r.try_get("member")?, r.try_get("kind")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(anyhow::Error::from)
        })
    }

    /// The engine of the database.
    pub(crate) fn engine(&self) -> Engine {
        self.engine
    }

    /// An `id` column of UUIDs through sqlx.
    pub(crate) async fn ids(&self, sql: &str, params: &[P]) -> anyhow::Result<Vec<Uuid>> {
        let sql = numbered(self.engine, sql);
        on_pool!(self, pool => {
            let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), self.engine, params).fetch_all(pool).await?;
            rows.iter()
                .map(|r| r.try_get::<Uuid, _>("id"))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(anyhow::Error::from)
        })
    }

    /// Runs schema statements, each on its own: on SQLite through rusqlite (through sqlx, a
    /// `CREATE TRIGGER` read back from `sqlite_master` failed with "already exists" right after
    /// its `DROP TRIGGER` had succeeded; rusqlite runs it), on PostgreSQL through sqlx.
    pub(crate) async fn ddl(&self, statements: &[String]) -> anyhow::Result<()> {
        match self.engine {
            Engine::Sqlite => {
                let lite = self.lite()?;
                for sql in statements {
                    lite.execute_batch(sql).with_context(|| format!("schema: {}", &sql[..sql.len().min(80)]))?;
                }
                Ok(())
            }
            Engine::Postgres => {
                let statements: Vec<(String, Vec<P>)> = statements.iter().map(|s| (s.clone(), Vec::new())).collect();
                self.write_tx(&statements).await
            }
        }
    }

    /// The triggers on `licenses`, each as the statement that drops it and the one that creates
    /// it again, read back from the database's catalog.
    pub(crate) async fn license_triggers(&self) -> anyhow::Result<Vec<(String, String)>> {
        let sql = match self.engine {
            Engine::Postgres => {
                "SELECT 'DROP TRIGGER ' || quote_ident(t.tgname) || ' ON licenses' AS dropping, \
                 pg_get_triggerdef(t.oid) AS creating FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                 WHERE c.relname = 'licenses' AND NOT t.tgisinternal ORDER BY t.tgname"
            }
            Engine::Sqlite => {
                "SELECT 'DROP TRIGGER ' || name AS dropping, sql AS creating FROM sqlite_master \
                 WHERE type = 'trigger' AND tbl_name = 'licenses' ORDER BY name"
            }
        };
        on_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>("dropping")?, r.try_get::<String, _>("creating")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(anyhow::Error::from)
        })
    }

    /// A single `n` column through sqlx (`COUNT(*) AS n`).
    pub(crate) async fn count(&self, sql: &str, params: &[P]) -> anyhow::Result<i64> {
        let sql = numbered(self.engine, sql);
        on_pool!(self, pool => {
            let row = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), self.engine, params).fetch_one(pool).await?;
            Ok(row.try_get::<i64, _>("n")?)
        })
    }

    /// Runs `statements` (each with its parameters) in one transaction through sqlx; answers the
    /// value of the `RETURNING n` of the first statement that has one, if any.
    pub(crate) async fn write_tx(&self, statements: &[(String, Vec<P>)]) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (sql, params) in statements {
                let sql = numbered(self.engine, sql);
                bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), self.engine, params).execute(&mut *tx).await
                    .with_context(|| format!("raw write: {}", &sql[..sql.len().min(80)]))?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn lite(&self) -> anyhow::Result<&rusqlite::Connection> {
        self.lite.as_ref().context("rusqlite is only used on SQLite")
    }

    /// Users rows through rusqlite.
    pub(crate) fn lite_users(&self, sql: &str, params: &[P]) -> anyhow::Result<Vec<RawUser>> {
        let conn = self.lite()?;
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(params.iter().map(lite_value)), |r| {
            Ok(RawUser {
                id: lite_uuid(r.get("id")?),
                email: r.get("email")?,
                first_name: r.get("first_name")?,
                last_name: r.get("last_name")?,
                phone: r.get("phone")?,
                crm_id: r.get("crm_id")?,
                agent_id: r.get("agent_id")?,
                created_at: r.get("created_at")?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Connection rows through rusqlite.
    pub(crate) fn lite_connections(&self, sql: &str, params: &[P]) -> anyhow::Result<Vec<RawConnection>> {
        let conn = self.lite()?;
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(params.iter().map(lite_value)), |r| {
            Ok(RawConnection {
                id: lite_uuid(r.get("id")?),
                email: r.get("email")?,
                name: r.get("name")?,
                flow_id: r.get::<_, Option<[u8; 16]>>("flow_id")?.map(lite_uuid),
                inviter_id: lite_uuid(r.get("inviter_id")?),
                via_api_key: r.get::<_, Option<[u8; 16]>>("via_api_key")?.map(lite_uuid),
                user_token_hash: r.get("user_token_hash")?,
                created_at: r.get("created_at")?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// `(owner, member, kind)` rows through rusqlite.
    pub(crate) fn lite_children(&self, sql: &str, params: &[P]) -> anyhow::Result<Vec<Child>> {
        let conn = self.lite()?;
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(params.iter().map(lite_value)), |r| {
            Ok((lite_uuid(r.get("owner")?), lite_uuid(r.get("member")?), r.get("kind")?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// A single `n` column through rusqlite.
    pub(crate) fn lite_count(&self, sql: &str, params: &[P]) -> anyhow::Result<i64> {
        let conn = self.lite()?;
        let mut statement = conn.prepare_cached(sql)?;
        Ok(statement.query_row(rusqlite::params_from_iter(params.iter().map(lite_value)), |r| r.get("n"))?)
    }
}

fn lite_uuid(bytes: [u8; 16]) -> Uuid {
    Uuid::from_bytes(bytes)
}

fn lite_value(p: &P) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match p {
        P::Id(u) => V::Blob(u.as_bytes().to_vec()),
        P::Int(i) => V::Integer(*i),
        P::Text(s) => V::Text(s.clone()),
        P::OptText(s) => s.clone().map_or(V::Null, V::Text),
        P::Bool(b) => V::Integer(i64::from(*b)),
        P::Time(t) => V::Integer(micros(*t)),
        P::Json(j) => V::Text(j.to_string()),
    }
}
