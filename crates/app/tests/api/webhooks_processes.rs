//! Webhook delivery by real `roster serve` processes on one database (SPEC §9.1): a server
//! killed (SIGKILL) while a receiver holds its request open leaves the delivery to the next
//! server, which sends it again with the same `webhook-id` once the lease ends, then the rest in
//! order, nothing lost; and two servers running side by side deliver each event once, in order,
//! to each endpoint.
//!
//! The test app of [`apps_with`] makes the database and the organization and serves the API the
//! tests write through; its own delivery worker looks once at its start and then sleeps an
//! hour, so every delivery here is made by the processes.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tempfile::TempDir;

use crate::helpers::{ADMIN_PASSWORD, Options, TestApp, apps_with};
use crate::webhooks::{Answer, Received, Receiver, create_group, register};

/// The servers' webhook settings: loopback allowed, quick retries, a 2 s timeout and an 8 s
/// lease (the shortest `roster serve` accepts with it: connect 5 s + 2 s, and a margin).
const SERVER_ENV: &[(&str, &str)] = &[
    ("ROSTER_WEBHOOKS_ALLOW_INSECURE", "1"),
    ("ROSTER_WEBHOOKS_RETRY_DELAYS", "200ms,200ms,200ms,200ms,200ms,200ms,200ms"),
    ("ROSTER_WEBHOOKS_TIMEOUT_SECONDS", "2"),
    ("ROSTER_WEBHOOKS_LEASE_SECONDS", "8"),
];

/// A `roster serve` process on the test app's database, killed when dropped.
struct Server {
    child: Child,
    _outbox: TempDir,
}

impl Server {
    /// Starts `roster serve` and waits until it answers `/readyz`.
    async fn start(app: &TestApp) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port();
        let outbox = tempfile::tempdir().expect("a folder");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
        for (key, _) in std::env::vars() {
            if key.starts_with("ROSTER_") {
                cmd.env_remove(key);
            }
        }
        cmd.arg("serve")
            .env("ROSTER_DATABASE_URL", app.database_url())
            .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
            .env("ROSTER_OUTBOX_DIR", outbox.path())
            .env("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .envs(SERVER_ENV.iter().copied())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("starts roster serve");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return Self { child, _outbox: outbox };
            }
            assert!(child.try_wait().expect("a status").is_none(), "{}: roster serve exited", app.engine);
            assert!(Instant::now() < deadline, "{}: roster serve did not become ready", app.engine);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, the claimed delivery's lease not given back.
    fn kill(mut self) {
        self.child.kill().expect("kills the server");
        self.child.wait().expect("the server ends");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test app whose own worker stays out of the way (see the module docs).
async fn hosts(test: &str) -> Vec<TestApp> {
    let mut idle = Options::default();
    idle.webhooks.allow_insecure = true;
    idle.webhooks.interval = Duration::from_secs(3600);
    apps_with(test, &idle).await
}

/// The feed's `group.created` events after the cursor `after`, as `(position, id)`.
async fn groups_created_after(app: &TestApp, token: &str, after: &str) -> Vec<(u64, String)> {
    let feed = app.get_ok(&format!("/api/v1/events?after={after}&types=group.created&limit=200"), token).await;
    feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["position"].as_u64().expect("a position"), e["id"].as_str().expect("an id").to_owned()))
        .collect()
}

/// `(position, webhook-id)` of each request, checking that the id is the body's event id.
fn positions_and_ids(got: &[Received]) -> Vec<(u64, String)> {
    got.iter()
        .map(|r| {
            let body = r.json();
            assert_eq!(body["id"].as_str(), Some(r.id.as_str()), "webhook-id is the event id");
            (body["position"].as_u64().expect("a position"), r.id.clone())
        })
        .collect()
}

/// The endpoint's delivery log as `(state, attempts)`, oldest first.
async fn delivery_log(app: &TestApp, token: &str, hook: &str) -> Vec<(String, u64)> {
    let log = app.get_ok(&format!("/api/v1/webhooks/{hook}/deliveries?limit=200"), token).await;
    let mut rows: Vec<(String, u64)> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| (d["state"].as_str().expect("a state").to_owned(), d["attempts"].as_u64().expect("attempts")))
        .collect();
    rows.reverse();
    rows
}

/// Reads the log until no delivery is pending (at most 10 s).
async fn settled_log(app: &TestApp, token: &str, hook: &str) -> Vec<(String, u64)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = delivery_log(app, token, hook).await;
        if log.iter().all(|(state, _)| state != "pending") || Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_server_killed_mid_delivery_leaves_it_to_the_next_which_loses_nothing_and_keeps_order() {
    for app in hosts("webhooks_killed_server").await {
        let token = app.login().await;
        let start = app.get_ok("/api/v1/events?limit=200", &token).await;
        let after = start["next_cursor"].as_str().expect("a cursor").to_owned();
        let receiver = Receiver::start(vec![Answer::Hang]).await;
        let (hook, _) = register(&app, &token, &receiver.url, &["group.*"]).await;
        let first = Server::start(&app).await;
        for i in 1..=4 {
            create_group(&app, &token, &format!("Before {i}")).await;
        }
        // The receiver holds the first request open: the server is killed in the middle of it.
        receiver.wait_for(1).await;
        first.kill();
        for i in 1..=2 {
            create_group(&app, &token, &format!("While down {i}")).await;
        }
        let expected = groups_created_after(&app, &token, &after).await;
        assert_eq!(expected.len(), 6, "{}", app.engine);

        let second = Server::start(&app).await;
        let got = positions_and_ids(&receiver.wait_for(7).await);
        assert_eq!(got[0], expected[0], "{}: the killed attempt was the first event", app.engine);
        assert_eq!(got[1..], expected, "{}: the same webhook-id again, then every event once, in order", app.engine);
        let log = settled_log(&app, &token, &hook).await;
        assert_eq!(log.len(), 6, "{}: one delivery per event: {log:?}", app.engine);
        assert!(log.iter().all(|(state, _)| state == "sent"), "{}: {log:?}", app.engine);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), 7, "{}: nothing more", app.engine);
        drop(second);
        app.finish().await;
    }
}

#[tokio::test]
async fn two_server_processes_on_one_database_deliver_each_event_once_in_order() {
    const EVENTS: usize = 40;
    for app in hosts("webhooks_two_processes").await {
        let token = app.login().await;
        let start = app.get_ok("/api/v1/events?limit=200", &token).await;
        let after = start["next_cursor"].as_str().expect("a cursor").to_owned();
        let receivers = [Receiver::start(Vec::new()).await, Receiver::start(Vec::new()).await];
        let mut hooks = Vec::new();
        for receiver in &receivers {
            hooks.push(register(&app, &token, &receiver.url, &["group.*"]).await.0);
        }
        let servers = [Server::start(&app).await, Server::start(&app).await];
        for i in 0..EVENTS {
            create_group(&app, &token, &format!("Group {i}")).await;
        }
        let expected = groups_created_after(&app, &token, &after).await;
        assert_eq!(expected.len(), EVENTS, "{}", app.engine);
        for (receiver, hook) in receivers.iter().zip(&hooks) {
            receiver.wait_for(EVENTS).await;
            let log = settled_log(&app, &token, hook).await;
            assert_eq!(log.len(), EVENTS, "{}: one delivery per event: {log:?}", app.engine);
            assert!(log.iter().all(|row| *row == ("sent".to_owned(), 1)), "{}: each attempt once: {log:?}", app.engine);
        }
        // Both servers keep looking a while longer: neither sends anything again.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for receiver in &receivers {
            let got = positions_and_ids(&receiver.received());
            let distinct: BTreeSet<&String> = got.iter().map(|(_, id)| id).collect();
            assert_eq!(distinct.len(), got.len(), "{}: no event twice", app.engine);
            assert_eq!(got, expected, "{}: every event once, in order", app.engine);
        }
        drop(servers);
        app.finish().await;
    }
}
