//! `cargo xtask bench http`: `roster demo-data --users N`, then `roster serve` (the release
//! build) on 127.0.0.1 and a load generator against it, and in the same run the same load
//! against a minimal axum baseline on the same database ([`baseline`]). Everything runs on this
//! machine: server, baseline, load generator and database share its cores.
//!
//! Scenarios, each a warm-up and a timed window of `clients` closed loops ([`load`]):
//! 1. `users_page` — `GET /api/v1/users?status=active&sort=last_name&limit=50`, each client
//!    walking the cursor (back to the first page at the end), as the admin; baseline `/users`.
//! 2. `console_users_page` — the console's Users page (`GET /users`, HTML) with the same filter,
//!    sort and 50 rows, each client following its "Next page" link (back to the first page at
//!    the end), with the admin's session cookie; compared with `users_page`'s JSON walk, and the
//!    size of one page's HTML.
//! 3. `connections_page` — `GET /api/v1/connections?limit=50` walking the cursor, as the
//!    `operations` member (visibility applied); baseline `/connections` for the same viewer.
//! 4. `user_by_id` — `GET /api/v1/users/{id}` over 2,000 ids read from the Users table.
//! 5. `seat_race` — 32 clients assign Flow with `PUT /users/{id}/licenses` to 4 users each
//!    while only 40 seats are free: exactly 40 must succeed, every other answer a 409
//!    `seat_limit_reached`, no 5xx, and the pool must end full, never over.
//! 6. `export_csv` — `GET /api/v1/users/export.csv` of the whole organization, streamed to
//!    nowhere, with the server's peak resident set meanwhile.
//! 7. `scim_user_by_username` and `scim_initial_sync` — the SCIM face as an identity provider
//!    drives it ([`scim`]).

mod baseline;
mod load;
mod scim;

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::Failure;
use load::LoadReport;

pub(crate) use baseline::run as run_baseline;

const USAGE: &str = "\
Usage: cargo xtask bench http [--users N] [--engine sqlite|postgres|both] [--clients C] [--seconds S]
                              [--write-doc]

  --users N     users of the generated organization (`roster demo-data`), and as many connections
                (default 1000000)
  --engine E    sqlite, postgres or both (default sqlite)
  --clients C   concurrent clients of the read scenarios (default 32)
  --seconds S   timed window of each read scenario, after a 3 s warm-up (default 20)
  --write-doc   rewrite the `bench http` section of docs/PERFORMANCE.md with this run's figures

PostgreSQL: ROSTER_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names a
server; the benchmark creates a database `roster_bench_http` there (dropping any left over) and
drops it at the end.";

/// The password `demo-data` gives its admin and members.
const PASSWORD: &str = "bench-http-password-1";
/// The generated organization.
const ORG: &str = "bench";
/// Clients of the seat race, users per client, seats left free.
const RACE_CLIENTS: usize = 32;
const RACE_USERS_PER_CLIENT: usize = 4;
const RACE_FREE_SEATS: u32 = 40;

#[derive(Debug, Clone)]
struct Options {
    users: u32,
    engines: Vec<&'static str>,
    clients: usize,
    seconds: u64,
    write_doc: bool,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self { users: 1_000_000, engines: vec!["sqlite"], clients: 32, seconds: 20, write_doc: false };
        let mut it = args.iter();
        let usage = |p: &str| anyhow::Error::from(Failure::new(2, format!("{p}\n\n{USAGE}")));
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().cloned().ok_or_else(|| usage(&format!("{name} needs a value")));
            let number = |name: &str, v: String| {
                v.replace(['_', ','], "").parse::<u64>().map_err(|_| usage(&format!("{name}: `{v}` is not a number")))
            };
            match arg.as_str() {
                "--users" => o.users = u32::try_from(number("--users", value("--users")?)?)?,
                "--clients" => o.clients = usize::try_from(number("--clients", value("--clients")?)?)?,
                "--seconds" => o.seconds = number("--seconds", value("--seconds")?)?,
                "--engine" => {
                    o.engines = match value("--engine")?.as_str() {
                        "sqlite" => vec!["sqlite"],
                        "postgres" => vec!["postgres"],
                        "both" => vec!["sqlite", "postgres"],
                        other => return Err(usage(&format!("--engine: `{other}` is not sqlite, postgres or both"))),
                    }
                }
                "--write-doc" => o.write_doc = true,
                other => return Err(usage(&format!("unknown option `{other}`"))),
            }
        }
        if o.users < 1_000 {
            return Err(usage("--users must be at least 1000"));
        }
        if o.clients == 0 || o.seconds == 0 {
            return Err(usage("--clients and --seconds must be at least 1"));
        }
        Ok(o)
    }

    fn command(&self) -> String {
        let engine = if self.engines.len() == 2 { "both" } else { self.engines[0] };
        format!(
            "cargo xtask bench http --users {} --engine {engine} --clients {} --seconds {}{}",
            self.users,
            self.clients,
            self.seconds,
            if self.write_doc { " --write-doc" } else { "" }
        )
    }
}

/// A child process killed when dropped.
pub(super) struct Process(pub(super) Child);

impl Drop for Process {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// What one engine's run measured.
struct EngineRun {
    engine: &'static str,
    demo_data_seconds: f64,
    users_page: (LoadReport, LoadReport),
    console_page: LoadReport,
    /// The largest HTML of the first pages walked (a page of 50 rows), bytes.
    console_html_bytes: usize,
    connections_page: (LoadReport, LoadReport),
    user_by_id: LoadReport,
    scim_lookups: scim::Lookups,
    scim_sync: scim::SyncReport,
    race: RaceReport,
    export: ExportReport,
    idle_rss_mib: f64,
}

struct RaceReport {
    attempts: usize,
    succeeded: usize,
    refused_seat_limit: usize,
    other: Vec<String>,
    seats_used: u64,
    seats_total: u64,
}

struct ExportReport {
    rows: usize,
    megabytes: f64,
    seconds: f64,
    peak_rss_mib: Option<f64>,
}

/// `cargo xtask bench http …` (already in the optimized build).
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    let roster = build_roster()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let mut runs = Vec::new();
    for engine in &options.engines {
        runs.push(runtime.block_on(bench_engine(&options, &roster, engine))?);
    }
    let text = report(&options, &runs);
    eprintln!("{text}");
    if options.write_doc {
        let path = crate::project_root().join("docs/PERFORMANCE.md");
        write_doc(&path, &text)?;
        eprintln!("bench http: wrote the figures into {}", path.display());
    }
    Ok(())
}

/// Builds the release `roster` binary; its path.
pub(super) fn build_roster() -> anyhow::Result<PathBuf> {
    eprintln!("bench http: building the release `roster`…");
    let status = Command::new(crate::cargo())
        .args(["build", "--release", "--quiet", "-p", "roster-app", "--bin", "roster"])
        .current_dir(crate::project_root())
        .status()
        .context("could not start cargo build")?;
    if !status.success() {
        bail!("building roster failed ({status})");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| crate::project_root().join("target"), PathBuf::from);
    Ok(target.join("release/roster"))
}

pub(super) fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

pub(super) async fn wait_until_up(client: &reqwest::Client, url: &str, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("{url}: the server exited ({status})");
        }
        if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{url} did not answer within 120 s")
}

async fn bench_engine(options: &Options, roster: &Path, engine: &'static str) -> anyhow::Result<EngineRun> {
    let dir = tempfile::tempdir()?;
    let (url, pg_admin) = match engine {
        "sqlite" => (format!("sqlite://{}?mode=rwc", dir.path().join("bench-http.db").display()), None),
        _ => {
            let admin = std::env::var("ROSTER_BENCH_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            recreate_pg_database(&admin, true).await?;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
            (format!("{base}/roster_bench_http"), Some(admin))
        }
    };
    eprintln!("bench http [{engine}]: roster demo-data --users {}…", options.users);
    let started = Instant::now();
    let status = Command::new(roster)
        .args(["demo-data", "--users", &options.users.to_string(), "--org", ORG, "--password", PASSWORD])
        .env("ROSTER_DATABASE_URL", &url)
        .stdout(Stdio::null())
        .status()
        .context("could not run roster demo-data")?;
    if !status.success() {
        bail!("roster demo-data failed ({status})");
    }
    let demo_data_seconds = started.elapsed().as_secs_f64();

    let listen = free_port()?;
    let mut server = Process(
        Command::new(roster)
            .args(["serve", "--listen", &listen.to_string()])
            .env("ROSTER_DATABASE_URL", &url)
            .env("ROSTER_OUTBOX_DIR", dir.path().join("outbox"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("could not start roster serve")?,
    );
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let base = format!("http://{listen}");
    wait_until_up(&client, &format!("{base}/readyz"), &mut server.0).await?;
    let pid = server.0.id();
    let idle_rss_mib = load::rss_kib(pid)? as f64 / 1024.0;
    let admin = login(&client, &base, &format!("admin@{ORG}.example")).await?;
    let operations = login(&client, &base, &format!("operations@{ORG}.example")).await?;
    let me: Value = client.get(format!("{base}/api/v1/me")).bearer_auth(&operations).send().await?.json().await?;
    let org_id = me["org_id"].as_str().context("org_id")?.to_owned();
    let viewer = me["user"]["id"].as_str().context("user.id")?.to_owned();

    let baseline_listen = free_port()?;
    let mut baseline = Process(
        Command::new(std::env::current_exe()?)
            .args(["bench", "http-baseline", &url, &baseline_listen.to_string(), &org_id, &viewer])
            .spawn()
            .context("could not start the baseline server")?,
    );
    let baseline_base = format!("http://{baseline_listen}");
    wait_until_up(&client, &format!("{baseline_base}/healthz"), &mut baseline.0).await?;
    let baseline_pid = baseline.0.id();

    let (warmup, window, clients) = (Duration::from_secs(3), Duration::from_secs(options.seconds), options.clients);
    let walk = |base: String, path: &'static str, token: Option<String>, pid: u32, client: reqwest::Client| {
        load::run(clients, warmup, window, pid, move |_, _, cursor| {
            let (client, token) = (client.clone(), token.clone());
            let url = match &cursor {
                Some(c) => format!("{base}{path}{}cursor={}", if path.contains('?') { "&" } else { "?" }, urlencode(c)),
                None => format!("{base}{path}"),
            };
            async move { load::get(&client, &url, token.as_deref()).await }
        })
    };
    eprintln!("bench http [{engine}]: users_page…");
    let users_product = walk(
        base.clone(),
        "/api/v1/users?status=active&sort=last_name&limit=50",
        Some(admin.clone()),
        pid,
        client.clone(),
    )
    .await;
    let users_baseline = walk(baseline_base.clone(), "/users", None, baseline_pid, client.clone()).await;
    eprintln!("bench http [{engine}]: console_users_page…");
    let cookie = format!("roster_session={admin}");
    let first = format!("{base}/users?status=active&sort=last_name&per_page=50");
    let mut console_html_bytes = 0;
    let mut page = first.clone();
    for _ in 0..5 {
        let (outcome, bytes) = load::get_html(&client, &page, &cookie).await;
        if outcome.status != 200 {
            bail!("the console's Users page answered {} at {page}", outcome.status);
        }
        console_html_bytes = console_html_bytes.max(bytes);
        match outcome.next_cursor {
            Some(path) => page = format!("{base}{path}"),
            None => bail!("the console's Users page has no next page at {page}"),
        }
    }
    let console_page = {
        let (client, base, first, cookie) = (client.clone(), base.clone(), first.clone(), cookie.clone());
        load::run(clients, warmup, window, pid, move |_, _, next| {
            let url = next.map_or_else(|| first.clone(), |path| format!("{base}{path}"));
            let (client, cookie) = (client.clone(), cookie.clone());
            async move { load::get_html(&client, &url, &cookie).await.0 }
        })
        .await
    };
    eprintln!("bench http [{engine}]: connections_page…");
    let connections_product =
        walk(base.clone(), "/api/v1/connections?limit=50", Some(operations.clone()), pid, client.clone()).await;
    let connections_baseline = walk(baseline_base.clone(), "/connections", None, baseline_pid, client.clone()).await;

    eprintln!("bench http [{engine}]: user_by_id…");
    let (ids, emails): (Vec<String>, Vec<String>) = user_ids(&client, &base, &admin, 2_000).await?.into_iter().unzip();
    let by_id = {
        let (ids, base, token, client) = (std::sync::Arc::new(ids), base.clone(), admin.clone(), client.clone());
        load::run(clients, warmup, window, pid, move |c, n, _| {
            let id = ids[(c * 7919 + usize::try_from(n).unwrap_or(0)) % ids.len()].clone();
            let (client, url, token) = (client.clone(), format!("{base}/api/v1/users/{id}"), token.clone());
            async move { load::get(&client, &url, Some(&token)).await }
        })
        .await
    };

    eprintln!("bench http [{engine}]: scim_user_by_username, user_by_email…");
    let scim_token = scim::scim_key(&client, &base, &admin).await?;
    let scim_lookups =
        scim::lookups(&client, &base, (&scim_token, &admin), emails, (clients, warmup, window, pid)).await?;

    eprintln!("bench http [{engine}]: seat_race…");
    let race = seat_race(&client, &base, &admin, roster, &url).await?;
    eprintln!("bench http [{engine}]: export_csv…");
    let export = export_csv(&client, &base, &admin, pid).await?;
    eprintln!("bench http [{engine}]: scim_initial_sync of {} users…", scim::SYNC_USERS);
    let scim_sync = scim::initial_sync(&client, &base, &scim_token).await?;

    drop(baseline);
    drop(server);
    if let Some(admin) = pg_admin {
        recreate_pg_database(&admin, false).await?;
    }
    Ok(EngineRun {
        engine,
        demo_data_seconds,
        users_page: (users_product, users_baseline),
        console_page,
        console_html_bytes,
        connections_page: (connections_product, connections_baseline),
        user_by_id: by_id,
        scim_lookups,
        scim_sync,
        race,
        export,
        idle_rss_mib,
    })
}

pub(super) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn login(client: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<String> {
    let r = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"org": ORG, "email": email, "password": PASSWORD}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("logging in as {email}: {} {}", r.status(), r.text().await.unwrap_or_default());
    }
    let body: Value = r.json().await?;
    Ok(body["token"].as_str().context("a token")?.to_owned())
}

/// `n` live users' ids and emails, walking the Users table by cursor.
async fn user_ids(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < n {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/users?limit=200&cursor={}", urlencode(c)),
            None => format!("{base}/api/v1/users?limit=200"),
        };
        let page: Value = client.get(url).bearer_auth(token).send().await?.json().await?;
        for u in page["items"].as_array().context("items")? {
            ids.push((u["id"].as_str().context("id")?.to_owned(), u["email"].as_str().context("email")?.to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.truncate(n);
    Ok(ids)
}

/// The Flow pool as `GET /licenses` shows it: (used, total).
async fn flow_pool(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<(u64, u64)> {
    let list: Value = client.get(format!("{base}/api/v1/licenses")).bearer_auth(token).send().await?.json().await?;
    let pool = list["items"].as_array().context("items")?.iter().find(|p| p["product"] == "flow").context("flow")?;
    Ok((pool["seats_used"].as_u64().context("used")?, pool["seats_total"].as_u64().context("total")?))
}

async fn seat_race(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    roster: &Path,
    url: &str,
) -> anyhow::Result<RaceReport> {
    // Active Core holders without Flow, with what they hold (a PUT sets the whole set).
    let want = RACE_CLIENTS * RACE_USERS_PER_CLIENT;
    let page: Value = client
        .get(format!("{base}/api/v1/users?status=active&product=-flow&limit=200"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let users: Vec<(String, Vec<String>)> = page["items"]
        .as_array()
        .context("items")?
        .iter()
        .take(want)
        .map(|u| {
            let mut products: Vec<String> =
                u["products"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(str::to_owned)).collect();
            products.push("flow".to_owned());
            (u["id"].as_str().unwrap_or_default().to_owned(), products)
        })
        .collect();
    if users.len() < want {
        bail!("seat race: only {} active users without Flow", users.len());
    }
    let (used, _) = flow_pool(client, base, token).await?;
    let total = u32::try_from(used)? + RACE_FREE_SEATS;
    let status = Command::new(roster)
        .args(["seats", "set", "--org", ORG, "flow", &total.to_string()])
        .env("ROSTER_DATABASE_URL", url)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("roster seats set failed ({status})");
    }
    let users = std::sync::Arc::new(users);
    let mut tasks = Vec::new();
    for c in 0..RACE_CLIENTS {
        let (users, client, base, token) = (users.clone(), client.clone(), base.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for k in 0..RACE_USERS_PER_CLIENT {
                let (id, products) = &users[c * RACE_USERS_PER_CLIENT + k];
                let r = client
                    .put(format!("{base}/api/v1/users/{id}/licenses"))
                    .bearer_auth(&token)
                    .json(&json!({ "products": products }))
                    .send()
                    .await;
                answers.push(match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        (status, body["code"].as_str().unwrap_or_default().to_owned())
                    }
                    Err(e) => (0, e.to_string()),
                });
            }
            answers
        }));
    }
    let mut report = RaceReport {
        attempts: 0,
        succeeded: 0,
        refused_seat_limit: 0,
        other: Vec::new(),
        seats_used: 0,
        seats_total: 0,
    };
    for t in tasks {
        for (status, code) in t.await? {
            report.attempts += 1;
            match (status, code.as_str()) {
                (200, _) => report.succeeded += 1,
                (409, "seat_limit_reached") => report.refused_seat_limit += 1,
                _ => report.other.push(format!("{status} {code}")),
            }
        }
    }
    (report.seats_used, report.seats_total) = flow_pool(client, base, token).await?;
    Ok(report)
}

async fn export_csv(client: &reqwest::Client, base: &str, token: &str, pid: u32) -> anyhow::Result<ExportReport> {
    let rss = load::RssSampler::start(pid);
    let started = Instant::now();
    let mut response = client.get(format!("{base}/api/v1/users/export.csv")).bearer_auth(token).send().await?;
    if !response.status().is_success() {
        bail!("export: {}", response.status());
    }
    let (mut bytes, mut lines) = (0_usize, 0_usize);
    while let Some(chunk) = response.chunk().await? {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(ExportReport {
        rows: lines.saturating_sub(1),
        megabytes: bytes as f64 / 1_048_576.0,
        seconds,
        peak_rss_mib: rss.stop(),
    })
}

/// Creates (`create`) or only drops the benchmark's PostgreSQL database.
async fn recreate_pg_database(admin_url: &str, create: bool) -> anyhow::Result<()> {
    use sea_orm::sqlx::{self, Connection as _};
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connecting to {}", roster_adapters_db::redact(admin_url)))?;
    sqlx::query("DROP DATABASE IF EXISTS roster_bench_http WITH (FORCE)").execute(&mut admin).await?;
    if create {
        sqlx::query("CREATE DATABASE roster_bench_http").execute(&mut admin).await?;
    }
    admin.close().await.ok();
    Ok(())
}

fn ratio(a: f64, b: f64) -> f64 {
    a / b
}

pub(super) fn verdict(ok: bool) -> &'static str {
    if ok { "meets" } else { "MISSES" }
}

fn statuses(r: &LoadReport) -> String {
    r.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect::<Vec<_>>().join(" ")
}

fn rss(r: Option<f64>) -> String {
    r.map_or_else(|| "?".to_owned(), |m| format!("{m:.0} MiB"))
}

/// The report, as Markdown.
fn report(options: &Options, runs: &[EngineRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Command: `{}`", options.command());
    let _ = writeln!(
        out,
        "Machine: {} cores; server, baseline, load generator and database on the same cores.\n",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    for run in runs {
        let _ = writeln!(
            out,
            "### {} — {} users (`roster demo-data`: {:.0} s)\n",
            run.engine, options.users, run.demo_data_seconds
        );
        let _ = writeln!(out, "| scenario | path | req/s | p50 ms | p99 ms | answers | server RSS peak |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
        for (name, (product, base)) in [("users_page", &run.users_page), ("connections_page", &run.connections_page)] {
            for (path, r) in [("roster", product), ("baseline", base)] {
                let _ = writeln!(
                    out,
                    "| {name} | {path} | {:.0} | {:.2} | {:.2} | {} | {} |",
                    r.per_second(),
                    r.p50_ms,
                    r.p99_ms,
                    statuses(r),
                    rss(r.peak_rss_mib)
                );
            }
        }
        let r = &run.console_page;
        let _ = writeln!(
            out,
            "| console_users_page | roster (HTML) | {:.0} | {:.2} | {:.2} | {} | {} |",
            r.per_second(),
            r.p50_ms,
            r.p99_ms,
            statuses(r),
            rss(r.peak_rss_mib)
        );
        for (name, r) in [
            ("user_by_id", &run.user_by_id),
            ("user_by_email (`?q=`, 1 client)", &run.scim_lookups.rest_by_email),
            ("scim_user_by_username", &run.scim_lookups.scim),
        ] {
            let _ = writeln!(
                out,
                "| {name} | roster | {:.0} | {:.2} | {:.2} | {} | {} |",
                r.per_second(),
                r.p50_ms,
                r.p99_ms,
                statuses(r),
                rss(r.peak_rss_mib)
            );
        }
        out.push('\n');
        let _ = writeln!(out, "Targets (ratios to the baseline of the same run):\n");
        for (name, (product, base)) in [("users_page", &run.users_page), ("connections_page", &run.connections_page)] {
            let throughput = ratio(product.per_second(), base.per_second());
            let p99 = ratio(product.p99_ms, base.p99_ms);
            let _ = writeln!(
                out,
                "- {name}: throughput {:.0}% of the baseline (target ≥ 50%: {}), p99 {p99:.2}× (target ≤ 2×: {}), {} non-2xx",
                throughput * 100.0,
                verdict(throughput >= 0.5),
                verdict(p99 <= 2.0),
                product.failures()
            );
        }
        let (html, json) = (&run.console_page, &run.users_page.0);
        let p99 = ratio(html.p99_ms, json.p99_ms);
        let _ = writeln!(
            out,
            "- console_users_page: p99 {p99:.2}× the JSON users_page's (target ≤ 1.2×: {}), median {:.2}×, {} non-2xx; \
             a page of 50 rows is {:.0} KB of HTML (target < 150 KB: {})",
            verdict(p99 <= 1.2),
            ratio(html.p50_ms, json.p50_ms),
            html.failures(),
            run.console_html_bytes as f64 / 1000.0,
            verdict(run.console_html_bytes < 150_000)
        );
        let (scim, by_id, by_email) = (&run.scim_lookups.scim, &run.user_by_id, &run.scim_lookups.rest_by_email);
        let p99 = ratio(scim.p99_ms, by_id.p99_ms);
        let _ = writeln!(
            out,
            "- scim_user_by_username: p99 {p99:.2}× the REST API's indexed read of one user, user_by_id (target ≤ 1.5×: {}); \
             {:.2}× the REST lookup by email, `GET /users?q=<email>`; {} non-2xx",
            verdict(p99 <= 1.5),
            ratio(scim.p99_ms, by_email.p99_ms),
            scim.failures()
        );
        let s = &run.scim_sync;
        let sync_ok = s.users == scim::SYNC_USERS && s.unexpected.is_empty() && s.found_after == s.users as u64;
        let _ = writeln!(
            out,
            "- scim_initial_sync: {} users looked up and created by 8 clients in {:.1} s ({:.0} users/s; create p50 \
             {:.1} ms, p99 {:.1} ms; lookup p99 {:.1} ms), then {} groups with {} members by `PATCH` (p99 {:.1} ms): \
             {:.1} s in all; {} found by `userName ew` afterwards; unexpected answers: {} ({})",
            s.users,
            s.users_seconds,
            s.users as f64 / s.users_seconds,
            s.create_p50_ms,
            s.create_p99_ms,
            s.lookup_p99_ms,
            s.groups,
            s.memberships,
            s.patch_p99_ms,
            s.seconds,
            s.found_after,
            if s.unexpected.is_empty() {
                "none".to_owned()
            } else {
                s.unexpected.iter().map(|(k, n)| format!("{k}×{n}")).collect::<Vec<_>>().join(", ")
            },
            verdict(sync_ok)
        );
        let race = &run.race;
        let race_ok = race.succeeded == RACE_FREE_SEATS as usize
            && race.other.is_empty()
            && race.seats_used == race.seats_total
            && race.refused_seat_limit + race.succeeded == race.attempts;
        let _ = writeln!(
            out,
            "- seat_race: {} attempts by {RACE_CLIENTS} clients for {RACE_FREE_SEATS} free Flow seats: {} assigned, {} refused \
             `seat_limit_reached`, {} other answers{}; pool {} of {} used ({})",
            race.attempts,
            race.succeeded,
            race.refused_seat_limit,
            race.other.len(),
            if race.other.is_empty() { String::new() } else { format!(" ({})", race.other.join(", ")) },
            race.seats_used,
            race.seats_total,
            verdict(race_ok)
        );
        let peak_load = [
            &run.users_page.0,
            &run.console_page,
            &run.connections_page.0,
            &run.user_by_id,
            &run.scim_lookups.scim,
            &run.scim_lookups.rest_by_email,
        ]
        .iter()
        .filter_map(|r| r.peak_rss_mib)
        .fold(0.0_f64, f64::max);
        let _ = writeln!(
            out,
            "- server RSS: {:.0} MiB idle after start, {peak_load:.0} MiB peak under load (target ≤ 150 MiB: {})",
            run.idle_rss_mib,
            verdict(peak_load <= 150.0)
        );
        let e = &run.export;
        let _ = writeln!(
            out,
            "- export_csv: {} rows, {:.0} MiB in {:.1} s ({:.0} rows/s), server RSS peak {} (target ≤ 150 MiB: {})\n",
            e.rows,
            e.megabytes,
            e.seconds,
            e.rows as f64 / e.seconds,
            rss(e.peak_rss_mib),
            verdict(e.peak_rss_mib.is_some_and(|m| m <= 150.0))
        );
    }
    out
}

const BEGIN: &str = "<!-- bench http: begin (generated by `cargo xtask bench http --write-doc`) -->";
const END: &str = "<!-- bench http: end -->";

fn write_doc(path: &Path, text: &str) -> anyhow::Result<()> {
    let doc = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let section = format!("{BEGIN}\n{text}\n{END}");
    let new = match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{section}{}", &doc[..b], &doc[e + END.len()..]),
        _ => format!("{doc}\n## `cargo xtask bench http`\n\n{section}\n"),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}
