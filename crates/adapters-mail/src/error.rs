//! What setting mail up fails with, below every module that checks a setting.

use std::path::PathBuf;

use thiserror::Error;

/// A mail setting that cannot work. The messages never contain a password.
#[derive(Debug, Error)]
pub enum MailSetupError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("invalid public URL {0}")]
    PublicUrl(String),
    #[error("invalid sender address {0}")]
    From(String),
    #[error("the outbox folder {dir} cannot be used: {source}")]
    OutboxDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the SMTP transport cannot be built: {0}")]
    Smtp(String),
    #[error("invalid mail worker settings: {0}")]
    Worker(String),
}
