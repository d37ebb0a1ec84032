//! Custom roles (§5). Built-in roles are fixed: they cannot be changed or deleted.

use std::collections::BTreeSet;

use crate::actor::{Actor, Authority, Coverage};
use crate::audit::{AuditTarget, Changes, TargetKind};
use crate::error::{FieldError, ServiceError, ServiceResult};
use crate::ids::RoleId;
use crate::roles::{Permission, Role, Visibility};
use crate::values::{Key, Label};

use super::Services;

/// `POST /roles`.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// The role's key, unique in the organization.
    pub key: Key,
    /// The name people see.
    pub name: Label,
    /// What the role lets its holder do; the creator must hold each permission.
    pub permissions: BTreeSet<Permission>,
    /// Which connections its holders see (§7.2).
    pub visibility: Visibility,
}

/// `PATCH /roles/{id}`.
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    /// The new name; `None` keeps it.
    pub name: Option<Label>,
    /// The new permissions, replacing the old; `None` keeps them.
    pub permissions: Option<BTreeSet<Permission>>,
    /// The new visibility; `None` keeps it.
    pub visibility: Option<Visibility>,
}

impl Services {
    /// The organization's roles, built-in first.
    ///
    /// # Errors
    /// Storage failures only.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn list_roles(&self, actor: &Actor) -> ServiceResult<Vec<Role>> {
        let mut tx = self.begin_read().await?;
        let mut roles = tx.roles(actor.org_id()).await?;
        roles.sort_by(|a, b| b.builtin.cmp(&a.builtin).then_with(|| a.name.cmp(&b.name)));
        Ok(roles)
    }

    /// Creates a custom role, under the rule of dominance: the actor's own authority covers the
    /// role org-wide (its permissions and its visibility).
    ///
    /// # Errors
    /// `validation_failed` (field `permissions`, code `not_grantable`) for a permission the actor
    /// does not hold; `forbidden` while impersonating or when the actor's authority does not
    /// cover the role org-wide; `conflict` on `key`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn create_role(&self, actor: &Actor, new: NewRole) -> ServiceResult<Role> {
        actor.require_org_wide(Permission::ManageRoles)?;
        actor.require_not_impersonating("roles")?;
        check_grantable(actor, &new.permissions)?;
        let org = actor.org_id();
        let role = Role {
            id: self.new_id(),
            org_id: org,
            key: new.key,
            name: new.name,
            permissions: new.permissions,
            visibility: new.visibility,
            assignable: true,
            builtin: false,
        };
        require_may_shape(actor, &role)?;
        let mut tx = self.begin().await?;
        if tx.roles(org).await?.iter().any(|r| r.key == role.key) {
            return Err(ServiceError::Conflict {
                field: "key",
                message: format!("a role {} already exists", role.key),
            });
        }
        tx.insert_role(&role).await?;
        self.audit(
            &mut *tx,
            actor,
            "role.created",
            AuditTarget::new(TargetKind::Role, role.id, role.name.as_str()),
            Changes::new().note("permissions", &role.permissions).note("visibility", &role.visibility),
        )
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    /// Changes a custom role. With `expected_revision` (`If-Match`), the change applies only
    /// if the role still reads as that [`Role::revision`]; the organization is locked first, so
    /// two concurrent updates cannot both pass the check.
    ///
    /// # Errors
    /// `forbidden` (built-in roles, impersonation, permissions the actor lacks), `not_found`,
    /// `precondition_failed`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn update_role(
        &self,
        actor: &Actor,
        id: RoleId,
        patch: RolePatch,
        expected_revision: Option<u64>,
    ) -> ServiceResult<Role> {
        actor.require_org_wide(Permission::ManageRoles)?;
        actor.require_not_impersonating("roles")?;
        let mut tx = self.begin().await?;
        if expected_revision.is_some() {
            // Serialize conditional role updates of the organization, so the comparison below
            // is against what the previous update committed.
            tx.lock_org(actor.org_id()).await?;
        }
        let mut role =
            tx.roles(actor.org_id()).await?.into_iter().find(|r| r.id == id).ok_or(ServiceError::not_found("role"))?;
        if role.builtin {
            return Err(ServiceError::forbidden("built-in roles cannot be changed"));
        }
        if let Some(v) = expected_revision
            && v != role.revision()
        {
            return Err(ServiceError::PreconditionFailed { kind: "role", current: role.revision() });
        }
        // Whoever changes a role changes the authority of everyone holding it: they must cover
        // the role as it is (no taking away what they do not hold) and as it becomes.
        require_may_shape(actor, &role)?;
        let before = role.clone();
        if let Some(name) = patch.name {
            role.name = name;
        }
        if let Some(p) = patch.permissions {
            check_grantable(actor, &p)?;
            role.permissions = p;
        }
        if let Some(v) = patch.visibility {
            role.visibility = v;
        }
        require_may_shape(actor, &role)?;
        let changes = Changes::new()
            .field("name", &before.name, &role.name)
            .field("permissions", &before.permissions, &role.permissions)
            .field("visibility", &before.visibility, &role.visibility);
        if changes.is_empty() {
            return Ok(role);
        }
        tx.update_role(&role).await?;
        self.audit(
            &mut *tx,
            actor,
            "role.updated",
            AuditTarget::new(TargetKind::Role, role.id, before.name.as_str()),
            changes,
        )
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    /// Deletes a custom role nobody holds.
    ///
    /// # Errors
    /// `forbidden` (built-in), `conflict` (in use), `not_found`.
    #[tracing::instrument(skip_all, fields(org = %actor.org_id(), actor = ?actor.user_id()))]
    pub async fn delete_role(&self, actor: &Actor, id: RoleId) -> ServiceResult<()> {
        actor.require_org_wide(Permission::ManageRoles)?;
        actor.require_not_impersonating("roles")?;
        let mut tx = self.begin().await?;
        let org = actor.org_id();
        let role = tx.roles(org).await?.into_iter().find(|r| r.id == id).ok_or(ServiceError::not_found("role"))?;
        if role.builtin {
            return Err(ServiceError::forbidden("built-in roles cannot be deleted"));
        }
        require_may_shape(actor, &role)?;
        if tx.role_in_use(org, id).await? {
            return Err(ServiceError::Conflict { field: "role", message: "the role is held by members".into() });
        }
        tx.delete_role(org, id).await?;
        self.audit(
            &mut *tx,
            actor,
            "role.deleted",
            AuditTarget::new(TargetKind::Role, id, role.name.as_str()),
            Changes::new(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Nobody creates a role carrying a permission they do not have themselves.
fn check_grantable(actor: &Actor, permissions: &BTreeSet<Permission>) -> ServiceResult<()> {
    if let Some(p) = permissions.iter().find(|p| !actor.has(**p)) {
        return Err(ServiceError::Validation(vec![FieldError::new(
            "permissions",
            "not_grantable",
            format!("you cannot hand out {}: you do not have it", p.as_str()),
        )]));
    }
    Ok(())
}

/// The rule of dominance for role edits (§5): a role can be granted over the whole
/// organization, so only an actor whose authority covers it org-wide creates, changes or
/// deletes it.
fn require_may_shape(actor: &Actor, role: &Role) -> ServiceResult<()> {
    actor.require_may_give(&Authority::of_role(role, &Coverage::Org), &format!("the {} role", role.key))
}
