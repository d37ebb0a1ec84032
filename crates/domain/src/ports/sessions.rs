//! Sessions of logged-in members and failed logins per source address (SPEC §10).
//!
//! Both live outside the unit of work: a session is written once at login and read on every
//! request, and a failed login must be counted even though its use case commits nothing else.
//! Tokens never reach storage: the adapter stores and looks up their hash
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
    pub org_id: OrgId,
    /// The member the session acts as.
    pub user_id: UserId,
    /// The member who started an impersonation, for an impersonating session.
    pub impersonator_id: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Session {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

/// Stores sessions and counts failed logins per source address, across processes.
///
/// # Errors
/// Every method fails only with [`StoreError::Unavailable`]; `insert_session` with
/// [`StoreError::Missing`] when the member does not exist.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    /// The session with this token hash, live or expired.
    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    /// Records use of a session and moves its expiry (sliding expiry).
    async fn extend_session(
        &self,
        token_hash: &str,
        last_seen_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Ends one session; ending an unknown session is not an error.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Ends every session of a member; answers how many there were.
    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> Result<u64, StoreError>;
    /// Removes the sessions that expired before `now`; answers how many.
    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Counts one failed login from `address`.
    async fn record_login_failure(&self, address: &str, at: OffsetDateTime) -> Result<(), StoreError>;
    /// The times of the failed logins from `address` at or after `since`, for
    /// [`crate::throttle::LoginThrottle::check`].
    async fn login_failures_since(
        &self,
        address: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>, StoreError>;
}
