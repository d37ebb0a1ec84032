//! [`apps`]: the real server (`roster_app::server`) on 127.0.0.1 and a random port, once per
//! engine, each on a fresh database — an SQLite file in a temporary directory and, when
//! `ROSTER_TEST_DATABASE_URL` is set, a PostgreSQL schema of its own (as in
//! `crates/adapters-db/tests/support`) — with a reqwest client and helpers to drive it.

use std::sync::atomic::{AtomicU64, Ordering};

use mailparse::MailHeaderMap as _;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use roster_adapters_crm::CrmChoice;
use roster_adapters_http::HttpConfig;
use roster_adapters_http::client_address::TrustedProxies;
use roster_adapters_mail::{PublicUrl, Sender};
use roster_app::mail::{DEFAULT_MAIL_FROM, MailConfig};
use roster_app::server::{self, ServeConfig};
use roster_app::webhooks::WebhookConfig;
use roster_app::worker::WorkerSettings;
use roster_domain::Services;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// The bootstrap admin of every test app.
pub const ADMIN_EMAIL: &str = "admin@demo.example";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// The request body limit of test apps (small, so the 413 test stays cheap).
pub const BODY_LIMIT: usize = 64 * 1024;

const PG_URL_VAR: &str = "ROSTER_TEST_DATABASE_URL";

/// A running server and what a test needs to reach it.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub services: Services,
    pub engine: &'static str,
    /// The file-drop folder the app's mail worker writes `.eml` files into.
    pub outbox: TempDir,
    /// The mail worker's tick counter (see [`TestApp::mail`]).
    ticks: watch::Receiver<u64>,
    /// The database, for the few facts no API can produce (an expired token).
    database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    guard: Guard,
}

#[derive(Debug)]
enum Guard {
    Sqlite(#[allow(dead_code, reason = "held for its Drop")] TempDir),
    Postgres {
        admin_url: String,
        schema: String,
    },
    /// A second server on another app's database, which that app cleans up.
    Shared,
}

/// What may differ between test apps.
#[derive(Debug, Clone)]
pub struct Options {
    pub body_limit: usize,
    /// The CRM directory (none by default).
    pub crm: CrmChoice,
    /// The proxies whose `X-Forwarded-For` is believed (none by default).
    pub trusted_proxies: TrustedProxies,
    /// The scheduler's and the job runner's pace. By default they wake once an hour, so that a
    /// test that drives `apply_due_changes` itself is not raced by them.
    pub worker: WorkerSettings,
    /// Webhook delivery (production's rules by default: https and public addresses only).
    pub webhooks: WebhookConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            body_limit: BODY_LIMIT,
            crm: CrmChoice::None,
            trusted_proxies: TrustedProxies::default(),
            worker: WorkerSettings { tick: std::time::Duration::from_secs(3600), ..WorkerSettings::default() },
            webhooks: WebhookConfig::default(),
        }
    }
}

/// One app per configured engine: SQLite always, PostgreSQL when the variable is set.
pub async fn apps(test: &str) -> Vec<TestApp> {
    apps_with(test, &Options::default()).await
}

/// [`apps`] with other options.
pub async fn apps_with(test: &str, options: &Options) -> Vec<TestApp> {
    let mut out = vec![spawn_sqlite(options).await];
    match std::env::var(PG_URL_VAR) {
        Ok(url) => out.push(spawn_postgres(&url, options).await),
        Err(_) => eprintln!("{test}: PostgreSQL part skipped: {PG_URL_VAR} is not set"),
    }
    out
}

async fn spawn_sqlite(options: &Options) -> TestApp {
    let dir = tempfile::tempdir().expect("creates a temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("roster.db").display());
    spawn(url, "sqlite", Guard::Sqlite(dir), options).await
}

async fn spawn_postgres(admin_url: &str, options: &Options) -> TestApp {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let schema = format!("api_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = Database::connect(admin_url).await.unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but unusable: {e}"));
    admin.execute_unprepared(&format!("CREATE SCHEMA {schema}")).await.expect("creates the test schema");
    admin.close().await.expect("closes");
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
    spawn(url, "postgres", Guard::Postgres { admin_url: admin_url.to_owned(), schema }, options).await
}

async fn spawn(database_url: String, engine: &'static str, guard: Guard, options: &Options) -> TestApp {
    let outbox = tempfile::tempdir().expect("creates a temporary directory");
    let config = ServeConfig {
        database_url: database_url.clone(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        http: HttpConfig {
            body_limit: options.body_limit,
            trusted_proxies: options.trusted_proxies.clone(),
            ..HttpConfig::default()
        },
        bootstrap_email: Some(ADMIN_EMAIL.to_owned()),
        bootstrap_password: Some(ADMIN_PASSWORD.to_owned()),
        mail: test_mail_config(outbox.path()),
        crm: options.crm.clone(),
        worker: options.worker,
        webhooks: options.webhooks.clone(),
    };
    let app = server::build(&config).await.expect("builds the application");
    let address = app.listener.local_addr().expect("bound");
    let services = app.state.services.clone();
    let ticks = app.mail_worker.ticks();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(app, async {
        rx.await.ok();
    }));
    TestApp {
        base: format!("http://{address}"),
        client: reqwest::Client::new(),
        services,
        engine,
        outbox,
        ticks,
        database_url,
        shutdown: Some(tx),
        task: Some(task),
        guard,
    }
}

impl TestApp {
    /// Another server on this app's database (as several `roster serve` share one), with its
    /// own options; finish it before this app.
    pub async fn sibling(&self, options: &Options) -> TestApp {
        spawn(self.database_url.clone(), self.engine, Guard::Shared, options).await
    }

    /// The app's database URL, for `roster serve` processes started on it.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// A request to `path` (from the server's root).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// A request with a bearer token.
    pub fn authed(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    /// A bearer `GET` that must answer 200; its JSON body.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let r = self.authed(Method::GET, path, token).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::OK, "{}: GET {path}", self.engine);
        r.json().await.expect("json")
    }

    /// Logs in to `org`; the token.
    pub async fn login_to(&self, org: &str, email: &str, password: &str) -> String {
        let r = self
            .request(Method::POST, "/api/v1/session")
            .json(&json!({"org": org, "email": email, "password": password}))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::OK, "{}: login failed", self.engine);
        let body: Value = r.json().await.expect("json");
        body["token"].as_str().expect("a token").to_owned()
    }

    /// Logs in as the bootstrap admin of `demo`.
    pub async fn login(&self) -> String {
        self.login_to("demo", ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Creates a user in the caller's organization; the answer's body.
    pub async fn create_user(&self, token: &str, email: &str) -> Value {
        let r = self
            .authed(Method::POST, "/api/v1/users", token)
            .json(&json!({"email": email, "first_name": "Test", "last_name": email.split('@').next().unwrap_or("x")}))
            .send()
            .await
            .expect("sends");
        assert_eq!(r.status(), StatusCode::CREATED, "{}: creating {email}", self.engine);
        r.json().await.expect("json")
    }

    /// The number of users of the caller's organization (page paging's total).
    pub async fn user_count(&self, token: &str) -> u64 {
        let r = self.authed(Method::GET, "/api/v1/users?page=1&per_page=10", token).send().await.expect("sends");
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.expect("json");
        body["total"].as_u64().expect("a total")
    }

    /// Every message the mail worker has written so far, once every message queued before this
    /// call has had its chance: waits until two more worker ticks have ended (the second
    /// started after the call, so it saw everything committed before), and longer while the
    /// number of files still grows. Sorted by recipient, then file name.
    pub async fn mail(&self) -> Vec<Mail> {
        let mut ticks = self.ticks.clone();
        let mut seen = usize::MAX;
        loop {
            let from = *ticks.borrow_and_update();
            tokio::time::timeout(MAIL_WAIT, ticks.wait_for(|t| *t >= from + 2))
                .await
                .expect("the mail worker keeps ticking")
                .expect("the mail worker is alive");
            let mail = read_outbox(self.outbox.path());
            if mail.len() == seen {
                return mail;
            }
            seen = mail.len();
        }
    }

    /// Runs `sqlite` or `postgres` on the app's database: for facts no API call can make
    /// (an invite whose week has passed).
    pub async fn execute_sql(&self, sqlite: &str, postgres: &str) {
        let db = Database::connect(self.database_url.as_str()).await.expect("connects");
        let sql = if self.engine == "sqlite" { sqlite } else { postgres };
        db.execute_unprepared(sql).await.expect("runs");
        db.close().await.ok();
    }

    /// The first column of every row `sqlite` or `postgres` answers, as text: for what no
    /// API shows (how a secret is kept at rest).
    pub async fn query_texts(&self, sqlite: &str, postgres: &str) -> Vec<String> {
        let db = Database::connect(self.database_url.as_str()).await.expect("connects");
        let sql = if self.engine == "sqlite" { sqlite } else { postgres };
        let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
        let rows = db.query_all_raw(statement).await.expect("runs");
        db.close().await.ok();
        rows.iter().map(|row| row.try_get_by_index::<String>(0).expect("a text column")).collect()
    }

    /// Stops the server (in-flight requests finish) and removes the database.
    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task ends").expect("the server stops cleanly");
        }
        if let Guard::Postgres { admin_url, schema } = &self.guard {
            let admin = Database::connect(admin_url.as_str()).await.expect("connects");
            admin.execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE")).await.expect("drops the schema");
            admin.close().await.ok();
        }
    }
}

/// Asserts a problem answer: status, content type and code; the body.
pub async fn assert_problem(r: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "status");
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    body
}

/// How long a test waits for the mail worker (which ticks every 100 ms).
const MAIL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A message the file drop wrote.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// The plain-text part.
    pub text: String,
}

impl Mail {
    /// The token of the first link to `path` (`/accept-invite`, `/verify-email`) in the text.
    pub fn token(&self, path: &str) -> String {
        let marker = format!("{path}?token=");
        let start = self.text.find(&marker).unwrap_or_else(|| panic!("no {path} link in {}", self.text)) + marker.len();
        self.text[start..].split_whitespace().next().expect("a token").to_owned()
    }
}

fn read_outbox(dir: &std::path::Path) -> Vec<Mail> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .expect("the outbox folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    let mut out: Vec<Mail> = files
        .iter()
        .map(|path| {
            let raw = std::fs::read(path).expect("readable");
            let parsed = mailparse::parse_mail(&raw).expect("an RFC 5322 message");
            let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
            let text = parsed.subparts.first().map(|p| p.get_body().expect("a text part")).unwrap_or_default();
            Mail { to: header("To"), subject: header("Subject"), text }
        })
        .collect();
    out.sort_by(|a, b| a.to.cmp(&b.to));
    out
}

/// The mail of test apps: `.eml` files in `dir`, links to the default public URL, and a worker
/// that looks for due mail every 100 ms.
fn test_mail_config(dir: &std::path::Path) -> MailConfig {
    let sender = Sender::parse(DEFAULT_MAIL_FROM).expect("a valid sender");
    let public_url = PublicUrl::parse("http://127.0.0.1:8080").expect("a valid URL");
    let mut mail = MailConfig::new(None, dir.to_owned(), sender, public_url);
    mail.worker.interval = std::time::Duration::from_millis(100);
    mail
}
