//! Outgoing email as the domain sees it: what to send to whom and why. The mail adapter
//! renders the text and HTML and builds links from the configured public base URL (§8.4).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
/// the recipient needs them; only their hashes are stored with the invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MailKind {
    Invitation { invite_id: InviteId, token: String, org_name: String, invited_by: String, expires_at: OffsetDateTime },
    Welcome { org_name: String, first_name: String },
    SignupVerification { token: String, org_name: String },
}
