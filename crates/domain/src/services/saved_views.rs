//! Saved views of the Users table (§10): each admin's own named views. Needs `manage_users`
//! (the views are of the Users table) and a member (an API key has no console).

use crate::actor::{Actor, Principal};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::{SavedViewId, UserId};
use crate::ports::{SavedViewRepository, StoreError};
use crate::roles::Permission;
use crate::saved_views::{MAX_VIEWS_PER_USER, SavedView, ViewDefinition};
use crate::users_query::UserQuery;
use crate::values::Label;

use super::Services;

impl Services {
    fn views_store(&self) -> ServiceResult<&dyn SavedViewRepository> {
        self.saved_views
            .as_deref()
            .ok_or_else(|| ServiceError::Store(StoreError::Unavailable("no saved-view store is configured".into())))
    }

    /// The member whose views these are.
    fn view_owner(actor: &Actor) -> ServiceResult<UserId> {
        actor.require(Permission::ManageUsers)?;
        match actor.principal() {
            Principal::User(id) => Ok(*id),
            _ => Err(ServiceError::forbidden("saved views belong to members")),
        }
    }

    /// The actor's saved views, by name.
    ///
    /// # Errors
    /// `forbidden` without `manage_users` or for a non-member.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn saved_views(&self, actor: &Actor) -> ServiceResult<Vec<SavedView>> {
        let owner = Self::view_owner(actor)?;
        Ok(self.views_store()?.views(actor.org_id(), owner).await?)
    }

    /// Saves a view under a name the actor has not used yet. `filter` is the view's filter as
    /// the face read it from `definition.filter`: it is checked as the Users table checks it
    /// ([`UserQuery::check`], a role key known to the organization), so a saved view always
    /// opens.
    ///
    /// # Errors
    /// `forbidden`; `validation_failed` (unknown role, filter or column, a search too long, page
    /// size, too many views); `conflict` on `name`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn create_saved_view(
        &self,
        actor: &Actor,
        name: Label,
        definition: ViewDefinition,
        filter: &UserQuery,
    ) -> ServiceResult<SavedView> {
        let owner = Self::view_owner(actor)?;
        if let Some(role) = &filter.role {
            let mut tx = self.begin_read().await?;
            let roles = self.read_roles(&mut *tx, actor.org_id()).await?;
            role.resolve(&roles).map_err(|e| ServiceError::Validation(vec![e]))?;
        }
        filter.check().map_err(ServiceError::Validation)?;
        definition.check().map_err(ServiceError::Validation)?;
        let store = self.views_store()?;
        let existing = store.views(actor.org_id(), owner).await?;
        if existing.len() >= MAX_VIEWS_PER_USER {
            return Err(ServiceError::Validation(vec![crate::error::FieldError::new(
                "name",
                "too_many",
                format!("at most {MAX_VIEWS_PER_USER} saved views; delete one first"),
            )]));
        }
        let view = SavedView {
            id: self.new_id(),
            org_id: actor.org_id(),
            user_id: owner,
            name,
            definition,
            created_at: self.now(),
        };
        if !store.insert_view(&view).await? {
            return Err(ServiceError::Conflict {
                field: "name",
                message: format!("a view named {} exists", view.name),
            });
        }
        Ok(view)
    }

    /// Deletes one of the actor's views.
    ///
    /// # Errors
    /// `forbidden`; `not_found` (also another admin's view).
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn delete_saved_view(&self, actor: &Actor, id: SavedViewId) -> ServiceResult<()> {
        let owner = Self::view_owner(actor)?;
        if self.views_store()?.delete_view(actor.org_id(), owner, id).await? {
            Ok(())
        } else {
            Err(ServiceError::not_found("saved view"))
        }
    }
}
