//! `cargo xtask bench events`: the events feed and webhook delivery of the release `roster
//! serve` (SPEC §9.1), on SQLite and/or PostgreSQL, everything on this machine — server,
//! database, consumers and the receiver share its cores.
//!
//! For each engine: `roster demo-data --users N`, then `roster serve` with
//! `ROSTER_WEBHOOKS_ALLOW_INSECURE=1` (the receiver is on 127.0.0.1), and:
//! 1. **feed build** — bulk jobs (`POST /users/bulk` over the active users, alternating the
//!    e-mail throttle) until the feed holds about `--feed` events (`user.updated`, one per user
//!    changed), timed as a side figure.
//! 2. **feed read** — one consumer, then four at once, walking the whole feed with `GET
//!    /api/v1/events?after=<cursor>&limit=200` from the start: events/s and the page latency.
//! 3. **delivery backlog** — an endpoint subscribed to everything replays the last `--backlog`
//!    events to the loopback receiver (which answers `204` at once): deliveries/s from the
//!    replay to the last event's arrival, one endpoint (one request in flight) and then four
//!    endpoints at once; each endpoint's requests are checked to come in position order, each
//!    event once.
//! 4. **bulk change** — every second for `--seconds`, one synchronous `POST /users/bulk` of 500
//!    users (the e-mail throttle), while one endpoint receives everything: the change rate
//!    reached, the deliveries per second, the largest lag (events committed but not yet
//!    received, sampled every 100 ms) and how long after the last change the last event arrived.
//!    The worker keeps up when that drain takes at most 2 s.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::http::{Process, build_roster, free_port, urlencode, verdict, wait_until_up};
use crate::Failure;

const USAGE: &str = "\
Usage: cargo xtask bench events [--users N] [--feed E] [--backlog B] [--seconds S]
                                [--engine sqlite|postgres|both] [--write-doc]

  --users N     users of the generated organization (`roster demo-data`; default 20000)
  --feed E      events the feed is filled to, by bulk jobs over the active users (default 200000)
  --backlog B   events each endpoint replays in the delivery scenario (default 20000)
  --seconds S   seconds of the 500-users/s bulk change (default 20)
  --engine E    sqlite, postgres or both (default both)
  --write-doc   rewrite the `bench events` section of docs/PERFORMANCE.md with this run's figures

PostgreSQL: ROSTER_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names a
server; the benchmark creates a database `roster_bench_events` there (dropping any left over)
and drops it at the end.";

const PASSWORD: &str = "bench-events-password-1";
const ORG: &str = "bench";
/// Users changed by each call of the bulk-change scenario, once a second.
const BULK: usize = 500;
/// Endpoints of the parallel backlog scenario.
const PARALLEL_ENDPOINTS: usize = 4;
/// The feed's page size (the most `GET /events` gives).
const PAGE: u32 = 200;

#[derive(Debug, Clone)]
struct Options {
    users: u32,
    feed: u64,
    backlog: u64,
    seconds: u64,
    engines: Vec<&'static str>,
    write_doc: bool,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self {
            users: 20_000,
            feed: 200_000,
            backlog: 20_000,
            seconds: 20,
            engines: vec!["sqlite", "postgres"],
            write_doc: false,
        };
        let usage = |p: &str| anyhow::Error::from(Failure::new(2, format!("{p}\n\n{USAGE}")));
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().cloned().ok_or_else(|| usage(&format!("{name} needs a value")));
            let number = |name: &str, v: String| {
                v.replace(['_', ','], "").parse::<u64>().map_err(|_| usage(&format!("{name}: `{v}` is not a number")))
            };
            match arg.as_str() {
                "--users" => o.users = u32::try_from(number("--users", value("--users")?)?)?,
                "--feed" => o.feed = number("--feed", value("--feed")?)?,
                "--backlog" => o.backlog = number("--backlog", value("--backlog")?)?,
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
            return Err(usage("--users must be at least 1000 (the bulk change takes 500 active users)"));
        }
        if o.backlog == 0 || o.seconds == 0 || o.feed < o.backlog {
            return Err(usage("--backlog and --seconds must be at least 1, and --feed at least --backlog"));
        }
        Ok(o)
    }

    fn command(&self) -> String {
        let engine = if self.engines.len() == 2 { "both" } else { self.engines[0] };
        format!(
            "cargo xtask bench events --users {} --feed {} --backlog {} --seconds {} --engine {engine}{}",
            self.users,
            self.feed,
            self.backlog,
            self.seconds,
            if self.write_doc { " --write-doc" } else { "" }
        )
    }
}

/// What the receiver got: per endpoint (its path's name), each request's event position and
/// action, in arrival order, with the arrival time.
#[derive(Default)]
struct Inbox {
    by_endpoint: BTreeMap<String, Vec<(u64, String, Instant)>>,
}

type SharedInbox = Arc<Mutex<Inbox>>;

async fn receive(State(inbox): State<SharedInbox>, UrlPath(name): UrlPath<String>, body: Bytes) -> StatusCode {
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let position = event["position"].as_u64().unwrap_or(0);
    let action = event["action"].as_str().unwrap_or_default().to_owned();
    let mut inbox = inbox.lock().expect("not poisoned");
    inbox.by_endpoint.entry(name).or_default().push((position, action, Instant::now()));
    StatusCode::NO_CONTENT
}

impl Inbox {
    fn of(&self, name: &str) -> &[(u64, String, Instant)] {
        self.by_endpoint.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The receiver on 127.0.0.1; its base URL (`…/hook/<name>` per endpoint).
async fn start_receiver(inbox: SharedInbox) -> anyhow::Result<String> {
    let app = axum::Router::new().route("/hook/{name}", axum::routing::post(receive)).with_state(inbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    Ok(base)
}

struct ReadRun {
    consumers: usize,
    events: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct BacklogRun {
    endpoints: usize,
    deliveries: u64,
    seconds: f64,
    in_order: bool,
}

struct BulkRun {
    calls: usize,
    changed: u64,
    seconds: f64,
    call_p50_ms: f64,
    delivered: u64,
    max_lag: u64,
    drain_seconds: f64,
    in_order: bool,
}

struct EngineRun {
    engine: &'static str,
    demo_data_seconds: f64,
    feed_events: u64,
    feed_build_seconds: f64,
    reads: Vec<ReadRun>,
    backlogs: Vec<BacklogRun>,
    bulk: BulkRun,
}

/// `cargo xtask bench events …` (already in the optimized build).
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
        eprintln!("bench events: wrote the figures into {}", path.display());
    }
    Ok(())
}

/// A client of the running server, logged in as the organization's admin.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let (status, body) = self.send(method.clone(), path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: {status} {body}");
        }
        Ok(body)
    }
}

async fn bench_engine(options: &Options, roster: &Path, engine: &'static str) -> anyhow::Result<EngineRun> {
    let dir = tempfile::tempdir()?;
    let (url, pg_admin) = match engine {
        "sqlite" => (format!("sqlite://{}?mode=rwc", dir.path().join("bench-events.db").display()), None),
        _ => {
            let admin = std::env::var("ROSTER_BENCH_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            recreate_pg_database(&admin, true).await?;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
            (format!("{base}/roster_bench_events"), Some(admin))
        }
    };
    eprintln!("bench events [{engine}]: roster demo-data --users {}…", options.users);
    let started = Instant::now();
    let status = Command::new(roster)
        .args(["demo-data", "--users", &options.users.to_string(), "--org", ORG, "--connections", "0"])
        .args(["--password", PASSWORD])
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
            .env("ROSTER_WEBHOOKS_ALLOW_INSECURE", "1")
            .env("ROSTER_WORKER_TICK_MS", "200")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .context("could not start roster serve")?,
    );
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let base = format!("http://{listen}");
    wait_until_up(&client, &format!("{base}/readyz"), &mut server.0).await?;
    let token = login(&client, &base).await?;
    let api = Api { client, base, token };

    eprintln!("bench events [{engine}]: filling the feed to ~{} events…", options.feed);
    let (feed_events, feed_build_seconds) = fill_feed(&api, options.feed).await?;
    let mut reads = Vec::new();
    for consumers in [1, 4] {
        eprintln!("bench events [{engine}]: feed read, {consumers} consumer(s)…");
        reads.push(read_feed(&api, consumers).await?);
    }

    let inbox = SharedInbox::default();
    let hooks = start_receiver(inbox.clone()).await?;
    let mut backlogs = Vec::new();
    eprintln!("bench events [{engine}]: delivery backlog, 1 endpoint…");
    let main = register(&api, &format!("{hooks}/main")).await?;
    let last = last_position(&api).await?;
    backlogs.push(backlog(&api, &inbox, &[("main", main.as_str())], last, options.backlog).await?);
    eprintln!("bench events [{engine}]: delivery backlog, {PARALLEL_ENDPOINTS} endpoints…");
    let mut parallel = Vec::new();
    for i in 0..PARALLEL_ENDPOINTS {
        let name = format!("p{i}");
        parallel.push((name.clone(), register(&api, &format!("{hooks}/{name}")).await?));
    }
    let last = last_position(&api).await?;
    let named: Vec<(&str, &str)> = parallel.iter().map(|(n, id)| (n.as_str(), id.as_str())).collect();
    backlogs.push(backlog(&api, &inbox, &named, last, options.backlog).await?);
    for (_, id) in &parallel {
        api.ok(reqwest::Method::DELETE, &format!("/api/v1/webhooks/{id}"), None).await?;
    }

    eprintln!("bench events [{engine}]: bulk change of {BULK} users/s for {} s…", options.seconds);
    let bulk = bulk_change(&api, &inbox, options.seconds).await?;

    drop(server);
    if let Some(admin) = pg_admin {
        recreate_pg_database(&admin, false).await?;
    }
    Ok(EngineRun { engine, demo_data_seconds, feed_events, feed_build_seconds, reads, backlogs, bulk })
}

async fn login(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let email = format!("admin@{ORG}.example");
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

/// Runs bulk jobs over the active users until the feed holds about `target` events; the events
/// the jobs made and the seconds they took.
async fn fill_feed(api: &Api, target: u64) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let mut made = 0_u64;
    let mut round = 0_u32;
    while made < target {
        round += 1;
        let body = json!({"filter": {"status": ["active"]}, "action": "set_email_throttle",
                          "email_throttle_max_per_day": 100 + round % 2});
        let (status, answer) = api.send(reqwest::Method::POST, "/api/v1/users/bulk", Some(body)).await?;
        if status != 202 {
            bail!("the bulk job was not queued: {status} {answer}");
        }
        let job = answer["id"].as_str().context("a job id")?.to_owned();
        let deadline = Instant::now() + Duration::from_secs(1800);
        loop {
            let state = api.ok(reqwest::Method::GET, &format!("/api/v1/jobs/{job}"), None).await?;
            if state["state"] == "done" {
                made += state["done"].as_u64().unwrap_or(0);
                break;
            }
            if state["state"] == "failed" || Instant::now() > deadline {
                bail!("the bulk job did not finish: {state}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("bench events: {made} events after {:.0} s", started.elapsed().as_secs_f64());
    }
    Ok((made, started.elapsed().as_secs_f64()))
}

/// The feed's last position (an empty read past everything answers it as the cursor).
async fn last_position(api: &Api) -> anyhow::Result<u64> {
    let mut after = 0_u64;
    loop {
        let page = api.ok(reqwest::Method::GET, &format!("/api/v1/events?after={after}&limit={PAGE}"), None).await?;
        let cursor: u64 = page["next_cursor"].as_str().context("a cursor")?.parse()?;
        if cursor == after {
            return Ok(after);
        }
        after = cursor;
    }
}

/// `consumers` clients each walking the whole feed from the start.
async fn read_feed(api: &Api, consumers: usize) -> anyhow::Result<ReadRun> {
    let started = Instant::now();
    let mut walks = Vec::new();
    for _ in 0..consumers {
        let (client, base, token) = (api.client.clone(), api.base.clone(), api.token.clone());
        walks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut events, mut cursor) = (0_u64, String::new());
            loop {
                let url = match cursor.as_str() {
                    "" => format!("{base}/api/v1/events?limit={PAGE}"),
                    after => format!("{base}/api/v1/events?limit={PAGE}&after={}", urlencode(after)),
                };
                let sent = Instant::now();
                let page: Value = client.get(url).bearer_auth(&token).send().await?.error_for_status()?.json().await?;
                latencies.push(sent.elapsed());
                let items = page["items"].as_array().map_or(0, Vec::len);
                events += items as u64;
                let next = page["next_cursor"].as_str().unwrap_or_default().to_owned();
                if items == 0 || next == cursor {
                    return anyhow::Ok((events, latencies));
                }
                cursor = next;
            }
        }));
    }
    let (mut events, mut latencies) = (0, Vec::new());
    for walk in walks {
        let (n, l) = walk.await??;
        events += n;
        latencies.extend(l);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let at =
        |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    Ok(ReadRun { consumers, events: events / consumers as u64, seconds, p50_ms: at(0.5), p99_ms: at(0.99) })
}

/// Registers an endpoint for every event; its id.
async fn register(api: &Api, url: &str) -> anyhow::Result<String> {
    let body = api.ok(reqwest::Method::POST, "/api/v1/webhooks", Some(json!({"url": url}))).await?;
    Ok(body["id"].as_str().context("an id")?.to_owned())
}

/// Whether positions strictly increase (each event once, in order).
fn increasing(requests: &[(u64, String, Instant)]) -> bool {
    requests.windows(2).all(|w| w[0].0 < w[1].0)
}

/// Replays the last `count` events (up to `last`) to each endpoint at once; the deliveries/s
/// until every endpoint received the event at `last`.
async fn backlog(
    api: &Api,
    inbox: &SharedInbox,
    endpoints: &[(&str, &str)],
    last: u64,
    count: u64,
) -> anyhow::Result<BacklogRun> {
    let from = last.saturating_sub(count) + 1;
    let seen: Vec<usize> = {
        let inbox = inbox.lock().expect("not poisoned");
        endpoints.iter().map(|(name, _)| inbox.of(name).len()).collect()
    };
    let started = Instant::now();
    for (_, id) in endpoints {
        let body = json!({"from_position": from});
        api.ok(reqwest::Method::POST, &format!("/api/v1/webhooks/{id}/replay"), Some(body)).await?;
    }
    let deadline = started + Duration::from_secs(1800);
    loop {
        let done = {
            let inbox = inbox.lock().expect("not poisoned");
            endpoints.iter().zip(&seen).all(|((name, _), seen)| inbox.of(name)[*seen..].iter().any(|r| r.0 >= last))
        };
        if done {
            break;
        }
        if Instant::now() > deadline {
            bail!("the backlog was not delivered within 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let inbox = inbox.lock().expect("not poisoned");
    let mut deliveries = 0;
    let mut in_order = true;
    for ((name, _), seen) in endpoints.iter().zip(&seen) {
        let got: Vec<_> = inbox.of(name)[*seen..].iter().filter(|r| r.0 >= from && r.0 <= last).cloned().collect();
        deliveries += got.len() as u64;
        in_order &= increasing(&got) && got.len() as u64 == last - from + 1;
    }
    Ok(BacklogRun { endpoints: endpoints.len(), deliveries, seconds, in_order })
}

/// 500 active users' ids.
async fn active_users(api: &Api, n: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < n {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?status=active&limit=200&cursor={}", urlencode(c)),
            None => "/api/v1/users?status=active&limit=200".to_owned(),
        };
        let page = api.ok(reqwest::Method::GET, &path, None).await?;
        for u in page["items"].as_array().context("items")? {
            ids.push(u["id"].as_str().context("id")?.to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    if ids.len() < n {
        bail!("only {} active users", ids.len());
    }
    ids.truncate(n);
    Ok(ids)
}

/// Once a second for `seconds`, a bulk change of [`BULK`] users, while the `main` endpoint
/// receives everything; lag sampled every 100 ms.
async fn bulk_change(api: &Api, inbox: &SharedInbox, seconds: u64) -> anyhow::Result<BulkRun> {
    let users = active_users(api, BULK).await?;
    let start_position = last_position(api).await?;
    // The endpoint is up to date before the change starts.
    wait_for_position(inbox, "main", start_position).await?;
    let seen = inbox.lock().expect("not poisoned").of("main").len();
    let changed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let delivered = |inbox: &SharedInbox| -> u64 {
        let inbox = inbox.lock().expect("not poisoned");
        inbox.of("main")[seen..].iter().filter(|r| r.0 > start_position && r.1 == "user.updated").count() as u64
    };
    let sampler = {
        let (inbox, changed) = (inbox.clone(), changed.clone());
        tokio::spawn(async move {
            let mut max_lag = 0_u64;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let made = changed.load(std::sync::atomic::Ordering::SeqCst);
                // `u64::MAX` is the end of the change: no sample.
                if made == u64::MAX {
                    return max_lag;
                }
                let got = {
                    let inbox = inbox.lock().expect("not poisoned");
                    inbox.of("main")[seen..].iter().filter(|r| r.0 > start_position && r.1 == "user.updated").count()
                        as u64
                };
                max_lag = max_lag.max(made.saturating_sub(got));
            }
        })
    };
    let started = Instant::now();
    let mut call_times = Vec::new();
    for second in 0..seconds {
        let due = started + Duration::from_secs(second);
        tokio::time::sleep_until(due.into()).await;
        let body = json!({"user_ids": users, "action": "set_email_throttle",
                          "email_throttle_max_per_day": 200 + second % 2});
        let sent = Instant::now();
        let answer = api.ok(reqwest::Method::POST, "/api/v1/users/bulk", Some(body)).await?;
        call_times.push(sent.elapsed());
        let ok = answer["outcomes"].as_array().map_or(0, |o| o.iter().filter(|o| o["status"] == "ok").count());
        changed.fetch_add(ok as u64, std::sync::atomic::Ordering::SeqCst);
    }
    let changing = started.elapsed().as_secs_f64();
    let last_change = Instant::now();
    let made = changed.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = last_change + Duration::from_secs(600);
    while delivered(inbox) < made {
        if Instant::now() > deadline {
            bail!("the bulk change was not delivered within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drain_seconds = last_change.elapsed().as_secs_f64();
    changed.store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
    let max_lag = sampler.await?;
    call_times.sort();
    let got: Vec<_> = inbox.lock().expect("not poisoned").of("main")[seen..].to_vec();
    Ok(BulkRun {
        calls: call_times.len(),
        changed: made,
        seconds: changing,
        call_p50_ms: call_times.get(call_times.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1e3),
        delivered: delivered(inbox),
        max_lag,
        drain_seconds,
        in_order: increasing(&got),
    })
}

async fn wait_for_position(inbox: &SharedInbox, name: &str, position: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !inbox.lock().expect("not poisoned").of(name).iter().any(|r| r.0 >= position) {
        if Instant::now() > deadline {
            bail!("{name} did not reach position {position}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Creates (`create`) or only drops the benchmark's PostgreSQL database.
async fn recreate_pg_database(admin_url: &str, create: bool) -> anyhow::Result<()> {
    use sea_orm::sqlx::{self, Connection as _};
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connecting to {}", roster_adapters_db::redact(admin_url)))?;
    sqlx::query("DROP DATABASE IF EXISTS roster_bench_events WITH (FORCE)").execute(&mut admin).await?;
    if create {
        sqlx::query("CREATE DATABASE roster_bench_events").execute(&mut admin).await?;
    }
    admin.close().await.ok();
    Ok(())
}

/// The report, as Markdown.
fn report(options: &Options, runs: &[EngineRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Command: `{}`", options.command());
    let _ = writeln!(
        out,
        "Machine: {} cores; server, database, consumers and receiver on the same cores.\n",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    for run in runs {
        let _ = writeln!(
            out,
            "### {} — {} users (`roster demo-data`: {:.0} s); feed of {} events made by bulk jobs in {:.0} s \
             ({:.0} events/s)\n",
            run.engine,
            options.users,
            run.demo_data_seconds,
            run.feed_events,
            run.feed_build_seconds,
            run.feed_events as f64 / run.feed_build_seconds
        );
        let _ = writeln!(out, "| scenario | events | seconds | events/s | p50 ms | p99 ms | target |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
        for r in &run.reads {
            let per_second = r.events as f64 * r.consumers as f64 / r.seconds;
            let _ = writeln!(
                out,
                "| feed read, {} consumer(s), pages of {PAGE} | {} each | {:.1} | {per_second:.0} | {:.2} | {:.2} | ≥ 20,000/s: {} |",
                r.consumers,
                r.events,
                r.seconds,
                r.p50_ms,
                r.p99_ms,
                verdict(per_second >= 20_000.0)
            );
        }
        for b in &run.backlogs {
            let _ = writeln!(
                out,
                "| delivery backlog, {} endpoint(s) | {} | {:.1} | {:.0} | — | — | in order, each once: {} |",
                b.endpoints,
                b.deliveries,
                b.seconds,
                b.deliveries as f64 / b.seconds,
                verdict(b.in_order)
            );
        }
        let b = &run.bulk;
        let _ = writeln!(
            out,
            "| bulk change, {BULK} users/s for {} s | {} changed, {} delivered | {:.1} | {:.0} changed/s | {:.0} (call) | — | \
             drain ≤ 2 s: {} |\n",
            b.calls,
            b.changed,
            b.delivered,
            b.seconds,
            b.changed as f64 / b.seconds,
            b.call_p50_ms,
            verdict(b.drain_seconds <= 2.0 && b.in_order)
        );
        let _ = writeln!(
            out,
            "Bulk change: {} calls of `POST /users/bulk` ({BULK} users, synchronous) started once a second; the \
             largest lag seen was {} events (committed, not yet received); the last event arrived {:.2} s after \
             the last call answered; requests in position order, each once: {}.\n",
            b.calls,
            b.max_lag,
            b.drain_seconds,
            verdict(b.in_order)
        );
    }
    out
}

const BEGIN: &str = "<!-- bench events: begin (generated by `cargo xtask bench events --write-doc`) -->";
const END: &str = "<!-- bench events: end -->";

fn write_doc(path: &Path, text: &str) -> anyhow::Result<()> {
    let doc = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let section = format!("{BEGIN}\n{text}\n{END}");
    let new = match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{section}{}", &doc[..b], &doc[e + END.len()..]),
        _ => format!("{doc}\n## `cargo xtask bench events`\n\n{section}\n"),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_default_and_bad_ones_are_refused_with_usage() {
        let o = Options::parse(&[]).expect("no options is valid");
        assert_eq!(
            o.command(),
            "cargo xtask bench events --users 20000 --feed 200000 --backlog 20000 --seconds 20 --engine both"
        );
        let o = Options::parse(&args("--users 5000 --feed 30000 --backlog 5000 --seconds 5 --engine sqlite"))
            .expect("valid");
        assert_eq!((o.users, o.feed, o.backlog, o.seconds, o.engines), (5000, 30_000, 5000, 5, vec!["sqlite"]));
        for bad in ["--users 10", "--feed 10", "--seconds 0", "--engine mysql", "--users", "--frobnicate"] {
            let error = Options::parse(&args(bad)).expect_err(bad);
            assert_eq!(error.downcast_ref::<Failure>().map(|f| f.code), Some(2), "{bad}");
        }
    }
}
