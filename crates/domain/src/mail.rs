//! Outgoing email as the domain sees it: what to send to whom and why. The mail adapter
//! renders the text and HTML and builds links from the configured public base URL (§8.4).

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::ids::{InviteId, MailId, OrgId};
use crate::values::Email;

/// A message waiting in the outbox, written in the same transaction as its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    /// Unique; the outbox row's id.
    pub id: MailId,
    /// The organization whose change caused the message.
    pub org_id: OrgId,
    /// The recipient.
    pub to: Email,
    /// Which message, with what its template needs.
    pub kind: MailKind,
    /// When the message was queued; the outbox delivers oldest first.
    pub created_at: OffsetDateTime,
}

/// Why the message is sent, with what the template needs. Tokens travel here in clear because
/// the recipient needs them; only their hashes are stored with the invite, sign-up or reset link. The
/// outbox keeps a token only while the message may still be sent: once delivery is settled the
/// stored message is [`MailKind::without_secrets`] (ADR 0027).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MailKind {
    /// An invite to join (§8.1, and CRM imports with a welcome email): a link to accept it.
    Invitation {
        /// The invite the link accepts.
        invite_id: InviteId,
        /// The single-use token of the link, in clear; empty once delivery is settled.
        token: String,
        /// The organization's name, for the subject and greeting.
        org_name: String,
        /// Who the invitation says it comes from: the inviting member's name, or the
        /// organization's when no member acts.
        invited_by: String,
        /// When the link stops working.
        expires_at: OffsetDateTime,
    },
    /// A greeting to a member whose account is ready to use; it carries no link.
    Welcome {
        /// The organization's name.
        org_name: String,
        /// The member's given name, for the greeting.
        first_name: String,
    },
    /// The link that confirms a self sign-up's email address (§8.2).
    SignupVerification {
        /// The single-use token of the link, in clear; empty once delivery is settled.
        token: String,
        /// The organization signed up to.
        org_name: String,
    },
    /// A one-use link to choose a new password (§3), asked for by the member ("forgot
    /// password") or sent by an admin.
    PasswordReset {
        /// The single-use token of the link, in clear; empty once delivery is settled.
        token: String,
        /// The organization whose account the link resets.
        org_name: String,
        /// When the link stops working.
        expires_at: OffsetDateTime,
    },
    /// To each active admin: a webhook endpoint was disabled by the delivery worker (§9.1).
    WebhookDisabled {
        /// The organization whose endpoint it is.
        org_name: String,
        /// The endpoint's URL.
        url: String,
        /// Why it was disabled (it answered `410 Gone`, or failed for days).
        reason: String,
    },
}

impl MailKind {
    /// The same message without the token it carries (the token left empty): what the outbox
    /// keeps of a message once it is sent or given up, so that it still shows what was sent
    /// to whom while nobody who reads the database can use the link.
    #[must_use]
    pub fn without_secrets(&self) -> MailKind {
        let mut kind = self.clone();
        match &mut kind {
            MailKind::Invitation { token, .. }
            | MailKind::SignupVerification { token, .. }
            | MailKind::PasswordReset { token, .. } => token.clear(),
            MailKind::Welcome { .. } | MailKind::WebhookDisabled { .. } => {}
        }
        kind
    }

    /// Whether the message carries a token (a link that grants something).
    pub fn holds_secret(&self) -> bool {
        match self {
            MailKind::Invitation { token, .. }
            | MailKind::SignupVerification { token, .. }
            | MailKind::PasswordReset { token, .. } => !token.is_empty(),
            MailKind::Welcome { .. } | MailKind::WebhookDisabled { .. } => false,
        }
    }
}

impl DeliveryState {
    /// Whether delivery is over (sent or given up): the message is never sent again.
    pub fn is_settled(&self) -> bool {
        !matches!(self, DeliveryState::Pending { .. })
    }
}

/// Where a queued message stands in delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting; due at `next_attempt_at` (also the lease of a worker that claimed it).
    Pending {
        /// Attempts made so far whose outcome was recorded (0 for a new message).
        attempts: u32,
        /// When the message is due: at once for a new one, after the backoff for a retry.
        next_attempt_at: OffsetDateTime,
        /// Why the previous attempt failed; `None` before any failure.
        last_error: Option<String>,
    },
    /// Delivered: the relay (or the folder) accepted it.
    Sent {
        /// When it was accepted.
        at: OffsetDateTime,
        /// Attempts it took, the successful one included.
        attempts: u32,
    },
    /// Given up: a permanent refusal, or too many attempts.
    Failed {
        /// When delivery was given up.
        at: OffsetDateTime,
        /// Attempts made.
        attempts: u32,
        /// Why the last attempt failed.
        error: String,
    },
}

/// A message with its delivery state, as the delivery worker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMail {
    /// The message as queued (a settled one without its token).
    pub mail: OutgoingMail,
    /// Where its delivery stands.
    pub delivery: DeliveryState,
}

/// How often and how late delivery is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before giving up, the first included (default 8).
    pub max_attempts: u32,
    /// The wait after the first failure (default 30 s); it doubles with each further failure.
    pub first_delay: Duration,
    /// The longest wait between attempts (default 1 h).
    pub max_delay: Duration,
    /// How long a claimed message is hidden from other workers while it is being sent; if the
    /// worker dies, the message is due again after it (at-least-once delivery).
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_delay: Duration::seconds(30),
            max_delay: Duration::hours(1),
            lease: Duration::minutes(5),
        }
    }
}

impl RetryPolicy {
    /// When to try again after `attempts` failed attempts, or `None` to give up. The delay
    /// doubles from `first_delay` up to `max_delay`.
    pub fn next_attempt(&self, attempts: u32, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 2_i32.saturating_pow(attempts.saturating_sub(1).min(30));
        let delay = self.first_delay.saturating_mul(factor).min(self.max_delay);
        Some(now + delay)
    }
}
