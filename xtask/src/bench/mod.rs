//! `cargo xtask bench`: the performance measurements reported in `docs/PERFORMANCE.md`.
//!
//! `bench db` generates one large organization on SQLite and/or PostgreSQL ([`generate`]) and
//! measures the Users-table and visible-connections queries through three paths each
//! ([`queries`]: the product's adapter, the same SQL by hand through sqlx, and on SQLite through
//! rusqlite), then the CRM import through the product's use case against a raw multi-row INSERT
//! of the same rows ([`import`]). [`report`] prints the table and, with `--write-doc`, rewrites
//! the generated section of `docs/PERFORMANCE.md`. `bench http` ([`http`]) loads `roster serve`
//! over HTTP against a minimal axum baseline. `bench events` ([`events`]) reads the events feed
//! and measures webhook delivery of `roster serve` to a loopback receiver.

mod events;
mod generate;
mod http;
mod import;
mod licenses;
mod queries;
mod raw;
mod report;

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use roster_adapters_db::{Db, Engine, SeaOrmStore, connect, migrate};
use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::Failure;
use report::{EngineReport, Stats};

const USAGE: &str = "\
Usage: cargo xtask bench db [--users N] [--engine sqlite|postgres|both] [--samples K] [--import N]
                            [--seed S] [--write-doc] [--keep]

  --users N     users in the generated organization, and as many connections (default 1000000)
  --engine E    sqlite, postgres or both (default both)
  --samples K   timed samples per measurement, after a warm-up (default 1000; the deep page
                takes a tenth, 10 to 20)
  --import N    users imported from the CRM, and as many by the raw baseline (default 100000)
  --seed S      the generator's seed (default 1)
  --write-doc   rewrite the generated section of docs/PERFORMANCE.md with this run's figures
  --keep        leave the generated databases in place for inspection (psql, sqlite3): the
                SQLite file's path and the PostgreSQL database are printed at the end

PostgreSQL: ROSTER_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names
a server and a database to connect to first; the benchmark creates a database `roster_bench`
there (dropping any left over) and drops it at the end. SQLite: a WAL file in a temp directory.
ROSTER_BENCH_TRACE=1 prints every timed run of a read query to stderr
(`trace <query> <run> <position in the run> <path> <µs>`), to see where a tail comes from.";

/// The default PostgreSQL server (the one CI and the team's machines run).
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The database the benchmark creates and drops on that server (spelled out again in the
/// `DROP`/`CREATE` statements, which sqlx wants as literals).
const BENCH_DATABASE: &str = "roster_bench";

/// What the command line asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) users: usize,
    pub(crate) engines: Vec<Engine>,
    pub(crate) samples: usize,
    pub(crate) import: usize,
    pub(crate) seed: u64,
    pub(crate) write_doc: bool,
    pub(crate) keep: bool,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut options = Self {
            users: 1_000_000,
            engines: vec![Engine::Sqlite, Engine::Postgres],
            samples: 1000,
            import: 100_000,
            seed: 1,
            write_doc: false,
            keep: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().cloned().ok_or_else(|| usage(&format!("{name} needs a value")));
            let number = |name: &str, v: String| {
                v.replace(['_', ','], "").parse::<usize>().map_err(|_| usage(&format!("{name}: `{v}` is not a number")))
            };
            match arg.as_str() {
                "--users" => options.users = number("--users", value("--users")?)?,
                "--samples" => options.samples = number("--samples", value("--samples")?)?,
                "--import" => options.import = number("--import", value("--import")?)?,
                "--seed" => options.seed = u64::try_from(number("--seed", value("--seed")?)?)?,
                "--engine" => {
                    options.engines = match value("--engine")?.as_str() {
                        "sqlite" => vec![Engine::Sqlite],
                        "postgres" => vec![Engine::Postgres],
                        "both" => vec![Engine::Sqlite, Engine::Postgres],
                        other => return Err(usage(&format!("--engine: `{other}` is not sqlite, postgres or both"))),
                    }
                }
                "--write-doc" => options.write_doc = true,
                "--keep" => options.keep = true,
                other => return Err(usage(&format!("unknown option `{other}`"))),
            }
        }
        if options.users < 1_000 {
            return Err(usage("--users must be at least 1000"));
        }
        if options.samples < 10 {
            return Err(usage("--samples must be at least 10 (p99 needs them)"));
        }
        Ok(options)
    }

    /// The command line that reproduces this run.
    pub(crate) fn command(&self) -> String {
        let engine = match self.engines.as_slice() {
            [Engine::Sqlite] => "sqlite",
            [Engine::Postgres] => "postgres",
            _ => "both",
        };
        format!(
            "cargo xtask bench db --users {} --engine {engine} --samples {} --import {} --seed {}{}",
            self.users,
            self.samples,
            self.import,
            self.seed,
            if self.write_doc { " --write-doc" } else { "" }
        )
    }
}

fn usage(problem: &str) -> anyhow::Error {
    Failure::new(2, format!("{problem}\n\n{USAGE}")).into()
}

/// Whether `ROSTER_BENCH_TRACE` asks for every run's timing on stderr.
pub(crate) fn tracing() -> bool {
    std::env::var_os("ROSTER_BENCH_TRACE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Set in the environment of the optimized build that a debug build hands the run to.
const OPTIMIZED_ENV: &str = "ROSTER_BENCH_OPTIMIZED";

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("db" | "http" | "events") if cfg!(debug_assertions) && std::env::var_os(OPTIMIZED_ENV).is_none() => {
            rerun_optimized(args)
        }
        Some("db") => {
            let options = Options::parse(&args[1..])?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("could not start the async runtime")?;
            runtime.block_on(bench_db(&options))
        }
        Some("http") => http::run(&args[1..]),
        Some("events") => events::run(&args[1..]),
        Some("http-baseline") => http::run_baseline(&args[1..]),
        _ => Err(usage("which benchmark? `db`, `http` or `events`")),
    }
}

/// `cargo xtask` builds without optimizations, which would measure unoptimized row mapping in
/// the adapter against an optimized rusqlite: the benchmark runs itself again from a release
/// build (`cargo run --release`), passing its arguments and answering its exit code.
fn rerun_optimized(args: &[String]) -> anyhow::Result<()> {
    eprintln!("bench: building and running the optimized (release) xtask…");
    let status = std::process::Command::new(crate::cargo())
        .args(["run", "--release", "--quiet", "-p", "xtask", "--", "bench"])
        .args(args)
        .env(OPTIMIZED_ENV, "1")
        .current_dir(crate::project_root())
        .status()
        .context("could not start `cargo run --release`")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::new(u8::try_from(code).unwrap_or(1), "the optimized benchmark failed").into()),
        None => bail!("the optimized benchmark was killed ({status})"),
    }
}

async fn bench_db(options: &Options) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for engine in &options.engines {
        let report = match engine {
            Engine::Sqlite => bench_sqlite(options).await?,
            Engine::Postgres => bench_postgres(options).await?,
        };
        report::print_engine(&report);
        reports.push(report);
    }
    let machine = report::Machine::probe(&reports).await;
    report::print_summary(options, &machine, &reports);
    if options.write_doc {
        let path = crate::project_root().join("docs/PERFORMANCE.md");
        report::write_doc(&path, options, &machine, &reports)?;
        eprintln!("bench: wrote the figures into {}", path.display());
    }
    Ok(())
}

async fn bench_sqlite(options: &Options) -> anyhow::Result<EngineReport> {
    let dir = tempfile::tempdir().context("could not create a temp directory for the SQLite file")?;
    let path = dir.path().join("roster-bench.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    eprintln!("bench: SQLite at {}", path.display());
    let db = open(&url).await?;
    let report = bench_engine(options, &db, Some(&path)).await;
    db.close().await.ok();
    if options.keep {
        let kept = dir.keep();
        eprintln!("bench: kept the SQLite database {}", kept.join("roster-bench.db").display());
    }
    report
}

async fn bench_postgres(options: &Options) -> anyhow::Result<EngineReport> {
    let admin_url = std::env::var("ROSTER_BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
    let admin_options: PgConnectOptions = admin_url.parse().with_context(|| {
        format!("ROSTER_BENCH_DATABASE_URL `{}` is not a PostgreSQL URL", roster_adapters_db::redact(&admin_url))
    })?;
    let mut admin = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&admin_options))
        .await
        .map_err(|_| anyhow!("no answer within 10 s"))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .with_context(|| {
            format!(
                "cannot reach PostgreSQL at {} (set ROSTER_BENCH_DATABASE_URL, or run with --engine sqlite)",
                roster_adapters_db::redact(&admin_url)
            )
        })?;
    recreate_database(&mut admin, true).await?;
    let bench_url = with_database(&admin_url, BENCH_DATABASE)?;
    eprintln!("bench: PostgreSQL database {BENCH_DATABASE} at {}", roster_adapters_db::redact(&bench_url));
    let result = async {
        let db = open(&bench_url).await?;
        let report = bench_engine(options, &db, None).await;
        db.close().await.ok();
        report
    }
    .await;
    if options.keep {
        eprintln!("bench: kept the PostgreSQL database {}", roster_adapters_db::redact(&bench_url));
    } else {
        recreate_database(&mut admin, false).await?;
    }
    admin.close().await.ok();
    result
}

/// Drops the benchmark's database (ending any session left on it), and creates it afresh when
/// `create`.
async fn recreate_database(admin: &mut PgConnection, create: bool) -> anyhow::Result<()> {
    use sea_orm::sqlx::Executor as _;
    admin
        .execute(concat!("DROP DATABASE IF EXISTS ", "roster_bench", " WITH (FORCE)"))
        .await
        .with_context(|| format!("could not drop the database {BENCH_DATABASE}"))?;
    if create {
        admin
            .execute(concat!("CREATE DATABASE ", "roster_bench"))
            .await
            .with_context(|| format!("could not create the database {BENCH_DATABASE}"))?;
    }
    Ok(())
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").context("a PostgreSQL URL has a scheme")?;
    let host = rest.split_once('/').map_or(rest, |(host, _)| host);
    let mut out = format!("{scheme}://{host}/{database}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// Opens and migrates the database exactly as `roster serve` does.
async fn open(url: &str) -> anyhow::Result<Db> {
    let db = connect(url).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Everything measured on one engine.
async fn bench_engine(
    options: &Options,
    db: &Db,
    sqlite_file: Option<&std::path::Path>,
) -> anyhow::Result<EngineReport> {
    let engine = db.engine();
    let store = SeaOrmStore::new(db.clone());
    let seats = u32::try_from(options.users + 2 * options.import + 1_000).context("too many users for a seat pool")?;
    eprintln!("bench: generating {} users and {} connections on {engine:?}…", options.users, options.users);
    let started = Instant::now();
    let org = generate::generate(&store, options.users, seats, options.seed).await?;
    let generation = started.elapsed();
    settle(db).await?;
    let rss_after_generation = peak_rss_mib();
    eprintln!(
        "bench: generated {} rows in {:.1} s ({:.0} rows/s); peak RSS {:.0} MiB",
        org.rows_written,
        generation.as_secs_f64(),
        org.rows_written as f64 / generation.as_secs_f64(),
        rss_after_generation.unwrap_or(f64::NAN)
    );
    let raw = raw::RawDb::new(db, sqlite_file)?;
    let queries = queries::run(options, &store, &raw, &org).await?;
    let imports = import::run(options, &store, &raw, &org).await?;
    let rss_after_import = peak_rss_mib();
    // Last: it drops and recreates the license triggers between its batches.
    let license_writes = licenses::run(options, &raw, &org).await?;
    Ok(EngineReport {
        engine,
        users: options.users,
        active: org.active,
        rows_generated: org.rows_written,
        generation,
        rss_after_generation,
        queries,
        imports,
        rss_after_import,
        license_writes,
        version: raw.server_version().await.unwrap_or_else(|e| format!("unknown ({e})")),
    })
}

/// Settles the database after the bulk load, before anything is timed: refreshes the planner's
/// statistics, as an operator would after a migration of this size (PostgreSQL's autovacuum
/// would do it within minutes), and writes the load's pages out of the log. Without the
/// checkpoint, PostgreSQL was still writing back the generation's gigabytes of WAL (a
/// 65-second checkpoint in the server's log) while the queries were timed, and single runs of
/// any path took ~100 ms; SQLite's reads would go through a log holding the last chunks.
async fn settle(db: &Db) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait as _;
    let connection = db.connection();
    connection.execute_unprepared("ANALYZE").await.context("ANALYZE after generation")?;
    let checkpoint = match db.engine() {
        Engine::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
        Engine::Postgres => "CHECKPOINT",
    };
    connection.execute_unprepared(checkpoint).await.with_context(|| {
        format!("`{checkpoint}` after generation (on PostgreSQL it needs a superuser or the role pg_checkpoint)")
    })?;
    Ok(())
}

/// The process's peak resident set (`VmHWM`), in MiB; `None` where `/proc` has no such line.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Times the runs of one measurement: the first few are a warm-up and not kept.
///
/// ```text
/// let mut t = Timings::new(samples);
/// for run in t.runs() { let started = Instant::now(); work(run); t.record(run, started.elapsed()); }
/// ```
/// Each run's index picks its input (a cursor, a search term), so runs do not repeat one page.
#[derive(Debug)]
pub(crate) struct Timings {
    warmup: usize,
    samples: usize,
    times: Vec<Duration>,
}

impl Timings {
    pub(crate) fn new(samples: usize) -> Self {
        Self { warmup: (samples / 10).clamp(3, 20), samples, times: Vec::with_capacity(samples) }
    }

    /// Every run's index: the warm-up's, then the samples'.
    pub(crate) fn runs(&self) -> std::ops::Range<usize> {
        0..self.warmup + self.samples
    }

    pub(crate) fn record(&mut self, run: usize, took: Duration) {
        if run >= self.warmup {
            self.times.push(took);
        }
    }

    pub(crate) fn stats(self) -> Stats {
        Stats::of(self.times)
    }
}

/// Fails when two paths that must answer the same rows do not.
pub(crate) fn check_same<T: PartialEq + std::fmt::Debug>(what: &str, expected: &[T], got: &[T]) -> anyhow::Result<()> {
    if expected != got {
        bail!(
            "{what}: the baseline answered {} rows that differ from the adapter's {} (first: {:?} vs {:?})",
            got.len(),
            expected.len(),
            got.first(),
            expected.first()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_default_to_the_issues_full_run() {
        let o = Options::parse(&[]).expect("no options is valid");
        assert_eq!((o.users, o.import, o.engines.len(), o.write_doc), (1_000_000, 100_000, 2, false));
        assert_eq!(
            o.command(),
            "cargo xtask bench db --users 1000000 --engine both --samples 1000 --import 100000 --seed 1"
        );
    }

    #[test]
    fn options_are_read_and_bad_ones_are_refused_with_usage() {
        let o = Options::parse(&args("--users 20_000 --engine sqlite --samples 50 --import 2000 --write-doc --keep"))
            .expect("valid options");
        assert_eq!((o.users, o.samples, o.import, o.write_doc, o.keep), (20_000, 50, 2_000, true, true));
        assert!(!Options::parse(&[]).expect("no options is valid").keep);
        assert_eq!(o.engines, vec![Engine::Sqlite]);
        for bad in ["--engine mysql", "--users", "--users ten", "--samples 3", "--frobnicate"] {
            let error = Options::parse(&args(bad)).expect_err(bad);
            assert_eq!(error.downcast_ref::<Failure>().map(|f| f.code), Some(2), "{bad}");
        }
    }

    #[test]
    fn the_bench_database_replaces_the_urls_database_only() {
        let url = with_database("postgres://u:p@db:5433/postgres?sslmode=disable", BENCH_DATABASE).expect("valid");
        assert_eq!(url, "postgres://u:p@db:5433/roster_bench?sslmode=disable");
        assert_eq!(with_database("postgres://db", "x").expect("valid"), "postgres://db/x");
    }

    #[test]
    fn warm_up_runs_are_not_recorded() {
        let mut t = Timings::new(10);
        let runs = t.runs();
        assert_eq!(runs.len(), 13);
        for run in runs {
            t.record(run, Duration::from_millis(u64::try_from(run).expect("small")));
        }
        let stats = t.stats();
        assert_eq!((stats.median, stats.p99), (Duration::from_millis(8), Duration::from_millis(12)));
    }
}
