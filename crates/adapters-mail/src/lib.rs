//! Roster's outbound mail (SPEC §8.4): the implementations of the domain's [`Mailer`] port —
//! [`SmtpMailer`] (lettre over tokio, TLS through rustls) and [`FileDropMailer`] (one `.eml` file
//! per message, the default) — the rendering of each [`MailKind`] into plain text and HTML with
//! links built from the configured public base URL, and the [`MailWorker`] that delivers the
//! outbox through `Services::deliver_due_mail`.
//!
//! It depends on `roster-domain` and nothing depends on it but `roster-app`. It holds no business
//! rule: what to send and when to retry is the domain's; this crate decides how a message looks
//! and how a transport's failure reads as the port's [`MailError`] (transient or permanent).
//!
//! [`Mailer`]: roster_domain::ports::Mailer
//! [`MailError`]: roster_domain::ports::MailError
//! [`MailKind`]: roster_domain::mail::MailKind

mod compose;
mod config;
mod error;
mod file_drop;
mod render;
mod smtp;
mod worker;

#[cfg(feature = "testing")]
pub mod testing;

pub use compose::{Composer, Sender};
pub use config::{MailTransport, build_mailer};
pub use error::MailSetupError;
pub use file_drop::FileDropMailer;
pub use render::{PublicUrl, Rendered, escape_html, render};
pub use smtp::{SmtpMailer, SmtpSecurity, SmtpUrl};
pub use worker::{MailWorker, WorkerSettings};
