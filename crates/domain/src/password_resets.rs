//! Password resets (§3): the one-use link a member asks for when they forgot their password
//! (`POST /password-reset`), or an admin sends them (`PUT /users/{id}/password` with
//! `send_reset`), and who may use one.
//!
//! A link carries a random token; only its hash is stored ([`crate::invites::hash_token`]),
//! and the mail that carries it keeps it only until delivery is settled
//! ([`crate::mail::MailKind::without_secrets`]). A member has at most one link that works: a
//! new one supersedes the older, using one ends it, and any change of the password ends every
//! link of the member (`docs/decisions/`, "password reset").

use time::{Duration, OffsetDateTime};

use crate::ids::{OrgId, UserId};
use crate::user::User;

/// How long a reset link works (§3: one hour).
pub const RESET_LIFETIME: Duration = Duration::hours(1);

/// A reset link as stored: whose password it resets and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    /// SHA-256 of the link's token, hex; the key the link is found by.
    pub token_hash: String,
    /// The member's organization.
    pub org_id: OrgId,
    /// The member whose password the link sets.
    pub user_id: UserId,
    /// When the link was issued.
    pub created_at: OffsetDateTime,
    /// When the link stops working: [`RESET_LIFETIME`] after it was issued.
    pub expires_at: OffsetDateTime,
}

impl PasswordReset {
    /// Whether the link still works at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

/// Whether `user` may reset their password with a link: a member who can log in — not
/// deleted, not deactivated, and past their invite (an invitee chooses a password by accepting
/// the invite).
pub fn may_reset(user: &User) -> bool {
    user.lifecycle.deleted_at.is_none() && !user.is_deactivated() && !user.lifecycle.invited
}
