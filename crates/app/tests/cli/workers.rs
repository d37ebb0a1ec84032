//! The scheduler and the job runner of real `roster serve` processes on one database: a job
//! whose server is killed (SIGKILL) mid-way is finished by the next server without changing any
//! user twice, and a scheduled deactivation set one minute ahead is applied once by two servers
//! sharing the database.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roster_app::system::SystemClock;
use roster_domain::audit::{AuditQuery, Source};
use roster_domain::ports::Clock as _;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{TestDb, databases};

const PASSWORD: &str = "correct horse battery staple";

/// A `roster serve` process on the database, killed when dropped.
struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    _outbox: TempDir,
}

impl Server {
    /// Starts `roster serve` with a fast scheduler and job runner and waits until it answers.
    async fn start(db: &TestDb, extra: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port();
        let outbox = tempfile::tempdir().expect("a folder");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
        for (key, _) in std::env::vars() {
            if key.starts_with("ROSTER_") {
                cmd.env_remove(key);
            }
        }
        cmd.arg("serve")
            .env("ROSTER_DATABASE_URL", &db.url)
            .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
            .env("ROSTER_OUTBOX_DIR", outbox.path())
            .env("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)
            .env("ROSTER_WORKER_TICK_MS", "100")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("starts roster serve");
        let server =
            Self { child, base: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new(), _outbox: outbox };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = server.client.get(format!("{}/readyz", server.base)).send().await
                && r.status() == StatusCode::OK
            {
                return server;
            }
            assert!(Instant::now() < deadline, "{}: roster serve did not become ready", db.engine);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, no lease given back.
    fn kill(mut self) {
        self.child.kill().expect("kills the server");
        self.child.wait().expect("the server ends");
    }

    async fn login(&self, org: &str, email: &str) -> String {
        let body = json!({"org": org, "email": email, "password": PASSWORD});
        let r = self.client.post(format!("{}/api/v1/session", self.base)).json(&body).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::OK, "logs in");
        r.json::<Value>().await.expect("json")["token"].as_str().expect("a token").to_owned()
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let r = self.client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.expect("json")
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.base)).bearer_auth(token).json(body).send().await.expect("sends")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many times each user was the target of `action`, from the audit log.
async fn audited_per_user(db: &TestDb, org: &str, action: &str) -> BTreeMap<String, usize> {
    let services = db.services().await;
    let (_, operator) = db.org(&services, org).await;
    let query = AuditQuery { action: Some(action.to_owned()), limit: 0, ..AuditQuery::default() };
    let mut per_user = BTreeMap::new();
    for event in services.audit_log(&operator, &query).await.expect("reads the audit log") {
        *per_user.entry(event.target_id).or_default() += 1;
    }
    per_user
}

#[tokio::test]
async fn a_job_whose_server_is_killed_is_finished_by_the_next_without_changing_anyone_twice() {
    for db in databases("job_survives_kill").await {
        let report = db
            .roster(&[
                "demo-data",
                "--users",
                "5600",
                "--org",
                "big",
                "--connections",
                "0",
                "--password",
                PASSWORD,
                "--json",
            ])
            .json();
        let admin = report["accounts"][0]["email"].as_str().expect("the admin").to_owned();
        // Small steps and a short lease: many steps to be killed in, and a quick takeover.
        let settings = [("ROSTER_JOB_STEP", "50"), ("ROSTER_JOB_LEASE_SECONDS", "2")];
        let first = Server::start(&db, &settings).await;
        let token = first.login("big", &admin).await;
        let me = first.get("/api/v1/me", &token).await["user"]["id"].as_str().expect("an id").to_owned();
        let mut ids = Vec::new();
        let mut path = "/api/v1/users?limit=200".to_owned();
        loop {
            let page = first.get(&path, &token).await;
            ids.extend(
                page["items"].as_array().expect("items").iter().filter_map(|u| u["id"].as_str()).map(str::to_owned),
            );
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/users?limit=200&cursor={c}"),
                None => break,
            }
        }
        ids.retain(|id| *id != me);
        ids.truncate(5_000);
        assert_eq!(ids.len(), 5_000, "{}", db.engine);

        let body = json!({"user_ids": ids, "action": "set_email_throttle", "email_throttle_max_per_day": 123});
        let r = first.post("/api/v1/users/bulk", &token, &body).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", db.engine);
        let location = r.headers()["location"].to_str().expect("a location").to_owned();

        // Kill the server once the job is under way, well before its end.
        let deadline = Instant::now() + Duration::from_secs(120);
        let done_at_kill = loop {
            let job = first.get(&location, &token).await;
            let done = job["done"].as_u64().expect("done");
            if done >= 100 {
                break done;
            }
            assert!(Instant::now() < deadline, "{}: the job did not start: {job}", db.engine);
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        first.kill();
        assert!(done_at_kill < 5_000, "{}: killed mid-job ({done_at_kill} done)", db.engine);

        let second = Server::start(&db, &settings).await;
        let token = second.login("big", &admin).await;
        let at_restart = second.get(&location, &token).await;
        assert_eq!(at_restart["state"], "running", "{}: still held by the dead server's lease", db.engine);
        let deadline = Instant::now() + Duration::from_secs(180);
        let job = loop {
            let job = second.get(&location, &token).await;
            if job["state"] == "done" {
                break job;
            }
            assert!(Instant::now() < deadline, "{}: the job did not finish: {job}", db.engine);
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(job["done"], 5_000);
        let mut outcomes = 0;
        let mut after = 0;
        loop {
            let page = second.get(&format!("{location}/outcomes?after={after}&limit=1000"), &token).await;
            outcomes += page["items"].as_array().expect("items").len();
            match page["next_after"].as_u64() {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(outcomes, 5_000, "{}: one outcome per user", db.engine);
        drop(second);

        let changed = audited_per_user(&db, "big", "user.updated").await;
        let twice: Vec<_> = changed.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "{}: users changed twice: {twice:?}", db.engine);
        let selected: std::collections::BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let in_selection = changed.keys().filter(|id| selected.contains(id.as_str())).count();
        assert!(in_selection > 4_000, "{}: the job's changes are audited ({in_selection})", db.engine);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_deactivation_scheduled_a_minute_ahead_is_applied_once_by_two_servers_on_one_database() {
    let mut runs = Vec::new();
    for db in databases("scheduler_two_servers").await {
        runs.push(async move {
            let one = Server::start(&db, &[]).await;
            let two = Server::start(&db, &[]).await;
            let token = one.login("demo", "admin@demo.example").await;
            let body =
                json!({"email": "ann@demo.example", "first_name": "Ann", "last_name": "Lee", "products": ["core"]});
            let r = one.post("/api/v1/users", &token, &body).await;
            assert_eq!(r.status(), StatusCode::CREATED, "{}", db.engine);
            let ann = r.json::<Value>().await.expect("json")["id"].as_str().expect("an id").to_owned();
            let at = SystemClock.now() + time::Duration::minutes(1);
            let at = at.format(&time::format_description::well_known::Rfc3339).expect("formats");
            let r = one
                .post(
                    &format!("/api/v1/users/{ann}/scheduled-changes"),
                    &token,
                    &json!({"action": "deactivate", "effective_at": at}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED, "{}", db.engine);

            let deadline = Instant::now() + Duration::from_secs(100);
            loop {
                let user = two.get(&format!("/api/v1/users/{ann}"), &token).await;
                if user["status"] == "deactivated" {
                    assert_eq!(user["products"], json!([]), "{}: through the same rules", db.engine);
                    break;
                }
                assert!(Instant::now() < deadline, "{}: not applied within a minute and a half: {user}", db.engine);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            // Both servers keep ticking a while: neither applies it again.
            tokio::time::sleep(Duration::from_millis(600)).await;
            drop((one, two));
            let services = db.services().await;
            let (_, operator) = db.org(&services, "demo").await;
            let query = AuditQuery { action: Some("user.deactivated".to_owned()), limit: 0, ..AuditQuery::default() };
            let events = services.audit_log(&operator, &query).await.expect("reads");
            assert_eq!(events.len(), 1, "{}: applied once: {events:?}", db.engine);
            assert_eq!((events[0].source, events[0].actor_id), (Source::Scheduler, None));
            db.finish().await;
        });
    }
    futures::future::join_all(runs).await;
}
