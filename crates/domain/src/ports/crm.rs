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
    /// The CRM's own id for the user (a Salesforce `005…` id); Roster matches members by it.
    pub crm_id: CrmId,
    /// The given name, as the CRM holds it.
    pub first_name: PersonName,
    /// The family name, as the CRM holds it.
    pub last_name: PersonName,
    /// The user's email, normalized; Roster's second way of matching a member.
    pub email: Email,
    /// The user's phone, when the CRM has one that parses.
    pub phone: Option<Phone>,
    /// Whether the CRM still counts the user as active; `false` makes the member `inactive_in_crm`
    /// on sync (§8.3).
    pub active: bool,
    /// The job title, when the CRM has one; shown in the import dialog only.
    pub title: Option<String>,
}

impl CrmUser {
    /// Whether a directory search for `needle` (already trimmed and lowercased) finds this
    /// user: case-insensitive "contains" over the first name, the last name, the full name and
    /// the email. Directories that search in memory (a CSV file, the test kit's) share it, so
    /// they answer alike.
    pub fn matches_search(&self, needle: &str) -> bool {
        let hit = |s: &str| s.to_lowercase().contains(needle);
        hit(self.first_name.as_str())
            || hit(self.last_name.as_str())
            || hit(&format!("{} {}", self.first_name, self.last_name))
            || hit(self.email.as_str())
    }
}

/// One page of a directory search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrmPage {
    /// The users on this page, in the directory's order.
    pub users: Vec<CrmUser>,
    /// The next page number, if there is one.
    pub next_page: Option<u32>,
}

/// What a directory can fail with.
#[derive(Debug, Error)]
pub enum CrmError {
    /// No directory is configured (neither Salesforce nor a CSV file), or the configuration is
    /// wrong for the instance (an API version it does not serve); the message says which.
    #[error("the CRM directory is not configured: {0}")]
    NotConfigured(String),
    /// The CRM refused the credentials, even after a token refresh.
    #[error("the CRM refused the credentials: {0}")]
    Unauthorized(String),
    /// The CRM is rate limiting and retries with backoff did not get through.
    #[error("the CRM is rate limiting requests")]
    RateLimited,
    /// The CRM did not answer in time.
    #[error("the CRM did not answer in time")]
    Timeout,
    /// The CRM answered something unreadable (an unexpected payload, a CSV file that no longer
    /// parses).
    #[error("the CRM answered something unexpected: {0}")]
    Protocol(String),
    /// The CRM could not be reached; keeps the transport's error for the log.
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
