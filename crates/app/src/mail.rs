//! Outbound mail in `roster serve` (SPEC §8.4): the mailer chosen by the configuration (SMTP when
//! `ROSTER_SMTP_URL` is set, else the file drop in `ROSTER_OUTBOX_DIR`) and the outbox worker
//! that `server::serve` runs beside the API and stops with it.

use std::path::PathBuf;

use anyhow::Context as _;
use roster_adapters_mail::{
    Composer, MailTransport, MailWorker, PublicUrl, Sender, SmtpUrl, WorkerSettings, build_mailer,
};
use roster_domain::Services;

/// The file-drop folder when none is configured.
pub const DEFAULT_OUTBOX_DIR: &str = "./outbox";
/// The sender when none is configured.
pub const DEFAULT_MAIL_FROM: &str = "roster@localhost";

/// Everything the mail worker needs, already parsed.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    pub sender: Sender,
    /// The base of the links in messages.
    pub public_url: PublicUrl,
    pub worker: WorkerSettings,
}

impl MailConfig {
    /// SMTP when `smtp` is given, else the file drop in `outbox_dir`; default worker settings.
    pub fn new(smtp: Option<SmtpUrl>, outbox_dir: PathBuf, sender: Sender, public_url: PublicUrl) -> Self {
        let transport = smtp.map_or(MailTransport::FileDrop(outbox_dir), MailTransport::Smtp);
        Self { transport, sender, public_url, worker: WorkerSettings::default() }
    }
}

/// Builds the mailer and the worker; nothing runs yet. Fails when the outbox folder cannot be
/// created or written, or the SMTP TLS settings cannot be built.
///
/// # Errors
/// The mailer or the worker settings, naming the variable at fault.
pub fn worker(services: &Services, config: &MailConfig) -> anyhow::Result<MailWorker> {
    let composer = Composer::new(config.sender.clone(), config.public_url.clone());
    let what = match &config.transport {
        MailTransport::Smtp(url) => format!("ROSTER_SMTP_URL ({url})"),
        MailTransport::FileDrop(dir) => format!("ROSTER_OUTBOX_DIR ({})", dir.display()),
    };
    let mailer = build_mailer(&config.transport, composer).with_context(|| what.clone())?;
    match &config.transport {
        MailTransport::Smtp(url) => tracing::info!(server = %url, "mail goes out over SMTP"),
        MailTransport::FileDrop(dir) => tracing::info!(dir = %dir.display(), "mail is written as .eml files"),
    }
    MailWorker::new(services.clone(), mailer, config.worker).context("the mail worker's settings")
}
