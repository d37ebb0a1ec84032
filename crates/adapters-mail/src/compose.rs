//! Puts a rendered message into an RFC 5322 envelope, the same for every transport: `From`, `To`,
//! `Subject`, `Date` (when the message was queued), a `Message-ID` derived from the outbox id (a
//! redelivery carries the same one, so receivers can drop the duplicate), and a
//! `multipart/alternative` body with the plain text first and the HTML second.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use roster_domain::mail::OutgoingMail;
use roster_domain::ports::MailError;

use crate::error::MailSetupError;
use crate::render::{PublicUrl, render};

/// The `From` of every message (`ROSTER_MAIL_FROM`): `address` or `Name <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender(Mailbox);

impl Sender {
    /// Parses a sender.
    ///
    /// # Errors
    /// [`MailSetupError::From`] for anything that is not a mailbox.
    pub fn parse(text: &str) -> Result<Self, MailSetupError> {
        text.trim().parse::<Mailbox>().map(Self).map_err(|e| MailSetupError::From(format!("`{text}`: {e}")))
    }

    /// The address's domain, which names the `Message-ID`s.
    fn domain(&self) -> &str {
        self.0.email.domain()
    }
}

/// Builds the messages of every transport.
#[derive(Debug, Clone)]
pub struct Composer {
    sender: Sender,
    public_url: PublicUrl,
}

impl Composer {
    pub fn new(sender: Sender, public_url: PublicUrl) -> Self {
        Self { sender, public_url }
    }

    pub fn public_url(&self) -> &PublicUrl {
        &self.public_url
    }

    /// The message for `mail`.
    ///
    /// # Errors
    /// [`MailError::Permanent`] when the recipient is not an address lettre can put in an
    /// envelope: sending it again would fail the same way.
    pub fn compose(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .to_string()
            .parse()
            .map_err(|e| MailError::Permanent(format!("the recipient {} cannot be addressed: {e}", mail.to)))?;
        let rendered = render(mail, &self.public_url);
        Message::builder()
            .message_id(Some(format!("<{}@{}>", mail.id, self.sender.domain())))
            .date(SystemTime::from(mail.created_at))
            .from(self.sender.0.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
            .map_err(|e| MailError::Permanent(format!("the message cannot be built: {e}")))
    }
}
