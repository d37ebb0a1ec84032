//! Sessions of logged-in members and the attempts the login, sign-up and password-reset
//! throttles count (SPEC §10, §3), as part of the unit of work.
//!
//! Every write of a session goes through a [`Tx`](super::Tx), with the change that causes it:
//! a login's session commits with its audit event, an impersonating session with the
//! `impersonation.started` event, and the end of a member's sessions with their deactivation,
//! deletion, demotion or password change. Only the two things every request does live outside
//! a transaction, on [`Store`](super::Store): looking a session up by its token's hash and
//! moving its expiry ([`Store::session`](super::Store::session),
//! [`Store::touch_session`](super::Store::touch_session)).
//!
//! Tokens never reach storage: the store keeps and looks up their hash
//! ([`crate::invites::hash_token`]).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::ids::{OrgId, UserId};

use super::StoreError;

/// One session: a member logged in (or impersonated) until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The hash of the bearer token; the token itself is only ever in the client's hands.
    pub token_hash: String,
    /// The organization the session acts in; a session never crosses organizations.
    pub org_id: OrgId,
    /// The member the session acts as.
    pub user_id: UserId,
    /// The member who started an impersonation, for an impersonating session.
    pub impersonator_id: Option<UserId>,
    /// The session that started this one (an impersonation): ending it ends this one.
    pub parent_hash: Option<String>,
    /// When the login or impersonation happened.
    pub created_at: OffsetDateTime,
    /// The last request that moved the expiry; refreshed at most every `slide_after`, not on every
    /// request.
    pub last_seen_at: OffsetDateTime,
    /// When the session stops working: moved on use (12 h sliding, §10); an impersonating session
    /// ends 1 h after it started.
    pub expires_at: OffsetDateTime,
}

impl Session {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

/// What a throttle counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttemptKind {
    /// A failed password login.
    LoginFailure,
    /// A sign-up request, whatever came of it.
    SignUp,
    /// A request for a password reset link, whatever came of it.
    PasswordReset,
}

impl AttemptKind {
    /// The kind's name as storage keeps it (`login`, `signup`, `password_reset`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LoginFailure => "login",
            Self::SignUp => "signup",
            Self::PasswordReset => "password_reset",
        }
    }
}

/// One counted attempt from a source address, on an account when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// What was attempted.
    pub kind: AttemptKind,
    /// The source address (the TCP peer), or `unknown` when there is none (the CLI, tests).
    pub address: String,
    /// The account tried (a login's), as the use case keys it.
    pub account: Option<String>,
    /// When the attempt happened; throttles count only those inside their window.
    pub at: OffsetDateTime,
}

/// Sessions and throttled attempts, in the transaction.
///
/// # Errors
/// `Unavailable`; `insert_session` fails with `Missing { kind: "user" }` when the member does
/// not exist in the organization, and with `Missing { kind: "session" }` when the parent
/// session does not exist.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send {
    /// Stores a new session, in the transaction of the change that issued it (a login, an
    /// impersonation).
    async fn insert_session(&mut self, session: &Session) -> Result<(), StoreError>;
    /// The session with this token hash, live or expired.
    async fn session(&mut self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    /// Records use of a session and moves its expiry (sliding expiry); an unknown session is
    /// not an error.
    async fn extend_session(
        &mut self,
        token_hash: &str,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Ends one session and the sessions it started; answers whether it existed.
    async fn delete_session(&mut self, token_hash: &str) -> Result<bool, StoreError>;
    /// Ends every session of a member but `keep` (when given), and the sessions they started;
    /// answers how many of the member's sessions there were.
    async fn delete_user_sessions<'a>(
        &mut self,
        org: OrgId,
        user: UserId,
        keep: Option<&'a str>,
    ) -> Result<u64, StoreError>;
    /// Removes the sessions that expired at or before `now`; answers how many.
    async fn purge_expired_sessions(&mut self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Counts one attempt.
    async fn record_attempt(&mut self, attempt: &Attempt) -> Result<(), StoreError>;
    /// The times of the attempts of `kind` from `address` (on `account` when given) at or after
    /// `since`, oldest first.
    async fn attempts_since<'a>(
        &mut self,
        kind: AttemptKind,
        address: &str,
        account: Option<&'a str>,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>, StoreError>;
    /// The times of the attempts of `kind` on `account` from any address at or after `since`,
    /// oldest first (a throttle per account that many addresses cannot get around).
    async fn account_attempts_since(
        &mut self,
        kind: AttemptKind,
        account: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>, StoreError>;
    /// Forgets the attempts of `kind` from `address` on `account` (a successful login).
    async fn clear_attempts(&mut self, kind: AttemptKind, address: &str, account: &str) -> Result<(), StoreError>;
    /// Forgets every attempt older than `before`; answers how many.
    async fn purge_attempts(&mut self, before: OffsetDateTime) -> Result<u64, StoreError>;
}
