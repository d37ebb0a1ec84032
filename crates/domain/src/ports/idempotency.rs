//! `Idempotency-Key` records (SPEC §10: "an `Idempotency-Key` header makes POSTs safe to
//! retry"). The HTTP adapter claims a key before it runs a request and records the answer after;
//! a retry with the same key gets the recorded answer instead of running again. Keys are scoped
//! to an organization and a principal (the member or API key that sent them), so two callers
//! never see each other's answers. Like sessions, the records live outside the unit of work: a
//! claim must be visible to a concurrent retry at once, before the request's own transaction.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::OrgId;

use super::StoreError;

/// Whose key: one organization, one principal, the client's key text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyScope {
    /// The organization the caller acts in.
    pub org_id: OrgId,
    /// The member's id, or the API key's id.
    pub principal_id: Uuid,
    /// The `Idempotency-Key` header's value, as the client sent it.
    pub key: String,
}

/// The answer recorded for a key: its status and the adapter's encoding of the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status answered.
    pub status: u16,
    /// The rest of the answer (headers and body), encoded as the HTTP adapter chooses.
    pub body: String,
}

/// A key already claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// A hash of the request that claimed the key.
    pub fingerprint: String,
    /// `None` while the first request runs.
    pub response: Option<StoredResponse>,
    /// When the key was claimed; the HTTP adapter takes over a stale claim and purges old
    /// records by it.
    pub created_at: OffsetDateTime,
}

/// Stores idempotency keys, across processes.
///
/// # Errors
/// Every method fails only with [`StoreError::Unavailable`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyRepository: Send + Sync {
    /// Claims `scope` for a request with `fingerprint` at `now`, atomically: `None` when this
    /// call claimed it (no record existed), else the record that exists, unchanged. Of two
    /// concurrent claims of one scope, exactly one answers `None`.
    async fn claim(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Replaces a stale record (one the caller read, identified by its `created_at`) by a new
    /// claim; `false` when the record changed meanwhile (someone else took it over or
    /// completed it), which leaves it alone.
    async fn take_over(
        &self,
        scope: &IdempotencyScope,
        previous_created_at: OffsetDateTime,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Records the answer of the claimed request.
    async fn complete(&self, scope: &IdempotencyScope, response: &StoredResponse) -> Result<(), StoreError>;
    /// Forgets a claim whose request failed for a reason of ours, so that a retry runs again.
    async fn release(&self, scope: &IdempotencyScope) -> Result<(), StoreError>;
    /// Removes every record created before `before`; answers how many.
    async fn purge_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}
