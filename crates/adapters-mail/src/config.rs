//! Choosing and building the mailer at start: SMTP when `ROSTER_SMTP_URL` is set, else the file
//! drop in `ROSTER_OUTBOX_DIR`. Every setting is checked here, so a bad one stops `roster serve`
//! before it serves instead of failing each delivery later.

use std::path::PathBuf;
use std::sync::Arc;

use roster_domain::ports::Mailer;

use crate::compose::Composer;
use crate::error::MailSetupError;
use crate::file_drop::FileDropMailer;
use crate::smtp::{SmtpMailer, SmtpUrl};

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// An SMTP server (relay or submission).
    Smtp(SmtpUrl),
    /// One `.eml` file per message in a folder.
    FileDrop(PathBuf),
}

/// The mailer for `transport`.
///
/// # Errors
/// The TLS settings of the SMTP URL cannot be built, or the outbox folder cannot be created or
/// written.
pub fn build_mailer(transport: &MailTransport, composer: Composer) -> Result<Arc<dyn Mailer>, MailSetupError> {
    Ok(match transport {
        MailTransport::Smtp(url) => Arc::new(SmtpMailer::new(url, composer)?),
        MailTransport::FileDrop(dir) => Arc::new(FileDropMailer::new(dir.clone(), composer)?),
    })
}
