//! Fresh databases per engine, `Services` over the real `SeaOrmStore` with a clock the test
//! moves, an organization with invitations queued through the real use case, and a `roster
//! serve` configuration pointing at a test mailer.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mailparse::MailHeaderMap as _;
use roster_adapters_db::{Db, SeaOrmStore};
use roster_adapters_http::HttpConfig;
use roster_adapters_mail::{MailTransport, MailWorker, PublicUrl, Sender, SmtpMailer, SmtpUrl, WorkerSettings};
use roster_app::mail::MailConfig;
use roster_app::server::{ServeConfig, open_database};
use roster_app::system::{RandomIds, SystemClock};
use roster_domain::Services;
use roster_domain::actor::Actor;
use roster_domain::audit::Source;
use roster_domain::mail::{MailKind, QueuedMail};
use roster_domain::org::OrgSettings;
use roster_domain::ports::{Clock as _, Mailer, Outbox as _};
use roster_domain::services::{InviteRow, InviteStatus, NewOrganization};
use roster_domain::values::{Email, Key, Label, PersonName, Slug};
use roster_testkit::{FakeHasher, ManualClock};
use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;

/// How long a test waits for something that should take milliseconds.
pub const WAIT: Duration = Duration::from_secs(20);
pub const PUBLIC_URL: &str = "https://roster.example.com";
const PG_URL_VAR: &str = "ROSTER_TEST_DATABASE_URL";

/// A fresh, empty database: an SQLite file in a temporary folder or a PostgreSQL schema.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub engine: &'static str,
    /// A scratch folder for the test (outbox folders).
    pub scratch: TempDir,
    schema: Option<(String, String)>,
}

/// SQLite always, PostgreSQL when the variable is set.
pub async fn databases(test: &str) -> Vec<TestDatabase> {
    let scratch = || tempfile::tempdir().expect("creates a temporary folder");
    let sqlite = scratch();
    let url = format!("sqlite://{}?mode=rwc", sqlite.path().join("roster.db").display());
    let mut out = vec![TestDatabase { url, engine: "sqlite", scratch: sqlite, schema: None }];
    match std::env::var(PG_URL_VAR) {
        Ok(admin_url) => {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let schema = format!("mail_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
            let admin = Database::connect(admin_url.as_str())
                .await
                .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but unusable: {e}"));
            admin.execute_unprepared(&format!("CREATE SCHEMA {schema}")).await.expect("creates the test schema");
            admin.close().await.expect("closes");
            let separator = if admin_url.contains('?') { '&' } else { '?' };
            let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
            out.push(TestDatabase { url, engine: "postgres", scratch: scratch(), schema: Some((admin_url, schema)) });
        }
        Err(_) => eprintln!("{test}: PostgreSQL part skipped: {PG_URL_VAR} is not set"),
    }
    out
}

impl TestDatabase {
    /// Removes the PostgreSQL schema (the SQLite file goes with its folder).
    pub async fn finish(self) {
        if let Some((admin_url, schema)) = &self.schema {
            let admin = Database::connect(admin_url.as_str()).await.expect("connects");
            admin.execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE")).await.expect("drops the schema");
            admin.close().await.ok();
        }
    }

    /// A new pool on the database (migrated) and `Services` over it — what one process has.
    pub async fn process(&self, clock: &ManualClock) -> (Services, Db) {
        let db = open_database(&self.url).await.expect("opens and migrates the database");
        let services = Services::new(
            Arc::new(SeaOrmStore::new(db.clone())),
            Arc::new(clock.clone()),
            Arc::new(RandomIds),
            Arc::new(FakeHasher),
        );
        (services, db)
    }

    /// The messages still pending at `clock`'s time plus a day (so claimed ones count too).
    pub async fn pending(&self, clock: &ManualClock) -> Vec<QueuedMail> {
        let db = open_database(&self.url).await.expect("opens the database");
        let mut tx = SeaOrmStore::new(db.clone()).begin_tx().await.expect("begins");
        let due = tx.due_mail(clock.now() + time::Duration::days(1), 10_000).await.expect("reads the outbox");
        drop(tx);
        db.close().await.expect("closes");
        due
    }

    /// A `roster serve` configuration on this database with `transport` and a fast worker.
    pub fn serve_config(&self, transport: MailTransport) -> ServeConfig {
        let mut mail = MailConfig::new(
            None,
            self.scratch.path().join("unused"),
            Sender::parse("Roster <roster@acme.test>").expect("a sender"),
            PublicUrl::parse(PUBLIC_URL).expect("a URL"),
        );
        mail.transport = transport;
        mail.worker.interval = Duration::from_millis(50);
        ServeConfig {
            database_url: self.url.clone(),
            listen: "127.0.0.1:0".parse().expect("an address"),
            http: HttpConfig::default(),
            bootstrap_email: Some("admin@demo.example".to_owned()),
            bootstrap_password: Some("correct horse battery staple".to_owned()),
            mail,
            crm: roster_adapters_crm::CrmChoice::None,
            worker: roster_app::worker::WorkerSettings::default(),
            webhooks: roster_app::webhooks::WebhookConfig::default(),
        }
    }
}

/// A clock at the real current time, moved by the test.
pub fn clock() -> ManualClock {
    ManualClock::new(SystemClock.now())
}

/// A new organization `slug` with room for `seats` members per product; its operator.
pub async fn organization(services: &Services, slug: &str, seats: u32) -> Actor {
    let org = services
        .create_organization(
            Source::Cli,
            NewOrganization {
                name: Label::parse("Acme").expect("a name"),
                slug: Slug::parse(slug).expect("a slug"),
                trial_ends_at: None,
                settings: OrgSettings { auto_signup: false, default_seat_limit: seats, ..OrgSettings::default() },
            },
        )
        .await
        .expect("creates the organization");
    Actor::system(org.id, Source::Cli)
}

/// Invites each address (Core, `standard`), in one use case and one transaction.
pub async fn invite(services: &Services, operator: &Actor, emails: &[String]) {
    let rows = emails
        .iter()
        .map(|email| InviteRow {
            name: PersonName::parse("Ada Lovelace").expect("a name"),
            email: Email::parse(email).expect("an address"),
            roles: vec![Key::parse("standard").expect("a key")],
            products: [Key::parse("core").expect("a key")].into(),
            group_ids: Vec::new(),
        })
        .collect();
    let result = services.invite_members(operator, rows, false).await.expect("invites");
    assert!(result.results.iter().all(|r| r.status == InviteStatus::Created), "{result:?}");
    assert_eq!(result.results.len(), emails.len());
}

/// An SMTP mailer for `url` (each one has its own connections, like a process).
pub fn smtp(url: &str) -> Arc<dyn Mailer> {
    let composer = roster_adapters_mail::Composer::new(
        Sender::parse("Roster <roster@acme.test>").expect("a sender"),
        PublicUrl::parse(PUBLIC_URL).expect("a URL"),
    );
    Arc::new(SmtpMailer::new(&SmtpUrl::parse(url).expect("a URL"), composer).expect("a mailer"))
}

pub fn worker(services: &Services, mailer: Arc<dyn Mailer>, settings: WorkerSettings) -> MailWorker {
    MailWorker::new(services.clone(), mailer, settings).expect("valid settings")
}

/// The token of a queued invitation.
pub fn token(mail: &QueuedMail) -> String {
    match &mail.mail.kind {
        MailKind::Invitation { token, .. } => token.clone(),
        other => panic!("not an invitation: {other:?}"),
    }
}

/// The `Message-ID`, recipient and plain text of a received message.
pub fn summary(raw: &[u8]) -> (String, String, String) {
    let parsed = mailparse::parse_mail(raw).expect("an RFC 5322 message");
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_else(|| panic!("a {name} header"));
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    let text = parsed.subparts[0].get_body().expect("a plain text part");
    assert!(parsed.subparts[1].get_body().expect("an HTML part").contains("<a href="));
    (header("Message-ID"), header("To"), text)
}

/// Waits until `worker` has ended `n` more ticks than `from`.
pub async fn ticks_after(ticks: &mut tokio::sync::watch::Receiver<u64>, from: u64, n: u64) {
    tokio::time::timeout(WAIT, ticks.wait_for(|t| *t >= from + n))
        .await
        .expect("the worker keeps ticking")
        .expect("the worker is alive");
}

/// A file-drop folder inside `dir`.
pub fn file_drop(dir: &Path) -> MailTransport {
    MailTransport::FileDrop(dir.join("outbox"))
}
