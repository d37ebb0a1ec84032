//! The CRM directory port (§8.3). Nothing here knows Salesforce; adapters map their wire
//! formats to [`CrmUser`].

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;

use crate::values::{CrmId, Email, PersonName, Phone};

/// A user as the CRM knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmUser {
    pub crm_id: CrmId,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Email,
    pub phone: Option<Phone>,
    pub active: bool,
    pub title: Option<String>,
}

/// One page of a directory search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrmPage {
    pub users: Vec<CrmUser>,
    /// The next page number, if there is one.
    pub next_page: Option<u32>,
}

/// What a directory can fail with.
#[derive(Debug, Error)]
pub enum CrmError {
    #[error("the CRM directory is not configured: {0}")]
    NotConfigured(String),
    #[error("the CRM refused the credentials: {0}")]
    Unauthorized(String),
    #[error("the CRM is rate limiting requests")]
    RateLimited,
    #[error("the CRM did not answer in time")]
    Timeout,
    #[error("the CRM answered something unexpected: {0}")]
    Protocol(String),
    #[error("CRM unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A directory of the organization's CRM users.
///
/// # Errors
/// Any [`CrmError`]; `get` omits unknown ids instead of failing.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CrmDirectory: Send + Sync {
    /// Users whose name or email contains `query` (case-insensitive), by page from 0.
    async fn search(&self, query: &str, page: u32) -> Result<CrmPage, CrmError>;
    /// The users with these ids; unknown ids are absent from the answer.
    async fn get(&self, ids: &[crate::values::CrmId]) -> Result<Vec<CrmUser>, CrmError>;
    /// Users changed at or after `since`.
    async fn list_changed_since(&self, since: OffsetDateTime) -> Result<Vec<CrmUser>, CrmError>;
}
