//! Opening the database: checking the URL, configuring SQLite for a server (WAL, busy timeout,
//! foreign keys, `synchronous = NORMAL`) and PostgreSQL's pool, and saying clearly what went wrong
//! when neither can be opened.
//!
//! - Every SQLite connection of the pool gets the same pragmas. The bundled SQLite is built
//!   without its memory-statistics mutex and with a page cache per connection
//!   (`LIBSQLITE3_FLAGS` in `.cargo/config.toml`, found by the profile of
//!   `docs/decisions/0023-authority-in-one-statement.md`).
//! - Every PostgreSQL connection starts at `READ COMMITTED`, which `lock_org` needs (see the
//!   `store` module).
//! - Every statement is logged with its duration at `debug`, target `sqlx::query`
//!   (`RUST_LOG=info,sqlx::query=debug` shows them), and one slower than [`SLOW_STATEMENT`] at
//!   `warn`.
//! - A bad URL, an SQLite file that cannot be opened or a PostgreSQL server that cannot be
//!   reached is a [`DbSetupError`] naming the target, never its password ([`redact`]).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait as _, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr};
use thiserror::Error;

/// How long an SQLite statement waits for another connection's write lock before failing with
/// `SQLITE_BUSY`. Writers queue behind each other (SQLite has a single writer); five seconds is far
/// longer than any use case holds the lock, so a busy error means something is stuck.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A statement that runs longer than this is logged at `warn` (target `sqlx::query`).
pub const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// The PostgreSQL setting every pooled connection starts with, to `read committed`.
const TRANSACTION_ISOLATION: &str = "default_transaction_isolation";

/// The database engines Roster runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default: one file, one writer at a time, readers in parallel (WAL).
    Sqlite,
    /// Production: several `roster` processes share one database.
    Postgres,
}

impl Engine {
    /// sea-orm's name for the same engine, for building statements.
    pub fn backend(self) -> DbBackend {
        match self {
            Self::Sqlite => DbBackend::Sqlite,
            Self::Postgres => DbBackend::Postgres,
        }
    }
}

/// Connection pool limits. The defaults suit one `roster` process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// The most connections the pool keeps open. `None` picks per engine: 10 on PostgreSQL (so
    /// that ten processes fit in the server's default `max_connections = 100`), 4 on an SQLite
    /// file (readers run in parallel under WAL, writers queue anyway), and exactly 1 for an
    /// in-memory SQLite database, which exists only inside its one connection.
    pub max_connections: Option<u32>,
    /// How long a caller waits for a pooled connection — including opening a new one — before
    /// the operation fails.
    pub acquire_timeout: Duration,
    /// After how long an unused connection beyond the first is closed.
    pub idle_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { max_connections: None, acquire_timeout: Duration::from_secs(10), idle_timeout: Duration::from_secs(600) }
    }
}

/// An open, configured connection pool on one of the [`Engine`]s.
///
/// Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
    engine: Engine,
}

impl Db {
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The sea-orm connection. The application goes through the domain's `Store` port; this is
    /// for migrations, this crate's tests and the benchmark's raw-SQL baselines.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Connections open, idle and at most in the pool (for `/metrics`).
    pub fn pool_stats(&self) -> PoolStats {
        let (open, idle, max) = match self.engine {
            Engine::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            Engine::Sqlite => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
        };
        PoolStats { open, idle: u32::try_from(idle).unwrap_or(u32::MAX), max }
    }

    /// Closes every pooled connection, waiting for those in use to be returned.
    ///
    /// # Errors
    /// The driver's error if a connection does not close cleanly.
    /// After a bulk load (`roster demo-data`): on PostgreSQL, `ANALYZE`, so that the planner
    /// knows the new row counts at once rather than when autovacuum next gets to the tables.
    /// Measured on a fresh 1,000,000-user organization: before it, the planner still believed the
    /// organization had ~2,000 users and read a page's 500 ids by walking all million keys
    /// (290 ms); after it, an index lookup (0.8 ms). SQLite keeps no statistics unless asked
    /// (`sqlite_stat1`), and Roster's queries are measured without them: nothing to do there.
    ///
    /// # Errors
    /// The database's.
    pub async fn refresh_planner_statistics(&self) -> Result<(), DbErr> {
        match self.engine {
            Engine::Postgres => self.conn.execute_unprepared("ANALYZE").await.map(|_| ()),
            Engine::Sqlite => Ok(()),
        }
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

/// Connections of a [`Db`]'s pool at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// The underlying failure of a [`DbSetupError`], from the driver.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why [`connect`] could not give a [`Db`]. Messages never contain a password; the driver's
/// own error is the [`source`](std::error::Error::source).
#[derive(Debug, Error)]
pub enum DbSetupError {
    /// The URL names no engine Roster supports, or the driver cannot parse it.
    #[error(
        "invalid database URL `{url}`: {reason} (expected sqlite://PATH?mode=rwc or \
         postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)"
    )]
    InvalidUrl { url: String, reason: String },
    /// The SQLite file could not be opened (or created).
    #[error("cannot open the SQLite database `{path}`{hint}")]
    SqliteUnavailable {
        path: String,
        /// What to try, when the situation suggests it (empty otherwise).
        hint: String,
        #[source]
        source: Cause,
    },
    /// The PostgreSQL server could not be reached in time, or refused the login.
    #[error("cannot connect to PostgreSQL at {target}")]
    PostgresUnavailable {
        /// `host:port/database`, or the socket path.
        target: String,
        #[source]
        source: Cause,
    },
}

/// No answer from the server before the pool's acquire timeout.
#[derive(Debug, Error)]
#[error("no answer within {} s", .0.as_secs_f32())]
struct NoAnswer(Duration);

/// Opens `url` with the default [`PoolSettings`]: `sqlite://PATH?mode=rwc` (created if missing
/// with `mode=rwc`) or `postgres://…` (also `postgresql://…`).
///
/// # Errors
/// See [`DbSetupError`].
pub async fn connect(url: &str) -> Result<Db, DbSetupError> {
    connect_with(url, &PoolSettings::default()).await
}

/// Opens `url` with explicit pool limits.
///
/// SQLite connections all get `journal_mode = WAL` (readers never block the writer),
/// `busy_timeout` = [`SQLITE_BUSY_TIMEOUT`], `foreign_keys = ON` (SQLite's default is off) and
/// `synchronous = NORMAL` (the usual pairing with WAL: a commit survives a crash of the process;
/// a power cut may lose the last commits but never corrupts the file). PostgreSQL connections are
/// named `roster` in `pg_stat_activity` unless the URL names them, start at `READ COMMITTED`
/// (`default_transaction_isolation`), and a connection idle for a minute is checked before it
/// is handed out.
///
/// # Errors
/// See [`DbSetupError`].
pub async fn connect_with(url: &str, settings: &PoolSettings) -> Result<Db, DbSetupError> {
    let target = Target::parse(url)?;
    if let Target::Postgres { options, .. } = &target {
        // One connection first, outside the pool: the pool would retry a refused connection
        // until its timeout and then report only "timed out", hiding the reason.
        match tokio::time::timeout(settings.acquire_timeout, PgConnection::connect_with(options)).await {
            Ok(Ok(probe)) => {
                // Whether the probe closes politely does not matter: the pool opens its own.
                probe.close().await.ok();
            }
            Ok(Err(e)) => return Err(target.unavailable(Box::new(e))),
            Err(_) => return Err(target.unavailable(Box::new(NoAnswer(settings.acquire_timeout)))),
        }
    }
    let mut options = ConnectOptions::new(url.to_owned());
    // Every statement is logged at `debug` with its duration (target `sqlx::query`, off unless
    // `RUST_LOG` asks for it), and a statement slower than [`SLOW_STATEMENT`] at `warn`.
    options
        .sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, SLOW_STATEMENT)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(settings.idle_timeout);
    match &target {
        Target::Sqlite { in_memory, .. } => {
            if *in_memory {
                // The database lives in its one connection: never let the pool close it.
                options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
            } else {
                options.max_connections(settings.max_connections.unwrap_or(4));
            }
            // A local file cannot drop a connection under us: no ping before each use.
            options.test_before_acquire(false).map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
                    .synchronous(SqliteSynchronous::Normal)
            });
        }
        Target::Postgres { options: pg, .. } => {
            options.max_connections(settings.max_connections.unwrap_or(10));
            if pg.get_application_name().is_none() {
                options.set_application_name("roster");
            }
            // A ping on every checkout would cost a round trip per use case; a connection that
            // sat idle long enough for a firewall or a failover to cut it is checked first.
            options.test_before_acquire_if_idle_for(Duration::from_secs(60));
            // Every transaction runs at READ COMMITTED whatever the server's default (the store
            // relies on it, `store/mod.rs`). Set in the startup packet, it costs no round trip;
            // per transaction, sea-orm would send a `SET TRANSACTION` after each `BEGIN`.
            options.map_sqlx_postgres_opts(|o| o.options([(TRANSACTION_ISOLATION, "read committed")]));
        }
    }
    let engine = target.engine();
    let conn = Database::connect(options).await.map_err(|e| target.unavailable(driver_error(e)))?;
    Ok(Db { conn, engine })
}

/// The driver's error inside sea-orm's, so that a message does not say it twice.
fn driver_error(error: DbErr) -> Cause {
    match error {
        DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => Box::new(e),
        other => Box::new(other),
    }
}

/// What the URL points at, as far as connecting and error messages need to know.
#[derive(Debug)]
enum Target {
    Sqlite { path: String, in_memory: bool, creates: bool },
    Postgres { options: Box<PgConnectOptions>, target: String },
}

impl Target {
    fn parse(url: &str) -> Result<Self, DbSetupError> {
        let invalid = |reason: String| DbSetupError::InvalidUrl { url: redact(url), reason };
        let scheme = url.split_once(':').map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => {
                let options = SqliteConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
                let query = url.split_once('?').map_or("", |(_, q)| q);
                let in_memory = url.contains(":memory:") || query.split('&').any(|p| p == "mode=memory");
                let creates = query.split('&').any(|p| p == "mode=rwc");
                Ok(Self::Sqlite { path: options.get_filename().display().to_string(), in_memory, creates })
            }
            Some("postgres" | "postgresql") => {
                let options = PgConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
                let target = match options.get_socket() {
                    Some(socket) => socket.display().to_string(),
                    None => format!("{}:{}", options.get_host(), options.get_port()),
                };
                let target = match options.get_database() {
                    Some(db) => format!("{target}/{db}"),
                    None => target,
                };
                Ok(Self::Postgres { options: Box::new(options), target })
            }
            Some(other) => Err(invalid(format!("`{other}` is not a supported engine"))),
            None => Err(invalid("it has no scheme".to_owned())),
        }
    }

    fn engine(&self) -> Engine {
        match self {
            Self::Sqlite { .. } => Engine::Sqlite,
            Self::Postgres { .. } => Engine::Postgres,
        }
    }

    fn unavailable(&self, source: Cause) -> DbSetupError {
        match self {
            Self::Sqlite { path, creates, in_memory } => {
                let dir = Path::new(path).parent().filter(|dir| !dir.as_os_str().is_empty());
                let hint = match dir {
                    Some(dir) if !dir.is_dir() => format!(" (the directory {} does not exist)", dir.display()),
                    _ if !creates && !in_memory => {
                        " (if it does not exist yet, add ?mode=rwc to the URL to create it)".to_owned()
                    }
                    _ => String::new(),
                };
                DbSetupError::SqliteUnavailable { path: path.clone(), hint, source }
            }
            Self::Postgres { target, .. } => DbSetupError::PostgresUnavailable { target: target.clone(), source },
        }
    }
}

/// `url` with the password of its user info, and any `password=` query parameter, replaced by
/// `***`, so that the URL can go into an error message or a log.
pub fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        // The user info ends at the last '@', so a password with an unescaped '@' or '/' is
        // still hidden whole.
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => format!("{scheme}://{userinfo}@{host}"),
            },
            None => format!("{scheme}://{rest}"),
        },
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(redact("postgres://roster:s3cret@db:5432/roster"), "postgres://roster:***@db:5432/roster");
        assert_eq!(redact("postgres://a:b@c@host/db?sslmode=require"), "postgres://a:***@host/db?sslmode=require");
        assert_eq!(redact("postgres://host/db?user=x&password=y"), "postgres://host/db?user=x&password=***");
        assert_eq!(redact("postgres://u:pa/ss@host/db"), "postgres://u:***@host/db");
        assert_eq!(redact("postgres://roster@db/roster"), "postgres://roster@db/roster");
        assert_eq!(redact("sqlite://./roster.db?mode=rwc"), "sqlite://./roster.db?mode=rwc");
    }
}
