//! Outgoing email as the domain sees it: what to send to whom and why. The mail adapter
//! renders the text and HTML and builds links from the configured public base URL (§8.4).

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::ids::{InviteId, MailId, OrgId};
use crate::values::Email;

/// A message waiting in the outbox, written in the same transaction as its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    pub id: MailId,
    pub org_id: OrgId,
    pub to: Email,
    pub kind: MailKind,
    pub created_at: OffsetDateTime,
}

/// Why the message is sent, with what the template needs. Tokens travel here in clear because
/// the recipient needs them; only their hashes are stored with the invite or sign-up. The
/// outbox keeps a token only while the message may still be sent: once delivery is settled the
/// stored message is [`MailKind::without_secrets`] (ADR 0027).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MailKind {
    Invitation { invite_id: InviteId, token: String, org_name: String, invited_by: String, expires_at: OffsetDateTime },
    Welcome { org_name: String, first_name: String },
    SignupVerification { token: String, org_name: String },
}

impl MailKind {
    /// The same message without the token it carries (the token left empty): what the outbox
    /// keeps of a message once it is sent or given up, so that it still shows what was sent
    /// to whom while nobody who reads the database can use the link.
    #[must_use]
    pub fn without_secrets(&self) -> MailKind {
        let mut kind = self.clone();
        match &mut kind {
            MailKind::Invitation { token, .. } | MailKind::SignupVerification { token, .. } => token.clear(),
            MailKind::Welcome { .. } => {}
        }
        kind
    }

    /// Whether the message carries a token (a link that grants something).
    pub fn holds_secret(&self) -> bool {
        match self {
            MailKind::Invitation { token, .. } | MailKind::SignupVerification { token, .. } => !token.is_empty(),
            MailKind::Welcome { .. } => false,
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
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        last_error: Option<String>,
    },
    Sent {
        at: OffsetDateTime,
        attempts: u32,
    },
    /// Given up: a permanent refusal, or too many attempts.
    Failed {
        at: OffsetDateTime,
        attempts: u32,
        error: String,
    },
}

/// A message with its delivery state, as the delivery worker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMail {
    pub mail: OutgoingMail,
    pub delivery: DeliveryState,
}

/// How often and how late delivery is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_delay: Duration,
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
