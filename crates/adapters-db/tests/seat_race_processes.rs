//! Two OS processes racing for the last seats of one pool, on one SQLite file and — when
//! `ROSTER_TEST_DATABASE_URL` is set — one PostgreSQL schema: the seat invariant of SPEC §4.2 holds
//! across server processes (§1, §14).
//!
//! The parent test prepares an organization whose Core pool has [`SEATS`] seats and
//! [`CANDIDATES`] members without licenses, then starts this test binary twice more, each time
//! running only [`seat_race_child`] with `--exact`. Each child opens its own connection pool,
//! warms it, says it is ready, waits for the common go signal (a file the parent creates once
//! both are ready) and assigns Core to its half of the members, one concurrent task per member,
//! through the real use case (`Services::set_licenses` over `SeaOrmStore`). The parent then
//! checks that exactly [`SEATS`] assignments succeeded in total, that every refusal was
//! `seat_limit_reached`, and that the pool's `seats_used` equals the license rows.
//!
//! The only thing shared by the processes is the database: an in-process lock could not make
//! this pass, only the adapter's conditional `UPDATE … WHERE seats_used + n <= seats_total`.

#[path = "support/services.rs"]
mod services;
#[allow(dead_code, reason = "this binary uses only part of the shared test support")]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use roster_adapters_db::{Engine, SeaOrmStore, connect};
use roster_domain::ErrorCode;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::ids::{OrgId, UserId};
use roster_domain::ports::LicenseRepository;
use services::{create_user, key, new_org, new_user};
use support::{TestDb, stores};
use uuid::Uuid;

/// Seats in the Core pool.
const SEATS: u32 = 16;
/// Members who try to get one, half in each child.
const CANDIDATES: usize = 64;
/// The child test's name, for `--exact`.
const CHILD: &str = "seat_race_child";

const URL_VAR: &str = "ROSTER_SEAT_RACE_URL";
const ORG_VAR: &str = "ROSTER_SEAT_RACE_ORG";
const USERS_VAR: &str = "ROSTER_SEAT_RACE_USERS";
const TAG_VAR: &str = "ROSTER_SEAT_RACE_TAG";
const DIR_VAR: &str = "ROSTER_SEAT_RACE_DIR";

/// How long either side waits for the other before giving up.
const PATIENCE: Duration = Duration::from_secs(60);

fn ready_file(dir: &Path, tag: u64) -> PathBuf {
    dir.join(format!("ready-{tag}"))
}

fn result_file(dir: &Path, tag: u64) -> PathBuf {
    dir.join(format!("result-{tag}"))
}

fn go_file(dir: &Path) -> PathBuf {
    dir.join("go")
}

/// One child's tally, as it writes it to its result file: `won refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    won: u32,
    refused: u32,
}

impl Tally {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split_whitespace().map(str::parse::<u32>);
        let tally = Tally { won: parts.next()?.ok()?, refused: parts.next()?.ok()? };
        parts.next().is_none().then_some(tally)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_racing_for_the_last_seats_take_exactly_the_pool() {
    for (t, store) in stores("seat_race_processes").await {
        let engine = t.engine();
        let services = services::services(&store, 0);
        let org = new_org(&services, "race", SEATS).await;
        let mut users = Vec::with_capacity(CANDIDATES);
        for n in 0..CANDIDATES {
            users.push(create_user(&services, &org, new_user(n)).await);
        }
        let dir = tempfile::tempdir().expect("creates a directory for the signals");
        let halves: Vec<&[UserId]> = users.chunks(CANDIDATES / 2).collect();
        let children: Vec<(u64, Child)> = halves
            .iter()
            .zip(1u64..)
            .map(|(half, tag)| (tag, spawn_child(&t, org.id, half, tag, dir.path())))
            .collect();
        let children = wait_until_ready(children, dir.path());
        std::fs::write(go_file(dir.path()), b"go").expect("writes the go signal");

        let mut total = Tally { won: 0, refused: 0 };
        for (tag, child) in children {
            let output = child.wait_with_output().expect("the child runs to its end");
            let report = describe(&output);
            assert!(output.status.success(), "child {tag} failed on {engine:?}:\n{report}");
            let text = std::fs::read_to_string(result_file(dir.path(), tag))
                .unwrap_or_else(|e| panic!("child {tag} left no result ({e}):\n{report}"));
            let tally = Tally::parse(&text).unwrap_or_else(|| panic!("child {tag} wrote {text:?}"));
            assert_eq!(tally.won + tally.refused, u32::try_from(CANDIDATES / 2).expect("small"), "child {tag}");
            eprintln!("{engine:?}: child {tag} took {} seats, was refused {} times", tally.won, tally.refused);
            total.won += tally.won;
            total.refused += tally.refused;
        }
        assert_eq!(total.won, SEATS, "exactly the pool's seats are taken across processes on {engine:?}");
        assert_eq!(total.refused, u32::try_from(CANDIDATES).expect("small") - SEATS);
        assert_books_balance(&t, &store, org.id, &users).await;
        t.finish().await;
    }
}

/// The pool is full, not over, and counts exactly the license rows of the members.
async fn assert_books_balance(t: &TestDb, store: &SeaOrmStore, org: OrgId, users: &[UserId]) {
    let mut tx = store.begin_tx().await.expect("begins");
    let pools = tx.seat_pools(org).await.expect("reads the pools");
    let core = pools.iter().find(|p| *p.product() == key("core")).expect("a Core pool");
    assert_eq!((core.seats_total(), core.seats_used()), (SEATS, SEATS), "{:?}", t.engine());
    for pool in &pools {
        assert!(pool.seats_used() <= pool.seats_total(), "{pool:?}");
    }
    let licenses = tx.all_licenses(org).await.expect("reads the licenses");
    drop(tx);
    let holders: BTreeSet<UserId> = licenses.iter().filter(|l| l.product == key("core")).map(|l| l.user_id).collect();
    assert_eq!(holders.len(), licenses.len(), "only Core was assigned, once per holder");
    assert!(holders.iter().all(|u| users.contains(u)));
    let rows = t
        .count("SELECT COUNT(*) AS n FROM licenses WHERE org_id = ? AND product = 'core'", vec![org.as_uuid().into()])
        .await;
    assert_eq!(rows, i64::from(SEATS), "license rows on disk");
}

fn spawn_child(t: &TestDb, org: OrgId, users: &[UserId], tag: u64, dir: &Path) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    let users: Vec<String> = users.iter().map(ToString::to_string).collect();
    Command::new(exe)
        .args(["--exact", CHILD, "--nocapture", "--test-threads=1"])
        .env(URL_VAR, &t.url)
        .env(ORG_VAR, org.to_string())
        .env(USERS_VAR, users.join(","))
        .env(TAG_VAR, tag.to_string())
        .env(DIR_VAR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts a child process")
}

/// Waits until every child has written its ready file; fails (with the child's output) if one
/// exits first or the wait exceeds [`PATIENCE`].
fn wait_until_ready(mut children: Vec<(u64, Child)>, dir: &Path) -> Vec<(u64, Child)> {
    let start = Instant::now();
    loop {
        if children.iter().all(|(tag, _)| ready_file(dir, *tag).exists()) {
            return children;
        }
        let ended = children.iter_mut().position(|(_, child)| child.try_wait().expect("polls the child").is_some());
        if let Some(ix) = ended {
            let (tag, child) = children.swap_remove(ix);
            let output = child.wait_with_output().expect("collects the output");
            panic!("child {tag} ended before it was ready:\n{}", describe(&output));
        }
        assert!(start.elapsed() < PATIENCE, "the children did not get ready in time");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// One racer, run by the parent in a process of its own; when the parent's variables are not
/// set (an ordinary `cargo test` run) there is nothing to race for and it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_race_child() {
    let Ok(url) = std::env::var(URL_VAR) else { return };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent"));
    let org = OrgId::from_uuid(Uuid::parse_str(&var(ORG_VAR)).expect("an organization id"));
    let users: Vec<UserId> =
        var(USERS_VAR).split(',').map(|s| UserId::from_uuid(Uuid::parse_str(s).expect("a user id"))).collect();
    let tag: u64 = var(TAG_VAR).parse().expect("a numeric tag");
    let dir = PathBuf::from(var(DIR_VAR));

    // The parent migrated the database.
    let db = connect(&url).await.expect("the child opens the database");
    let engine = db.engine();
    let store = SeaOrmStore::new(db);
    if engine == Engine::Postgres {
        warm(&store).await;
    }
    let services = services::services(&store, tag);
    std::fs::write(ready_file(&dir, tag), b"ready").expect("writes the ready signal");
    let start = Instant::now();
    while !go_file(&dir).exists() {
        assert!(start.elapsed() < PATIENCE, "no go signal");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    let actor = Actor::system(org, Source::Cli);
    let tasks: Vec<_> = users
        .into_iter()
        .map(|user| {
            let (services, actor) = (services.clone(), actor.clone());
            tokio::spawn(async move { services.set_licenses(&actor, user, BTreeSet::from([key("core")])).await })
        })
        .collect();
    let mut tally = Tally { won: 0, refused: 0 };
    let mut unexpected = Vec::new();
    for task in tasks {
        match task.await.expect("no task panics") {
            Ok(change) => {
                assert_eq!(change.assigned, vec![key("core")]);
                tally.won += 1;
            }
            Err(e) if e.code() == ErrorCode::SeatLimitReached => tally.refused += 1,
            Err(e) => unexpected.push(format!("{:?}: {e}", e.code())),
        }
    }
    std::fs::write(result_file(&dir, tag), format!("{} {}", tally.won, tally.refused)).expect("writes the result");
    assert!(unexpected.is_empty(), "every refusal is seat_limit_reached, got {unexpected:?}");
}

/// Opens the pool's connections (10 on PostgreSQL) before the race: opening one takes longer
/// than a whole use case, so a cold pool would hand one connection from task to task and the
/// tasks would never overlap.
async fn warm(store: &SeaOrmStore) {
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.begin_tx().await })
        })
        .collect();
    let mut open = Vec::with_capacity(handles.len());
    for handle in handles {
        open.push(handle.await.expect("no task panics").expect("a transaction opens"));
    }
    drop(open);
}
