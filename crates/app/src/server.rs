//! `roster serve`: open and migrate the database, build the adapters (store, sessions, CRM
//! directory, mailer) and the domain's services, create the `demo` organization and its admin
//! on an empty database, and serve the router, the outbox worker, the scheduler and the job
//! runner until a shutdown signal, letting in-flight requests and the workers' ticks finish.

use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use roster_adapters_crm::CrmChoice;
use roster_adapters_db::{Db, SeaOrmIdempotency, SeaOrmSavedViews, SeaOrmStore, connect, migrate};
use roster_adapters_http::{AppState, HttpConfig, PoolGauges, Readiness, router_with};
use roster_adapters_mail::MailWorker;
use roster_domain::Services;
use roster_domain::audit::Source;
use roster_domain::org::OrgSettings;
use roster_domain::ports::WebhookSender;
use roster_domain::services::{NewAdmin, NewOrganization, SessionSettings};
use roster_domain::values::{Email, Label, Password, PersonName, Slug};
use roster_password::Argon2Hasher;
use tokio::net::TcpListener;

use crate::mail::MailConfig;
use crate::system::{RandomIds, SystemClock, one_time_password};
use crate::webhooks::{HttpWebhookSender, WebhookConfig};
use crate::worker::WorkerSettings;

/// Everything `serve` needs, already validated.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub database_url: String,
    pub listen: SocketAddr,
    pub http: HttpConfig,
    /// The first admin's email and password on an empty database.
    pub bootstrap_email: Option<String>,
    pub bootstrap_password: Option<String>,
    /// Outbound mail: the mailer, the links' base URL and the worker's pace.
    pub mail: MailConfig,
    /// The CRM directory the import, search and sync use (`CrmChoice::None`: those answer
    /// 503 `crm_not_configured`).
    pub crm: CrmChoice,
    /// The scheduler's and the job runner's pace.
    pub worker: WorkerSettings,
    /// Webhook delivery: the sender's rules and the worker's pace.
    pub webhooks: WebhookConfig,
}

/// The slug of the organization a first start creates.
pub const DEMO_ORG: &str = "demo";
/// The first admin's email when none is configured.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@demo.example";

/// What a first start created.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    pub email: String,
    /// Present when it was generated (to be printed once).
    pub generated_password: Option<String>,
}

/// A running application: the bound address and the pieces tests may reach.
#[derive(Debug)]
pub struct Application {
    pub listener: TcpListener,
    pub state: AppState,
    pub db: Db,
    pub bootstrapped: Option<Bootstrapped>,
    /// The outbox worker, started by [`serve`].
    pub mail_worker: MailWorker,
    /// The scheduler's and the job runner's pace, started by [`serve`].
    pub worker: WorkerSettings,
    /// The webhook sender and the worker's pace, started by [`serve`].
    pub webhook_sender: Arc<HttpWebhookSender>,
    pub webhooks: WebhookConfig,
}

/// The database answers (`/readyz`).
#[derive(Debug)]
struct DbReadiness(Db);

#[async_trait]
impl Readiness for DbReadiness {
    async fn check(&self) -> Result<(), String> {
        self.0.connection().ping().await.map_err(|e| format!("database unreachable: {e}"))
    }

    fn pool(&self) -> Option<PoolGauges> {
        let stats = self.0.pool_stats();
        Some(PoolGauges { open: stats.open.into(), idle: stats.idle.into(), max: stats.max.into() })
    }
}

/// Opens and migrates the database and returns it.
///
/// # Errors
/// The database cannot be opened, or its schema is newer than this build.
pub async fn open_database(url: &str) -> anyhow::Result<Db> {
    let db = connect(url).await.context("opening the database")?;
    migrate(&db).await.context("migrating the database")?;
    Ok(db)
}

/// Builds everything and binds the listener, without serving yet.
///
/// # Errors
/// Database, bootstrap or bind failures, with their causes.
pub async fn build(config: &ServeConfig) -> anyhow::Result<Application> {
    config.webhooks.check().map_err(anyhow::Error::msg).context("the webhook settings")?;
    let webhook_sender = Arc::new(
        HttpWebhookSender::new(config.webhooks.allow_insecure, config.webhooks.request_timeout)
            .context("the webhook HTTP client")?,
    );
    let db = open_database(&config.database_url).await?;
    let clock = Arc::new(SystemClock);
    let ids = Arc::new(RandomIds);
    let services = Services::new(
        Arc::new(SeaOrmStore::new(db.clone())),
        clock.clone(),
        ids.clone(),
        Arc::new(Argon2Hasher::default()),
    )
    .with_saved_views(Arc::new(SeaOrmSavedViews::new(db.clone())))
    .with_webhook_sender(webhook_sender.clone() as Arc<dyn WebhookSender>)
    .with_session_settings(SessionSettings { ttl: config.http.session_ttl, ..SessionSettings::default() });
    // A CSV file is read (and refused if broken) now; Salesforce is not called until used, so
    // its outage never stops the server.
    let crm = roster_adapters_crm::config::build(config.crm.clone()).context("the CRM directory")?;
    let services = match crm {
        Some(directory) => services.with_crm(directory),
        None => {
            tracing::info!("no CRM directory: set ROSTER_CRM_CSV or ROSTER_SALESFORCE_* to import users");
            services
        }
    };
    let mail_worker = crate::mail::worker(&services, &config.mail)?;
    let bootstrapped = bootstrap(&services, config).await?;
    let state = AppState {
        services,
        idempotency: Arc::new(SeaOrmIdempotency::new(db.clone())),
        clock,
        ids,
        readiness: Arc::new(DbReadiness(db.clone())),
        metrics: Arc::default(),
        config: config.http.clone(),
    };
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("listening on {}", config.listen))?;
    Ok(Application {
        listener,
        state,
        db,
        bootstrapped,
        mail_worker,
        worker: config.worker,
        webhook_sender,
        webhooks: config.webhooks.clone(),
    })
}

/// On an empty database: the `demo` organization (default catalog and seat limits) and an admin
/// holding the `admin` role and no license (§11).
async fn bootstrap(services: &Services, config: &ServeConfig) -> anyhow::Result<Option<Bootstrapped>> {
    if !services.list_organizations().await.context("listing organizations")?.is_empty() {
        return Ok(None);
    }
    let slug = Slug::parse(DEMO_ORG).context("the demo slug")?;
    let org = NewOrganization {
        name: Label::parse("Demo").context("the demo name")?,
        slug: slug.clone(),
        trial_ends_at: None,
        settings: OrgSettings::default(),
    };
    services.create_organization(Source::Cli, org).await.context("creating the demo organization")?;
    let email_text = config.bootstrap_email.clone().unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned());
    let email = Email::parse(&email_text).context("ROSTER_BOOTSTRAP_ADMIN_EMAIL")?;
    let (password_text, generated) = match &config.bootstrap_password {
        Some(p) => (p.clone(), false),
        None => (one_time_password(), true),
    };
    let password =
        Password::parse(&password_text).context("ROSTER_BOOTSTRAP_ADMIN_PASSWORD (at least 12 characters)")?;
    let admin = NewAdmin {
        org: slug,
        email,
        first_name: PersonName::parse("Demo").context("the admin's name")?,
        last_name: PersonName::parse("Admin").context("the admin's name")?,
        password,
    };
    services.create_admin(Source::Cli, admin).await.context("creating the demo admin")?;
    Ok(Some(Bootstrapped { email: email_text, generated_password: generated.then_some(password_text) }))
}

/// Serves and runs the outbox worker until `shutdown` completes, then lets in-flight requests
/// and the worker's tick finish.
///
/// # Errors
/// The server's I/O failure.
pub async fn serve(app: Application, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let Application { listener, state, db, mail_worker, worker, webhook_sender, webhooks, .. } = app;
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%address, "serving");
    let purger = tokio::spawn(purge_sessions(state.clone()));
    let stop = Arc::new(tokio::sync::watch::Sender::new(false));
    let background = tokio::spawn(crate::worker::run(state.services.clone(), worker, stop.subscribe()));
    let hooks = tokio::spawn(crate::webhooks::run(state.services.clone(), webhook_sender, webhooks, stop.subscribe()));
    let mut stopping = stop.subscribe();
    let mailer = tokio::spawn(mail_worker.run(async move {
        // An error means the sender is gone, which is a stop too.
        let _ = stopping.wait_for(|stop| *stop).await;
    }));
    let shutdown = {
        let stop = stop.clone();
        async move {
            shutdown.await;
            stop.send_replace(true);
        }
    };
    let service =
        router_with(state, roster_adapters_console::router()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await.context("serving");
    purger.abort();
    stop.send_replace(true);
    if let Err(e) = mailer.await {
        tracing::error!(error = %e, "the mail worker ended abnormally");
    }
    if let Err(e) = hooks.await {
        tracing::error!(error = %e, "the webhook worker ended abnormally");
    }
    if let Err(e) = background.await {
        tracing::error!(error = %e, "the scheduler or the job runner ended abnormally");
    }
    served?;
    tracing::info!("stopped; closing the database");
    db.close().await.context("closing the database")?;
    Ok(())
}

/// How often expired sessions are removed.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes expired sessions, idempotency keys past their retention and the webhook delivery
/// log's rows past its retention every [`PURGE_EVERY`] (the first time at start). Expired
/// sessions and old keys are refused or replaced anyway; this only keeps the tables small. A
/// failure is logged and retried at the next tick.
async fn purge_sessions(state: AppState) {
    let mut ticks = tokio::time::interval(PURGE_EVERY);
    loop {
        ticks.tick().await;
        match state.services.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "expired sessions purged"),
            Err(e) => tracing::warn!(error = %e, "purging expired sessions failed"),
        }
        match state.services.purge_webhook_deliveries().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "old webhook delivery log rows purged"),
            Err(e) => tracing::warn!(error = %e, "purging the webhook delivery log failed"),
        }
        let forget_before = state.clock.now() - roster_adapters_http::idempotency::RETENTION;
        match state.idempotency.purge_idempotency_keys(forget_before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "old idempotency keys purged"),
            Err(e) => tracing::warn!(error = %e, "purging idempotency keys failed"),
        }
    }
}

/// Says what a first start created, on standard output (never in the log: it holds a
/// password).
pub fn announce(bootstrapped: &Bootstrapped, address: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let written = match &bootstrapped.generated_password {
        Some(password) => writeln!(
            out,
            "Created organization `{DEMO_ORG}` and its admin {}.\nOne-time password: {password}\n\
             (shown once; log in at http://{address}/api/v1/session)",
            bootstrapped.email
        ),
        None => writeln!(out, "Created organization `{DEMO_ORG}` and its admin {}.", bootstrapped.email),
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not print the bootstrap message");
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
