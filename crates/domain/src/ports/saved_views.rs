//! Saved views of the Users table (§10). Outside the unit of work: a view is one admin's
//! preference, written alone and never together with organization data.

use async_trait::async_trait;

use crate::ids::{OrgId, SavedViewId, UserId};
use crate::saved_views::SavedView;

use super::StoreError;

/// Stores admins' saved views.
///
/// # Errors
/// Every method fails only with [`StoreError::Unavailable`]; `insert_view` with
/// [`StoreError::Missing`] when the admin does not exist.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SavedViewRepository: Send + Sync {
    /// The admin's views, by name.
    async fn views(&self, org: OrgId, user: UserId) -> Result<Vec<SavedView>, StoreError>;
    /// Adds a view; `false` (and nothing written) when the admin already has a view of that
    /// name.
    async fn insert_view(&self, view: &SavedView) -> Result<bool, StoreError>;
    /// Removes one of the admin's views; `false` when they have none with this id.
    async fn delete_view(&self, org: OrgId, user: UserId, id: SavedViewId) -> Result<bool, StoreError>;
}
