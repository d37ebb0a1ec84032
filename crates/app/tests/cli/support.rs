//! Running the built `roster` binary against a fresh database — an SQLite file in a temporary
//! folder, and, when `ROSTER_TEST_DATABASE_URL` is set, a PostgreSQL schema of its own (as in
//! `tests/api/helpers.rs`) — and reading the result back through the library.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use roster_adapters_db::{SeaOrmStore, connect};
use roster_adapters_http::Argon2Hasher;
use roster_adapters_http::HttpConfig;
use roster_adapters_mail::{PublicUrl, Sender};
use roster_app::mail::{DEFAULT_MAIL_FROM, MailConfig};
use roster_app::server::{self, ServeConfig};
use roster_app::system::{RandomIds, SystemClock};
use roster_domain::Services;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::org::Organization;
use roster_domain::values::Slug;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tempfile::TempDir;

const PG_URL_VAR: &str = "ROSTER_TEST_DATABASE_URL";

/// One empty database.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub engine: &'static str,
    guard: Guard,
}

#[derive(Debug)]
enum Guard {
    Sqlite(#[allow(dead_code, reason = "held for its Drop")] TempDir),
    Postgres { admin_url: String, schema: String },
}

/// One database per configured engine: SQLite always, PostgreSQL when the variable is set.
pub async fn databases(test: &str) -> Vec<TestDb> {
    let dir = tempfile::tempdir().expect("creates a temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("roster.db").display());
    let mut out = vec![TestDb { url, engine: "sqlite", guard: Guard::Sqlite(dir) }];
    match std::env::var(PG_URL_VAR) {
        Ok(admin_url) => {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let schema = format!("cli_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
            let admin =
                Database::connect(&admin_url).await.unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but unusable: {e}"));
            admin.execute_unprepared(&format!("CREATE SCHEMA {schema}")).await.expect("creates the test schema");
            admin.close().await.expect("closes");
            let separator = if admin_url.contains('?') { '&' } else { '?' };
            let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
            out.push(TestDb { url, engine: "postgres", guard: Guard::Postgres { admin_url, schema } });
        }
        Err(_) => eprintln!("{test}: PostgreSQL part skipped: {PG_URL_VAR} is not set"),
    }
    out
}

/// What a run of the binary answered.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success; the standard output.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success; stderr: {}\nstdout: {}", self.stderr, self.stdout);
        &self.stdout
    }

    /// Asserts success and parses the standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Asserts a failure with `code` whose message contains every one of `words`.
    #[track_caller]
    pub fn fails(&self, code: i32, words: &[&str]) {
        assert_eq!(self.code, Some(code), "expected exit {code}; stderr: {}\nstdout: {}", self.stderr, self.stdout);
        for w in words {
            assert!(self.stderr.contains(w), "stderr lacks `{w}`: {}", self.stderr);
        }
    }
}

/// A running `roster serve` (see [`TestDb::serve`]).
#[derive(Debug)]
pub struct Serving {
    pub base: String,
    pub client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _outbox: TempDir,
}

impl Serving {
    /// Logs in; the answer's status and, on success, the token.
    pub async fn login(&self, org: &str, email: &str, password: &str) -> (reqwest::StatusCode, Option<String>) {
        let r = self
            .client
            .post(format!("{}/api/v1/session", self.base))
            .json(&serde_json::json!({"org": org, "email": email, "password": password}))
            .send()
            .await
            .expect("answers");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (status, body["token"].as_str().map(str::to_owned))
    }

    /// Stops the server (in-flight requests finish).
    pub async fn stop(self) {
        self.stop.send(()).ok();
        self.task.await.expect("no panic").expect("stops cleanly");
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestDb {
    /// Runs `roster <args>` on this database (through `ROSTER_DATABASE_URL`), with `env` and
    /// `stdin`, and none of the caller's other `ROSTER_*` variables.
    pub fn roster_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
        for (key, _) in std::env::vars() {
            if key.starts_with("ROSTER_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("ROSTER_DATABASE_URL", &self.url).env_remove("RUST_LOG").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("starts roster");
        let mut input = child.stdin.take().expect("a pipe");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("writes stdin");
        }
        drop(input);
        child.wait_with_output().expect("roster ends").into()
    }

    pub fn roster(&self, args: &[&str]) -> Run {
        self.roster_with(args, &[], None)
    }

    /// The domain's services over this database (after a command migrated it), with the real
    /// Argon2id hasher so that passwords set by the binary verify.
    pub async fn services(&self) -> Services {
        let db = connect(&self.url).await.expect("connects");
        Services::new(
            Arc::new(SeaOrmStore::new(db)),
            Arc::new(SystemClock),
            Arc::new(RandomIds),
            Arc::new(Argon2Hasher::default()),
        )
    }

    /// The organization `slug` and the operator on it.
    pub async fn org(&self, services: &Services, slug: &str) -> (Organization, Actor) {
        let org =
            services.organization_by_slug(&Slug::parse(slug).expect("a slug")).await.expect("the organization exists");
        let actor = Actor::system(org.id, Source::Cli);
        (org, actor)
    }

    /// Starts `roster serve`'s application on this database (no bootstrap: the database has an
    /// organization), for what only the API can show.
    pub async fn serve(&self) -> Serving {
        let outbox = tempfile::tempdir().expect("a folder");
        let sender = Sender::parse(DEFAULT_MAIL_FROM).expect("a sender");
        let public_url = PublicUrl::parse("http://127.0.0.1:8080").expect("a URL");
        let config = ServeConfig {
            database_url: self.url.clone(),
            listen: "127.0.0.1:0".parse().expect("an address"),
            http: HttpConfig::default(),
            bootstrap_email: None,
            bootstrap_password: None,
            mail: MailConfig::new(None, outbox.path().to_owned(), sender, public_url),
            crm: roster_adapters_crm::CrmChoice::None,
            worker: roster_app::worker::WorkerSettings::default(),
            webhooks: roster_app::webhooks::WebhookConfig::default(),
        };
        let app = server::build(&config).await.expect("builds");
        assert!(app.bootstrapped.is_none(), "{}: the database has organizations: no bootstrap", self.engine);
        let address = app.listener.local_addr().expect("bound");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(app, async {
            stopped.await.ok();
        }));
        Serving { base: format!("http://{address}"), client: reqwest::Client::new(), stop, task, _outbox: outbox }
    }

    /// Removes the database.
    pub async fn finish(self) {
        if let Guard::Postgres { admin_url, schema } = &self.guard {
            let admin = Database::connect(admin_url.as_str()).await.expect("connects");
            admin.execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE")).await.expect("drops the schema");
            admin.close().await.ok();
        }
    }
}
